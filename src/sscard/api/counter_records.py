"""The counter's view of a person's insurance record and the agency's discrepancy queue (INS-5, INS-6).

The clerk sees everything the holder sees — participation, declarations, personal accounts and their
movements, discrepancy reports — after checking the holder's identity document: the evidence is
validated against the person (CH-2, as for a PIN reset) and recorded, masked, in the audit entry of
the disclosure. The queue lists the open reports of the clerk's region; an answer is audited, final,
and the holder is told that it is there (CH-5).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from sscard.api.deps import TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.idempotency import IdempotentRoute
from sscard.api.staff_auth import StaffPrincipal, require_staff
from sscard.audit import Actor, Channel, record_event
from sscard.credentials.pin.errors import IdentityEvidenceInvalid, IdentityEvidenceMismatch
from sscard.credentials.pin.evidence import check_identity_evidence
from sscard.credentials.pin.schemas import IdentityEvidenceIn
from sscard.db.base import china_today
from sscard.db.ids import RowId
from sscard.db.session import UnitOfWork
from sscard.identity import mask_name
from sscard.identity.citizen_id import InvalidCitizenId
from sscard.insurance.accounts.records import accounts_of, declarations_of, movements_of, participation_of
from sscard.insurance.accounts.schemas import (
    AccountRead,
    CounterDiscrepancyRead,
    DeclarationPageRead,
    DiscrepancyAnswerIn,
    DiscrepancyQueueRead,
    MovementPageRead,
    ParticipationRead,
)
from sscard.insurance.discrepancies.errors import ReportAlreadyAnswered, ReportInvalid, ReportNotFound
from sscard.insurance.discrepancies.models import ReportStatus
from sscard.insurance.discrepancies.service import (
    ReportView,
    answer_report,
    get_report_or_raise,
    list_reports,
    reports_of_person,
)
from sscard.ledger.errors import PeriodArchived
from sscard.ledger.models import PERSONAL_KINDS
from sscard.notify.errors import NotifyInvalid
from sscard.people.errors import PersonNotFound
from sscard.people.service import get_person_or_raise, person_subject
from sscard.staff.errors import OutsideRegion
from sscard.staff.roles import ROLE_CHANNEL, Role

router = APIRouter(prefix="/counter", tags=["counter"], route_class=IdempotentRoute)

COUNTER = require_staff(Role.COUNTER_CLERK, Role.COUNTER_SUPERVISOR)


def _actor(staff: StaffPrincipal) -> Actor:
    return staff.actor(Channel(ROLE_CHANNEL[staff.role]))


class RecordRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    evidence: IdentityEvidenceIn
    year: int | None = Field(default=None, ge=1990, le=2100, description="declarations and movements of this year")


class AccountWithMovements(BaseModel):
    account: AccountRead
    movements: MovementPageRead


class InsuranceRecordRead(BaseModel):
    person_id: int
    name_masked: str
    year: int
    participation: list[ParticipationRead]
    declarations: DeclarationPageRead
    accounts: list[AccountWithMovements]
    discrepancies: list[CounterDiscrepancyRead]


@router.post("/persons/{person_id}/insurance-record", response_model=InsuranceRecordRead)
@raises(
    OutsideRegion, PersonNotFound, IdentityEvidenceInvalid, IdentityEvidenceMismatch, InvalidCitizenId, PeriodArchived
)
def insurance_record(
    person_id: RowId, body: RecordRequest, staff: StaffPrincipal = Depends(COUNTER), uow: UnitOfWork = TRANSACTION
) -> InsuranceRecordRead:
    """The person's insurance record for a year (default this year), after the recorded identity check."""
    person = get_person_or_raise(uow, person_id)
    staff.ensure_region(person.region_code)
    evidence = check_identity_evidence(
        person=person, document_type=body.evidence.document_type, document_number=body.evidence.document_number
    )
    today = china_today()
    year = body.year or today.year
    record_event(
        uow,
        actor=_actor(staff),
        action="insurance.record_view",
        subject=person_subject(person.id),
        details={**evidence.as_details(), "year": year},
    )
    views = {v.kind: v for v in accounts_of(uow, person_id=person.id)}
    accounts = [
        AccountWithMovements(
            account=AccountRead.of(views[kind.value]),
            movements=MovementPageRead.of(
                movements_of(uow, person_id=person.id, kind=kind, year=year, limit=600),
                year=year,
                limit=600,
                offset=0,
            ),
        )
        for kind in sorted(PERSONAL_KINDS)
        if kind.value in views
    ]
    return InsuranceRecordRead(
        person_id=person.id,
        name_masked=mask_name(person.name),
        year=year,
        participation=[ParticipationRead.of(v, today) for v in participation_of(uow, person_id=person.id)],
        declarations=DeclarationPageRead.of(
            declarations_of(uow, person_id=person.id, year=year, include_superseded=True, limit=600),
            limit=600,
            offset=0,
        ),
        accounts=accounts,
        discrepancies=[CounterDiscrepancyRead.of(v) for v in reports_of_person(uow, person_id=person.id)],
    )


@router.get("/discrepancies", response_model=DiscrepancyQueueRead)
def discrepancy_queue(
    status: ReportStatus | None = Query(default=ReportStatus.OPEN, description="open (default) or answered"),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    staff: StaffPrincipal = Depends(COUNTER),
    uow: UnitOfWork = TRANSACTION,
) -> DiscrepancyQueueRead:
    """The discrepancy reports of the clerk's region, oldest first (the agency's work queue, INS-6)."""
    total, views = list_reports(
        uow, region_code=staff.region_code, actor=_actor(staff), status=status, limit=limit, offset=offset
    )
    return DiscrepancyQueueRead(
        total=total, limit=limit, offset=offset, reports=[CounterDiscrepancyRead.of(v) for v in views]
    )


@router.post("/discrepancies/{report_id}/answer", response_model=CounterDiscrepancyRead)
@raises(OutsideRegion, ReportNotFound, PersonNotFound, ReportAlreadyAnswered, ReportInvalid, NotifyInvalid)
def answer(
    report_id: RowId,
    body: DiscrepancyAnswerIn,
    staff: StaffPrincipal = Depends(COUNTER),
    uow: UnitOfWork = TRANSACTION,
) -> CounterDiscrepancyRead:
    """Answer an open report (409 `DISCREPANCY_ANSWERED` when already answered); audited; the holder is told."""
    row = get_report_or_raise(uow, report_id)
    staff.ensure_region(row.region_code)
    answered = answer_report(uow, report=row, answer=body.answer, actor=_actor(staff))
    return CounterDiscrepancyRead.of(ReportView.of(answered))
