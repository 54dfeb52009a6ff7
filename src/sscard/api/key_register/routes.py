"""The security console (CH-1): certified devices (KEY-4), key carriers (KEY-5) and PSAM cards (KEY-8).

Security officers and key custodians act within their region (CH-2); auditors read. Every change
runs inside ``refusals_audited``: a refused operation is rolled back and its refusal audited (CH-4).
Handovers live in ``handovers.py``; plans, incidents and reports in ``incidents.py``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, status

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.key_register import handovers as security_handovers
from sscard.api.key_register import incidents as security_incidents
from sscard.api.key_register.common import AUDIT_READ, KEYS, OFFICER, actor_of, carrier_read, region_scope
from sscard.api.pagination import PAGE, PageQuery
from sscard.api.refusals import refusals_audited
from sscard.api.staff_auth import StaffPrincipal
from sscard.db.ids import RowId
from sscard.db.session import UnitOfWork
from sscard.key_register import carriers as carrier_service
from sscard.key_register import destruction as destruction_service
from sscard.key_register import devices as device_service
from sscard.key_register import psam as psam_service
from sscard.key_register.errors import (
    CarrierExists,
    CarrierIllegalTransition,
    CarrierNotFound,
    CarrierNotUsable,
    DestructionClosed,
    DestructionNotFound,
    DeviceExists,
    DeviceNotFound,
    DeviceNotUsable,
    DuplicateSignature,
    HandoverIllegalTransition,
    KeysInvalid,
    NotPsam,
    StaffNotEligible,
)
from sscard.key_register.models import DeviceState
from sscard.key_register.schemas import (
    AlertRead,
    CarrierDeploy,
    CarrierMove,
    CarrierRead,
    CarrierReceive,
    CarrierUse,
    CertificateRenew,
    CertificateRevoke,
    DeploymentRead,
    DestructionCreate,
    DestructionRead,
    DeviceCreate,
    DeviceRead,
    KeyLoad,
    LocationIn,
    PsamDeploy,
    PsamRecover,
    ReasonIn,
    ReceiptReceive,
    SignatureRead,
    SignIn,
    SweepRead,
    UsageRead,
)
from sscard.key_register.states import CarrierState, CarrierType
from sscard.notify.errors import NotifyInvalid
from sscard.regions.errors import RegionNotFound
from sscard.staff.errors import OutsideRegion
from sscard.terminal_registry.errors import TerminalNotFound

router = APIRouter(prefix="/security", tags=["security"], route_class=IdempotentRoute)
router.include_router(security_handovers.router)
router.include_router(security_incidents.router)


# --- devices (KEY-4) --------------------------------------------------------------------------------


def _device(uow: UnitOfWork, staff: StaffPrincipal, device_id: int) -> DeviceRead:
    device = device_service.get_device_or_raise(uow, device_id)
    staff.ensure_region(device.region_code)
    return DeviceRead.model_validate(device)


@router.get("/devices", response_model=list[DeviceRead])
@raises(OutsideRegion)
def list_devices(
    region: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    state: DeviceState | None = None,
    staff: StaffPrincipal = Depends(AUDIT_READ),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[DeviceRead]:
    """List the certified cryptographic devices in your region (or a sub-region)."""
    devices = device_service.list_devices(uow, region_code=region_scope(staff, region), state=state, page=page)
    return [DeviceRead.model_validate(d) for d in devices]


@router.post("/devices", status_code=status.HTTP_201_CREATED, response_model=DeviceRead)
@raises(OutsideRegion, RegionNotFound, DeviceExists, KeysInvalid)
def register_device(
    body: DeviceCreate, staff: StaffPrincipal = Depends(OFFICER), uow: UnitOfWork = TRANSACTION
) -> DeviceRead:
    """Register an encryption machine with its commercial cryptography model certificate (KEY-4)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="device.register", subject=f"device:{body.model}/{body.serial}"):
        device = device_service.register_device(uow, **body.model_dump(), actor=actor)
    return DeviceRead.model_validate(device)


