"""Certified cryptographic devices (KEY-4, measures art. 22).

An encryption machine may hold or use keys only while registered, in service and covered by a
valid commercial cryptography product model certificate (商用密码产品型号证书). A certificate that has
lapsed or was revoked blocks the device and raises an alert to the region's department; the
security engineers' key operations call ``ensure_device_usable`` before placing or using a key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select

from sscard.audit import Actor, record_event
from sscard.db.base import china_date, utcnow
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.key_register.access import ensure_in_region, ensure_region_exists, system_actor, text
from sscard.key_register.errors import DeviceExists, DeviceNotFound, DeviceNotUsable, KeysInvalid
from sscard.key_register.models import CryptoDevice, DeviceAlert, DeviceState
from sscard.notify import notify_department
from sscard.regions.service import within_region

EXPIRY_WARNING = timedelta(days=30)


def _subject(device: CryptoDevice) -> str:
    return f"device:{device.id}"


def certificate_problem(device: CryptoDevice, at: datetime) -> str | None:
    """Why the device may not hold or use keys at ``at`` (pure), or None when it may."""
    if device.state is DeviceState.RETIRED:
        return "retired"
    if device.certificate_revoked_at is not None and device.certificate_revoked_at <= at:
        return "certificate_revoked"
    today = china_date(at)
    if today > device.certificate_valid_until:
        return "certificate_expired"
    if today < device.certificate_valid_from:
        return "certificate_not_yet_valid"
    if device.state is DeviceState.BLOCKED:
        return device.blocked_reason or "blocked"
    return None


def device_problem(uow: UnitOfWork, *, serial: str, model: str | None = None, at: datetime | None = None) -> str | None:
    """The register's verdict on the device with this serial (and model): None when it may hold and
    use keys, else ``not_registered``, ``serial_ambiguous`` or a ``certificate_problem`` (KEY-4)."""
    query = select(CryptoDevice).where(CryptoDevice.serial == serial)
    if model:
        query = query.where(CryptoDevice.model == model)
    devices = list(uow.session.scalars(query))
    if not devices:
        return "not_registered"
    if len(devices) > 1:
        return "serial_ambiguous"
    return certificate_problem(devices[0], at or utcnow())


def _check_validity(valid_from: date, valid_until: date, *, today: date) -> None:
    if valid_until < valid_from:
        raise KeysInvalid("the certificate ends before it starts", field="certificate_valid_until")
    if valid_until < today:
        raise KeysInvalid("the certificate has already expired; a device cannot be registered on it (KEY-4)")


def register_device(
    uow: UnitOfWork,
    *,
    model: str,
    serial: str,
    certificate_no: str,
    certificate_issuer: str,
    certificate_valid_from: date,
    certificate_valid_until: date,
    location: str,
    region_code: str,
    actor: Actor,
    manufacturer: str = "",
) -> CryptoDevice:
    """Register an encryption machine with its model certificate (KEY-4)."""
    ensure_in_region(actor, region_code)
    ensure_region_exists(uow, region_code)
    model, serial = text(model, "model", max_len=64), text(serial, "serial", max_len=64)
    _check_validity(certificate_valid_from, certificate_valid_until, today=china_date(utcnow()))
    if uow.session.scalar(select(CryptoDevice.id).where(CryptoDevice.model == model, CryptoDevice.serial == serial)):
        raise DeviceExists(f"device {model} / {serial} is already registered")
    device = CryptoDevice(
        model=model,
        serial=serial,
        manufacturer=text(manufacturer, "manufacturer", max_len=128, required=False),
        certificate_no=text(certificate_no, "certificate_no", max_len=64),
        certificate_issuer=text(certificate_issuer, "certificate_issuer", max_len=128),
        certificate_valid_from=certificate_valid_from,
        certificate_valid_until=certificate_valid_until,
        location=text(location, "location", max_len=128),
        region_code=region_code,
        state=DeviceState.ACTIVE,
        registered_by=actor.id,
    )
    uow.session.add(device)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="device.register",
        subject=_subject(device),
        details={
            "model": model,
            "serial": serial,
            "certificate_no": device.certificate_no,
            "valid_until": certificate_valid_until.isoformat(),
            "region": region_code,
        },
    )
    return device


def get_device_or_raise(uow: UnitOfWork, device_id: int) -> CryptoDevice:
    """The device with this id; ``DeviceNotFound`` otherwise."""
    device = uow.session.get(CryptoDevice, device_id)
    if device is None:
        raise DeviceNotFound(f"no device {device_id}")
    return device


def list_devices(
    uow: UnitOfWork, *, region_code: str | None = None, state: DeviceState | None = None, page: Keyset | None = None
) -> list[CryptoDevice]:
    """Devices ordered by id, optionally in one region (sub-regions included) or state."""
    query = select(CryptoDevice)
    if state is not None:
        query = query.where(CryptoDevice.state == state)
    if region_code is not None:
        query = query.where(within_region(CryptoDevice.region_code, region_code))
    return taken(uow.session.scalars(ordered(query, page, CryptoDevice.id)), page)


def ensure_device_usable(uow: UnitOfWork, *, device_id: int, at: datetime | None = None) -> CryptoDevice:
    """The device, if it may hold and use keys at ``at``; else ``DEVICE_NOT_USABLE`` naming the reason.

    The refusal blocks the device and raises an alert. Both happen after the caller's rollback when
    the caller runs inside ``refusals_audited`` (``DeviceNotUsable.after_rollback``); the daily
    ``sweep_certificates`` catches every lapse regardless of who asked.
    """
    at = at or utcnow()
    device = get_device_or_raise(uow, device_id)
    problem = certificate_problem(device, at)
    if problem is None:
        return device
    raise DeviceNotUsable(
        f"device {device.model} / {device.serial} may not hold or use keys: {problem.replace('_', ' ')}",
        device_id=device.id,
        reason=problem,
        check_at=at,
    )


def block_after_refusal(uow: UnitOfWork, *, device_id: int, at: datetime) -> None:
    """Persist the block and alert of a refused device (a certificate that lapsed or was revoked)."""
    device = uow.session.get(CryptoDevice, device_id)
    if device is None:
        return
    problem = certificate_problem(device, at)
    if problem in ("certificate_expired", "certificate_revoked"):
        block_device(uow, device=device, reason=problem, at=at, actor=system_actor(device.region_code))


def block_device(uow: UnitOfWork, *, device: CryptoDevice, reason: str, at: datetime, actor: Actor) -> DeviceAlert:
    """Block the device's key operations and raise an alert to its region's department (KEY-4)."""
    if device.state is DeviceState.ACTIVE:
        device.state = DeviceState.BLOCKED
        device.blocked_reason = reason
        uow.flush()
        record_event(uow, actor=actor, action="device.block", subject=_subject(device), details={"reason": reason})
    return raise_alert(uow, device=device, kind=reason, at=at)


def raise_alert(uow: UnitOfWork, *, device: CryptoDevice, kind: str, at: datetime) -> DeviceAlert:
    """One open alert per device and kind, with a notice to the region's department."""

    existing = uow.session.scalar(
        select(DeviceAlert).where(
            DeviceAlert.device_id == device.id, DeviceAlert.kind == kind, DeviceAlert.acknowledged_at.is_(None)
        )
    )
    if existing is not None:
        return existing
    until = device.certificate_valid_until.isoformat()
    what = {
        "certificate_expired": f"型号证书 {device.certificate_no} 已于 {until} 到期，设备已停止密钥操作",
        "certificate_revoked": f"型号证书 {device.certificate_no} 已被撤销，设备已停止密钥操作",
        "certificate_expiring": f"型号证书 {device.certificate_no} 将于 {until} 到期，请及时换证",
    }.get(kind, kind)
    detail = f"密码设备 {device.model}/{device.serial}（{device.location}）：{what}"
    message = notify_department(
        uow,
        department_code=device.region_code,
        topic=f"keys.device.{kind}",
        subject=f"【密码设备告警】{device.model}/{device.serial}",
        body=detail,
    )
    alert = DeviceAlert(
        device_id=device.id,
        kind=kind,
        detail=detail[:200],
        region_code=device.region_code,
        raised_at=at,
        message_id=message.id,
    )
    uow.session.add(alert)
    uow.flush()
    record_event(
        uow,
        actor=system_actor(device.region_code),
        action="device.alert",
        subject=_subject(device),
        details={"kind": kind, "alert_id": alert.id, "message_id": message.id},
    )
    return alert


