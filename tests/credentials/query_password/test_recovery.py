"""Forgot password (QPW-5) at the service level: the same answer and work, random single-use temporaries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.captcha import service as captcha_service
from sscard.captcha.errors import CaptchaInvalid
from sscard.credentials.query_password import recovery, throttle
from sscard.credentials.query_password.errors import InvalidCredentials, RecoveryInputInvalid
from sscard.credentials.query_password.models import QueryPassword
from sscard.credentials.query_password.rules import looks_temporary
from sscard.credentials.query_password.service import login_holder
from sscard.db.base import utcnow
from sscard.identity import mask_id_number
from sscard.notify.models import OutboxMessage
from sscard.notify.outbox import open_body
from sscard.people.models import PersonStatus
from tests.credentials.query_password.factories import make_holder, region_policy
from tests.people.factories import new_id_number
from tests.policy.factories import registered_district


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the Argon2id hashes the recovery spends (the same work on every path)."""
    calls: list[str] = []
    real = recovery.hash_password

    def counting(policy, password):
        calls.append("hash")
        return real(policy, password)

    monkeypatch.setattr(recovery, "hash_password", counting)
    return calls


def _captcha(uow, monkeypatch, now=None):
    """A captcha whose answer is K7FQX."""
    monkeypatch.setattr(captcha_service, "_new_answer", lambda: "K7FQX")
    return captcha_service.issue_captcha(uow, now=now)


def _submit(uow, number: str, issued, *, answer: str = "K7FQX", channel: str = "email",
            user_type: str = "individual", source: str = "192.0.2.50", now=None) -> None:  # fmt: skip
    """The forgot-password form sent with ``issued``'s captcha answered ``answer``."""
    recovery.request_temporary_password(
        uow,
        id_number=number,
        user_type=user_type,
        channel=channel,
        captcha_id=issued.captcha_id,
        captcha_answer=answer,
        source=source,
        now=now,
    )


def _request(uow, monkeypatch, number: str, *, channel: str = "email", user_type: str = "individual", now=None):
    _submit(uow, number, _captcha(uow, monkeypatch, now), channel=channel, user_type=user_type, now=now)


def _messages(uow, person_id: int) -> list[OutboxMessage]:
    return list(
        uow.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.person_id == person_id, OutboxMessage.topic == "qpw.temporary_password"
            )
        )
    )


def _temporary(message: OutboxMessage) -> str:
    body = open_body(message)
    return body.split("临时密码为 ", 1)[1].split("，", 1)[0]


# rule QPW-5: a random temporary password to the chosen contact; stored hashed; sealed in the outbox
def test_issue_by_email_and_sms(uow, monkeypatch, hashes) -> None:
    person, number, initial = make_holder(uow)
    _request(uow, monkeypatch, number, channel="sms")
    [message] = _messages(uow, person.id)
    assert message.channel == "sms" and message.recipient_masked.count("*") == 4
    temporary = _temporary(message)
    assert temporary not in (initial, number) and looks_temporary(temporary)
    assert temporary.encode() not in message.body_enc
    row = uow.session.get(QueryPassword, person.id)
    assert row.temp_hash.startswith("$argon2id$") and temporary not in row.temp_hash
    assert hashes == ["hash"]


# rule QPW-5: the same outcome and the same work whether or not the account or contact exists
def test_same_work_when_nothing_is_sent(uow, monkeypatch, hashes) -> None:
    _, no_email, _ = make_holder(uow, email=None)
    _request(uow, monkeypatch, no_email, channel="email")  # no e-mail on file
    _request(uow, monkeypatch, new_id_number(), channel="sms")  # nobody registered
    _request(uow, monkeypatch, no_email, channel="sms", user_type="employer")  # no employer accounts yet
    assert hashes == ["hash"] * 3
    assert uow.session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "qpw.temporary_password")).all() == []
    results = uow.session.scalars(
        select(AuditEntry.result)
        .where(AuditEntry.action == "qpw.forgot_password")
        .order_by(AuditEntry.id.desc())
        .limit(3)
    ).all()
    assert sorted(results) == ["no_contact", "no_such_account", "no_such_account"]


