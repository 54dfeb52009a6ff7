"""Inventory and audit reports (CSV and PDF), generated from the records (KEY-4, KEY-5, KEY-8, KEY-9)."""

from __future__ import annotations

import csv
import io
import os
from datetime import timedelta

import pytest

from sscard.audit import Actor, Channel, record_event
from sscard.db.base import china_today, utcnow
from sscard.key_register.carriers import load_key, store_carrier
from sscard.key_register.devices import register_device
from sscard.key_register.errors import ReportInvalid
from sscard.key_register.incidents import report_carrier_loss
from sscard.key_register.pdf import audit_pdf, inventory_pdf
from sscard.key_register.psam import deploy_psam
from sscard.key_register.reports import audit_csv, audit_report, inventory_csv, inventory_report
from sscard.key_register.states import CarrierType
from tests.key_register.factories import REGION, inventory_key, receive, terminal, unique


def _rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _populate(uow, officer, custodian):
    master = receive(uow, custodian, CarrierType.MASTER_KEY_CARD)
    master.key_label = inventory_key(uow, officer)  # type: ignore[attr-defined]  # kept for the assertions
    load_key(uow, carrier_id=master.id, key_label=master.key_label, actor=officer)
    store_carrier(uow, carrier_id=master.id, location="保险柜A", purpose="入柜", actor=custodian)
    psam = receive(uow, custodian)
    deploy_psam(
        uow,
        carrier_id=psam.id,
        terminal_id=terminal(uow),
        institution="朝阳区某社区卫生服务站",
        physical_form="plug_in",
        environment="挂号收费窗口，终端加锁，有监控",
        usage_mode="attended",
        actor=custodian,
    )
    lost = receive(uow, custodian, CarrierType.TRANSMISSION_KEY_CARD)
    report_carrier_loss(uow, carrier_id=lost.id, description="传输途中遗失", actor=custodian)
    register_device(
        uow,
        model="SJJ1012-A",
        serial=unique("HSM"),
        certificate_no="SXH2024123",
        certificate_issuer="国家密码管理局",
        certificate_valid_from=china_today() - timedelta(days=10),
        certificate_valid_until=china_today() + timedelta(days=700),
        location="市社保中心机房",
        region_code=REGION,
        actor=officer,
    )
    return master, psam, lost


# rule KEY-5, KEY-8: the inventory lists every carrier with its state, keys and deployment
def test_inventory_report_csv_and_pdf(uow, officer, custodian) -> None:
    master, psam, lost = _populate(uow, officer, custodian)
    report = inventory_report(uow, region_code="110100")  # the city covers the district
    by_serial = {c["serial"]: c for c in report.carriers}
    assert by_serial[master.serial]["keys"] == [master.key_label] and by_serial[master.serial]["state"] == "in_custody"
    assert by_serial[psam.serial]["deployment"]["form"] == "plug_in"
    assert by_serial[lost.serial]["state"] == "lost"
    assert report.summary["psam_card"]["in_service"] >= 1
    rows = _rows(inventory_csv(report))
    assert {r["category"] for r in rows} >= {"carrier", "device"}
    assert any(r["serial"] == master.serial and r["keys"] == master.key_label for r in rows)
    pdf = inventory_pdf(report)
    assert pdf.startswith(b"%PDF") and b"STSong-Light" in pdf
    _keep(pdf, "inventory")
    assert master.serial not in {c["serial"] for c in inventory_report(uow, region_code="310000").carriers}
    with pytest.raises(ReportInvalid):
        inventory_report(uow, region_code="11")


# rule CH-4, KEY-9: the audit report of a period lists the key-management entries and the chain's state
def test_audit_report(uow, officer, custodian) -> None:
    start = utcnow() - timedelta(minutes=1)
    master, _psam, lost = _populate(uow, officer, custodian)
    report = audit_report(uow, region_code=REGION, start=start, end=utcnow() + timedelta(minutes=1))
    assert report.chain_ok
    actions = {e["action"] for e in report.entries}
    assert {"carrier.receive", "carrier.report_loss", "incident.report", "device.register"} <= actions
    assert report.by_action["carrier.receive"]["ok"] >= 3
    assert any(i["kind"] == "carrier_loss" for i in report.incidents)
    rows = _rows(audit_csv(report))
    assert len(rows) == len(report.entries) and rows[0]["action"]
    pdf = audit_pdf(report)
    assert pdf.startswith(b"%PDF")
    _keep(pdf, "audit")
    other = audit_report(uow, region_code="310000", start=start, end=utcnow() + timedelta(minutes=1))
    assert not [e for e in other.entries if e["subject"] == f"carrier:{master.id}"]
    for bad in [(utcnow(), utcnow() - timedelta(days=1)), (utcnow() - timedelta(days=400), utcnow())]:
        with pytest.raises(ReportInvalid):
            audit_report(uow, region_code=REGION, start=bad[0], end=bad[1])


# rule KEY-9: the report holds key-management actions only, chosen in the database; the terminal and
# portal entries of the same period and region stay out (exact prefixes, "_" and "%" are no wildcards)
def test_audit_report_selects_key_management_actions(uow, officer) -> None:
    start = utcnow() - timedelta(minutes=1)
    actor = Actor(kind="staff", id="officer-x", channel=Channel.SECURITY, role="security_officer", region=REGION)
    for action in ("key.derive", "pin.verify", "portal.login", "keyring.open", "keys_x.y", "carrier%.z"):
        record_event(uow, actor=actor, action=action, subject=f"test:{action}")
    report = audit_report(uow, region_code=REGION, start=start, end=utcnow() + timedelta(minutes=1))
    listed = {e["action"] for e in report.entries if e["subject"].startswith("test:")}
    assert listed == {"key.derive"}
    assert "pin.verify" not in report.by_action and "portal.login" not in report.by_action


# rule CH-4: after a full walk the report checks the chain from the checkpoints and says since when
def test_audit_report_checks_from_checkpoints(uow, officer, custodian) -> None:
    from sscard.audit.service import checkpoint_chain

    start = utcnow() - timedelta(minutes=1)
    _populate(uow, officer, custodian)
    full, _ = checkpoint_chain(uow, actor=Actor.cli_operator())
    report = audit_report(uow, region_code=REGION, start=start, end=utcnow() + timedelta(minutes=1))
    assert full.ok and report.chain_ok and report.chain_checked_since is not None
    assert audit_pdf(report).startswith(b"%PDF")


def test_csv_cells_cannot_be_formulas(uow, officer, custodian) -> None:
    from sscard.key_register.reports import _csv

    assert _csv(("a",), [{"a": "=HYPERLINK(1)"}]).decode("utf-8-sig").splitlines()[1] == "'=HYPERLINK(1)"


def _keep(pdf: bytes, name: str) -> None:
    """Set SSCARD_KEEP_PDF=dir to look at the rendered reports."""
    target = os.environ.get("SSCARD_KEEP_PDF")
    if target:
        with open(os.path.join(target, f"{name}.pdf"), "wb") as fh:
            fh.write(pdf)
