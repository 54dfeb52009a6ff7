"""What the security console's routers share: role sets, the audit actor, region scoping, reads."""

from __future__ import annotations

from fastapi import UploadFile

from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.audit import Actor, Channel
from sscard.db.session import UnitOfWork
from sscard.key_register.carriers import keys_on
from sscard.key_register.documents import MAX_SIZE
from sscard.key_register.errors import DocumentInvalid
from sscard.key_register.models import KeyCarrier
from sscard.key_register.psam import current_deployment
from sscard.key_register.schemas import CarrierRead, DeploymentRead
from sscard.staff.roles import Role

# CH-2: officers decide and approve; custodians keep and move carriers; auditors only read.
OFFICER = require_staff(Role.SECURITY_OFFICER)
KEYS = require_staff(Role.SECURITY_OFFICER, Role.KEY_CUSTODIAN)
AUDIT_READ = require_staff(Role.SECURITY_OFFICER, Role.KEY_CUSTODIAN, Role.AUDITOR)
REPORTS = require_staff(Role.SECURITY_OFFICER, Role.AUDITOR)


def actor_of(staff: StaffPrincipal) -> Actor:
    """The audit actor of a security-console action (channel ``security``)."""
    return staff.actor(Channel.SECURITY)


def region_scope(staff: StaffPrincipal, region: str | None) -> str:
    """The region a listing covers: the one asked for if it lies in the staff region (else 403)."""
    if region is None:
        return staff.region_code
    staff.ensure_region(region)
    return region


def carrier_read(uow: UnitOfWork, carrier: KeyCarrier) -> CarrierRead:
    read = CarrierRead.model_validate(carrier)
    read.keys = keys_on(uow, carrier_id=carrier.id)
    deployment = current_deployment(uow, carrier_id=carrier.id)
    read.deployment = DeploymentRead.model_validate(deployment) if deployment else None
    return read


def read_upload(file: UploadFile) -> bytes:
    """The uploaded document's bytes, refusing more than the document limit."""
    content = file.file.read(MAX_SIZE + 1)
    if len(content) > MAX_SIZE:
        raise DocumentInvalid(f"the document exceeds {MAX_SIZE // (1024 * 1024)} MiB")
    return content
