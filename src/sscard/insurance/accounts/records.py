"""The holder's insurance record as read by the portal, the counter and the hotline (INS-5, INS-6, PER-2).

Read-only: participation by type, each employer's declarations month by month with their parts, and
the pension and medical personal accounts. A balance is derived from the postings (the sum of the
account's legs), never taken from a stored figure; each movement carries the balance after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, func, select

from sscard.audit import Actor, record_event
from sscard.credentials.pin.evidence import CheckedEvidence, check_identity_evidence
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.employers.models import Employer
from sscard.insurance.models import (
    ContributionDeclaration,
    ContributionPart,
    InsuranceParticipation,
    InsuranceRegistration,
)
from sscard.ledger import archive
from sscard.ledger.models import PERSONAL_KINDS, AccountKind, LedgerAccount, LedgerLeg, LedgerPosting, leg_posting
from sscard.people.models import Person
from sscard.people.service import person_subject

MAX_PAGE = 600


@dataclass(frozen=True, slots=True)
class ParticipationView:
    insurance_type: str
    start_date: date
    stop_date: date | None
    registration_id: int
    registration_kind: str
    employer_id: int | None
    employer_name: str | None
    employer_uscc: str | None
    registered_on: date
    days_late: int
    premium_decision: str | None


def participation_of(uow: UnitOfWork, *, person_id: int, page: Keyset | None = None) -> list[ParticipationView]:
    """Every participation of the person, by type, newest start first, with the registration behind it."""
    stmt = (
        select(InsuranceParticipation, InsuranceRegistration, Employer)
        .join(InsuranceRegistration, InsuranceRegistration.id == InsuranceParticipation.registration_id)
        .outerjoin(Employer, Employer.id == InsuranceRegistration.employer_id)
        .where(InsuranceParticipation.person_id == person_id)
    )
    order = (InsuranceParticipation.start_date.desc(), InsuranceParticipation.id)
    rows = taken(uow.session.execute(ordered(stmt, page, *order)), page)
    return [
        ParticipationView(
            insurance_type=p.insurance_type.value,
            start_date=p.start_date,
            stop_date=p.stop_date,
            registration_id=r.id,
            registration_kind=r.kind.value,
            employer_id=e.id if e else None,
            employer_name=e.name if e else None,
            employer_uscc=e.uscc if e else None,
            registered_on=r.registered_on,
            days_late=r.days_late,
            premium_decision=r.premium_decision.value if r.premium_decision else None,
        )
        for p, r, e in rows
    ]


@dataclass(frozen=True, slots=True)
class PartView:
    insurance_type: str
    employer_fen: int
    individual_fen: int
    personal_account_fen: int


@dataclass(frozen=True, slots=True)
class DeclarationMonth:
    declaration_id: int
    period: date
    revision: int
    declared_base_fen: int
    base_fen: int
    employer_fen: int
    individual_fen: int
    personal_account_fen: int
    late: bool
    corrected: bool
    superseded: bool
    declared_at: datetime
    parts: list[PartView]


@dataclass(frozen=True, slots=True)
class EmployerDeclarations:
    """One employer's declarations (``employer_id`` None: the person's own, as a flexible worker)."""

    employer_id: int | None
    employer_name: str | None
    employer_uscc: str | None
    months: list[DeclarationMonth] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DeclarationPage:
    total: int
    employers: list[EmployerDeclarations]


def _year_range(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year + 1, 1, 1)


def declarations_of(
    uow: UnitOfWork,
    *,
    person_id: int,
    year: int | None = None,
    employer_id: int | None = None,
    include_superseded: bool = False,
    limit: int = 120,
    offset: int = 0,
) -> DeclarationPage:
    """Declarations month by month, grouped by employer, newest month first (INS-6).

    By default only the revision in force of each month; with ``include_superseded`` the corrected
    ones too, so a holder sees what was changed. ``total`` counts the matching declarations; one page
    is ``limit`` of them from ``offset``.
    """
    d = ContributionDeclaration
    query = select(d).where(d.person_id == person_id)
    if year is not None:
        start, end = _year_range(year)
        query = query.where(d.period >= start, d.period < end)
    if employer_id is not None:
        query = query.where(d.employer_id == employer_id)
    if not include_superseded:
        query = query.where(d.superseded.is_(False))
    total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(
        uow.session.scalars(
            query.order_by(d.period.desc(), d.employer_id.is_(None), d.employer_id, d.revision.desc())
            .limit(min(limit, MAX_PAGE))
            .offset(offset)
        )
    )
    parts: dict[int, list[PartView]] = {}
    if rows:
        for p in uow.session.scalars(
            select(ContributionPart)
            .where(ContributionPart.declaration_id.in_([r.id for r in rows]))
            .order_by(ContributionPart.id)
        ):
            parts.setdefault(p.declaration_id, []).append(
                PartView(p.insurance_type.value, p.employer_fen, p.individual_fen, p.personal_account_fen)
            )
    employer_ids = {r.employer_id for r in rows if r.employer_id is not None}
    employers = (
        {e.id: e for e in uow.session.scalars(select(Employer).where(Employer.id.in_(employer_ids)))}
        if employer_ids
        else {}
    )
    grouped: dict[int | None, EmployerDeclarations] = {}
    for r in rows:
        group = grouped.get(r.employer_id)
        if group is None:
            e = employers.get(r.employer_id) if r.employer_id is not None else None
            group = grouped[r.employer_id] = EmployerDeclarations(
                r.employer_id, e.name if e else None, e.uscc if e else None
            )
        own = parts.get(r.id, [])
        group.months.append(
            DeclarationMonth(
                declaration_id=r.id,
                period=r.period,
                revision=r.revision,
                declared_base_fen=r.declared_base_fen,
                base_fen=r.base_fen,
                employer_fen=sum(p.employer_fen for p in own),
                individual_fen=sum(p.individual_fen for p in own),
                personal_account_fen=sum(p.personal_account_fen for p in own),
                late=r.late,
                corrected=r.corrected,
                superseded=r.superseded,
                declared_at=r.created_at,
                parts=own,
            )
        )
    return DeclarationPage(total=total, employers=list(grouped.values()))


# --- personal accounts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountView:
    account_id: int
    kind: str
    region_code: str
    balance_fen: int  # the sum of the account's legs
    opened_at: datetime


def personal_accounts(uow: UnitOfWork, *, person_id: int) -> list[LedgerAccount]:
    """The person's pension and medical personal accounts (none before the first contribution)."""
    return list(
        uow.session.scalars(
            select(LedgerAccount)
            .where(LedgerAccount.person_id == person_id, LedgerAccount.kind.in_([k.value for k in PERSONAL_KINDS]))
            .order_by(LedgerAccount.kind)
        )
    )


