"""Discrepancy reports (INS-6): reported by the holder, listed and answered by the agency, audited.

A report names what the holder believes is wrong: an employer (or none), a month (or none) and a
text. It stays ``open`` until a counter clerk or supervisor of the holder's region answers it; the
answer is final (``answered``), the holder reads it in the portal and is told on the contacts on file
that an answer is there (the notice carries no text of the report or the answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.employers.service import get_employer_or_raise
from sscard.identity.protected import FieldKind
from sscard.insurance.discrepancies.errors import ReportAlreadyAnswered, ReportInvalid, ReportNotFound
from sscard.insurance.discrepancies.models import DiscrepancyReport, ReportStatus
from sscard.notify.outbox import notify_person
from sscard.people.service import get_person_or_raise, person_subject
from sscard.regions.codes import region_prefix

# Sealed like the protected fields (ID-5): own AEAD context, so a ciphertext moved between columns fails.
REPORT_TEXT = FieldKind("discrepancy_text")
ANSWER_TEXT = FieldKind("discrepancy_answer")
MAX_TEXT = 1000
EARLIEST_PERIOD = date(1990, 1, 1)


@dataclass(frozen=True, slots=True)
class ReportView:
    """A report opened for its reader (the holder, or the clerk who answers it)."""

    id: int
    person_id: int
    employer_id: int | None
    period: date | None
    region_code: str
    text: str
    status: ReportStatus
    answer: str | None
    answered_by: str | None
    created_at: datetime
    answered_at: datetime | None

    @classmethod
    def of(cls, row: DiscrepancyReport) -> ReportView:
        return cls(
            id=row.id,
            person_id=row.person_id,
            employer_id=row.employer_id,
            period=row.period,
            region_code=row.region_code,
            text=REPORT_TEXT.open(row.text_enc),
            status=row.status,
            answer=ANSWER_TEXT.open(row.answer_enc) if row.answer_enc is not None else None,
            answered_by=row.answered_by,
            created_at=row.created_at,
            answered_at=row.answered_at,
        )


def _clean_text(text: str, what: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise ReportInvalid(f"the {what} is empty")
    if len(cleaned) > MAX_TEXT:
        raise ReportInvalid(f"the {what} is longer than {MAX_TEXT} characters")
    return cleaned


def _check_period(period: date | None, today: date) -> date | None:
    if period is None:
        return None
    if period.day != 1:
        period = period.replace(day=1)
    if period > today or period < EARLIEST_PERIOD:
        raise ReportInvalid("the period must be a past or current month (YYYY-MM)")
    return period


def report_discrepancy(
    uow: UnitOfWork,
    *,
    person_id: int,
    text: str,
    actor: Actor,
    employer_id: int | None = None,
    period: date | None = None,
    today: date | None = None,
) -> DiscrepancyReport:
    """Record the holder's report (INS-6): open until the agency answers; audited (the text is not)."""
    person = get_person_or_raise(uow, person_id)
    now = utcnow()
    cleaned = _clean_text(text, "report text")
    period = _check_period(period, today or now.date())
    if employer_id is not None:
        get_employer_or_raise(uow, employer_id)  # EMPLOYER_NOT_FOUND
    row = DiscrepancyReport(
        person_id=person.id,
        employer_id=employer_id,
        period=period,
        region_code=person.region_code,
        text_enc=REPORT_TEXT.seal(cleaned),
        status=ReportStatus.OPEN,
        created_at=now,
    )
    uow.session.add(row)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="insurance.discrepancy.report",
        subject=person_subject(person.id),
        details={
            "report_id": row.id,
            "employer_id": employer_id,
            "period": period.strftime("%Y-%m") if period else None,
        },
    )
    return row


def get_report_or_raise(uow: UnitOfWork, report_id: int) -> DiscrepancyReport:
    row = uow.session.get(DiscrepancyReport, report_id)
    if row is None:
        raise ReportNotFound(f"no discrepancy report {report_id}")
    return row


def reports_of_person(uow: UnitOfWork, *, person_id: int, page: Keyset | None = None) -> list[ReportView]:
    """The holder's reports, newest first, opened."""
    stmt = select(DiscrepancyReport).where(DiscrepancyReport.person_id == person_id)
    order = (DiscrepancyReport.created_at.desc(), DiscrepancyReport.id.desc())
    rows = taken(uow.session.scalars(ordered(stmt, page, *order)), page)
    return [ReportView.of(r) for r in rows]


def list_reports(
    uow: UnitOfWork,
    *,
    region_code: str,
    actor: Actor,
    status: ReportStatus | None = ReportStatus.OPEN,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, Sequence[ReportView]]:
    """(total, one page) of the reports inside ``region_code``, oldest first: the agency's work queue.

    Each report shown is a disclosure of what its holder wrote (CH-4): audited on the holder.
    """
    query = select(DiscrepancyReport).where(DiscrepancyReport.region_code.like(region_prefix(region_code) + "%"))
    if status is not None:
        query = query.where(DiscrepancyReport.status == status)
    total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(uow.session.scalars(query.order_by(DiscrepancyReport.id).limit(limit).offset(offset)))
    for row in rows:
        record_event(
            uow,
            actor=actor,
            action="insurance.discrepancy.read",
            subject=person_subject(row.person_id),
            details={"report_id": row.id},
        )
    return total, [ReportView.of(r) for r in rows]


def answer_report(uow: UnitOfWork, *, report: DiscrepancyReport, answer: str, actor: Actor) -> DiscrepancyReport:
    """Answer an open report (INS-6): final; audited; the holder is told an answer is in the portal (CH-5)."""
    cleaned = _clean_text(answer, "answer")
    locked = uow.session.scalar(select(DiscrepancyReport).where(DiscrepancyReport.id == report.id).with_for_update())
    assert locked is not None  # noqa: S101 - the caller read it in this transaction
    uow.session.refresh(locked)
    if locked.status is not ReportStatus.OPEN:
        raise ReportAlreadyAnswered(f"report {locked.id} was answered at {locked.answered_at:%Y-%m-%d %H:%M} UTC")
    now = utcnow()
    locked.status = ReportStatus.ANSWERED
    locked.answer_enc = ANSWER_TEXT.seal(cleaned)
    locked.answered_by = actor.id
    locked.answered_at = now
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="insurance.discrepancy.answer",
        subject=person_subject(locked.person_id),
        details={"report_id": locked.id},
    )
    person = get_person_or_raise(uow, locked.person_id)
    notify_person(
        uow,
        person=person,
        topic="insurance.discrepancy_answered",
        text=f"您于{locked.created_at:%Y-%m-%d}提交的社保缴费异议已答复，请登录网上查询系统查看。",
        text_en=f"Your contribution discrepancy report of {locked.created_at:%Y-%m-%d} has been answered; "
        "sign in to the portal to read the answer.",
    )
    return locked