# rule QPW-5: single use, expires by policy, and a new one voids the previous
def test_single_use_expiry_and_voiding(uow, monkeypatch) -> None:
    region = registered_district(uow)
    region_policy(uow, region, temporary_password_minutes=5, forgot_password_min_interval_seconds=0)
    person, number, _ = make_holder(uow, region=region)
    now = utcnow()
    _request(uow, monkeypatch, number, now=now)
    first = _temporary(_messages(uow, person.id)[0])
    _request(uow, monkeypatch, number, now=now + timedelta(seconds=1))
    second = _temporary([m for m in _messages(uow, person.id) if _temporary(m) != first][0])
    with pytest.raises(InvalidCredentials):
        login_holder(uow, id_number=number, password=first, source="192.0.2.51", now=now + timedelta(seconds=2))
    with pytest.raises(InvalidCredentials):  # expired after the policy's 5 minutes
        login_holder(uow, id_number=number, password=second, source="192.0.2.51", now=now + timedelta(minutes=6))
    login = login_holder(uow, id_number=number, password=second, source="192.0.2.51", now=now + timedelta(minutes=4))
    assert login.must_change_password and login.via == "temporary"
    with pytest.raises(InvalidCredentials):
        login_holder(uow, id_number=number, password=second, source="192.0.2.51", now=now + timedelta(minutes=4))


# rule QPW-5: at most one message per interval (nobody can flood a holder's phone through the form)
def test_min_interval(uow, monkeypatch) -> None:
    person, number, _ = make_holder(uow)
    _request(uow, monkeypatch, number)
    _request(uow, monkeypatch, number)
    assert len(_messages(uow, person.id)) == 1


# rule QPW-5: wrong captcha, bad user type or channel, malformed ID
def test_bad_requests(uow, monkeypatch) -> None:
    _, number, _ = make_holder(uow)
    with pytest.raises(CaptchaInvalid):
        _submit(uow, number, _captcha(uow, monkeypatch), answer="WRONG", source="192.0.2.52")
    with pytest.raises(RecoveryInputInvalid):
        _request(uow, monkeypatch, number, channel="fax")
    from sscard.identity import InvalidCitizenId

    with pytest.raises(InvalidCitizenId):
        _request(uow, monkeypatch, "110101199001011230")


def _forgot_entries(uow, subject: str) -> list[AuditEntry]:
    return list(
        uow.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "qpw.forgot_password", AuditEntry.subject == subject)
            .order_by(AuditEntry.id)
        )
    )


# rule QPW-5: what is sent is audited under the person, with the channel, the user type and the expiry
def test_a_sent_temporary_password_is_audited_and_expires_by_policy(uow, monkeypatch) -> None:
    region = registered_district(uow)
    region_policy(uow, region, temporary_password_minutes=7)
    person, number, _ = make_holder(uow, region=region)
    now = utcnow()
    _request(uow, monkeypatch, number, channel="email", user_type="other", now=now)  # "other": the same account
    [message] = _messages(uow, person.id)
    assert message.channel == "email"
    zh, en = recovery.temporary_password_text(temporary=_temporary(message), expires_at=now + timedelta(minutes=7))
    assert open_body(message) == f"{zh}\n{en}"  # both languages, to the holder only
    expires_at = now + timedelta(minutes=7)
    row = uow.session.get(QueryPassword, person.id)
    assert (row.temp_issued_at, row.temp_expires_at, row.temp_used_at, row.updated_at) == (now, expires_at, None, now)
    [entry] = _forgot_entries(uow, f"person:{person.id}")
    assert entry.result == "sent"
    assert json.loads(entry.details) == {
        "channel": "email", "user_type": "other", "expires_at": expires_at.isoformat()
    }  # fmt: skip


# rule QPW-5: a new temporary password may be used once more even after the previous one was used
def test_a_new_temporary_password_is_unused(uow, monkeypatch) -> None:
    region = registered_district(uow)
    region_policy(uow, region, forgot_password_min_interval_seconds=0)
    person, number, _ = make_holder(uow, region=region)
    now = utcnow()
    _request(uow, monkeypatch, number, now=now)
    first = _temporary(_messages(uow, person.id)[0])
    login_holder(uow, id_number=number, password=first, source="192.0.2.53", now=now + timedelta(seconds=1))
    _request(uow, monkeypatch, number, now=now + timedelta(seconds=2))
    second = _temporary([m for m in _messages(uow, person.id) if _temporary(m) != first][0])
    login = login_holder(uow, id_number=number, password=second, source="192.0.2.53", now=now + timedelta(seconds=3))
    assert login.via == "temporary"


