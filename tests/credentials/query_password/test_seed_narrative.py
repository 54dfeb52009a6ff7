"""The seed narrative end to end, through the HTTP API (seeds 000, 002, 004; QPW-1..QPW-8, CH-5).

A holder whose ID ends in X logs in with the initial password (X → 0), must change it and is refused
everything else until then, acknowledges the liability notice, changes it (and is told by e-mail),
forgets it, recovers it by e-mail through the captcha form (the mail is read from a real local SMTP
server), logs in with the temporary password, must change again, and is back in. Nowhere — not in
the database, the audit log, the logs or an error — does a password or temporary password appear in
clear, except in the one outgoing message that carries it.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from sscard.audit.models import AuditEntry
from sscard.captcha import service as captcha_service
from sscard.db.session import unit_of_work
from tests.credentials.query_password.factories import make_holder
from tests.credentials.query_password.notify_helpers import deliver_outbox, use_smtp
from tests.policy.factories import fresh_district
from tests.staff.factories import ensure_region

LOGIN, PASSWORD, FORGOT = "/api/v1/portal/login", "/api/v1/portal/password", "/api/v1/portal/forgot-password"
NEW_PASSWORD = "lantern fishing at dawn"
SECOND_PASSWORD = "quiet harbour, slow tide"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _captcha(client, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setattr(captcha_service, "_new_answer", lambda: "K7FQX")
    return client.get("/api/v1/portal/captcha").json()["captcha_id"], "K7FQX"


def _forgot(client, monkeypatch, number: str, channel: str = "email"):
    captcha_id, answer = _captcha(client, monkeypatch)
    body = {
        "id_number": number,
        "user_type": "individual",
        "channel": channel,
        "captcha_id": captcha_id,
        "captcha_answer": answer,
    }
    return client.post(FORGOT, json=body)


def test_seed_narrative(client, smtp_server, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    use_smtp(monkeypatch, smtp_server)
    region = fresh_district()
    email = f"holder-{region}@example.com"
    with unit_of_work() as uow:
        ensure_region(uow, region)
        person, number, initial = make_holder(uow, region=region, x=True, email=email)
    assert number.endswith("X") and initial == number[-8:-1] + "0"  # rule QPW-1

    # QPW-1 / QPW-2 / QPW-4: the initial password logs in, must be changed, the notice is shown.
    login = client.post(LOGIN, json={"id_number": number, "password": initial}).json()
    assert login["must_change_password"] is True and login["liability_notice"]
    token = login["access_token"]
    assert client.get("/api/v1/portal/me", headers=bearer(token)).json()["code"] == "PASSWORD_CHANGE_REQUIRED"
    ack = {"version": login["liability_notice"]["version"]}
    r = client.post("/api/v1/portal/liability-notice/acknowledgements", json=ack, headers=bearer(token))
    assert r.status_code == 204

    # QPW-6: weak choices are refused with a reason; a good one is accepted.
    for weak, reason in ((initial + "ab", "initial_password"), ("password123", "common"), ("sh0rt!", "too_short")):
        r = client.post(PASSWORD, json={"old_password": initial, "new_password": weak}, headers=bearer(token))
        assert r.status_code == 422 and r.json()["code"] == "PASSWORD_WEAK" and r.json()["reason"] == reason
        assert weak not in r.text
    r = client.post(PASSWORD, json={"old_password": initial, "new_password": NEW_PASSWORD}, headers=bearer(token))
    assert r.status_code == 204, r.text
    assert client.get("/api/v1/portal/me", headers=bearer(token)).status_code == 200
    assert client.post(LOGIN, json={"id_number": number, "password": initial}).status_code == 401

    # CH-5: the holder is told by e-mail that the password changed (never the password itself).
    deliver_outbox()
    [changed] = smtp_server.mail_to(email)
    assert "修改" in changed.get_content() and NEW_PASSWORD not in changed.get_content()

    # QPW-5: forgot password — the same answer whether or not the account or contact exists.
    r = _forgot(client, monkeypatch, number)
    assert r.status_code == 202
    from tests.people.factories import new_id_number

    assert _forgot(client, monkeypatch, new_id_number()).json() == r.json()
    assert _forgot(client, monkeypatch, number, channel="sms").json() == r.json()  # too soon after the e-mail: not sent
    bad = {
        "id_number": number,
        "user_type": "individual",
        "channel": "email",
        "captcha_id": "nope",
        "captcha_answer": "XXXXX",
    }
    assert client.post(FORGOT, json=bad).json()["code"] == "CAPTCHA_INVALID"

    deliver_outbox()
    mails = [m for m in smtp_server.mail_to(email) if "临时密码" in m.get_content()]
    assert len(mails) == 1
    temporary = re.search(r"临时密码为 (\S+)，", mails[0].get_content()).group(1)

    # QPW-5: log in with the temporary password → must change; it works once.
    login = client.post(LOGIN, json={"id_number": number, "password": temporary}).json()
    assert login["must_change_password"] is True
    assert client.post(LOGIN, json={"id_number": number, "password": temporary}).status_code == 401
    token = login["access_token"]
    assert client.get("/api/v1/portal/me", headers=bearer(token)).json()["code"] == "PASSWORD_CHANGE_REQUIRED"
    r = client.post(PASSWORD, json={"old_password": temporary, "new_password": SECOND_PASSWORD}, headers=bearer(token))
    assert r.status_code == 204, r.text
    again = client.post(LOGIN, json={"id_number": number, "password": SECOND_PASSWORD}).json()
    assert again["must_change_password"] is False

    # CH-5 / QPW-5: no password or temporary password in clear anywhere but the outgoing message.
    secrets_ = (initial, NEW_PASSWORD, SECOND_PASSWORD, temporary)
    with unit_of_work() as uow:
        entries = uow.session.scalars(select(AuditEntry).where(AuditEntry.subject == f"person:{person.id}")).all()
        assert {"portal.login", "qpw.change", "qpw.forgot_password", "qpw.notice_ack"} <= {e.action for e in entries}
        dump = " ".join(e.details + e.subject for e in entries)
        for table in ("query_password", "portal_session", "liability_notice_ack"):
            dump += " ".join(str(row) for row in uow.session.execute(text(f"SELECT * FROM {table}")))  # noqa: S608
        dump += outbox_dump(uow)
    captured = capsys.readouterr()
    for secret in secrets_:
        assert secret not in dump
        assert secret not in captured.out + captured.err


def outbox_dump(uow) -> str:
    from tests.credentials.query_password.notify_helpers import outbox_rows

    return " ".join(str(row) for row in outbox_rows(uow))
