"""The holder's own records in the portal: cards (and a loss report), insurance, statements, money.

Each page calls the service the portal API's route calls (api/portal*.py) for the signed-in holder
only: no person id, card number or ID number in any URL; a card is named by an opaque reference.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Depends, Form, Query, Response

from sscard.cards.loss import report_loss_by_hotline
from sscard.cards.numbers import card_no_tail
from sscard.cards.service import list_cards_of_person
from sscard.cards.states import CardState
from sscard.credentials.pin.service import card_policy
from sscard.credentials.pin.status import pin_status_of
from sscard.credentials.pin.store import get_pin_row
from sscard.credentials.query_password.service import holder_actor
from sscard.db.base import china_today
from sscard.db.session import UnitOfWork
from sscard.debit import service as debit
from sscard.errors import DomainError
from sscard.identity import mask_id_number, mask_name
from sscard.insurance.accounts.records import accounts_of, declarations_of, movements_of, participation_of
from sscard.insurance.accounts.schemas import parse_month
from sscard.insurance.discrepancies.service import MAX_TEXT, report_discrepancy, reports_of_person
from sscard.ledger.models import AccountKind
from sscard.people.service import get_person_or_raise
from sscard.statements.service import download_statement, list_statements_of
from sscard.web.errors import PageNotFound
from sscard.web.page import page_router
from sscard.web.portal.auth import HolderPage, require_holder
from sscard.web.portal.statements import statement_actor
from sscard.web.transaction import READS

router = page_router("portal")
YEAR = Query(default=None, ge=1990, le=2100)


@router.get("/cards")
def cards(current: HolderPage = Depends(require_holder)) -> Response:
    """My cards: type, state, PIN enabled or locked (never a PIN), the last four digits to tell them apart."""
    page, holder = current.page, current.holder
    person = get_person_or_raise(page.uow, holder.person_id)
    rows = []
    for card in list_cards_of_person(page.uow, person_id=holder.person_id):
        pin = pin_status_of(get_pin_row(page.uow, card.id), threshold=card_policy(page.uow, card).pin_lockout_threshold)
        rows.append(
            {
                "ref": page.ref({"card_id": card.id}),
                "tail": card_no_tail(card.card_no),
                "card_type": card.card_type.value,
                "state": card.state.value,
                "generation": card.generation,
                "financial": card.financial,
                "issued_at": card.issued_at,
                "pin": pin,
                "can_report_loss": card.state is CardState.ACTIVE,  # CARD-5 blocks an active card
            }
        )
    return page.render(
        "portal/cards.html",
        title=page.gettext("My cards"),
        cards=rows,
        name_masked=mask_name(person.name),
        id_masked=mask_id_number(person.id_number),
        errors={},
    )


@router.post("/cards/loss")
def report_loss(
    current: HolderPage = Depends(require_holder), card: str = Form(""), confirm: str = Form("")
) -> Response:
    """CARD-5: block one of my cards at once; provisional until confirmed at a counter with the ID."""
    page, holder = current.page, current.holder
    chosen = page.deref(card[:32])
    mine = {c.id: c for c in list_cards_of_person(page.uow, person_id=holder.person_id)}
    target = mine.get(int(chosen["card_id"])) if chosen and "card_id" in chosen else None
    if target is None:
        raise PageNotFound("no such card reference in this session")
    if confirm != "yes":
        page.flash(page.gettext("Tick the box to confirm that this card is lost, then report it."), "error")
        return page.redirect("/portal/cards")
    person = get_person_or_raise(page.uow, holder.person_id)
    try:
        report = report_loss_by_hotline(
            page.uow, id_number=person.id_number, card_type=target.card_type,
            actor=holder_actor(holder.person_id),
        )  # fmt: skip
    except DomainError as exc:  # LOSS_REPORT_NO_CARD among others
        page.flash(page.refused(exc), "error")
        return page.redirect("/portal/cards")
    page.flash(
        page.gettext(
            "The card ending %(tail)s is blocked. Confirm the loss at a service outlet with your ID by %(day)s."
        )
        % {"tail": card_no_tail(target.card_no)[-4:], "day": page.format_day(report.expires_at)}
    )
    return page.redirect("/portal/cards")


@router.get("/insurance")
def insurance(
    current: HolderPage = Depends(require_holder), year: int | None = YEAR, reads: UnitOfWork = READS
) -> Response:
    """Participation, what each employer declared month by month, the personal accounts (INS-3, INS-5);
    read on the replica when one is configured (db/replica.py), as the portal API's records are."""
    page, holder = current.page, current.holder
    today = china_today()
    shown_year = year or today.year
    declared = declarations_of(reads, person_id=holder.person_id, year=shown_year, limit=240)
    accounts = accounts_of(reads, person_id=holder.person_id)
    movements = {
        a.kind: movements_of(reads, person_id=holder.person_id, kind=AccountKind(a.kind), year=shown_year, limit=240)
        for a in accounts
    }
    return page.render(
        "portal/insurance.html",
        title=page.gettext("My insurance"),
        participation=participation_of(reads, person_id=holder.person_id),
        declared=declared,
        accounts=accounts,
        movements=movements,
        year=shown_year,
        years=list(range(today.year, today.year - 10, -1)),
    )