# rule QPW-5: nothing is sent to a deceased holder, a hard-locked account (QPW-7), or too soon; each audited why
def test_why_nothing_is_sent_is_audited(uow, monkeypatch) -> None:
    region = registered_district(uow)
    region_policy(uow, region, forgot_password_min_interval_seconds=60)
    now = utcnow()
    deceased, deceased_number, _ = make_holder(uow, region=region)
    deceased.status = PersonStatus.DECEASED
    locked, locked_number, _ = make_holder(uow, region=region)
    limits = throttle.Limits(free=100, base_seconds=1, max_seconds=1, hard_lock=2)
    for _ in range(2):
        throttle.count_failure(uow, kind=throttle.ACCOUNT, key=locked.id_number_bidx, limits=limits, now=now)
    waiting, waiting_number, _ = make_holder(uow, region=region)
    uow.flush()
    _request(uow, monkeypatch, deceased_number, now=now)
    _request(uow, monkeypatch, locked_number, now=now)
    for seconds in (0, 59, 60):  # one message a minute: the second is too soon, the third is not
        _request(uow, monkeypatch, waiting_number, channel="sms", now=now + timedelta(seconds=seconds))
    assert _messages(uow, deceased.id) == [] and _messages(uow, locked.id) == []
    assert len(_messages(uow, waiting.id)) == 2
    results = {
        who.id: [(e.result, json.loads(e.details)) for e in _forgot_entries(uow, f"person:{who.id}")]
        for who in (deceased, locked, waiting)
    }
    email = {"channel": "email", "user_type": "individual"}
    assert results[deceased.id] == [("account_closed", email)]
    assert results[locked.id] == [("hard_locked", email)]
    assert [result for result, _ in results[waiting.id]] == ["sent", "too_soon", "sent"]
    assert results[waiting.id][1][1] == {"channel": "sms", "user_type": "individual"}


# rule QPW-5 / CH-4: an unknown ID is audited under its masked number; an employer's under its code's start
def test_the_subject_of_a_request_for_no_account(uow, monkeypatch) -> None:
    number = new_id_number()
    _request(uow, monkeypatch, number, channel="sms")
    [entry] = _forgot_entries(uow, f"id:{mask_id_number(number)}")
    assert entry.result == "no_such_account"
    assert json.loads(entry.details) == {"channel": "sms", "user_type": "individual"}
    _request(uow, monkeypatch, " 9a110000bcdefgh2x ", user_type="employer")
    [entry] = _forgot_entries(uow, "uscc:9A110000…")
    assert entry.result == "no_such_account"
    assert json.loads(entry.details) == {"channel": "email", "user_type": "employer"}


# rule QPW-5: the request's user type and channel are each refused with their own words
def test_an_unknown_user_type_or_channel_is_refused_with_why(uow, monkeypatch) -> None:
    _, number, _ = make_holder(uow)
    with pytest.raises(RecoveryInputInvalid) as info:
        _request(uow, monkeypatch, number, user_type="robot")
    assert info.value.detail == "user_type is individual, employer or other"
    with pytest.raises(RecoveryInputInvalid) as info:
        _request(uow, monkeypatch, number, channel="fax")
    assert info.value.detail == "channel is sms or email"
    assert _forgot_entries(uow, f"id:{mask_id_number(number)}") == []


# rule QPW-5: the message gives the temporary password and its expiry in China time (UTC+8), in both languages
def test_the_message_gives_the_password_and_its_expiry_in_china_time() -> None:
    zh, en = recovery.temporary_password_text(temporary="Qx7#Tmp", expires_at=datetime(2026, 12, 6, 1, 5, tzinfo=UTC))
    assert zh == (
        "【社保查询】您的临时密码为 Qx7#Tmp，09:05 前有效，仅可使用一次。登录后须立即设置新密码。"
        "如非本人操作，请忽略本消息，您的原密码仍然有效。"
    )
    assert en == (
        "[Social insurance portal] Your temporary password is Qx7#Tmp, valid until 09:05 (UTC+8) and for one "
        "sign-in only; you must set a new password after signing in. Not you? Ignore this message; your password "
        "is unchanged."
    )


