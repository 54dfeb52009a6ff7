"""Portal login with the query password (QPW-1, QPW-2, QPW-7, QPW-8, PIN-10), at the service level."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.credentials.query_password.errors import AccountLocked, InvalidCredentials, LoginThrottled
from sscard.credentials.query_password.hashing import hash_password
from sscard.credentials.query_password.models import QueryPassword
from sscard.credentials.query_password.service import login_holder
from sscard.credentials.query_password.throttle import account_row
from sscard.db.base import utcnow
from sscard.policy.schemas import RegionalPolicy
from tests.credentials.query_password.factories import make_holder, region_policy
from tests.policy.factories import registered_district

SRC = "198.51.100.7"


def _login(uow, number: str, password: str, *, source: str = SRC, now=None):
    return login_holder(uow, id_number=number, password=password, source=source, now=now)


# rule QPW-1 / QPW-2: the initial password is the ID's last 8 with X → 0; it must be changed first
def test_initial_password_with_x(uow) -> None:
    person, number, initial = make_holder(uow, x=True)
    assert number.endswith("X") and initial.endswith("0")
    result = _login(uow, number, initial)
    assert result.must_change_password and result.via == "initial" and result.access_token.startswith("pst_")
    assert "pst_" not in repr(result)
    with pytest.raises(InvalidCredentials):
        _login(uow, number, number[-8:])  # the X form is not the password


# rule QPW-1: the initial password is derived, never stored
def test_initial_password_not_stored(uow) -> None:
    person, number, initial = make_holder(uow)
    _login(uow, number, initial)
    row = uow.session.get(QueryPassword, person.id)
    assert row is None or (row.password_hash is None and row.temp_hash is None)


# rule QPW-7: an unknown ID, a malformed ID and a wrong password give the same answer
def test_same_answer_for_unknown_and_wrong(uow) -> None:
    person, number, initial = make_holder(uow)
    errors = []
    for who, pw in ((number, "wrong-password"), ("110101199001011237", initial), ("not-an-id", initial)):
        with pytest.raises(InvalidCredentials) as info:
            _login(uow, who, pw)
        errors.append((info.value.code, info.value.status, info.value.detail))
    assert len(set(errors)) == 1


# rule PIN-10 / QPW-8: the portal never accepts the card PIN (123456 or any 6-digit PIN) as a password
def test_card_pin_not_accepted(uow) -> None:
    person, number, _ = make_holder(uow)
    for pin in ("123456", number[-6:]):
        with pytest.raises(InvalidCredentials):
            _login(uow, number, pin)


# rule QPW-7: escalating waits per account; a correct password during a wait is still refused
def test_escalating_waits(uow) -> None:
    region = registered_district(uow)
    region_policy(uow, region, login_free_failures=2, login_wait_base_seconds=30, login_wait_max_seconds=100)
    person, number, initial = make_holder(uow, region=region)
    now = utcnow()
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            _login(uow, number, "wrong-password", now=now)
    with pytest.raises(InvalidCredentials):
        _login(uow, number, "wrong-password", now=now)  # the 3rd failure starts a 30 s wait
    with pytest.raises(LoginThrottled) as info:
        _login(uow, number, initial, now=now + timedelta(seconds=10))
    assert info.value.extra["retry_after"] == 20
    with pytest.raises(InvalidCredentials):
        _login(uow, number, "wrong-password", now=now + timedelta(seconds=31))  # 4th: 60 s
    with pytest.raises(LoginThrottled) as info:
        _login(uow, number, initial, now=now + timedelta(seconds=80))
    assert info.value.extra["retry_after"] == 11
    with pytest.raises(InvalidCredentials):
        _login(uow, number, "wrong-password", now=now + timedelta(seconds=92))  # 5th: capped at 100 s
    assert account_row(uow, key=person.id_number_bidx).failures == 5
    result = _login(uow, number, initial, now=now + timedelta(seconds=193))
    assert result.must_change_password
    assert account_row(uow, key=person.id_number_bidx).failures == 0


# rule QPW-7: the policy's hard lock; afterwards even the right password is refused (423)
def test_hard_lock(uow) -> None:
    region = registered_district(uow)
    region_policy(uow, region, login_free_failures=100, login_hard_lock_failures=3)
    person, number, initial = make_holder(uow, region=region)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            _login(uow, number, "wrong-password")
    with pytest.raises(AccountLocked):
        _login(uow, number, "wrong-password")
    with pytest.raises(AccountLocked):
        _login(uow, number, initial)
    assert account_row(uow, key=person.id_number_bidx).failures == 3
    locked = uow.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "portal.login", AuditEntry.result == "locked")
    ).all()
    assert locked and all(number not in (e.subject + e.details) for e in locked)


# rule QPW-7: per source address, over many accounts
def test_source_throttle(uow) -> None:
    region_policy(uow, "000000", source_free_failures=3, source_wait_base_seconds=60)
    numbers = [make_holder(uow)[1] for _ in range(4)]
    for number in numbers[:3]:
        with pytest.raises(InvalidCredentials):
            _login(uow, number, "wrong-password", source="203.0.113.9")
    with pytest.raises(InvalidCredentials):
        _login(uow, numbers[3], "wrong-password", source="203.0.113.9")  # 4th failure from there: wait starts
    _, fresh, initial = make_holder(uow)
    with pytest.raises(LoginThrottled):
        _login(uow, fresh, initial, source="203.0.113.9")
    assert _login(uow, fresh, initial, source="203.0.113.10").must_change_password  # other sources unaffected


# rule QPW-6: a set password is verified with Argon2id and rehashed when the policy's parameters change
def test_rehash_on_login(uow) -> None:
    region = registered_district(uow)
    person, number, _ = make_holder(uow, region=region)
    old = RegionalPolicy(password_hash_memory_kib=8192, password_hash_time_cost=1)
    uow.session.add(
        QueryPassword(person_id=person.id, password_hash=hash_password(old, "lanternfishing"), changed_at=utcnow())
    )
    uow.flush()
    result = _login(uow, number, "lanternfishing")
    assert not result.must_change_password and result.via == "password"
    row = uow.session.get(QueryPassword, person.id)
    uow.session.refresh(row)
    assert row.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    with pytest.raises(InvalidCredentials):
        _login(uow, number, number[-8:].replace("X", "0"))  # the initial password no longer works


# issue 5 item 7: never-changed initial passwords may expire by policy (then counter or forgot password)
def test_initial_password_expiry(uow) -> None:
    region = registered_district(uow)
    region_policy(uow, region, initial_query_password_valid_days=30)
    person, number, initial = make_holder(uow, region=region)
    assert _login(uow, number, initial, now=utcnow() + timedelta(days=29)).must_change_password
    with pytest.raises(InvalidCredentials):
        _login(uow, number, initial, now=utcnow() + timedelta(days=31))


# rule QPW-8: the query password and the card PIN have separate counters and separate locks
def test_separate_from_card_pin(uow) -> None:
    from sscard.cards.service import activate_card, issue_card
    from sscard.credentials.pin.models import CardPin
    from sscard.credentials.pin.store import record_failure
    from tests.people.factories import CLERK

    region = registered_district(uow)
    region_policy(uow, region, login_free_failures=100, login_hard_lock_failures=2)
    person, number, initial = make_holder(uow, region=region)
    card = issue_card(uow, person_id=person.id, actor=CLERK)
    activate_card(uow, card_no=card.card_no, actor=CLERK)
    now = utcnow()
    for _ in range(6):
        record_failure(uow, card_id=card.id, threshold=6, now=now)  # the card's PIN is now locked (PIN-5)
    assert _login(uow, number, initial).must_change_password  # the portal does not care
    for _ in range(2):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            _login(uow, number, "wrong-password")
    with pytest.raises(AccountLocked):
        _login(uow, number, initial)
    pin_row = uow.session.get(CardPin, card.id)
    uow.session.refresh(pin_row)
    assert pin_row.failures == 6  # untouched by the portal's failures