@dataclass
class SweepReport:
    blocked: list[int] = field(default_factory=list)
    warned: list[int] = field(default_factory=list)


def sweep_certificates(
    uow: UnitOfWork, *, at: datetime | None = None, warn_within: timedelta = EXPIRY_WARNING
) -> SweepReport:
    """Block every active device whose certificate lapsed or was revoked; warn of those expiring soon."""
    at = at or utcnow()
    report = SweepReport()
    for device in uow.session.scalars(select(CryptoDevice).where(CryptoDevice.state == DeviceState.ACTIVE)):
        problem = certificate_problem(device, at)
        if problem in ("certificate_expired", "certificate_revoked"):
            block_device(uow, device=device, reason=problem, at=at, actor=system_actor(device.region_code))
            report.blocked.append(device.id)
        elif problem is None and device.certificate_valid_until <= china_date(at + warn_within):
            raise_alert(uow, device=device, kind="certificate_expiring", at=at)
            report.warned.append(device.id)
    return report


def revoke_certificate(
    uow: UnitOfWork, *, certificate_no: str, reason: str, actor: Actor, at: datetime | None = None
) -> list[CryptoDevice]:
    """Record the revocation of a model certificate: every device on it in the actor's region is blocked."""
    at = at or utcnow()
    reason = text(reason, "reason", max_len=200)
    devices = [
        d
        for d in uow.session.scalars(select(CryptoDevice).where(CryptoDevice.certificate_no == certificate_no))
        if d.certificate_revoked_at is None
    ]
    if not devices:
        raise DeviceNotFound(f"no device holds certificate {certificate_no}")
    for device in devices:
        ensure_in_region(actor, device.region_code)
    for device in devices:
        device.certificate_revoked_at = at
        uow.flush()
        record_event(
            uow,
            actor=actor,
            action="device.certificate_revoke",
            subject=_subject(device),
            details={"certificate_no": certificate_no, "reason": reason},
        )
        block_device(uow, device=device, reason="certificate_revoked", at=at, actor=actor)
    return devices