# rule QPW-5: the employer user type: the same one hash, sent by SMS to its contact, audited under its code's start
def test_an_employer_gets_its_temporary_password_by_sms(uow, monkeypatch, hashes) -> None:
    from argon2 import PasswordHasher

    from sscard.employers.accounts import create_account
    from sscard.employers.models import EmployerAccount
    from tests.employers.factories import AGENCY, add_test_employer

    employer = add_test_employer(uow, contact_phone="13800138002")
    create_account(uow, employer=employer, actor=AGENCY)
    now = utcnow()
    _request(uow, monkeypatch, employer.uscc.lower(), channel="sms", user_type="employer", now=now)
    assert hashes == ["hash"]
    [message] = uow.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.topic == "employer.temporary_password")
        .order_by(OutboxMessage.id.desc())
    ).all()[:1]
    temporary = _temporary(message)
    account = uow.session.scalar(select(EmployerAccount).where(EmployerAccount.employer_id == employer.id))
    assert looks_temporary(temporary) and PasswordHasher().verify(account.temp_hash, temporary)
    assert (account.temp_issued_at, account.temp_expires_at) == (now, now + timedelta(minutes=10))
    [entry] = _forgot_entries(uow, f"uscc:{employer.uscc[:8]}…")
    assert entry.result == "sent"
    assert json.loads(entry.details) == {"channel": "sms", "user_type": "employer"}


# rule QPW-5: by SMS only to a phone on file (an e-mail on file does not do)
def test_no_sms_without_a_phone_on_file(uow, monkeypatch) -> None:
    person, number, _ = make_holder(uow, phone=False)
    _request(uow, monkeypatch, number, channel="sms")
    assert _messages(uow, person.id) == []
    [entry] = _forgot_entries(uow, f"person:{person.id}")
    assert entry.result == "no_contact"


# rule QPW-5: the captcha is checked at the request's time: one answered after it expired is refused
def test_the_captcha_is_checked_at_the_time_of_the_request(uow, monkeypatch) -> None:
    _, number, _ = make_holder(uow)
    issued = _captcha(uow, monkeypatch)
    with pytest.raises(CaptchaInvalid):
        _submit(uow, number, issued, source="192.0.2.54", now=issued.expires_at + timedelta(seconds=1))


# rule QPW-5: the policy in force at the request's time decides the expiry (a change scheduled before it counts)
def test_the_expiry_follows_the_policy_in_force_at_the_request(uow, monkeypatch) -> None:
    from sscard.policy.service import set_policy
    from tests.credentials.query_password.factories import ADMIN

    region = registered_district(uow)
    region_policy(uow, region, temporary_password_minutes=7)
    person, number, _ = make_holder(uow, region=region)
    now = utcnow()
    set_policy(
        uow, region_code=region, values={"temporary_password_minutes": 30}, reason="longer from tomorrow",
        actor=ADMIN, effective_from=now + timedelta(days=1), now=now,
    )  # fmt: skip
    later = now + timedelta(days=2)  # the request is handled as of a time the new version is in force
    _request(uow, monkeypatch, number, now=later)
    row = uow.session.get(QueryPassword, person.id)
    assert row.temp_expires_at == later + timedelta(minutes=30)


# rule QPW-5: an employer's temporary password is hashed with the national parameters in force at the request
def test_an_employers_temporary_password_is_hashed_with_the_parameters_in_force(uow, monkeypatch) -> None:
    from argon2 import extract_parameters

    from sscard.employers.accounts import create_account
    from sscard.employers.models import EmployerAccount
    from sscard.policy.service import NATIONAL, get_effective_policy, set_policy
    from tests.credentials.query_password.factories import ADMIN
    from tests.employers.factories import AGENCY, add_test_employer

    employer = add_test_employer(uow, contact_phone="13800138003")
    create_account(uow, employer=employer, actor=AGENCY)
    now = utcnow()
    cost = get_effective_policy(uow, region_code=NATIONAL, at=now).password_hash_time_cost + 1
    set_policy(
        uow, region_code=NATIONAL, values={"password_hash_time_cost": cost}, reason="dearer hashes from tomorrow",
        actor=ADMIN, effective_from=now + timedelta(days=1), now=now,
    )  # fmt: skip
    _request(uow, monkeypatch, employer.uscc, channel="sms", user_type="employer", now=now + timedelta(days=2))
    account = uow.session.scalar(select(EmployerAccount).where(EmployerAccount.employer_id == employer.id))
    assert extract_parameters(account.temp_hash).time_cost == cost
