"""``sscard keys`` (the register) and ``sscard notify`` against a real database (KEY-5, KEY-8, KEY-9, CH-4)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from sscard.audit.models import AuditEntry
from sscard.cli.main import app
from sscard.db.base import china_today, utcnow
from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from tests.key_register.factories import PDF, REGION, unique
from tests.staff.factories import PASSWORD, current_otp, make_staff


class _StaffRunner(CliRunner):
    """rule CH-2 (issue 17 items 5 and 8): a staff member acting through the CLI authenticates; the tests
    give the password and a fresh one-time code at each call, as an operator's script would, in
    SSCARD_STAFF_PASSWORD and SSCARD_STAFF_OTP."""

    def invoke(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        env = {"SSCARD_STAFF_OTP": current_otp(), **(kwargs.pop("env", None) or {})}
        return super().invoke(*args, env=env, **kwargs)


runner = _StaffRunner(env={"SSCARD_STAFF_PASSWORD": PASSWORD})


def _staff(role: Role, region: str = REGION) -> str:
    with unit_of_work() as uow:
        return make_staff(uow, role=role, region_code=region).username


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


# rule KEY-5, KEY-8: receive, store and destroy with two different witnesses, from the command line
def test_carrier_lifecycle_and_witnessed_destruction(db_env, tmp_path) -> None:
    custodian, officer = _staff(Role.KEY_CUSTODIAN), _staff(Role.SECURITY_OFFICER)
    serial = unique("CLI")
    out = _ok(
        "keys", "carriers", "receive", "--type", "psam_card", "--serial", serial, "--region", REGION,
        "--receipt-no", unique("R"), "--received-on", china_today().isoformat(), "--received-from", "人社部",
        "--location", "保险柜", "--as", custodian, "--json",
    )  # fmt: skip
    cid = json.loads(out)["id"]
    _ok("keys", "carriers", "store", str(cid), "--location", "保险柜", "--purpose", "入库", "--as", custodian)
    out = _ok(
        "keys", "carriers", "destroy", str(cid), "--method", "剪毁", "--place", "机要室", "--reason", "损坏",
        "--as", custodian, "--json",
    )  # fmt: skip
    did = json.loads(out)["destruction"]
    recorder = runner.invoke(app, ["keys", "carriers", "sign", str(did), "--as", custodian])
    assert recorder.exit_code == 1 and "STAFF_NOT_ELIGIBLE" in recorder.output  # not a witness of their own
    witness = _staff(Role.KEY_CUSTODIAN)
    _ok("keys", "carriers", "sign", str(did), "--as", witness)
    again = runner.invoke(app, ["keys", "carriers", "sign", str(did), "--as", witness])
    assert again.exit_code == 1 and "SIGNATURE_DUPLICATE" in again.output
    assert "carrier destroyed" in _ok("keys", "carriers", "sign", str(did), "--as", officer)
    rows = json.loads(_ok("keys", "carriers", "list", "--region", REGION, "--json"))
    assert next(r for r in rows if r["id"] == cid)["state"] == "destroyed"
    usage = json.loads(_ok("keys", "carriers", "usage", str(cid), "--json"))
    assert [u["kind"] for u in usage] == ["receive", "store", "destroy"]
    with unit_of_work() as uow:
        refused = uow.session.scalars(
            select(AuditEntry).where(AuditEntry.subject == f"destruction:{did}", AuditEntry.result == "refused")
        ).all()
    assert len(refused) == 2 and any("SIGNATURE_DUPLICATE" in r.details for r in refused)


# rule CH-2 / KEY-8 (issue 17 item 5): --as authenticates the staff member: a wrong password, no password
# or no --as on a change is refused and changes nothing; the password also comes from stdin
def test_as_staff_authenticates(db_env) -> None:
    custodian = _staff(Role.KEY_CUSTODIAN)
    receive = [
        "keys", "carriers", "receive", "--type", "psam_card", "--serial", unique("AU"), "--region", REGION,
        "--receipt-no", unique("R"), "--received-on", china_today().isoformat(), "--received-from", "人社部",
        "--location", "保险柜", "--json",
    ]  # fmt: skip
    plain = CliRunner()
    wrong = plain.invoke(app, [*receive, "--as", custodian], env={"SSCARD_STAFF_PASSWORD": "not the password"})
    assert wrong.exit_code == 1 and "INVALID_CREDENTIALS" in wrong.output
    empty = plain.invoke(app, [*receive, "--as", custodian], input="")
    assert empty.exit_code == 1 and "INVALID_CREDENTIALS" in empty.output
    anonymous = plain.invoke(app, receive)
    assert anonymous.exit_code == 1 and "STAFF_NOT_ELIGIBLE" in anonymous.output and "--as" in anonymous.output
    listed = json.loads(_ok("keys", "carriers", "list", "--region", REGION, "--json"))  # reads need no --as
    assert all(r["serial"] != receive[6] for r in listed)
    piped = plain.invoke(
        app, [*receive, "--as", custodian], input=f"{PASSWORD}\n", env={"SSCARD_STAFF_OTP": current_otp()}
    )
    assert piped.exit_code == 0, piped.output
    with unit_of_work() as uow:
        logins = uow.session.scalars(
            select(AuditEntry.result).where(
                AuditEntry.action == "staff.login", AuditEntry.subject == f"staff:{custodian}"
            )
        ).all()
    assert sorted(logins) == ["failed", "ok"]  # each attempt audited; the empty one never reached a login


# rule CH-2: --as acts with that staff member's region; outside it the command is refused
def test_as_staff_outside_region_and_bad_actor(db_env) -> None:
    far = _staff(Role.SECURITY_OFFICER, "310104")
    result = runner.invoke(app, [
        "keys", "carriers", "receive", "--type", "master_key_card", "--serial", unique("X"), "--region", REGION,
        "--receipt-no", unique("R"), "--received-on", china_today().isoformat(), "--received-from", "人社部",
        "--location", "x", "--as", far,
    ])  # fmt: skip
    assert result.exit_code == 1 and "OUTSIDE_REGION" in result.output
    clerk = _staff(Role.COUNTER_CLERK)
    result = runner.invoke(app, ["keys", "carriers", "store", "1", "--location", "x", "--purpose", "y", "--as", clerk])
    assert result.exit_code == 1 and "STAFF_NOT_ELIGIBLE" in result.output


# rule KEY-7, KEY-9: a handover over the CLI, overdue listing, a loss, reports and the outbox
def test_handover_loss_reports_and_dispatch(db_env, tmp_path) -> None:
    custodian, officer, reviewer = (
        _staff(Role.KEY_CUSTODIAN),
        _staff(Role.SECURITY_OFFICER),
        _staff(Role.SECURITY_OFFICER),
    )
    out = _ok(
        "keys", "carriers", "receive", "--type", "key_mother_card", "--serial", unique("KM"), "--region", REGION,
        "--receipt-no", unique("R"), "--received-on", china_today().isoformat(), "--received-from", "人社部",
        "--location", "保险柜", "--as", custodian, "--json",
    )  # fmt: skip
    cid = json.loads(out)["id"]
    _ok("keys", "carriers", "store", str(cid), "--location", "保险柜", "--purpose", "入库", "--as", custodian)
    due = (utcnow() + timedelta(hours=1)).isoformat()
    hid = json.loads(_ok(
        "keys", "handovers", "request", str(cid), "--third-party", "制卡厂", "--purpose", "制卡", "--due-back", due,
        "--as", officer, "--json",
    ))["id"]  # fmt: skip
    incomplete = runner.invoke(app, ["keys", "handovers", "complete", str(hid), "--as", officer])
    assert incomplete.exit_code == 1 and "HANDOVER_INCOMPLETE" in incomplete.output
    doc = tmp_path / "agreement.pdf"
    doc.write_bytes(PDF)
    _ok(
        "keys",
        "handovers",
        "record",
        str(hid),
        "--record-no",
        "R-1",
        "--recipient",
        "王工",
        "--items",
        "母卡1张",
        "--as",
        officer,
    )
    _ok(
        "keys",
        "handovers",
        "agreement",
        str(hid),
        str(doc),
        "--signed-on",
        china_today().isoformat(),
        "--as",
        officer,
    )
    review = json.loads(_ok("keys", "handovers", "plan", str(hid), str(doc), "--as", officer, "--json"))["review"]
    self_ok = runner.invoke(app, ["keys", "handovers", "decide", str(review), "--approve", "--as", officer])
    assert self_ok.exit_code == 1 and "SELF_APPROVAL" in self_ok.output
    _ok("keys", "handovers", "decide", str(review), "--approve", "--as", reviewer)
    _ok("keys", "handovers", "supervisor", str(hid), reviewer, "--as", officer)
    _ok("keys", "handovers", "complete", str(hid), "--as", officer)
    _ok("keys", "handovers", "supervise", str(hid), "--location", "厂区", "--observation", "正常", "--as", reviewer)
    overdue = json.loads(_ok("keys", "handovers", "list", "--overdue", "--json"))
    assert hid not in [h["id"] for h in overdue]  # due in an hour

    loss = json.loads(
        _ok("keys", "incidents", "report-loss", str(cid), "--description", "厂商报告遗失", "--as", officer, "--json")
    )
    assert {m["kind"] for m in loss["measures"]} >= {
        "carrier_blocked",
        "notify_superior",
        "notify_ministry",
        "handover_closed",
    }
    out = _ok("notify", "dispatch", "--json")
    assert json.loads(out)["claimed"] >= 2

    inventory = tmp_path / "inv.csv"
    _ok("keys", "report", "inventory", "--region", REGION, "--out", str(inventory))
    assert "key_mother_card" in inventory.read_text(encoding="utf-8-sig")
    audit = tmp_path / "audit.pdf"
    start = (utcnow() - timedelta(hours=1)).isoformat()
    end = (utcnow() + timedelta(hours=1)).isoformat()
    _ok(
        "keys",
        "report",
        "audit",
        "--region",
        REGION,
        "--start",
        start,
        "--end",
        end,
        "--format",
        "pdf",
        "--out",
        str(audit),
    )
    assert audit.read_bytes().startswith(b"%PDF")
    _ok("audit", "verify")


# rule KEY-5: one ministry delivery receipt registers several carriers from the command line too
def test_one_receipt_several_carriers_cli(db_env) -> None:
    custodian = _staff(Role.KEY_CUSTODIAN)
    receipt, on = unique("R"), china_today().isoformat()
    ids = []
    for kind in ("psam_card", "psam_card", "transmission_key_card"):
        out = _ok(
            "keys", "carriers", "receive", "--type", kind, "--serial", unique("CLI"), "--region", REGION,
            "--receipt-no", receipt, "--received-on", on, "--received-from", "人社部", "--location", "保险柜",
            "--as", custodian, "--json",
        )  # fmt: skip
        ids.append(json.loads(out)["id"])
    assert len(set(ids)) == 3
    other_day = (china_today() - timedelta(days=1)).isoformat()
    refused = runner.invoke(app, [
        "keys", "carriers", "receive", "--type", "psam_card", "--serial", unique("CLI"), "--region", REGION,
        "--receipt-no", receipt, "--received-on", other_day, "--received-from", "人社部", "--location", "保险柜",
        "--as", custodian, "--json",
    ])  # fmt: skip
    assert refused.exit_code != 0 and "CARRIER_EXISTS" in refused.output