@router.get("/devices/{device_id}", response_model=DeviceRead)
@raises(OutsideRegion, DeviceNotFound)
def show_device(
    device_id: RowId, staff: StaffPrincipal = Depends(AUDIT_READ), uow: UnitOfWork = TRANSACTION
) -> DeviceRead:
    """One device and its certificate."""
    return _device(uow, staff, device_id)


@router.put("/devices/{device_id}/certificate", response_model=DeviceRead)
@raises(OutsideRegion, DeviceNotFound, DeviceNotUsable, KeysInvalid)
def renew_certificate(
    device_id: RowId,
    body: CertificateRenew,
    staff: StaffPrincipal = Depends(OFFICER),
    uow: UnitOfWork = TRANSACTION,
) -> DeviceRead:
    """Record a device's new model certificate; a device blocked for its old one returns to service."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="device.certificate_renew", subject=f"device:{device_id}"):
        device = device_service.renew_certificate(uow, device_id=device_id, **body.model_dump(), actor=actor)
    return DeviceRead.model_validate(device)


@router.post("/devices/certificate-revocations", response_model=list[DeviceRead])
@raises(OutsideRegion, DeviceNotFound, KeysInvalid, NotifyInvalid)
def revoke_certificate(
    body: CertificateRevoke, staff: StaffPrincipal = Depends(OFFICER), uow: UnitOfWork = TRANSACTION
) -> list[DeviceRead]:
    """Record that a model certificate was revoked: every device on it is blocked and alerted."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="device.certificate_revoke", subject=f"cert:{body.certificate_no}"):
        devices = device_service.revoke_certificate(
            uow, certificate_no=body.certificate_no, reason=body.reason, actor=actor
        )
    return [DeviceRead.model_validate(d) for d in devices]


@router.post("/devices/{device_id}/move", response_model=DeviceRead)
@raises(OutsideRegion, DeviceNotFound, KeysInvalid)
def move_device(
    device_id: RowId, body: LocationIn, staff: StaffPrincipal = Depends(OFFICER), uow: UnitOfWork = TRANSACTION
) -> DeviceRead:
    """Record a device's new location."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="device.move", subject=f"device:{device_id}"):
        device = device_service.move_device(uow, device_id=device_id, location=body.location, actor=actor)
    return DeviceRead.model_validate(device)


@router.post("/devices/{device_id}/retire", response_model=DeviceRead)
@raises(OutsideRegion, DeviceNotFound, KeysInvalid)
def retire_device(
    device_id: RowId, body: ReasonIn, staff: StaffPrincipal = Depends(OFFICER), uow: UnitOfWork = TRANSACTION
) -> DeviceRead:
    """Take a device out of service for good."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="device.retire", subject=f"device:{device_id}"):
        device = device_service.retire_device(uow, device_id=device_id, reason=body.reason, actor=actor)
    return DeviceRead.model_validate(device)


@router.post("/devices/sweep", response_model=SweepRead)
@raises(NotifyInvalid)
def sweep_devices(staff: StaffPrincipal = Depends(OFFICER), uow: UnitOfWork = TRANSACTION) -> SweepRead:
    """Check every certificate now: block lapsed or revoked devices, warn of those expiring within 30 days."""
    report = device_service.sweep_certificates(uow)
    return SweepRead(blocked=report.blocked, warned=report.warned)


