"""Security incidents (KEY-9, measures art. 26): report at once, contain, find the cause, close.

Reporting the loss of a key carrier does, in the reporter's one transaction: the carrier is blocked
(→ lost); the superior department and the ministry get a notice through the outbox; every key the
carrier held is revoked and its rotation scheduled in the key inventory; a PSAM's terminal is
blocked and its deployment ended; every other carrier holding a revoked key is blocked too (and a
PSAM among them has its terminal blocked and its deployment ended); an open third-party handover is
closed. A department notice counts as done only once the outbox delivered it. Each of these is a
measure on the incident — the auditor's checklist — and the incident closes only with a recorded
cause and handling and no measure left pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from sscard.audit import Actor, record_event
from sscard.db.base import CHINA, utcnow
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.key_register import bridge
from sscard.key_register.access import MINISTRY, ensure_in_region, ensure_region_exists, system_actor, text
from sscard.key_register.carriers import (
    carrier_subject,
    carriers_holding,
    get_carrier_or_raise,
    keys_on,
    move_carrier,
)
from sscard.key_register.errors import (
    IncidentCauseRequired,
    IncidentIllegalTransition,
    IncidentMeasuresPending,
    IncidentNotFound,
    KeysInvalid,
    MeasureNotFound,
)
from sscard.key_register.handovers import close_on_loss
from sscard.key_register.models import (
    IncidentKind,
    IncidentMeasure,
    KeyCarrier,
    MeasureKind,
    MeasureStatus,
    PsamDeployment,
    SecurityIncident,
)
from sscard.key_register.plans import plan_in_force
from sscard.key_register.psam import current_deployment, end_deployment
from sscard.key_register.states import (
    CARRIER_ALLOWED_FROM,
    CARRIER_FINAL,
    CARRIER_TYPE_ZH,
    CarrierEvent,
    CarrierState,
    IncidentState,
    next_incident_state,
)
from sscard.notify import MessageState, OutboxMessage, notify_department
from sscard.regions.codes import parent_code_of
from sscard.regions.service import within_region

MS = MeasureStatus


def _subject(incident: SecurityIncident) -> str:
    return f"incident:{incident.id}"


NOTICE_KINDS = frozenset({MeasureKind.NOTIFY_SUPERIOR, MeasureKind.NOTIFY_MINISTRY})


def _measure(
    uow: UnitOfWork,
    incident: SecurityIncident,
    kind: MeasureKind,
    target: str,
    status: MeasureStatus,
    detail: str,
    *,
    outbox_message_id: int | None = None,
) -> IncidentMeasure:
    measure = IncidentMeasure(
        incident_id=incident.id,
        kind=kind,
        target=target[:64],
        status=status,
        detail=detail[:200],
        done_at=utcnow() if status is MS.DONE else None,
        outbox_message_id=outbox_message_id,
    )
    uow.session.add(measure)
    return measure


def _open_incident(
    uow: UnitOfWork,
    *,
    region_code: str,
    kind: IncidentKind,
    description: str,
    actor: Actor,
    occurred_at: datetime | None,
    carrier_id: int | None = None,
) -> SecurityIncident:
    if occurred_at is not None and occurred_at > utcnow():
        raise KeysInvalid("the incident cannot have occurred in the future", field="occurred_at")
    plan = plan_in_force(uow, region_code=region_code)
    incident = SecurityIncident(
        region_code=region_code,
        kind=kind,
        carrier_id=carrier_id,
        plan_id=plan.id if plan else None,
        state=IncidentState.REPORTED,
        description=text(description, "description", max_len=500),
        occurred_at=occurred_at,
        reported_by=actor.id,
    )
    uow.session.add(incident)
    uow.flush()
    return incident


def _notify_upward(uow: UnitOfWork, incident: SecurityIncident, *, subject: str, body: str) -> None:
    """Notify the superior department and the ministry (once when they coincide), as measures.

    Each measure stays pending until the outbox reports its message delivered (``refresh_measures``):
    a notice only queued has not reached anyone yet (KEY-9: reported immediately).
    """

    superior = parent_code_of(incident.region_code)
    recipients = [(MeasureKind.NOTIFY_SUPERIOR, superior)] if superior else []
    recipients.append((MeasureKind.NOTIFY_MINISTRY, MINISTRY))
    sent: dict[str, int] = {}
    for kind, department in recipients:
        if department is None:
            continue
        if department not in sent:
            message = notify_department(
                uow,
                department_code=department,
                topic=f"keys.incident.{incident.kind.value}",
                subject=subject,
                body=body,
            )
            sent[department] = message.id
        _measure(
            uow,
            incident,
            kind,
            department,
            MS.PENDING,
            f"notice queued (outbox message {sent[department]}), not yet delivered",
            outbox_message_id=sent[department],
        )


def _end_psam_deployment(
    uow: UnitOfWork,
    incident: SecurityIncident,
    carrier: KeyCarrier,
    deployment: PsamDeployment,
    *,
    reason: str,
    ended: str,
    actor: Actor,
) -> None:
    """Block the PSAM's terminal and end its deployment, as measures."""
    if deployment.terminal_id:
        blocked = bridge.block_terminal(uow, terminal_id=deployment.terminal_id, reason=reason, actor=actor)
        status = MS.DONE if blocked.done else MS.PENDING
        _measure(uow, incident, MeasureKind.TERMINAL_BLOCKED, deployment.terminal_id, status, blocked.detail)
    end_deployment(uow, carrier=carrier, reason=ended, actor=actor)
    _measure(
        uow, incident, MeasureKind.DEPLOYMENT_ENDED, str(deployment.id), MS.DONE, f"PSAM deployment ended ({ended})"
    )


