"""Reports for security officers and auditors, built from the records, never assembled by hand:

* the key and carrier inventory of a region (sub-regions included): carriers with the keys they
  hold and their PSAM deployments, devices with their certificates, keys in the inventory;
* the audit report of a period: every key-management entry of the audit chain whose actor acted in
  the region, with a summary and the chain's integrity at the time of the report.

Each comes as CSV (UTF-8 with BOM, so spreadsheet software shows the Chinese text) and as PDF
(``pdf.py``).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from sscard.audit.anchors import anchor_gaps
from sscard.audit.models import AuditEntry
from sscard.audit.service import verify_chain
from sscard.config import get_settings
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.key_register import bridge
from sscard.key_register.devices import certificate_problem, list_devices
from sscard.key_register.errors import ReportInvalid
from sscard.key_register.models import CarrierKey, SecurityIncident
from sscard.key_register.psam import psam_register
from sscard.key_register.states import CARRIER_STATE_ZH, CARRIER_TYPE_ZH, CarrierState, CarrierType
from sscard.regions.codes import is_region_code, is_within

# The audit actions this report covers: everything the key-management records write.
AUDIT_PREFIXES = ("device.", "carrier.", "document.", "handover.", "plan.", "incident.", "key.", "keys.", "report.")
MAX_PERIOD_DAYS = 366


@dataclass
class InventoryReport:
    region_code: str
    generated_at: datetime
    carriers: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, dict[str, int]] = field(default_factory=dict)  # carrier type → state → count


def inventory_report(uow: UnitOfWork, *, region_code: str) -> InventoryReport:
    """The key and carrier inventory of ``region_code`` and its sub-regions."""
    if not is_region_code(region_code):
        raise ReportInvalid("a region code is six digits", field="region")
    now = utcnow()
    report = InventoryReport(region_code=region_code, generated_at=now)
    from sscard.key_register.carriers import list_carriers

    carriers = list_carriers(uow, region_code=region_code)
    labels: dict[int, list[str]] = {}
    for link in uow.session.scalars(select(CarrierKey).order_by(CarrierKey.key_label)):
        labels.setdefault(link.carrier_id, []).append(link.key_label)
    deployments = {e.carrier.id: e.deployment for e in psam_register(uow, region_code=region_code)}
    for c in carriers:
        d = deployments.get(c.id)
        report.carriers.append(
            {
                "region": c.region_code,
                "type": c.carrier_type.value,
                "type_zh": CARRIER_TYPE_ZH[c.carrier_type],
                "serial": c.serial,
                "state": c.state.value,
                "state_zh": CARRIER_STATE_ZH[c.state],
                "holder": c.holder,
                "location": c.location,
                "receipt_no": c.receipt_no,
                "received_on": c.received_on.isoformat(),
                "received_from": c.received_from,
                "usage_count": c.usage_count,
                "keys": labels.get(c.id, []),
                "deployment": None
                if d is None
                else {
                    "terminal": d.terminal_id,
                    "institution": d.institution,
                    "form": d.physical_form.value,
                    "environment": d.environment,
                    "mode": d.usage_mode.value,
                },
            }
        )
        for label in labels.get(c.id, []):
            report.keys.append(
                {"label": label, "carrier": c.serial, "carrier_state": c.state.value, "source": "carrier"}
            )
    for t in CarrierType:
        counts = Counter(c.state for c in carriers if c.carrier_type is t)
        report.summary[t.value] = {s.value: counts.get(s, 0) for s in CarrierState}
    for dev in list_devices(uow, region_code=region_code):
        report.devices.append(
            {
                "region": dev.region_code,
                "model": dev.model,
                "serial": dev.serial,
                "certificate_no": dev.certificate_no,
                "valid_until": dev.certificate_valid_until.isoformat(),
                "state": dev.state.value,
                "problem": certificate_problem(dev, now) or "",
                "location": dev.location,
            }
        )
    report.keys.extend(bridge.list_keys(uow, region_code=region_code))
    return report


INVENTORY_COLUMNS = (
    "category",
    "region",
    "type",
    "serial",
    "state",
    "holder",
    "location",
    "certificate_no",
    "valid_until",
    "receipt_no",
    "received_on",
    "usage_count",
    "keys",
    "deployment",
)


def inventory_csv(report: InventoryReport) -> bytes:
    """One row per carrier, device and inventory key (``category`` tells which)."""
    rows: list[dict[str, Any]] = []
    for c in report.carriers:
        d = c["deployment"]
        rows.append(
            {
                "category": "carrier",
                **{k: c[k] for k in ("region", "type", "serial", "state", "holder", "location", "receipt_no")},
                "received_on": c["received_on"],
                "usage_count": c["usage_count"],
                "keys": ";".join(c["keys"]),
                "deployment": "" if d is None else f"{d['terminal'] or d['institution']} {d['form']} {d['mode']}",
            }
        )
    for dev in report.devices:
        rows.append(
            {
                "category": "device",
                "region": dev["region"],
                "type": dev["model"],
                "serial": dev["serial"],
                "state": dev["problem"] or dev["state"],
                "location": dev["location"],
                "certificate_no": dev["certificate_no"],
                "valid_until": dev["valid_until"],
            }
        )
    for key in report.keys:
        if key.get("source") != "carrier":
            rows.append(
                {
                    "category": "key",
                    "serial": key["label"],
                    "state": key.get("state", ""),
                    "region": key.get("region", ""),
                }
            )
    return _csv(INVENTORY_COLUMNS, rows)


@dataclass
class AuditReport:
    region_code: str
    start: datetime
    end: datetime
    generated_at: datetime
    chain_ok: bool
    chain_problem: str | None
    # Entries up to each stream's checkpoint were found intact by the full walk of this time (the
    # oldest used); None when the chain was walked from its first entry.
    chain_checked_since: datetime | None = None
    # Audit anchors (audit/anchors.py): since when the chain is anchored outside the database (None:
    # never), the newest anchor's number and time, and every stretch of the period longer than
    # SSCARD_AUDIT_ANCHOR_MAX_GAP_S without an anchor (the period before the first anchor included).
    anchored_since: datetime | None = None
    anchor_latest_n: int = 0
    anchor_latest_at: datetime | None = None
    anchor_gaps: list[dict[str, str]] = field(default_factory=list)
    anchor_problem: str | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)
    by_action: dict[str, dict[str, int]] = field(default_factory=dict)  # action → result → count
    incidents: list[dict[str, Any]] = field(default_factory=list)


def audit_chain(uow: UnitOfWork, *, region_code: str, start: datetime, end: datetime) -> AuditReport:
    """The chain's integrity and anchoring for ``[start, end)`` (an ``AuditReport`` without entries)."""
    if not is_region_code(region_code):
        raise ReportInvalid("a region code is six digits", field="region")
    if start.tzinfo is None or end.tzinfo is None:
        raise ReportInvalid("give the period with a time zone", field="start")
    if end <= start or (end - start).days > MAX_PERIOD_DAYS:
        raise ReportInvalid(f"the period must end after it starts and last at most {MAX_PERIOD_DAYS} days")
    verified = verify_chain(uow, since_checkpoints=True)  # the nightly full walk covers the rest
    problem = verified.problem
    settings = get_settings()
    anchored_since, gaps = anchor_gaps(uow, start=start, end=end,
                                       max_gap=timedelta(seconds=settings.audit_anchor_max_gap_s))  # fmt: skip
    latest = None if verified.anchors is None else verified.anchors.latest
    return AuditReport(
        region_code=region_code,
        start=start,
        end=end,
        generated_at=utcnow(),
        chain_ok=verified.ok,
        chain_problem=(
            f"stream {problem.stream}, seq {problem.seq}: {problem.reason}"
            if problem is not None
            else verified.anchor_problem
        ),  # fmt: skip
        chain_checked_since=verified.checked_since,
        anchored_since=anchored_since,
        anchor_latest_n=0 if latest is None else latest.n,
        anchor_latest_at=None if latest is None else latest.at,
        anchor_gaps=[{"from": a.isoformat(timespec="seconds"), "to": b.isoformat(timespec="seconds")} for a, b in gaps],
        anchor_problem=verified.anchor_problem,
    )