def _reports_page(current: HolderPage, *, status: int = 200, errors: dict | None = None, values: dict | None = None):
    page, holder = current.page, current.holder
    employers = {
        p.employer_id: p.employer_name
        for p in participation_of(page.uow, person_id=holder.person_id)
        if p.employer_id is not None
    }
    return page.render(
        "portal/discrepancies.html",
        status=status,
        title=page.gettext("Discrepancy reports"),
        reports=reports_of_person(page.uow, person_id=holder.person_id),
        employers=sorted(((str(k), str(v or k)) for k, v in employers.items()), key=lambda e: e[1]),
        errors=errors or {},
        values=values or {},
        max_text=MAX_TEXT,
    )


@router.get("/discrepancies")
def discrepancies(current: HolderPage = Depends(require_holder)) -> Response:
    """INS-6: my reports of what an employer declared wrongly, with the agency's answer once given."""
    return _reports_page(current)


@router.post("/discrepancies")
def new_discrepancy(
    current: HolderPage = Depends(require_holder),
    employer_id: str = Form(""),
    period: str = Form(""),
    text: str = Form(""),
) -> Response:
    page, holder = current.page, current.holder
    values = {"employer_id": employer_id, "period": period[:7], "text": text[: MAX_TEXT + 1]}
    errors: dict[str, str] = {}
    month = None
    if period.strip():
        try:
            month = parse_month(period)
        except ValueError:
            errors["period"] = page.gettext("Give the month as YYYY-MM, for example 2025-03.")
    if not text.strip():
        errors["text"] = page.gettext("Describe what is wrong.")
    elif len(text) > MAX_TEXT:
        errors["text"] = page.gettext("The description is too long.")
    employer = int(employer_id) if employer_id.isdigit() and len(employer_id) < 19 else None
    if errors:
        return _reports_page(current, status=422, errors=errors, values=values)
    try:
        report_discrepancy(
            page.uow, person_id=holder.person_id, employer_id=employer, period=month, text=text.strip(),
            actor=holder_actor(holder.person_id),
        )  # fmt: skip
    except DomainError as exc:
        return _reports_page(current, status=exc.status, errors={"_form": page.refused(exc)}, values=values)
    page.flash(page.gettext("Your report has been recorded. The agency will answer it here."))
    return page.redirect("/portal/discrepancies")


@router.get("/statements")
def statements(current: HolderPage = Depends(require_holder)) -> Response:
    """INS-4: my yearly statements, each to download as PDF in Chinese or English."""
    page, holder = current.page, current.holder
    return page.render(
        "portal/statements.html",
        title=page.gettext("Yearly statements"),
        statements=list_statements_of(page.uow, person_id=holder.person_id),
    )


@router.get("/statements/{year}.pdf")
def statement_pdf(
    year: str, current: HolderPage = Depends(require_holder), pdf_lang: str = Query("zh", alias="doc")
) -> Response:
    """One yearly statement as PDF (a year is no personal data; the holder is the session's)."""
    page, holder = current.page, current.holder
    if not (len(year) == 4 and year.isdigit()):
        raise PageNotFound("no such statement")
    lang: Literal["zh", "en"] = "en" if pdf_lang == "en" else "zh"
    pdf = download_statement(
        page.uow, person_id=holder.person_id, year=int(year), lang=lang, actor=statement_actor(holder)
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="statement-{year}-{lang}.pdf"'},
    )


@router.get("/money")
def money(current: HolderPage = Depends(require_holder), year: int | None = YEAR) -> Response:
    """FIN-1, FIN-2: medical settlements (the medical account's movements) and the debit accounts."""
    page, holder = current.page, current.holder
    today = china_today()
    shown_year = year or today.year
    medical = None
    if any(a.kind == AccountKind.MEDICAL_PERSONAL.value for a in accounts_of(page.uow, person_id=holder.person_id)):
        medical = movements_of(
            page.uow, person_id=holder.person_id, kind=AccountKind.MEDICAL_PERSONAL, year=shown_year, limit=240
        )
    return page.render(
        "portal/money.html",
        title=page.gettext("Settlements and debit account"),
        medical=medical,
        debit_accounts=debit.holder_view(page.uow, person_id=holder.person_id),
        year=shown_year,
        years=list(range(today.year, today.year - 10, -1)),
    )