@dataclass(frozen=True)
class _Blocked:
    carrier_id: int
    serial: str
    terminal_id: str | None


def _block_holders(
    uow: UnitOfWork, incident: SecurityIncident, *, labels: list[str], lost: KeyCarrier, reason: str, actor: Actor
) -> list[_Blocked]:
    """Block every other live carrier holding one of the revoked keys (KEY-9), its PSAM terminal too.

    A carrier with a third party cannot be blocked in place: its measure stays pending until it is
    recovered through its handover and the officer confirms. The blocking is done by the system in the
    reporter's name, outside the reporter's own region checks: a revoked key is revoked everywhere.
    """
    blocked: list[_Blocked] = []
    for holder in carriers_holding(uow, labels=labels):
        if holder.id == lost.id or holder.state in CARRIER_FINAL or holder.state is CarrierState.BLOCKED:
            continue
        holder = get_carrier_or_raise(uow, holder.id, for_update=True)
        if holder.state not in CARRIER_ALLOWED_FROM[CarrierEvent.BLOCK]:
            _measure(
                uow,
                incident,
                MeasureKind.CARRIER_BLOCKED,
                holder.serial,
                MS.PENDING,
                f"holds a revoked key but is {holder.state.value}: recover it, then confirm",
            )
            continue
        deployment = current_deployment(uow, carrier_id=holder.id)
        was = holder.state.value
        move_carrier(
            uow,
            holder,
            CarrierEvent.BLOCK,
            actor=system_actor(holder.region_code),
            location=holder.location,
            holder=holder.holder,
            purpose=f"holds a key revoked by incident {incident.id}",
            details={"incident": incident.id, "reported_by": actor.id},
        )
        _measure(
            uow,
            incident,
            MeasureKind.CARRIER_BLOCKED,
            holder.serial,
            MS.DONE,
            f"holds a revoked key: blocked (was {was})",
        )
        if deployment is not None:
            system = system_actor(holder.region_code)
            _end_psam_deployment(uow, incident, holder, deployment, reason=reason, ended="blocked", actor=system)
        blocked.append(_Blocked(holder.id, holder.serial, deployment.terminal_id if deployment else None))
    return blocked


