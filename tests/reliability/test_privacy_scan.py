"""Privacy scan (ID-5, PIN-11, QPW-5, QPW-6, KEY-3, CH-4): representative journeys with every log
line, every error body, the notification outbox and every text/blob column of the database captured,
then searched for the clear values the journeys used.

The journeys run through the real app in a production-like configuration (``SSCARD_ENV=prod``, JSON
logs at DEBUG (so the per-request lines are scanned too) with the standard library's root logger at
INFO as ``configure_logging`` sets it, SMS through an HTTP gateway
and e-mail through an SMTP relay, so no file sink is in play): a person added at the counter with a
full ID and phone, card issued and activated, portal login with the initial password and change,
forgot-password with a temporary password, counter PIN reset, terminal PIN change and verify with PIN
blocks, staff login, terminal enrolment (its key exported sealed), hotline loss report, a discrepancy
report carrying the ID and phone in its text (INS-6) answered at the counter, the counter's insurance
record read and the voice query, and an import of a small CSV. The searched values are distinctive
(generated per run) and are looked for as substrings of decoded text and of raw bytes, in clear, hex
and base64 forms.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import LargeBinary, String, Text, select

from sscard.staff.roles import Role
from tests.conftest import fresh_database
from tests.notify.senders.servers import sms_gateway, smtp_server  # noqa: F401 - fixtures
from tests.reliability.authz_fixtures import staff_token

REGION = "110105"


def forms(value: str | bytes) -> list[bytes]:
    """The clear value and the encodings a careless write would use: hex (both cases) and base64."""
    raw = value.encode() if isinstance(value, str) else value
    return [raw, raw.hex().encode(), raw.hex().upper().encode(), base64.b64encode(raw).rstrip(b"=")]


def find(haystack: bytes, secrets_: dict[str, list[bytes]]) -> list[str]:
    found = []
    for name, needles in secrets_.items():
        for needle in needles:
            # A PIN is six digits: only as a number of its own, not inside a longer digit run.
            if needle.isdigit() and len(needle) <= 8:
                if re.search(rb"(?<![0-9])" + re.escape(needle) + rb"(?![0-9])", haystack):
                    found.append(name)
            elif needle in haystack:
                found.append(name)
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def prod_app(request, tmp_path_factory, tmp_path, monkeypatch, sms_gateway, smtp_server) -> Iterator[Any]:  # noqa: F811
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache
    from sscard.logging import configure_logging
    from sscard.notify.registry import set_registry
    from sscard.notify.senders.config import reset_sender_settings_cache

    for db in fresh_database(request.param, tmp_path_factory):
        monkeypatch.setenv("SSCARD_DATABASE_URL", db.url)
        monkeypatch.setenv("SSCARD_DATABASE_SCHEMA", db.schema)
        monkeypatch.setenv("SSCARD_ENV", "prod")
        monkeypatch.setenv("SSCARD_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("SSCARD_LOG_JSON", "true")
        monkeypatch.setenv("SSCARD_LOG_LEVEL", "DEBUG")  # stricter than prod's INFO: the request lines too
        monkeypatch.setenv("SSCARD_SMS_GATEWAY_URL", sms_gateway.url)
        monkeypatch.setenv("SSCARD_SMTP_HOST", smtp_server.host)
        monkeypatch.setenv("SSCARD_SMTP_PORT", str(smtp_server.port))
        for reset in (reset_settings_cache, reset_engine_cache, reset_sender_settings_cache):
            reset()
        set_registry(None)  # the senders these settings choose
        configure_logging(force=True)
        # The suite's shared security module has a development root, which production refuses at start-up
        # (tests/security_module/test_production_start.py); this scan is about what the journeys write.
        monkeypatch.setattr("sscard.api.app.ensure_production_ready", lambda: None)
        try:
            yield db, sms_gateway, smtp_server, tmp_path
        finally:
            set_registry(None)
            monkeypatch.undo()
            for reset in (reset_settings_cache, reset_engine_cache, reset_sender_settings_cache):
                reset()
            configure_logging(force=True)


def _db_values() -> Iterator[tuple[str, bytes]]:
    """Every text and blob value of every table, as bytes, with where it lies."""
    from sscard.db.registry import metadata
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | LargeBinary)]
            if not columns:
                continue
            for row in uow.session.execute(select(*columns)).all():
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    data = value if isinstance(value, bytes) else str(value).encode()
                    yield f"{table.name}.{column.name}", data


# rule ID-5, PIN-11, QPW-5, QPW-6, KEY-3, CH-4: no clear ID, phone, PIN, password or key anywhere at rest or in logs
def test_journeys_leave_no_clear_personal_data_or_secret(prod_app, capsys, caplog) -> None:  # noqa: PLR0915
    from typer.testing import CliRunner

    from sscard.api.app import create_app
    from sscard.captcha import service as captcha_service
    from sscard.cli.main import app as cli
    from sscard.db.session import unit_of_work
    from sscard.notify import dispatch_pending
    from sscard.terminal.client import TerminalClient, TerminalError, enroll
    from tests.people.factories import new_id_number
    from tests.staff.factories import ensure_region, make_staff

    db, gateway, mail, data_dir = prod_app
    caplog.set_level(logging.INFO)  # the root level configure_logging sets in a server process
    id_number = new_id_number(region=REGION)
    phone = "13" + f"{secrets.randbelow(10**9):09d}"
    imported_id, imported_phone = new_id_number(region=REGION), "15" + f"{secrets.randbelow(10**9):09d}"
    initial_password = id_number[-8:].replace("X", "0")
    new_password = f"Amber-{secrets.token_hex(6)} lighthouse"
    after_temp_password = f"Cobalt-{secrets.token_hex(6)} meadow"
    staff_password = f"Staff-{secrets.token_hex(6)} ledger"
    # Distinctive PINs: six digits, no leading zero, at least four different digits (PIN-3 allows them).
    pins = (str(100_000 + secrets.randbelow(900_000)) for _ in range(1000))
    new_pin, wrong = [p for p in pins if len(set(p)) >= 4][:2]
    errors: list[str] = []

    def check(r: Any, *ok: int) -> Any:
        if r.status_code >= 400:
            errors.append(r.text)
        assert r.status_code in ok, r.text
        return r

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        with unit_of_work() as uow:
            ensure_region(uow, REGION)
            staff = make_staff(uow, role=Role.COUNTER_CLERK, region_code="110000", password=staff_password)
        # Staff login with its password (the clerk's own session is used from here on).
        token = check(client.post("/api/v1/staff/login", json={"username": staff.username, "password": staff_password}),
                      200).json()["access_token"]  # fmt: skip
        clerk = {"Authorization": f"Bearer {token}"}
        check(
            client.post("/api/v1/staff/login", json={"username": staff.username, "password": staff_password + "x"}), 401
        )
        # Counter: person with full ID and phone, card issued and activated.
        new_person = {"id_number": id_number, "name": "欧阳明", "phone": phone}
        person = check(client.post("/api/v1/counter/persons", headers=clerk, json=new_person), 201).json()
        check(client.post("/api/v1/counter/persons", headers=clerk, json={"id_number": id_number, "name": "x"}), 409)
        card_no = check(client.post("/api/v1/counter/cards", headers=clerk, json={"person_id": person["person_id"]}),
                        201).json()["card_no"]  # fmt: skip
        check(client.post(f"/api/v1/counter/cards/{card_no}/activate", headers=clerk), 200)
        # Portal: initial password, change, a wrong try, forgot password with a temporary one.
        login = "/api/v1/portal/login"
        holder = check(client.post(login, json={"id_number": id_number, "password": initial_password}), 200).json()
        bearer = {"Authorization": f"Bearer {holder['access_token']}"}
        check(client.post("/api/v1/portal/password", headers=bearer,
                          json={"old_password": initial_password, "new_password": new_password}), 204)  # fmt: skip
        check(client.post(login, json={"id_number": id_number, "password": new_password + "!"}), 401)
        # The password-change notice (CH-5) meets a failing gateway once: the send failure is logged.
        gateway.answers.append(503)
        dispatch_pending(limit=500)
        answer = "K7FQX"
        original = captcha_service._new_answer
        captcha_service._new_answer = lambda: answer  # type: ignore[assignment]
        try:
            captcha_id = client.get("/api/v1/portal/captcha").json()["captcha_id"]
        finally:
            captcha_service._new_answer = original  # type: ignore[assignment]
        check(client.post("/api/v1/portal/forgot-password", json={
            "id_number": id_number, "user_type": "individual", "channel": "sms",
            "captcha_id": captcha_id, "captcha_answer": answer}), 202)  # fmt: skip
        for _ in range(5):
            dispatch_pending(limit=500)
        texts = [m["text"] for m in gateway.received if m["to"] == phone]
        temporary = next(re.search(r"临时密码为 (\S+?)，", t).group(1) for t in texts if "临时密码" in t)  # type: ignore[union-attr]
        holder = check(client.post(login, json={"id_number": id_number, "password": temporary}), 200).json()
        bearer = {"Authorization": f"Bearer {holder['access_token']}"}
        check(client.post("/api/v1/portal/password", headers=bearer,
                          json={"old_password": temporary, "new_password": after_temp_password}), 204)  # fmt: skip
        # Terminal: enrolled (its key exported sealed), PIN change and verify with PIN blocks.
        officer = staff_token(Role.SECURITY_OFFICER, "110000")[0]
        profile = enroll("http://testserver", staff_token=officer, institution="仁和大药房",
                         institution_type="pharmacy", region_code=REGION, http=client)  # fmt: skip
        terminal = TerminalClient("http://testserver", profile, http=client)
        terminal.request("POST", "/terminal/pin/change", json_body={
            "card_no": card_no, "old_pin_block": terminal.pin_block(card_no, "123456"),
            "new_pin_block": terminal.pin_block(card_no, new_pin)})  # fmt: skip
        terminal.request("POST", "/terminal/pin/verify", json_body={
            "card_no": card_no, "pin_block": terminal.pin_block(card_no, new_pin)})  # fmt: skip
        try:
            terminal.request("POST", "/terminal/pin/verify", json_body={
                "card_no": card_no, "pin_block": terminal.pin_block(card_no, wrong)})  # fmt: skip
        except TerminalError as refused:
            errors.append(str(refused))
        else:
            pytest.fail("a wrong PIN was accepted")
        r = client.post("/api/v1/terminal/pin/verify", json={"card_no": card_no, "pin_block": "00" * 16})
        errors.append(r.text)  # unsigned: refused, and its body is scanned too
        # Counter PIN reset with the ID document; then the hotline loss report.
        check(client.post(f"/api/v1/counter/cards/{card_no}/pin/reset", headers=clerk, json={
            "evidence": {"document_type": "resident_id_card", "document_number": id_number}}), 200)  # fmt: skip
        operator = {"Authorization": f"Bearer {staff_token(Role.HOTLINE_OPERATOR, '110000')[0]}"}
        check(client.post("/api/v1/hotline/loss-reports", headers=operator, json={"id_number": id_number}), 201)
        check(
            client.post(
                "/api/v1/hotline/loss-reports", headers=operator, json={"id_number": new_id_number(region=REGION)}
            ),
            404,
        )
        # INS-6: a discrepancy report whose text carries the holder's ID and phone (as people write
        # them), answered at the counter; the counter's record read with evidence; the voice query.
        text = f"我的身份证号{id_number}，电话{phone}，单位少报了基数"
        report = check(client.post("/api/v1/portal/discrepancies", headers=bearer, json={"text": text}), 201).json()
        check(client.post(f"/api/v1/counter/discrepancies/{report['id']}/answer", headers=clerk,
                          json={"answer": f"已回电{phone}核实"}), 200)  # fmt: skip
        check(client.post(f"/api/v1/counter/persons/{person['person_id']}/insurance-record", headers=clerk, json={
            "evidence": {"document_type": "resident_id_card", "document_number": id_number}}), 200)  # fmt: skip
        check(client.post("/api/v1/hotline/voice-query", headers=operator, json={"id_number": id_number}), 200)
        # Record corrections (QPW-3): the phone at once; a wrong ID on file, corrected with a supervisor's approval.
        corrected_phone = "17" + f"{secrets.randbelow(10**9):09d}"
        evidence = {"document_type": "resident_id_card", "document_number": id_number}
        check(client.post(f"/api/v1/counter/persons/{person['person_id']}/corrections/contact", headers=clerk,
                          json={"phone": corrected_phone, "evidence": evidence}), 200)  # fmt: skip
        wrong_id, corrected_id = new_id_number(region=REGION), new_id_number(region=REGION)
        misfiled = {"id_number": wrong_id, "name": "诸葛亮", "phone": phone}
        misfiled = check(client.post("/api/v1/counter/persons", headers=clerk, json=misfiled), 201).json()
        ask = f"/api/v1/counter/persons/{misfiled['person_id']}/corrections/id-number"
        doc = {"document_type": "resident_id_card", "document_number": corrected_id}
        check(client.post(ask, headers=clerk, json={"new_id_number": id_number, "reason": "录入错误",
              "evidence": {**doc, "document_number": id_number}}), 409)  # fmt: skip
        body = {"new_id_number": corrected_id, "reason": f"录入错误，应为{corrected_id}", "evidence": doc}
        correction = check(client.post(ask, headers=clerk, json=body), 201).json()
        check(
            client.post(ask, headers=clerk, json={"new_id_number": corrected_id, "reason": "x", "evidence": doc}), 422
        )
        supervisor = {"Authorization": f"Bearer {staff_token(Role.COUNTER_SUPERVISOR, '110000')[0]}"}
        check(client.post(f"/api/v1/counter/corrections/{correction['correction_id']}/approve", headers=supervisor,
                          json={"note": f"核验{corrected_id}"}), 200)  # fmt: skip
        check(client.post(login, json={"id_number": corrected_id, "password": corrected_id[-8:].replace("X", "0")}),
              200)  # fmt: skip
        for _ in range(5):
            dispatch_pending(limit=500)

    # Import of a small CSV (the CLI, in this process).
    csv = data_dir / "persons.csv"
    csv.write_text(f"id_number,name,phone,email\n{imported_id},司马光,{imported_phone},\n{id_number[:-1]}Q,坏行,,\n")
    result = CliRunner().invoke(cli, ["import", "persons", str(csv)])
    assert result.exit_code == 3, result.output  # EXIT_REJECTED_ROWS: its second line is bad
    csv.unlink()  # the input file itself is the operator's, not the system's

    wanted: dict[str, list[bytes]] = {
        "id_number": forms(id_number), "phone": forms(phone),
        "imported_id_number": forms(imported_id), "imported_phone": forms(imported_phone),
        "initial_password": [initial_password.encode()], "new_password": forms(new_password),
        "temporary_password": forms(temporary), "after_temp_password": forms(after_temp_password),
        "staff_password": forms(staff_password), "pin": [new_pin.encode()], "wrong_pin": [wrong.encode()],
        "corrected_phone": forms(corrected_phone), "wrong_id": forms(wrong_id), "corrected_id": forms(corrected_id),
        "terminal_mac_key": forms(profile.mac_key), "terminal_pin_key": forms(profile.pin_key),
    }  # fmt: skip
    captured = capsys.readouterr()
    logs = captured.out + captured.err + result.output
    logs += "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert '"event"' in logs, "no JSON log line was captured: the scan would see nothing"
    leaks = [f"log: {name}" for name in find(logs.encode(), wanted)]
    leaks += [f"error body: {name}" for body in errors for name in find(body.encode(), wanted)]
    seen_tables = set()
    for where, value in _db_values():
        seen_tables.add(where.split(".")[0])
        leaks += [f"db {where}: {name}" for name in find(value, wanted)]
    scanned = {"person", "outbox_message", "audit_entry", "card_pin", "query_password", "discrepancy_report"}
    assert scanned <= seen_tables
    # Production: nothing written to a local file sink (the messages left through gateway and relay).
    for path in Path(data_dir).rglob("*"):
        if path.is_file():
            leaks += [f"file {path.name}: {name}" for name in find(path.read_bytes(), wanted)]
    assert any(temporary in t for t in texts), "the temporary password reached the holder's phone"
    assert not leaks, "\n".join(sorted(set(leaks)))


# rule QPW-5, CH-5: in production no relay configured must not mean "written to a local file": the
# temporary password (and the holder's phone) never lands in a file sink; the message waits instead
@pytest.fixture(params=["sqlite", "postgresql"])
def own_db_env(request, tmp_path_factory, monkeypatch) -> Iterator[Any]:
    """A database of this test's own: it dispatches the outbox and leaves messages waiting, which
    must touch no other test's rows."""
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache

    for db in fresh_database(request.param, tmp_path_factory):
        monkeypatch.setenv("SSCARD_DATABASE_URL", db.url)
        monkeypatch.setenv("SSCARD_DATABASE_SCHEMA", db.schema)
        reset_settings_cache()
        reset_engine_cache()
        try:
            yield db
        finally:
            monkeypatch.undo()
            reset_settings_cache()
            reset_engine_cache()


