"""Forgot password (QPW-5) at the service level: the same answer and work, random single-use temporaries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.captcha import service as captcha_service
from sscard.captcha.errors import CaptchaInvalid
from sscard.credentials.query_password import recovery
from sscard.credentials.query_password.errors import InvalidCredentials, RecoveryInputInvalid
from sscard.credentials.query_password.models import QueryPassword
from sscard.credentials.query_password.rules import looks_temporary
from sscard.credentials.query_password.service import login_holder
from sscard.db.base import utcnow
from sscard.notify.models import OutboxMessage
from sscard.notify.outbox import open_body
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


def _request(uow, monkeypatch, number: str, *, channel: str = "email", user_type: str = "individual", now=None):
    monkeypatch.setattr(captcha_service, "_new_answer", lambda: "K7FQX")
    issued = captcha_service.issue_captcha(uow, now=now)
    recovery.request_temporary_password(
        uow,
        id_number=number,
        user_type=user_type,
        channel=channel,
        captcha_id=issued.captcha_id,
        captcha_answer="K7FQX",
        source="192.0.2.50",
        now=now,
    )


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
    issued = captcha_service.issue_captcha(uow)
    with pytest.raises(CaptchaInvalid):
        recovery.request_temporary_password(
            uow,
            id_number=number,
            user_type="individual",
            channel="email",
            captcha_id=issued.captcha_id,
            captcha_answer="WRONG",
            source="192.0.2.52",
        )
    with pytest.raises(RecoveryInputInvalid):
        _request(uow, monkeypatch, number, channel="fax")
    from sscard.identity import InvalidCitizenId

    with pytest.raises(InvalidCitizenId):
        _request(uow, monkeypatch, "110101199001011230")