def report_carrier_loss(
    uow: UnitOfWork, *, carrier_id: int, description: str, actor: Actor, occurred_at: datetime | None = None
) -> SecurityIncident:
    """Report a lost key carrier and contain it at once (KEY-9); never refused for want of a plan."""
    carrier = get_carrier_or_raise(uow, carrier_id, for_update=True)
    ensure_in_region(actor, carrier.region_code)
    incident = _open_incident(
        uow,
        region_code=carrier.region_code,
        kind=IncidentKind.CARRIER_LOSS,
        description=description,
        actor=actor,
        occurred_at=occurred_at,
        carrier_id=carrier.id,
    )
    last_place, last_holder, was = carrier.location, carrier.holder, carrier.state.value
    deployment = current_deployment(uow, carrier_id=carrier.id)
    move_carrier(
        uow,
        carrier,
        CarrierEvent.REPORT_LOSS,
        actor=actor,
        location=last_place,
        holder=last_holder,
        purpose=f"reported lost: incident {incident.id}",
        details={"incident": incident.id},
    )
    _measure(uow, incident, MeasureKind.CARRIER_BLOCKED, carrier.serial, MS.DONE, f"carrier blocked (was {was})")

    reason = f"key carrier {carrier.serial} lost (incident {incident.id})"
    labels = keys_on(uow, carrier_id=carrier.id)
    for label in labels:
        revoked = bridge.revoke_key(uow, label=label, reason=reason, actor=actor)
        _measure(uow, incident, MeasureKind.KEY_REVOKED, label, MS.DONE if revoked.done else MS.PENDING, revoked.detail)
        rotation = bridge.schedule_rotation(uow, label=label, reason=reason, actor=actor)
        _measure(uow, incident, MeasureKind.KEY_ROTATION, label, MS.PENDING, rotation.detail)

    terminals: list[str] = []
    if deployment is not None:
        _end_psam_deployment(uow, incident, carrier, deployment, reason=reason, ended="lost", actor=actor)
        if deployment.terminal_id:
            terminals.append(deployment.terminal_id)
    others = _block_holders(uow, incident, labels=labels, lost=carrier, reason=reason, actor=actor)
    for other in others:
        if other.terminal_id and other.terminal_id not in terminals:
            terminals.append(other.terminal_id)
    handover = close_on_loss(uow, carrier_id=carrier.id, incident_id=incident.id, actor=actor)
    if handover is not None:
        _measure(uow, incident, MeasureKind.HANDOVER_CLOSED, str(handover.id), MS.DONE, handover.third_party)

    at = (occurred_at or incident.reported_at).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    kind_zh = CARRIER_TYPE_ZH[carrier.carrier_type]
    plan_note = f"按预案 {incident.plan_id} 处置" if incident.plan_id else "本地区尚无应急预案"
    body = (
        f"【密钥载体遗失报告】事件编号 {incident.id}，地区 {carrier.region_code}。\n"
        f"{kind_zh}（序列号 {carrier.serial}，签收单 {carrier.receipt_no}）于 {at} 遗失，遗失前状态：{was}，"
        f"最后保管：{last_holder}，地点：{last_place}。\n"
        f"情况：{incident.description}\n"
        f"已采取措施：载体已冻结；涉及密钥 {len(labels)} 个已申请吊销并安排更换"
        f"{'（' + '、'.join(labels) + '）' if labels else ''}；"
        f"持有上述密钥的其他载体 {len(others)} 个已冻结"
        f"{'（' + '、'.join(o.serial for o in others) + '）' if others else ''}；"
        f"已停用终端 {len(terminals)} 台{'（' + '、'.join(terminals) + '）' if terminals else ''}。\n"
        f"应急预案：{plan_note}。报告人：{actor.id}。"
    )
    _notify_upward(uow, incident, subject=f"【安全事件】{kind_zh}遗失 {carrier.serial}", body=body)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="incident.report",
        subject=_subject(incident),
        details={
            "kind": incident.kind.value,
            "carrier": carrier_subject(carrier),
            "keys": labels,
            "terminals": terminals,
            "carriers_blocked": [o.carrier_id for o in others],
            "plan": incident.plan_id,
        },
    )
    return incident


