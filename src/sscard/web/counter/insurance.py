"""Counter pages of a person's insurance record and the agency's discrepancy queue (INS-1, INS-5, INS-6).

The services of ``api/counter_records.py`` and ``api/counter_insurance.py``: the record is shown after
the holder's identity document is checked and recorded (CH-2, ``disclose_insurance_record``); the queue
lists the open reports of the clerk's region; an answer is final, audited and told to the holder (CH-5).
Service-outlet staff only (counter clerk or supervisor), inside their region.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Form, Response

from sscard.db.base import china_today
from sscard.errors import DomainError
from sscard.insurance.accounts.records import (
    ParticipationView,
    accounts_of,
    declarations_of,
    disclose_insurance_record,
    movements_of,
    participation_of,
)
from sscard.insurance.discrepancies.models import DiscrepancyReport, ReportStatus
from sscard.insurance.discrepancies.service import (
    MAX_TEXT,
    ReportView,
    answer_report,
    get_report_or_raise,
    list_reports,
    reports_of_person,
)
from sscard.insurance.models import PremiumDecision
from sscard.insurance.registration import decide_premium, get_registration_or_raise
from sscard.ledger.models import PERSONAL_KINDS, AccountKind
from sscard.people.models import Person
from sscard.people.service import get_person_or_raise, person_read
from sscard.web.counter.auth import COUNTER, StaffPage, current_staff
from sscard.web.counter.debit import yuan_to_fen
from sscard.web.counter.routes import DOCUMENT_TYPES, evidence_errors, person_of
from sscard.web.errors import PageNotFound
from sscard.web.page import Page, page_router

router = page_router("counter")

QUEUE_PAGE = 50
DECISIONS = tuple(d.value for d in PremiumDecision)


def _years() -> list[int]:
    this = china_today().year
    return list(range(this, this - 10, -1))


def _form(
    current: StaffPage, ref: str, person: Person, *, status: int = 200, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    page = current.page
    return page.render(
        "counter/insurance_form.html", status=status, title=page.gettext("Insurance record"), ref=ref,
        person=person_read(person), errors=errors or {}, values=values or {}, documents=DOCUMENT_TYPES,
        years=[(str(y), str(y)) for y in _years()],
    )  # fmt: skip


def _record(current: StaffPage, ref: str, person: Person, year: int, *, errors: dict[str, str] | None = None,
            status: int = 200) -> Response:  # fmt: skip
    page, today = current.page, china_today()
    accounts = [a for a in accounts_of(page.uow, person_id=person.id) if AccountKind(a.kind) in PERSONAL_KINDS]
    movements = {
        a.kind: movements_of(page.uow, person_id=person.id, kind=AccountKind(a.kind), year=year, limit=600)
        for a in accounts
    }
    participation = participation_of(page.uow, person_id=person.id)
    reports = reports_of_person(page.uow, person_id=person.id)
    return page.render(
        "counter/insurance.html", status=status, title=page.gettext("Insurance record"), ref=ref,
        person=person_read(person), year=year, today=today, participation=participation,
        late=_undecided(page, participation),
        declared=declarations_of(page.uow, person_id=person.id, year=year, include_superseded=True, limit=600),
        accounts=accounts, movements=movements, errors=errors or {},
        reports=[{"ref": page.ref({"report_id": r.id}), "r": r} for r in reports], decisions=DECISIONS,
    )  # fmt: skip


def _undecided(page: Page, participation: list[ParticipationView]) -> list[dict[str, Any]]:
    """INS-1: the late registrations still without the agency's premium decision, one form each (a
    registration covers several insurance types)."""
    late: dict[int, dict[str, Any]] = {}
    for p in participation:
        if p.days_late and p.premium_decision is None:
            item = late.setdefault(
                p.registration_id,
                {"ref": page.ref({"registration_id": p.registration_id}), "days_late": p.days_late, "types": []},
            )
            item["types"].append(p.insurance_type)
    return list(late.values())


@router.get("/person/{ref}/insurance")
def insurance_form(ref: str, current: StaffPage = Depends(current_staff)) -> Response:
    """The identity check that opens the record (CH-2)."""
    return _form(current, ref, person_of(current, ref))


@router.post("/person/{ref}/insurance")
def insurance_record(
    ref: str,
    current: StaffPage = Depends(current_staff),
    document_type: str = Form(""),
    document_number: str = Form(""),
    year: str = Form(""),
) -> Response:
    """INS-5 / INS-6: participation, declarations, personal accounts and reports, as
    ``POST /api/v1/counter/persons/{id}/insurance-record``; the disclosure is audited with the evidence."""
    page = current.page
    person = person_of(current, ref)
    values = {"document_type": document_type, "year": year}
    errors = evidence_errors(page, document_type, document_number)
    shown = int(year) if year.isdigit() and int(year) in _years() else None
    if shown is None:
        errors["year"] = page.gettext("Choose a year.")
    if errors or shown is None:
        return _form(current, ref, person, status=422, errors=errors, values=values)
    try:
        disclose_insurance_record(
            page.uow, person=person, document_type=document_type, document_number=document_number.strip()[:32],
            actor=current.actor(), year=shown,
        )  # fmt: skip
    except DomainError as exc:
        field = "document_number" if exc.code.startswith("IDENTITY_EVIDENCE") else "_form"
        return _form(current, ref, person, status=exc.status, errors={field: page.refused(exc)}, values=values)
    return _record(current, ref, person, shown)


@router.post("/registration/{ref}/premium")
def premium_decision(
    ref: str,
    current: StaffPage = Depends(current_staff),
    decision: str = Form(""),
    premium_yuan: str = Form(""),
) -> Response:
    """INS-1: the agency's decision on a late registration's premium, once (``decide_premium``)."""
    current.require(COUNTER)
    page = current.page
    value = page.deref(ref)
    if value is None or "registration_id" not in value:
        raise PageNotFound()
    registration = get_registration_or_raise(page.uow, int(value["registration_id"]))
    current.staff.ensure_region(registration.region_code)
    person = get_person_or_raise(page.uow, registration.person_id)
    fen = yuan_to_fen(premium_yuan) if decision == PremiumDecision.CHARGED.value else 0
    person_ref = page.ref({"person_id": person.id})
    if decision not in DECISIONS or fen is None:
        page.flash(page.gettext("Choose waived, or charged with an amount in yuan (e.g. 120.50)."), kind="error")
        return page.redirect(f"/counter/person/{person_ref}/insurance")
    try:
        decide_premium(
            page.uow, registration_id=registration.id, decision=decision, premium_fen=fen, actor=current.actor()
        )
    except DomainError as exc:
        page.flash(page.refused(exc), kind="error")
        return page.redirect(f"/counter/person/{person_ref}/insurance")
    page.flash(page.gettext("The premium decision has been recorded."))
    return page.redirect(f"/counter/person/{person_ref}/insurance")


# --- the discrepancy queue (INS-6) ------------------------------------------------------------------


@router.get("/discrepancies")
def discrepancies(current: StaffPage = Depends(current_staff), answered: str = "") -> Response:
    """The open (or answered) reports of the clerk's region, oldest first; each shown one is audited (CH-4)."""
    current.require(COUNTER)
    page = current.page
    status = ReportStatus.ANSWERED if answered == "1" else ReportStatus.OPEN
    total, views = list_reports(
        page.uow, region_code=current.staff.region_code, actor=current.actor(), status=status, limit=QUEUE_PAGE
    )
    rows = [{"ref": page.ref({"report_id": v.id}), "r": v} for v in views]
    return page.render(
        "counter/discrepancies.html", title=page.gettext("Discrepancy reports"), rows=rows, total=total,
        answered=status is ReportStatus.ANSWERED, shown=len(rows),
    )  # fmt: skip


