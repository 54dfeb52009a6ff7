"""API shapes of the key-management records. No key value, no personal data: keys are inventory
labels, people are staff usernames or a third party's representative."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from sscard.db.ids import RowId
from sscard.key_register.models import DeviceState, IncidentKind, MeasureKind, MeasureStatus, PsamForm, PsamUsageMode
from sscard.key_register.models.handovers import ReviewDecision
from sscard.key_register.states import CarrierState, CarrierType, HandoverState, IncidentState

Text64 = Field(min_length=1, max_length=64)
Text128 = Field(min_length=1, max_length=128)
Text200 = Field(min_length=1, max_length=200)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- devices (KEY-4) --------------------------------------------------------------------------------


class DeviceCreate(_In):
    model: str = Text64
    serial: str = Text64
    manufacturer: str = Field(default="", max_length=128)
    certificate_no: str = Text64
    certificate_issuer: str = Field(default="国家密码管理局", min_length=1, max_length=128)
    certificate_valid_from: date
    certificate_valid_until: date
    location: str = Text128
    region_code: str = Field(pattern=r"^[0-9]{6}$")


class CertificateRenew(_In):
    certificate_no: str = Text64
    certificate_issuer: str = Field(default="国家密码管理局", min_length=1, max_length=128)
    certificate_valid_from: date
    certificate_valid_until: date


class CertificateRevoke(_In):
    certificate_no: str = Text64
    reason: str = Text200


class LocationIn(_In):
    location: str = Text128


class ReasonIn(_In):
    reason: str = Text200


class DeviceRead(_Out):
    id: int
    model: str
    serial: str
    manufacturer: str
    certificate_no: str
    certificate_issuer: str
    certificate_valid_from: date
    certificate_valid_until: date
    certificate_revoked_at: datetime | None
    location: str
    region_code: str
    state: DeviceState
    blocked_reason: str | None


class AlertRead(_Out):
    id: int
    device_id: int
    kind: str
    detail: str
    region_code: str
    raised_at: datetime
    message_id: int | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class SweepRead(BaseModel):
    blocked: list[int]
    warned: list[int]


# --- carriers (KEY-5) and PSAM (KEY-8) ----------------------------------------------------------------


class CarrierReceive(_In):
    carrier_type: CarrierType
    serial: str = Text64
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    receipt_no: str = Text64
    received_on: date
    received_from: str = Text128
    location: str = Text128
    holder: str | None = Field(default=None, max_length=128)
    issuer: str = Field(default="人力资源和社会保障部", min_length=1, max_length=128)


class ReceiptLineIn(_In):
    carrier_type: CarrierType
    serial: str = Text64
    holder: str | None = Field(default=None, max_length=128)


class ReceiptReceive(_In):
    """One ministry delivery receipt listing several carriers (KEY-5)."""

    region_code: str = Field(pattern=r"^[0-9]{6}$")
    receipt_no: str = Text64
    received_on: date
    received_from: str = Text128
    location: str = Text128
    issuer: str = Field(default="人力资源和社会保障部", min_length=1, max_length=128)
    carriers: list[ReceiptLineIn] = Field(min_length=1, max_length=500)


class CarrierMove(_In):
    location: str = Text128
    purpose: str = Text200
    holder: str | None = Field(default=None, max_length=128)


class CarrierDeploy(_In):
    holder: str = Text128
    location: str = Text128
    purpose: str = Text200


class CarrierUse(_In):
    location: str = Text128
    purpose: str = Text200
    count: int = Field(default=1, ge=1, le=1_000_000)


class KeyLoad(_In):
    key_label: str = Text64


class PsamDeploy(_In):
    terminal_id: str | None = Field(default=None, max_length=64)
    institution: str | None = Field(default=None, max_length=128)
    physical_form: PsamForm
    environment: str = Text200
    usage_mode: PsamUsageMode


class PsamRecover(_In):
    location: str = Text128
    reason: str = Text200


class DeploymentRead(_Out):
    id: int
    carrier_id: int
    terminal_id: str | None
    institution: str | None
    region_code: str
    physical_form: PsamForm
    environment: str
    usage_mode: PsamUsageMode
    deployed_at: datetime
    deployed_by: str
    ended_at: datetime | None
    end_reason: str | None


class CarrierRead(_Out):
    id: int
    carrier_type: CarrierType
    serial: str
    issuer: str
    region_code: str
    state: CarrierState
    holder: str
    location: str
    receipt_no: str
    received_on: date
    received_from: str
    usage_count: int
    keys: list[str] = []
    deployment: DeploymentRead | None = None


class UsageRead(_Out):
    id: int
    at: datetime
    kind: str
    used_by: str
    role: str
    location: str
    purpose: str
    count: int


class DestructionCreate(_In):
    method: str = Text64
    place: str = Text128
    reason: str = Text200


class SignIn(_In):
    statement: str = Field(default="witnessed the destruction", min_length=1, max_length=200)


class SignatureRead(_Out):
    signer: str
    role: str
    signed_at: datetime
    statement: str


class DestructionRead(_Out):
    id: int
    carrier_id: int
    method: str
    place: str
    reason: str
    requested_by: str
    requested_at: datetime
    completed_at: datetime | None
    signatures: list[SignatureRead] = []


# --- handovers (KEY-7) ----------------------------------------------------------------------------


class HandoverCreate(_In):
    carrier_id: RowId
    third_party: str = Text128
    purpose: str = Text200
    due_back_at: AwareDatetime


class HandoverRecordIn(_In):
    record_no: str = Text64
    recipient: str = Text64
    items: str = Text200


class ReviewDecisionIn(_In):
    approve: bool
    comments: str = Field(default="", max_length=500)


class SupervisorIn(_In):
    supervisor: str = Text64


class SupervisionIn(_In):
    location: str = Text128
    observation: str = Field(min_length=1, max_length=500)


class HandoverRecover(_In):
    location: str = Text128
    note: str = Text200
    holder: str | None = Field(default=None, max_length=128)


class ReviewRead(_Out):
    id: int
    handover_id: int
    document_id: int
    submitted_by: str
    submitted_at: datetime
    decision: ReviewDecision
    decided_by: str | None
    decided_at: datetime | None
    comments: str | None


class SupervisionRead(_Out):
    id: int
    supervisor: str
    at: datetime
    location: str
    observation: str


class HandoverRead(_Out):
    id: int
    carrier_id: int
    region_code: str
    third_party: str
    purpose: str
    due_back_at: datetime
    state: HandoverState
    requested_by: str
    requested_at: datetime
    record_no: str | None
    record_recipient: str | None
    record_items: str | None
    agreement_document_id: int | None
    agreement_signed_on: date | None
    supervisor: str | None
    completed_at: datetime | None
    recovered_at: datetime | None
    closing_note: str | None
    missing: list[str] = []
    overdue: bool = False


class DocumentRead(_Out):
    id: int
    kind: str
    region_code: str
    filename: str
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


# --- plans and incidents (KEY-9) ------------------------------------------------------------------


class PlanRead(_Out):
    id: int
    region_code: str
    version: int
    title: str
    document_id: int
    effective_from: date
    adopted_by: str
    adopted_at: datetime


class LossReport(_In):
    description: str = Field(min_length=1, max_length=500)
    occurred_at: AwareDatetime | None = None


class IncidentCreate(_In):
    region_code: str = Field(pattern=r"^[0-9]{6}$")
    kind: IncidentKind
    description: str = Field(min_length=1, max_length=500)
    occurred_at: AwareDatetime | None = None


class FindingsIn(_In):
    cause: str | None = Field(default=None, max_length=4000)
    handling: str | None = Field(default=None, max_length=4000)


class ConfirmIn(_In):
    note: str = Field(min_length=1, max_length=180)


class MeasureRead(_Out):
    id: int
    kind: MeasureKind
    target: str
    status: MeasureStatus
    detail: str
    at: datetime
    done_at: datetime | None
    done_by: str | None


class IncidentRead(_Out):
    id: int
    region_code: str
    kind: IncidentKind
    carrier_id: int | None
    plan_id: int | None
    state: IncidentState
    description: str
    occurred_at: datetime | None
    reported_by: str
    reported_at: datetime
    cause: str | None
    handling: str | None
    closed_at: datetime | None
    closed_by: str | None
    measures: list[MeasureRead] = []