def derived_balance(uow: UnitOfWork, *, account_id: int, before: date | None = None) -> int:
    """The sum of the account's legs (of postings dated before ``before``, when given), with its balance
    carried at the cut once older months are archived (``before`` earlier than the cut: ``PeriodArchived``)."""
    if before is None:
        return _balance_now(uow, account_id)
    first = archive.refuse_before(uow.session, before, f"the balance before {before}")
    query = (
        select(func.coalesce(func.sum(LedgerLeg.amount_fen), 0))
        .join(LedgerPosting, leg_posting())
        .where(LedgerLeg.account_id == account_id, LedgerPosting.business_date < before)
    )
    return archive.carried_balance(uow.session, account_id, first) + int(uow.session.scalar(query) or 0)


def _balance_now(uow: UnitOfWork, account_id: int) -> int:
    """Every leg of the account, with its balance carried at the cut: never a period archived."""
    query = select(func.coalesce(func.sum(LedgerLeg.amount_fen), 0)).where(LedgerLeg.account_id == account_id)
    carried = archive.carried_balance(uow.session, account_id, archive.cut(uow.session))
    return carried + int(uow.session.scalar(query) or 0)


def accounts_of(uow: UnitOfWork, *, person_id: int) -> list[AccountView]:
    """The person's personal accounts with balances derived from their postings (INS-3, INS-5)."""
    return [
        AccountView(a.id, a.kind, a.region_code, _balance_now(uow, a.id), a.opened_at)
        for a in personal_accounts(uow, person_id=person_id)
    ]


def personal_account(uow: UnitOfWork, *, person_id: int, kind: AccountKind) -> LedgerAccount | None:
    return uow.session.scalar(
        select(LedgerAccount).where(LedgerAccount.person_id == person_id, LedgerAccount.kind == kind.value)
    )


@dataclass(frozen=True, slots=True)
class Movement:
    posting_id: int
    business_date: date
    kind: str
    amount_fen: int
    balance_after_fen: int
    source_ref: str
    memo: str | None


@dataclass(frozen=True, slots=True)
class MovementPage:
    account_kind: str
    total: int
    opening_balance_fen: int  # before the first movement of the filter (the year, or ever)
    closing_balance_fen: int  # after the last movement of the filter
    movements: list[Movement]