# rule QPW-5 / ID-5 (see the comment above the fixture): no temporary password in a file sink in prod
def test_prod_without_gateway_writes_no_temporary_password_to_a_file(own_db_env, tmp_path, monkeypatch) -> None:
    from sscard.config import reset_settings_cache
    from sscard.credentials.query_password.recovery import _queue_message
    from sscard.db.base import utcnow
    from sscard.db.session import unit_of_work
    from sscard.notify import dispatch_pending
    from sscard.notify.models import MessageState, OutboxMessage
    from sscard.notify.registry import set_registry
    from sscard.notify.senders.config import reset_sender_settings_cache
    from tests.people.factories import add_test_person, new_id_number

    for name in ("SSCARD_SMS_GATEWAY_URL", "SSCARD_SMTP_HOST", "SSCARD_SMS_SINK_DIR", "SSCARD_MAIL_SINK_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSCARD_ENV", "prod")
    monkeypatch.setenv("SSCARD_DATA_DIR", str(tmp_path))
    reset_settings_cache()
    reset_sender_settings_cache()
    set_registry(None)
    try:
        number, phone = new_id_number(region=REGION), "13" + f"{secrets.randbelow(10**9):09d}"
        with unit_of_work() as uow:
            person = add_test_person(uow, id_number=number, phone=phone, email=f"p{secrets.token_hex(4)}@example.com")
            # The message the forgot-password flow queues (its captcha path runs in the journey test).
            temporary = f"Tmp{secrets.token_hex(5)}"
            _queue_message(uow, person=person, channel="sms", temporary=temporary, expires_at=utcnow())
            _queue_message(uow, person=person, channel="email", temporary=temporary, expires_at=utcnow())
        dispatch_pending(limit=500)
        written = [p for p in tmp_path.rglob("*") if p.is_file() and temporary.encode() in p.read_bytes()]
        assert written == [], f"temporary password written to {written}"
        with unit_of_work() as uow:
            states = {
                m.state for m in uow.session.scalars(select(OutboxMessage).where(OutboxMessage.person_id == person.id))
            }
        assert MessageState.SENT not in states  # not sent anywhere: it waits for a configured relay
    finally:
        set_registry(None)
        monkeypatch.undo()
        reset_settings_cache()
        reset_sender_settings_cache()