@router.get("/alerts", response_model=list[AlertRead])
def list_alerts(
    include_acknowledged: bool = False,
    staff: StaffPrincipal = Depends(AUDIT_READ),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[AlertRead]:
    """Device certificate alerts in your region (open ones unless asked for all)."""
    alerts = device_service.list_alerts(
        uow, region_code=staff.region_code, open_only=not include_acknowledged, page=page
    )
    return [AlertRead.model_validate(a) for a in alerts]


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertRead)
@raises(OutsideRegion, DeviceNotFound)
def acknowledge_alert(
    alert_id: RowId, staff: StaffPrincipal = Depends(OFFICER), uow: UnitOfWork = TRANSACTION
) -> AlertRead:
    """Acknowledge an alert (the device stays blocked until recertified)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="device.alert_ack", subject=f"alert:{alert_id}"):
        alert = device_service.acknowledge_alert(uow, alert_id=alert_id, actor=actor)
    return AlertRead.model_validate(alert)


# --- carriers (KEY-5) -------------------------------------------------------------------------------


@router.get("/carriers", response_model=list[CarrierRead])
@raises(OutsideRegion)
def list_carriers(
    region: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    carrier_type: CarrierType | None = None,
    state: CarrierState | None = None,
    staff: StaffPrincipal = Depends(AUDIT_READ),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[CarrierRead]:
    """List key carriers in your region (or a sub-region), optionally by type and state."""
    scope = region_scope(staff, region)
    found = carrier_service.list_carriers(uow, region_code=scope, carrier_type=carrier_type, state=state, page=page)
    return [CarrierRead.model_validate(c) for c in found]


@router.post("/carriers", status_code=status.HTTP_201_CREATED, response_model=CarrierRead)
@raises(OutsideRegion, RegionNotFound, CarrierExists, KeysInvalid)
def receive_carrier(
    body: CarrierReceive, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> CarrierRead:
    """Register a carrier received from the ministry, with its receipt (KEY-5)."""
    actor = actor_of(staff)
    subject = f"carrier:{body.carrier_type.value}/{body.serial}"
    with refusals_audited(uow, actor=actor, action="carrier.receive", subject=subject):
        carrier = carrier_service.receive_carrier(uow, **body.model_dump(), actor=actor)
    return carrier_read(uow, carrier)


@router.post("/carriers/receipts", status_code=status.HTTP_201_CREATED, response_model=list[CarrierRead])
@raises(OutsideRegion, RegionNotFound, CarrierExists, KeysInvalid)
def receive_receipt(
    body: ReceiptReceive, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> list[CarrierRead]:
    """Register every carrier listed on one ministry delivery receipt, all or none (KEY-5)."""
    actor = actor_of(staff)
    fields = body.model_dump(exclude={"carriers"})
    lines = [carrier_service.ReceiptLine(**line.model_dump()) for line in body.carriers]
    with refusals_audited(uow, actor=actor, action="carrier.receive", subject=f"receipt:{body.receipt_no}"):
        carriers = carrier_service.receive_receipt(uow, **fields, lines=lines, actor=actor)
    return [carrier_read(uow, c) for c in carriers]


@router.get("/carriers/{carrier_id}", response_model=CarrierRead)
@raises(OutsideRegion, CarrierNotFound)
def show_carrier(
    carrier_id: RowId, staff: StaffPrincipal = Depends(AUDIT_READ), uow: UnitOfWork = TRANSACTION
) -> CarrierRead:
    """One carrier with the keys it holds and its PSAM deployment in force."""
    carrier = carrier_service.get_carrier_or_raise(uow, carrier_id)
    staff.ensure_region(carrier.region_code)
    return carrier_read(uow, carrier)


@router.get("/carriers/{carrier_id}/usage", response_model=list[UsageRead])
@raises(OutsideRegion, CarrierNotFound)
def carrier_usage(
    carrier_id: RowId,
    staff: StaffPrincipal = Depends(AUDIT_READ),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[UsageRead]:
    """The carrier's log: every use and movement with who, where and why (KEY-5)."""
    staff.ensure_region(carrier_service.get_carrier_or_raise(uow, carrier_id).region_code)
    return [UsageRead.model_validate(u) for u in carrier_service.usage_log(uow, carrier_id=carrier_id, page=page)]