def movements_of(
    uow: UnitOfWork,
    *,
    person_id: int,
    kind: AccountKind,
    year: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> MovementPage:
    """One page of a personal account's movements, oldest first, each with the balance after it.

    The running balance is a window sum over every leg of the account in posting order (business
    date, then posting id), so a page from the middle shows the same balances as the whole list.
    """
    account = personal_account(uow, person_id=person_id, kind=kind)
    if account is None:
        return MovementPage(kind.value, 0, 0, 0, [])
    # Archived months (docs/partitioning.md): a year before the cut is refused; the running balance starts
    # from the balance carried at the cut.
    start_of_year = None if year is None else _year_range(year)[0]
    first = archive.refuse_before(uow.session, start_of_year, f"the movements of {year}")
    carried = archive.carried_balance(uow.session, account.id, first)
    order = (LedgerPosting.business_date, LedgerPosting.id)
    running = (
        select(
            LedgerPosting.id.label("posting_id"),
            LedgerPosting.business_date.label("business_date"),
            LedgerPosting.kind.label("kind"),
            LedgerLeg.amount_fen.label("amount_fen"),
            (func.sum(LedgerLeg.amount_fen).over(order_by=order) + carried).label("balance_after_fen"),
            LedgerPosting.source_ref.label("source_ref"),
            LedgerPosting.memo.label("memo"),
        )
        .join(LedgerPosting, leg_posting())
        .where(LedgerLeg.account_id == account.id)
        .subquery()
    )
    query = select(running)
    opening = carried
    closing_before: date | None = None
    if year is not None:
        start, end = _year_range(year)
        query = query.where(and_(running.c.business_date >= start, running.c.business_date < end))
        opening = derived_balance(uow, account_id=account.id, before=start)
        closing_before = end
    total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = uow.session.execute(
        query.order_by(running.c.business_date, running.c.posting_id).limit(min(limit, MAX_PAGE)).offset(offset)
    ).all()
    closing = derived_balance(uow, account_id=account.id, before=closing_before)
    return MovementPage(
        account_kind=kind.value,
        total=total,
        opening_balance_fen=opening,
        closing_balance_fen=closing,
        movements=[
            Movement(
                r.posting_id, r.business_date, r.kind, r.amount_fen, int(r.balance_after_fen), r.source_ref, r.memo
            )
            for r in rows
        ],
    )


# --- the hotline's non-sensitive status ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContributionStatus:
    """``up_to_date``: "yes" | "no" | "unknown"; ``paid_through``: the last month declared (or None)."""

    up_to_date: str
    paid_through: date | None


def _month_before(day: date) -> date:
    first = day.replace(day=1)
    return date(first.year - 1, 12, 1) if first.month == 1 else date(first.year, first.month - 1, 1)


def contribution_status(uow: UnitOfWork, *, person_id: int, today: date) -> ContributionStatus:
    """Whether the person's contributions are declared up to last month (INS-5, for the voice query).

    Up to date ("yes") when every registration that was already in force last month has a
    declaration for last month (a month is declared during the month itself, 当月申报), or when the
    only registration started this month (nothing owed yet); "no" when one lacks it or every
    registration has ended; "unknown" when the person has no registration and no declaration at all.
    ``paid_through`` is the newest month declared for the person, by anyone.
    """
    last_month = _month_before(today)
    d = ContributionDeclaration
    newest = uow.session.scalar(select(func.max(d.period)).where(d.person_id == person_id, d.superseded.is_(False)))
    registrations = list(
        uow.session.scalars(select(InsuranceRegistration).where(InsuranceRegistration.person_id == person_id))
    )
    if not registrations and newest is None:
        return ContributionStatus("unknown", None)
    due = [
        r
        for r in registrations
        if r.employment_start < today.replace(day=1) and (r.ended_on is None or r.ended_on >= last_month)
    ]
    declared = set(
        uow.session.scalars(
            select(d.registration_id).where(d.person_id == person_id, d.period == last_month, d.superseded.is_(False))
        )
    )
    up_to_date = "yes" if due and all(r.id in declared for r in due) else "no"
    if not due:
        # Registered this month only: nothing is owed yet. Every registration ended before last month:
        # the person no longer contributes, which is not "up to date".
        in_force = any(r.ended_on is None for r in registrations)
        up_to_date = "yes" if in_force or (newest is not None and newest >= last_month) else "no"
    return ContributionStatus(up_to_date, newest)


def person_has_records(uow: UnitOfWork, *, person_id: int) -> bool:
    return (
        uow.session.scalar(
            select(func.count()).select_from(InsuranceRegistration).where(InsuranceRegistration.person_id == person_id)
        )
        != 0
    )


def disclose_insurance_record(
    uow: UnitOfWork, *, person: Person, document_type: str, document_number: str, actor: Actor, year: int
) -> CheckedEvidence:
    """The counter opens a person's record (INS-5) only after checking their identity document (CH-2):
    the check, and the disclosure audited with the document's masked number and the year shown (CH-4)."""
    evidence = check_identity_evidence(person=person, document_type=document_type, document_number=document_number)
    record_event(
        uow,
        actor=actor,
        action="insurance.record_view",
        subject=person_subject(person.id),
        details={**evidence.as_details(), "year": year},
    )
    return evidence