def audit_report(uow: UnitOfWork, *, region_code: str, start: datetime, end: datetime) -> AuditReport:
    """Key-management audit entries of ``[start, end)`` by actors in the region, with chain integrity."""
    report = audit_chain(uow, region_code=region_code, start=start, end=end)
    # The actions are chosen in the database: the period also holds every PIN verification and login.
    query = (
        select(AuditEntry)
        .where(AuditEntry.at >= start, AuditEntry.at < end)
        .where(or_(*(AuditEntry.action.startswith(prefix, autoescape=True) for prefix in AUDIT_PREFIXES)))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    tally: dict[str, Counter[str]] = {}
    for e in uow.session.scalars(query):
        if not is_within(e.region, region_code):
            continue
        report.entries.append(
            {
                "id": e.id,
                "at": e.at.isoformat(timespec="seconds"),
                "actor": e.actor_id,
                "role": e.role,
                "channel": e.channel,
                "region": e.region,
                "action": e.action,
                "subject": e.subject,
                "result": e.result,
                "details": e.details,
                "stream": e.stream,
                "seq": e.seq,
            }
        )
        tally.setdefault(e.action, Counter())[e.result] += 1
    report.by_action = {a: dict(c) for a, c in sorted(tally.items())}
    for i in uow.session.scalars(
        select(SecurityIncident).where(SecurityIncident.reported_at < end).order_by(SecurityIncident.id)
    ):
        open_in_period = i.closed_at is None or i.closed_at >= start
        if is_within(i.region_code, region_code) and open_in_period:
            report.incidents.append(
                {
                    "id": i.id,
                    "region": i.region_code,
                    "kind": i.kind.value,
                    "state": i.state.value,
                    "reported_at": i.reported_at.isoformat(timespec="seconds"),
                    "closed_at": i.closed_at.isoformat(timespec="seconds") if i.closed_at else "",
                    "cause": i.cause or "",
                }
            )
    return report


AUDIT_COLUMNS = (
    "id",
    "at",
    "stream",
    "seq",
    "actor",
    "role",
    "channel",
    "region",
    "action",
    "subject",
    "result",
    "details",
)


def audit_csv(report: AuditReport) -> bytes:
    """One row per audit entry, in time order (details as the canonical JSON the chain MACs)."""
    return _csv(AUDIT_COLUMNS, report.entries)


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k, "")) for k in columns})
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) if value is not None else ""
    # A cell starting with = + - @ would run as a formula in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclass(frozen=True)