@router.post("/carriers/{carrier_id}/deploy", response_model=CarrierRead)
@raises(OutsideRegion, CarrierNotFound, CarrierIllegalTransition, KeysInvalid)
def deploy_carrier(
    carrier_id: RowId, body: CarrierDeploy, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> CarrierRead:
    """Put a key card into service with a named holder (PSAM cards: /psam/{id}/deploy)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="carrier.deploy", subject=f"carrier:{carrier_id}"):
        carrier = carrier_service.deploy_carrier(uow, carrier_id=carrier_id, **body.model_dump(), actor=actor)
    return carrier_read(uow, carrier)


@router.post("/carriers/{carrier_id}/store", response_model=CarrierRead)
@raises(OutsideRegion, CarrierNotFound, CarrierIllegalTransition, KeysInvalid)
def store_carrier(
    carrier_id: RowId, body: CarrierMove, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> CarrierRead:
    """Put a carrier into custody (the safe)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="carrier.store", subject=f"carrier:{carrier_id}"):
        carrier = carrier_service.store_carrier(uow, carrier_id=carrier_id, **body.model_dump(), actor=actor)
    return carrier_read(uow, carrier)


@router.post("/carriers/{carrier_id}/recover", response_model=CarrierRead)
@raises(OutsideRegion, CarrierNotFound, CarrierIllegalTransition, HandoverIllegalTransition, KeysInvalid)
def recover_carrier(
    carrier_id: RowId, body: CarrierMove, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> CarrierRead:
    """Withdraw a carrier from service (third parties: /handovers/{id}/recover)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="carrier.recover", subject=f"carrier:{carrier_id}"):
        carrier = carrier_service.recover_carrier(uow, carrier_id=carrier_id, **body.model_dump(), actor=actor)
    return carrier_read(uow, carrier)


@router.post("/carriers/{carrier_id}/uses", status_code=status.HTTP_201_CREATED, response_model=UsageRead)
@raises(OutsideRegion, CarrierNotFound, CarrierNotUsable, KeysInvalid)
def record_use(
    carrier_id: RowId, body: CarrierUse, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> UsageRead:
    """Log a use of the carrier with where and why (KEY-5)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="carrier.use", subject=f"carrier:{carrier_id}"):
        entry = carrier_service.record_carrier_use(uow, carrier_id=carrier_id, **body.model_dump(), actor=actor)
    return UsageRead.model_validate(entry)


@router.post("/carriers/{carrier_id}/keys", response_model=CarrierRead)
@raises(OutsideRegion, CarrierNotFound, CarrierNotUsable, KeysInvalid)
def load_key(
    carrier_id: RowId, body: KeyLoad, staff: StaffPrincipal = Depends(OFFICER), uow: UnitOfWork = TRANSACTION
) -> CarrierRead:
    """Record that the carrier holds the key with this inventory label."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="carrier.load_key", subject=f"carrier:{carrier_id}"):
        carrier_service.load_key(uow, carrier_id=carrier_id, key_label=body.key_label, actor=actor)
    return carrier_read(uow, carrier_service.get_carrier_or_raise(uow, carrier_id))


@router.post("/carriers/{carrier_id}/destructions", status_code=status.HTTP_201_CREATED, response_model=DestructionRead)
@raises(CarrierNotFound, CarrierIllegalTransition, DestructionClosed, KeysInvalid)
def request_destruction(
    carrier_id: RowId,
    body: DestructionCreate,
    staff: StaffPrincipal = Depends(KEYS),
    uow: UnitOfWork = TRANSACTION,
) -> DestructionRead:
    """Record a destruction to be witnessed by two different people (KEY-8)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="carrier.destruction_request", subject=f"carrier:{carrier_id}"):
        record = destruction_service.request_destruction(uow, carrier_id=carrier_id, **body.model_dump(), actor=actor)
    return DestructionRead.model_validate(record)


