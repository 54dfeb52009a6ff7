"""Issue 17 item 6: a portal login spends the same Argon2id work whatever the account holds.

Forgot-password followed by a login used to cost two verifications for an account with a pending
temporary password and one for any other (174 ms against 83 ms): the timing told who exists. Counted
here by instrumenting the hasher, not by timing.
"""

from __future__ import annotations

import secrets

import pytest
from argon2 import PasswordHasher

from sscard.captcha import service as captcha_service
from sscard.credentials.query_password import recovery
from sscard.credentials.query_password.account import lock_account
from sscard.credentials.query_password.errors import InvalidCredentials
from sscard.credentials.query_password.hashing import LOGIN_VERIFICATIONS, hash_password
from sscard.credentials.query_password.rules import looks_temporary
from sscard.credentials.query_password.service import login_holder
from sscard.db.base import utcnow
from sscard.policy.service import get_effective_policy
from tests.credentials.query_password.factories import make_holder
from tests.credentials.query_password.test_recovery import _messages, _temporary
from tests.people.factories import new_id_number


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every Argon2id verification, whichever hasher instance (policy parameters) makes it."""
    calls: list[int] = []
    real = PasswordHasher.verify

    def counting(self, hash, password):  # noqa: A002 - argon2's own parameter name
        calls.append(1)
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return calls


def _source() -> str:
    return f"198.51.100.{secrets.randbelow(250) + 1}#{secrets.token_hex(4)}"  # one per login: no source wait


def _forgot(uow, monkeypatch, number: str) -> None:
    monkeypatch.setattr(captcha_service, "_new_answer", lambda: "K7FQX")
    issued = captcha_service.issue_captcha(uow)
    recovery.request_temporary_password(
        uow, id_number=number, user_type="individual", channel="sms", captcha_id=issued.captcha_id,
        captcha_answer="K7FQX", source=_source(),
    )  # fmt: skip


def _work(uow, verifications: list[int], number: str, password: str) -> tuple[int, str]:
    """(verifications spent, outcome) of one login."""
    verifications.clear()
    try:
        login = login_holder(uow, id_number=number, password=password, source=_source())
        outcome = login.via
    except InvalidCredentials:
        outcome = "refused"
    return len(verifications), outcome


# rule QPW-5 / QPW-7: unknown IDs, malformed IDs, accounts on the initial password, with a password of
# their own, and with a pending temporary password (forgot-password) all cost the same verifications,
# for a wrong password and for each kind of right one
def test_every_login_path_costs_the_same_verifications(uow, monkeypatch, verifications) -> None:
    _, initial_number, initial = make_holder(uow)
    own, own_number, _ = make_holder(uow)
    row = lock_account(uow, person_id=own.id, now=utcnow())
    row.password_hash = hash_password(get_effective_policy(uow, region_code=own.region_code), "a-password-of-my-own")
    uow.flush()
    pending, pending_number, _ = make_holder(uow)
    _forgot(uow, monkeypatch, pending_number)
    temporary = _temporary(_messages(uow, pending.id)[0])
    assert looks_temporary(temporary)
    own_with_pending = own_number
    _forgot(uow, monkeypatch, own_with_pending)

    wrong = "not-the-password-1"
    wrong_temporary = "Abcd-Efgh-Jkmn"  # the temporary password's shape, not its value
    work = {
        "unknown, temporary shape": _work(uow, verifications, new_id_number(), wrong_temporary),
        "initial, temporary shape": _work(uow, verifications, initial_number, wrong_temporary),
        "pending temporary, wrong temporary": _work(uow, verifications, pending_number, wrong_temporary),
        "unknown": _work(uow, verifications, new_id_number(), wrong),
        "malformed": _work(uow, verifications, "1101", wrong),
        "initial, wrong": _work(uow, verifications, initial_number, wrong),
        "pending temporary, wrong": _work(uow, verifications, pending_number, wrong),
        "own and pending temporary, wrong": _work(uow, verifications, own_with_pending, wrong),
        "own, right": _work(uow, verifications, own_with_pending, "a-password-of-my-own"),
        "initial, right": _work(uow, verifications, initial_number, initial),
        "temporary, right": _work(uow, verifications, pending_number, temporary),
    }
    assert {name: spent for name, (spent, _) in work.items()} == dict.fromkeys(work, LOGIN_VERIFICATIONS)
    assert work["own, right"][1] == "password" and work["initial, right"][1] == "initial"
    assert work["temporary, right"][1] == "temporary"
    assert work["unknown"][1] == work["pending temporary, wrong"][1] == "refused"


# rule QPW-5 / QPW-6: no password a holder chooses may have the temporary password's shape (the login
# tells the two apart by it), and every temporary password has it
def test_temporary_shape_is_reserved() -> None:
    from sscard.credentials.query_password.errors import PasswordWeak
    from sscard.credentials.query_password.rules import HolderContext, check_new_password, new_temporary_password
    from sscard.policy.schemas import RegionalPolicy

    assert all(looks_temporary(new_temporary_password()) for _ in range(200))
    context = HolderContext(id_number=new_id_number(), name="张三", birth_date=None, phone=None, email=None)
    with pytest.raises(PasswordWeak) as refused:
        check_new_password("Qwer-Tyu7-Zxcv", policy=RegionalPolicy(), context=context)
    assert refused.value.extra["reason"] == "temporary_shape"