class AuditSearch:
    """An audit search of ``[start, end)`` by actors in ``region_code`` (CH-4). ``action`` and ``subject``
    match a prefix, ``actor`` the staff or holder id exactly; ``within`` limits the actions to these
    prefixes (the key-management ones for a security officer), None: every action (the auditor)."""

    region_code: str
    start: datetime
    end: datetime
    action: str = ""
    actor: str = ""
    subject: str = ""
    within: tuple[str, ...] | None = None


def _region_stem(region_code: str) -> str:
    """The prefix every code within ``region_code`` starts with (110000 → 11, 110100 → 1101, 000000 → '')."""
    stem = region_code
    while stem.endswith("00"):
        stem = stem[:-2]
    return stem


def search_audit(uow: UnitOfWork, search: AuditSearch, *, limit: int = 500) -> tuple[list[AuditEntry], bool]:
    """The newest ``limit`` entries that match, and whether more matched (the filters run in the database)."""
    if not is_region_code(search.region_code):
        raise ReportInvalid("a region code is six digits", field="region")
    if search.end <= search.start or (search.end - search.start).days > MAX_PERIOD_DAYS:
        raise ReportInvalid(f"the period must end after it starts and last at most {MAX_PERIOD_DAYS} days")
    query = select(AuditEntry).where(AuditEntry.at >= search.start, AuditEntry.at < search.end)
    stem = _region_stem(search.region_code)
    if stem:
        query = query.where(AuditEntry.region.startswith(stem, autoescape=True))
    if search.within is not None:
        query = query.where(or_(*(AuditEntry.action.startswith(p, autoescape=True) for p in search.within)))
    if search.action:
        query = query.where(AuditEntry.action.startswith(search.action, autoescape=True))
    if search.subject:
        query = query.where(AuditEntry.subject.startswith(search.subject, autoescape=True))
    if search.actor:
        query = query.where(AuditEntry.actor_id == search.actor)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit + 1)
    found = [e for e in uow.session.scalars(query) if is_within(e.region, search.region_code)]
    return found[:limit], len(found) > limit