def _report_of(current: StaffPage, ref: str) -> DiscrepancyReport:
    current.require(COUNTER)
    value = current.page.deref(ref)
    if value is None or "report_id" not in value:
        raise PageNotFound()
    row = get_report_or_raise(current.page.uow, int(value["report_id"]))
    current.staff.ensure_region(row.region_code)
    return row


def _report_page(
    current: StaffPage, ref: str, row: DiscrepancyReport, *, status: int = 200, errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    page = current.page
    person = get_person_or_raise(page.uow, row.person_id)
    return page.render(
        "counter/discrepancy.html", status=status, title=page.gettext("Discrepancy report"), ref=ref,
        r=ReportView.of(row), person=person_read(person), person_ref=page.ref({"person_id": person.id}),
        errors=errors or {}, values=values or {}, max_text=MAX_TEXT,
    )  # fmt: skip


@router.get("/discrepancy/{ref}")
def discrepancy_view(ref: str, current: StaffPage = Depends(current_staff)) -> Response:
    return _report_page(current, ref, _report_of(current, ref))


@router.post("/discrepancy/{ref}/answer")
def discrepancy_answer(ref: str, current: StaffPage = Depends(current_staff), answer: str = Form("")) -> Response:
    """Answer an open report (``answer_report``, as ``POST /api/v1/counter/discrepancies/{id}/answer``)."""
    page = current.page
    row = _report_of(current, ref)
    text = answer.strip()
    if not text:
        errors = {"answer": page.gettext("Write the answer the holder will read.")}
        return _report_page(current, ref, row, status=422, errors=errors)
    if len(text) > MAX_TEXT:
        errors = {"answer": page.gettext("The answer is too long.")}
        return _report_page(current, ref, row, status=422, errors=errors, values={"answer": text})
    try:
        answer_report(page.uow, report=row, answer=text, actor=current.actor())
    except DomainError as exc:
        return _report_page(
            current, ref, row, status=exc.status, errors={"answer": page.refused(exc)}, values={"answer": text}
        )
    page.flash(page.gettext("The answer has been recorded; the holder has been told it is in the portal."))
    return page.redirect(f"/counter/discrepancy/{ref}")