def renew_certificate(
    uow: UnitOfWork,
    *,
    device_id: int,
    certificate_no: str,
    certificate_issuer: str,
    certificate_valid_from: date,
    certificate_valid_until: date,
    actor: Actor,
) -> CryptoDevice:
    """Record a new model certificate; a device blocked for its old certificate returns to service."""
    device = get_device_or_raise(uow, device_id)
    ensure_in_region(actor, device.region_code)
    if device.state is DeviceState.RETIRED:
        raise DeviceNotUsable("a retired device cannot be recertified", device_id=device.id, reason="retired")
    _check_validity(certificate_valid_from, certificate_valid_until, today=china_date(utcnow()))
    device.certificate_no = text(certificate_no, "certificate_no", max_len=64)
    device.certificate_issuer = text(certificate_issuer, "certificate_issuer", max_len=128)
    device.certificate_valid_from = certificate_valid_from
    device.certificate_valid_until = certificate_valid_until
    device.certificate_revoked_at = None
    if device.state is DeviceState.BLOCKED:
        device.state, device.blocked_reason = DeviceState.ACTIVE, None
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="device.certificate_renew",
        subject=_subject(device),
        details={"certificate_no": device.certificate_no, "valid_until": certificate_valid_until.isoformat()},
    )
    return device


def move_device(uow: UnitOfWork, *, device_id: int, location: str, actor: Actor) -> CryptoDevice:
    """Record the device's new location."""
    device = get_device_or_raise(uow, device_id)
    ensure_in_region(actor, device.region_code)
    old, device.location = device.location, text(location, "location", max_len=128)
    uow.flush()
    record_event(
        uow, actor=actor, action="device.move", subject=_subject(device), details={"from": old, "to": device.location}
    )
    return device


def retire_device(uow: UnitOfWork, *, device_id: int, reason: str, actor: Actor) -> CryptoDevice:
    """Take a device out of service for good; it can never hold keys again."""
    device = get_device_or_raise(uow, device_id)
    ensure_in_region(actor, device.region_code)
    reason = text(reason, "reason", max_len=200)
    if device.state is DeviceState.RETIRED:
        return device
    device.state, device.blocked_reason = DeviceState.RETIRED, "retired"
    uow.flush()
    record_event(uow, actor=actor, action="device.retire", subject=_subject(device), details={"reason": reason})
    return device


def list_alerts(
    uow: UnitOfWork, *, region_code: str | None = None, open_only: bool = True, page: Keyset | None = None
) -> list[DeviceAlert]:
    """Alerts, newest first; by default only those not yet acknowledged."""
    query = select(DeviceAlert)
    if open_only:
        query = query.where(DeviceAlert.acknowledged_at.is_(None))
    if region_code is not None:
        query = query.where(within_region(DeviceAlert.region_code, region_code))
    return taken(uow.session.scalars(ordered(query, page, DeviceAlert.id.desc())), page)


def acknowledge_alert(uow: UnitOfWork, *, alert_id: int, actor: Actor) -> DeviceAlert:
    """Mark an alert as seen by a security officer (the block itself stays until recertification)."""
    alert = uow.session.get(DeviceAlert, alert_id)
    if alert is None:
        raise DeviceNotFound(f"no device alert {alert_id}")
    ensure_in_region(actor, alert.region_code)
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = utcnow(), actor.id
        uow.flush()
        record_event(
            uow,
            actor=actor,
            action="device.alert_ack",
            subject=f"device:{alert.device_id}",
            details={"alert": alert.id},
        )
    return alert