def report_incident(
    uow: UnitOfWork,
    *,
    region_code: str,
    kind: IncidentKind | str,
    description: str,
    actor: Actor,
    occurred_at: datetime | None = None,
) -> SecurityIncident:
    """Report another security incident (e.g. a compromised device); the departments are told at once."""
    kind = IncidentKind(kind)
    if kind is IncidentKind.CARRIER_LOSS:
        raise KeysInvalid("report a carrier loss against the carrier (it is blocked and its keys revoked)")
    ensure_in_region(actor, region_code)
    ensure_region_exists(uow, region_code)
    incident = _open_incident(
        uow, region_code=region_code, kind=kind, description=description, actor=actor, occurred_at=occurred_at
    )
    body = (
        f"【安全事件报告】事件编号 {incident.id}，地区 {region_code}，类别 {kind.value}。\n"
        f"情况：{incident.description}\n报告人：{actor.id}。"
    )
    _notify_upward(uow, incident, subject=f"【安全事件】{kind.value} {region_code}", body=body)
    uow.flush()
    record_event(uow, actor=actor, action="incident.report", subject=_subject(incident), details={"kind": kind.value})
    return incident


def get_incident_or_raise(uow: UnitOfWork, incident_id: int) -> SecurityIncident:
    incident = uow.session.get(SecurityIncident, incident_id)
    if incident is None:
        raise IncidentNotFound(f"no incident {incident_id}")
    return incident


def record_findings(
    uow: UnitOfWork, *, incident_id: int, actor: Actor, cause: str | None = None, handling: str | None = None
) -> SecurityIncident:
    """Record the cause found and the handling done (either may be refined until closure)."""
    incident = get_incident_or_raise(uow, incident_id)
    ensure_in_region(actor, incident.region_code)
    cause = text(cause, "cause", max_len=4000, required=False)
    handling = text(handling, "handling", max_len=4000, required=False)
    if not cause and not handling:
        raise KeysInvalid("give the cause, the handling, or both", field="cause")
    incident.state = next_incident_state(incident.state, "record_findings")
    incident.cause = cause or incident.cause
    incident.handling = handling or incident.handling
    incident.findings_by = actor.id
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="incident.findings",
        subject=_subject(incident),
        details={"cause_recorded": bool(incident.cause), "handling_recorded": bool(incident.handling)},
    )
    return incident


def measures_of(uow: UnitOfWork, *, incident_id: int) -> list[IncidentMeasure]:
    return list(
        uow.session.scalars(
            select(IncidentMeasure).where(IncidentMeasure.incident_id == incident_id).order_by(IncidentMeasure.id)
        )
    )


def _notice_delivered(uow: UnitOfWork, measure: IncidentMeasure) -> bool:
    """Whether the department notice of this measure was delivered; the detail follows a failure."""
    if measure.outbox_message_id is None:
        return False
    message = uow.session.get(OutboxMessage, measure.outbox_message_id)
    if message is None:
        return False
    if message.state is MessageState.SENT:
        at = (message.sent_at or utcnow()).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        measure.detail = f"notice delivered (outbox message {message.id}) at {at}"
        return True
    if message.state is MessageState.FAILED:
        measure.detail = f"notice delivery failed (outbox message {message.id}): requeue it"
    return False


def refresh_measures(uow: UnitOfWork, *, incident: SecurityIncident) -> None:
    """Mark measures done that other registries finished: a key rotated, a department notice delivered."""
    for measure in measures_of(uow, incident_id=incident.id):
        if measure.status is not MS.PENDING:
            continue
        if measure.kind is MeasureKind.KEY_ROTATION:
            done = bridge.key_rotated(uow, label=measure.target)
            if done:
                measure.detail = "rotated in the key inventory"
        elif measure.kind in NOTICE_KINDS:
            done = _notice_delivered(uow, measure)
        else:
            done = False
        if done:
            measure.status, measure.done_at, measure.done_by = MS.DONE, utcnow(), "system"
            record_event(
                uow,
                actor=system_actor(incident.region_code),
                action="incident.measure_done",
                subject=_subject(incident),
                details={"measure": measure.id, "kind": measure.kind.value, "target": measure.target},
            )
    uow.flush()


