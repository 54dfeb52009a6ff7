"""Certified cryptographic devices (KEY-4): a key lives only on a device with a valid model certificate."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from sscard.api.refusals import refusals_audited
from sscard.audit.models import AuditEntry
from sscard.db.base import china_today, utcnow
from sscard.key_register.devices import (
    acknowledge_alert,
    ensure_device_usable,
    list_alerts,
    register_device,
    renew_certificate,
    retire_device,
    revoke_certificate,
    sweep_certificates,
)
from sscard.key_register.errors import DeviceExists, DeviceNotUsable, KeysInvalid
from sscard.key_register.models import CryptoDevice, DeviceState
from sscard.notify import OutboxMessage
from sscard.staff.errors import OutsideRegion
from tests.key_register.factories import REGION, unique
from tests.staff.factories import ensure_region

TODAY = china_today()


def _device(uow, actor, *, valid_until: date | None = None, certificate_no: str | None = None, region: str = REGION):
    ensure_region(uow, region)
    return register_device(
        uow,
        model="SJJ1012",
        serial=unique("HSM"),
        manufacturer="某密码设备厂",
        certificate_no=certificate_no or unique("SXH2024"),
        certificate_issuer="国家密码管理局",
        certificate_valid_from=TODAY - timedelta(days=365),
        certificate_valid_until=valid_until or TODAY + timedelta(days=365),
        location="市社保中心机房 3F",
        region_code=region,
        actor=actor,
    )


# rule KEY-4: a registered device with a valid certificate may hold keys
def test_registered_certified_device_is_usable(uow, officer) -> None:
    device = _device(uow, officer)
    assert ensure_device_usable(uow, device_id=device.id) is device
    with pytest.raises(DeviceExists):
        register_device(
            uow,
            model=device.model,
            serial=device.serial,
            certificate_no="X",
            certificate_issuer="国家密码管理局",
            certificate_valid_from=TODAY,
            certificate_valid_until=TODAY,
            location="x",
            region_code=REGION,
            actor=officer,
        )


# rule KEY-4: an expired certificate cannot be registered; dates must make sense
def test_expired_or_inverted_certificate_is_refused(uow, officer) -> None:
    with pytest.raises(KeysInvalid):
        _device(uow, officer, valid_until=TODAY - timedelta(days=1))
    with pytest.raises(KeysInvalid):
        _device(uow, officer, valid_until=TODAY - timedelta(days=400))


# rule KEY-4: an expired certificate blocks the device's key operations and raises an alert
def test_expired_certificate_blocks_and_alerts_after_refusal(uow, officer) -> None:
    device = _device(uow, officer)
    uow.commit()
    later = utcnow() + timedelta(days=400)
    with pytest.raises(DeviceNotUsable) as exc:
        with refusals_audited(uow, actor=officer, action="key.place", subject=f"device:{device.id}"):
            ensure_device_usable(uow, device_id=device.id, at=later)
    assert exc.value.code == "DEVICE_NOT_USABLE" and exc.value.reason == "certificate_expired"
    uow.session.expire_all()
    row = uow.session.get(CryptoDevice, device.id)
    assert row.state is DeviceState.BLOCKED and row.blocked_reason == "certificate_expired"
    [alert] = [a for a in list_alerts(uow, region_code=REGION) if a.device_id == device.id]
    message = uow.session.get(OutboxMessage, alert.message_id)
    assert message.department_code == REGION and message.topic == "keys.device.certificate_expired"
    refusal = uow.session.scalar(
        select(AuditEntry).where(AuditEntry.subject == f"device:{device.id}", AuditEntry.result == "refused")
    )
    assert refusal is not None and '"DEVICE_NOT_USABLE"' in refusal.details
    # Blocked now, even on a date the certificate was valid; refused again, no second alert.
    with pytest.raises(DeviceNotUsable):
        ensure_device_usable(uow, device_id=device.id)
    acknowledge_alert(uow, alert_id=alert.id, actor=officer)
    assert not [a for a in list_alerts(uow, region_code=REGION) if a.device_id == device.id]


# rule KEY-4: the daily sweep blocks lapsed devices and warns of certificates about to lapse
def test_sweep_blocks_and_warns_once(uow, officer) -> None:
    soon = _device(uow, officer, valid_until=TODAY + timedelta(days=10))
    fine = _device(uow, officer)
    report = sweep_certificates(uow)
    assert soon.id in report.warned and fine.id not in report.warned and not report.blocked
    again = sweep_certificates(uow)
    alerts = [a for a in list_alerts(uow) if a.device_id == soon.id]
    assert len(alerts) == 1 and soon.id in again.warned  # one open alert per device and kind
    report = sweep_certificates(uow, at=utcnow() + timedelta(days=11))
    assert soon.id in report.blocked and soon.state is DeviceState.BLOCKED


# rule KEY-4: revoking a model certificate blocks every device on it; a new certificate unblocks
def test_revocation_and_renewal(uow, officer) -> None:
    cert = unique("SXH")
    a, b = _device(uow, officer, certificate_no=cert), _device(uow, officer, certificate_no=cert)
    revoke_certificate(uow, certificate_no=cert, reason="国家密码管理局公告撤销", actor=officer)
    for device in (a, b):
        assert device.state is DeviceState.BLOCKED
        with pytest.raises(DeviceNotUsable) as exc:
            ensure_device_usable(uow, device_id=device.id)
        assert exc.value.reason == "certificate_revoked"
    renew_certificate(
        uow,
        device_id=a.id,
        certificate_no=unique("SXH"),
        certificate_issuer="国家密码管理局",
        certificate_valid_from=TODAY,
        certificate_valid_until=TODAY + timedelta(days=1000),
        actor=officer,
    )
    assert ensure_device_usable(uow, device_id=a.id) is a
    retire_device(uow, device_id=a.id, reason="报废", actor=officer)
    with pytest.raises(DeviceNotUsable) as exc:
        ensure_device_usable(uow, device_id=a.id)
    assert exc.value.reason == "retired"


# rule CH-2: a security officer registers and manages devices only in their own region
def test_outside_region_refused(uow, officer, stranger) -> None:
    with pytest.raises(OutsideRegion) as exc:
        _device(uow, stranger, region=REGION)
    assert exc.value.code == "OUTSIDE_REGION"
    device = _device(uow, officer)
    with pytest.raises(OutsideRegion):
        retire_device(uow, device_id=device.id, reason="x", actor=stranger)
