"""The holder's free queries in the portal (INS-5, INS-6, PER-2): participation, declarations month by
month, the personal accounts and their movements, and discrepancy reports tracked to an answer.

Every route needs the holder's session with the initial password changed (QPW-2) and reads only the
signed-in holder's own record: there is no person id in any path. The records (written by employers
and the agency) are read on the replica when one is configured (``READS``, db/replica.py); the session
check, the discrepancy reports (the holder's own writes) and every write stay on the primary.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, status

from sscard.api.deps import READS, TRANSACTION
from sscard.api.error_docs import raises
from sscard.api.holder_auth import require_holder
from sscard.api.idempotency import IdempotentRoute
from sscard.api.pagination import PAGE, PageQuery
from sscard.credentials.query_password.service import holder_actor
from sscard.credentials.query_password.sessions import HolderSession
from sscard.db.base import china_today
from sscard.db.session import UnitOfWork
from sscard.employers.errors import EmployerNotFound
from sscard.insurance.accounts.records import accounts_of, declarations_of, movements_of, participation_of
from sscard.insurance.accounts.schemas import (
    AccountKindName,
    AccountRead,
    DeclarationPageRead,
    DiscrepancyIn,
    DiscrepancyRead,
    MovementPageRead,
    ParticipationRead,
)
from sscard.insurance.discrepancies.errors import ReportInvalid
from sscard.insurance.discrepancies.service import ReportView, report_discrepancy, reports_of_person
from sscard.ledger.errors import PeriodArchived
from sscard.ledger.models import AccountKind
from sscard.people.errors import PersonNotFound

router = APIRouter(prefix="/portal", tags=["portal"], route_class=IdempotentRoute)

YEAR = Query(default=None, ge=1990, le=2100, description="only this calendar year")
LIMIT = Query(default=120, ge=1, le=600)
OFFSET = Query(default=0, ge=0, le=1_000_000)


@router.get("/insurance/participation", response_model=list[ParticipationRead])
def participation(
    holder: HolderSession = Depends(require_holder), page: PageQuery = PAGE, reads: UnitOfWork = READS
) -> list[ParticipationRead]:
    """The holder's participation by insurance type, with start and stop and the registration behind it."""
    today = china_today()
    return [ParticipationRead.of(v, today) for v in participation_of(reads, person_id=holder.person_id, page=page)]


@router.get("/insurance/declarations", response_model=DeclarationPageRead)
def declarations(
    year: int | None = YEAR,
    employer_id: int | None = Query(default=None, ge=1, le=2**63 - 1),
    include_superseded: bool = Query(default=False, description="also the declarations a correction replaced"),
    limit: int = LIMIT,
    offset: int = OFFSET,
    holder: HolderSession = Depends(require_holder),
    reads: UnitOfWork = READS,
) -> DeclarationPageRead:
    """What each employer declared for the holder, month by month: base, employer part, individual part,
    personal-account part, late and corrected marks (INS-6). Newest month first; paged."""
    page = declarations_of(
        reads,
        person_id=holder.person_id,
        year=year,
        employer_id=employer_id,
        include_superseded=include_superseded,
        limit=limit,
        offset=offset,
    )
    return DeclarationPageRead.of(page, limit=limit, offset=offset)


@router.get("/accounts", response_model=list[AccountRead])
def accounts(holder: HolderSession = Depends(require_holder), reads: UnitOfWork = READS) -> list[AccountRead]:
    """The pension and medical personal accounts and their balances (derived from the postings)."""
    return [AccountRead.of(v) for v in accounts_of(reads, person_id=holder.person_id)]


@router.get("/accounts/{kind}/movements", response_model=MovementPageRead)
@raises(PeriodArchived)
def account_movements(
    kind: AccountKindName,
    year: int | None = YEAR,
    limit: int = LIMIT,
    offset: int = OFFSET,
    holder: HolderSession = Depends(require_holder),
    reads: UnitOfWork = READS,
) -> MovementPageRead:
    """One personal account's movements, oldest first, each with the balance after it; opening and
    closing balance of the year (or of the whole history)."""
    person_id, account = holder.person_id, AccountKind(kind)
    page = movements_of(reads, person_id=person_id, kind=account, year=year, limit=limit, offset=offset)
    return MovementPageRead.of(page, year=year, limit=limit, offset=offset)


@router.post(
    "/discrepancies",
    status_code=status.HTTP_201_CREATED,
    response_model=DiscrepancyRead,
)
@raises(EmployerNotFound, PersonNotFound, ReportInvalid)
def report(
    body: DiscrepancyIn, holder: HolderSession = Depends(require_holder), uow: UnitOfWork = TRANSACTION
) -> DiscrepancyRead:
    """Report a discrepancy in what an employer declared (INS-6): tracked until the agency answers."""
    row = report_discrepancy(
        uow,
        person_id=holder.person_id,
        employer_id=body.employer_id,
        period=body.period_date(),
        text=body.text,
        actor=holder_actor(holder.person_id),
    )
    return DiscrepancyRead.of(ReportView.of(row))


@router.get("/discrepancies", response_model=list[DiscrepancyRead])
def my_reports(
    holder: HolderSession = Depends(require_holder), page: PageQuery = PAGE, uow: UnitOfWork = TRANSACTION
) -> list[DiscrepancyRead]:
    """The holder's discrepancy reports, newest first, with the agency's answer once given."""
    # The primary, not READS: the holder reads here the report just filed (read-your-writes, db/replica.py).
    return [DiscrepancyRead.of(v) for v in reports_of_person(uow, person_id=holder.person_id, page=page)]