def confirm_measure(uow: UnitOfWork, *, incident_id: int, measure_id: int, note: str, actor: Actor) -> IncidentMeasure:
    """Confirm by hand a measure a registry could not take itself (e.g. a key revoked at the HSM console)."""
    incident = get_incident_or_raise(uow, incident_id)
    ensure_in_region(actor, incident.region_code)
    if incident.state is IncidentState.CLOSED:
        raise IncidentIllegalTransition("the incident is closed")
    measure = uow.session.get(IncidentMeasure, measure_id)
    if measure is None or measure.incident_id != incident.id:
        raise MeasureNotFound(f"incident {incident_id} has no measure {measure_id}")
    if measure.kind in NOTICE_KINDS and measure.status is MS.PENDING:
        # KEY-9: a notice is done when it was delivered, which the outbox records, not when someone says so.
        raise KeysInvalid("a department notice is done once the outbox delivers it: dispatch or requeue it")
    if measure.status is MS.PENDING:
        measure.status, measure.done_at, measure.done_by = MS.DONE, utcnow(), actor.id
        measure.detail = f"confirmed: {text(note, 'note', max_len=180)}"
        uow.flush()
        record_event(
            uow,
            actor=actor,
            action="incident.measure_done",
            subject=_subject(incident),
            details={"measure": measure.id, "kind": measure.kind.value, "target": measure.target},
        )
    return measure


def close_incident(uow: UnitOfWork, *, incident_id: int, actor: Actor) -> SecurityIncident:
    """Close the incident: only with its cause and handling recorded and every measure done (KEY-9)."""
    incident = get_incident_or_raise(uow, incident_id)
    ensure_in_region(actor, incident.region_code)
    if incident.state is not IncidentState.CLOSED and not (incident.cause and incident.handling):
        raise IncidentCauseRequired("record the cause and the handling before closing")
    closed = next_incident_state(incident.state, "close")
    refresh_measures(uow, incident=incident)
    pending = [
        f"{m.kind.value}:{m.target}" for m in measures_of(uow, incident_id=incident.id) if m.status is MS.PENDING
    ]
    if pending:
        raise IncidentMeasuresPending(pending)
    incident.state, incident.closed_at, incident.closed_by = closed, utcnow(), actor.id
    body = (
        f"【安全事件结案】事件编号 {incident.id}，地区 {incident.region_code}。\n"
        f"原因：{incident.cause}\n处理情况：{incident.handling}\n结案人：{actor.id}。"
    )

    for department in dict.fromkeys(filter(None, (parent_code_of(incident.region_code), MINISTRY))):
        notify_department(
            uow,
            department_code=department,
            topic="keys.incident.closed",
            subject=f"【安全事件结案】事件 {incident.id}",
            body=body[:4000],
        )
    uow.flush()
    record_event(
        uow, actor=actor, action="incident.close", subject=_subject(incident), details={"kind": incident.kind.value}
    )
    return incident


def list_incidents(
    uow: UnitOfWork,
    *,
    region_code: str | None = None,
    state: IncidentState | None = None,
    page: Keyset | None = None,
) -> list[SecurityIncident]:
    """Incidents, newest first, optionally in a region (sub-regions included) or state."""
    query = select(SecurityIncident)
    if state is not None:
        query = query.where(SecurityIncident.state == state)
    if region_code is not None:
        query = query.where(within_region(SecurityIncident.region_code, region_code))
    return taken(uow.session.scalars(ordered(query, page, SecurityIncident.id.desc())), page)