@router.post("/destructions/{destruction_id}/signatures", response_model=DestructionRead)
@raises(
    OutsideRegion,
    CarrierNotFound,
    DestructionNotFound,
    CarrierIllegalTransition,
    DestructionClosed,
    DuplicateSignature,
    StaffNotEligible,
    KeysInvalid,
)
def sign_destruction(
    destruction_id: RowId, body: SignIn, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> DestructionRead:
    """Sign a destruction as a witness; the second different signer destroys the carrier."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="carrier.destruction_sign", subject=f"destruction:{destruction_id}"):
        record = destruction_service.sign_destruction(
            uow, destruction_id=destruction_id, statement=body.statement, actor=actor
        )
    return _destruction_read(uow, record.id)


@router.get("/destructions/{destruction_id}", response_model=DestructionRead)
@raises(OutsideRegion, CarrierNotFound, DestructionNotFound)
def show_destruction(
    destruction_id: RowId, staff: StaffPrincipal = Depends(AUDIT_READ), uow: UnitOfWork = TRANSACTION
) -> DestructionRead:
    """A destruction record with its signatures."""
    record = destruction_service.get_destruction_or_raise(uow, destruction_id)
    staff.ensure_region(carrier_service.get_carrier_or_raise(uow, record.carrier_id).region_code)
    return _destruction_read(uow, destruction_id)


def _destruction_read(uow: UnitOfWork, destruction_id: int) -> DestructionRead:
    read = DestructionRead.model_validate(destruction_service.get_destruction_or_raise(uow, destruction_id))
    signatures = destruction_service.signatures_of(uow, destruction_id=destruction_id)
    read.signatures = [SignatureRead.model_validate(s) for s in signatures]
    return read


# --- PSAM (KEY-8) -----------------------------------------------------------------------------------


@router.get("/psam", response_model=list[CarrierRead])
@raises(OutsideRegion)
def psam_register(
    region: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    staff: StaffPrincipal = Depends(AUDIT_READ),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[CarrierRead]:
    """The PSAM register: every card with its state, usage count and deployment in force."""
    entries = psam_service.psam_register(uow, region_code=region_scope(staff, region), page=page)
    out = []
    for entry in entries:
        read = CarrierRead.model_validate(entry.carrier)
        read.deployment = DeploymentRead.model_validate(entry.deployment) if entry.deployment else None
        out.append(read)
    return out


@router.post("/psam/{carrier_id}/deploy", status_code=status.HTTP_201_CREATED, response_model=DeploymentRead)
@raises(OutsideRegion, CarrierNotFound, TerminalNotFound, CarrierIllegalTransition, NotPsam, KeysInvalid)
def deploy_psam(
    carrier_id: RowId, body: PsamDeploy, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> DeploymentRead:
    """Deploy a PSAM into a terminal or institution with its form, environment and mode (KEY-8)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="carrier.deploy", subject=f"carrier:{carrier_id}"):
        deployment = psam_service.deploy_psam(uow, carrier_id=carrier_id, **body.model_dump(), actor=actor)
    return DeploymentRead.model_validate(deployment)


@router.post("/psam/{carrier_id}/recover", response_model=CarrierRead)
@raises(CarrierNotFound, NotPsam)
def recover_psam(
    carrier_id: RowId, body: PsamRecover, staff: StaffPrincipal = Depends(KEYS), uow: UnitOfWork = TRANSACTION
) -> CarrierRead:
    """Withdraw a PSAM from its terminal (KEY-8 recovery)."""
    actor = actor_of(staff)
    with refusals_audited(uow, actor=actor, action="carrier.recover", subject=f"carrier:{carrier_id}"):
        carrier = psam_service.recover_psam(uow, carrier_id=carrier_id, **body.model_dump(), actor=actor)
    return carrier_read(uow, carrier)


@router.get("/psam/{carrier_id}/deployments", response_model=list[DeploymentRead])
@raises(OutsideRegion, CarrierNotFound)
def psam_deployments(
    carrier_id: RowId,
    staff: StaffPrincipal = Depends(AUDIT_READ),
    page: PageQuery = PAGE,
    uow: UnitOfWork = TRANSACTION,
) -> list[DeploymentRead]:
    """Every deployment of a PSAM card, oldest first."""
    staff.ensure_region(carrier_service.get_carrier_or_raise(uow, carrier_id).region_code)
    found = psam_service.deployments_of(uow, carrier_id=carrier_id, page=page)
    return [DeploymentRead.model_validate(d) for d in found]
