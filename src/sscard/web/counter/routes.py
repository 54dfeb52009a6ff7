"""Counter console pages: parse the form, call the services the API's counter routes call, render.

Rules live in the services; access follows the API (``web/counter/auth.py`` has its role sets, the
region and bank checks are ``StaffPrincipal.ensure_region`` / ``ensure_card`` as in ``api/counter*.py``).
Persons and cards travel between pages as opaque refs, never as numbers in URLs.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Depends, Form, Response

from sscard.cards.models import Card
from sscard.cards.numbers import card_no_tail
from sscard.cards.person_status import set_person_status
from sscard.cards.service import (
    activate_card,
    cancel_card,
    confirm_loss,
    get_card_or_raise,
    issue_card,
    list_cards_of_person,
    replace_card,
    withdraw_loss,
)
from sscard.cards.states import ALLOWED_FROM, CardEvent, CardState
from sscard.credentials.pin.counter_ops import (
    PinPadEntry,
    cancel_card_pin,
    get_card_pin_status,
    prepare_counter_target,
    reset_card_pin,
    restore_card_pin,
    unlock_card_pin,
)
from sscard.credentials.pin.evidence import DocumentType, check_identity_evidence
from sscard.credentials.pin.issuance import notify_card_issued
from sscard.credentials.pin.pinpad import counter_pin_pad
from sscard.credentials.pin.service import card_policy
from sscard.credentials.query_password.counter import reinitialise_query_password
from sscard.errors import DomainError
from sscard.identity import parse_citizen_id
from sscard.people.models import Person, PersonCorrection, PersonStatus
from sscard.people.schemas import CorrectionRead
from sscard.people.service import (
    add_person,
    get_person_by_id_number_or_raise,
    get_person_or_raise,
    lookup_person_at_counter,
    person_read,
    reveal_person,
)
from sscard.record_corrections.service import (
    approve_id_correction,
    correct_contact_details,
    get_correction_or_raise,
    list_pending_corrections,
    new_region_of,
    reject_id_correction,
    request_id_correction,
)
from sscard.staff.roles import Role
from sscard.staff.sessions import StaffLogin
from sscard.web.counter.auth import (
    ACTIVATION,
    ANY_COUNTER,
    COUNTER,
    PIN_STAFF,
    SUPERVISOR,
    StaffPage,
    counter_page,
    current_staff,
)
from sscard.web.errors import PageNotFound
from sscard.web.page import Page, page_router
from sscard.web.staff_sign_in import sign_in_staff, sign_out_staff

router = page_router("counter")

DOCUMENT_TYPES = tuple(d.value for d in DocumentType)
PIN_BLOCK = re.compile(r"^[0-9A-Fa-f]{32}$")
# The card operations of the card page: which roles may (as the API) and which need the evidence form.
CARD_ACTIONS: dict[str, frozenset[Role]] = {
    "activate": ACTIVATION,
    "loss-confirm": COUNTER,
    "loss-withdraw": COUNTER,
    "replace": COUNTER,
    "cancel": COUNTER,
    "pin-reset": PIN_STAFF,
    "pin-unlock": PIN_STAFF,
    "pin-cancel": PIN_STAFF,
    "pin-restore": PIN_STAFF,
}
NO_EVIDENCE = frozenset({"activate", "cancel"})
# The card page offers an operation only in the states the card's state machine allows it from.
ACTION_EVENT = {
    "activate": CardEvent.ACTIVATE,
    "loss-confirm": CardEvent.CONFIRM_LOSS,
    "loss-withdraw": CardEvent.WITHDRAW_LOSS,
    "replace": CardEvent.REPLACE,
    "cancel": CardEvent.CANCEL,
}


def _offered(action: str, state: CardState) -> bool:
    event = ACTION_EVENT.get(action)
    return state is CardState.ACTIVE if event is None else state in ALLOWED_FROM[event]


CLOSE_REASONS = ("holder_request", "issued_in_error")


# --- sign in / out -------------------------------------------------------------------------------


def _login_page(page: Page, *, status: int = 200, errors: dict[str, str] | None = None, **values: Any) -> Response:
    return page.render(
        "counter/login.html", status=status, title=page.gettext("Sign in"), errors=errors or {},
        values=values, ask_otp=bool(values.get("ask_otp")),
    )  # fmt: skip


@router.get("/")
def start(page: Page = Depends(counter_page)) -> Response:
    if page.auth_token() is not None:
        return page.redirect("/counter/home")
    return _login_page(page)


@router.post("/login")
def login(
    page: Page = Depends(counter_page), username: str = Form(""), password: str = Form(""), otp: str = Form("")
) -> Response:
    def refuse(result: StaffLogin) -> str | None:
        # Not counter staff (the security console is theirs): the session just opened is ended at once.
        if result.enrol_only or result.principal.role not in ANY_COUNTER:
            return page.gettext("This account cannot use the counter console.")
        return None

    return sign_in_staff(page, username=username, password=password, otp=otp, login_page=_login_page,
                         home="/counter/home", refuse=refuse)  # fmt: skip


@router.post("/logout")
def logout(page: Page = Depends(counter_page)) -> Response:
    return sign_out_staff(page, login_url="/counter/")


# --- start page and lookup -----------------------------------------------------------------------


def _home(current: StaffPage, *, status: int = 200, errors: dict[str, str] | None = None, **values: str) -> Response:
    page = current.page
    return page.render(
        "counter/home.html", status=status, title=page.gettext("Counter"), errors=errors or {}, values=values,
        staff=current.staff, by_id=current.may(COUNTER), documents=DOCUMENT_TYPES,
    )  # fmt: skip


@router.get("/home")
def home(current: StaffPage = Depends(current_staff)) -> Response:
    return _home(current)


@router.post("/lookup")
def lookup(
    current: StaffPage = Depends(current_staff),
    id_number: str = Form(""),
    card_no: str = Form(""),
    document_type: str = Form(""),
) -> Response:
    """By card number (any counter role; a bank clerk only their bank's cards) or by citizen ID (service
    outlet staff, with the document presented recorded, as ``POST /api/v1/counter/persons/lookup``)."""
    page, staff = current.page, current.staff
    id_number, card_no = id_number.strip()[:32], card_no.strip().upper()[:16]
    values = {"id_number": id_number, "card_no": card_no, "document_type": document_type}
    if not id_number and not card_no:
        errors = {"id_number": page.gettext("Enter a citizen ID number or a card number.")}
        return _home(current, status=422, errors=errors, **values)
    try:
        if card_no:
            card = get_card_or_raise(page.uow, card_no)
            staff.ensure_card(region_code=card.region_code, bank_code=card.bank_code)
            return page.redirect(f"/counter/card/{page.ref({'card_id': card.id})}")
        current.require(COUNTER)
        if document_type not in DOCUMENT_TYPES:
            errors = {"document_type": page.gettext("Choose the identity document the person presented.")}
            return _home(current, status=422, errors=errors, **values)
        staff.ensure_region(get_person_by_id_number_or_raise(page.uow, id_number).region_code)
        person = lookup_person_at_counter(
            page.uow, id_number=id_number, actor=current.actor(), evidence=f"{document_type} presented at the counter"
        )
    except DomainError as exc:
        field = "card_no" if card_no else "id_number"
        return _home(current, status=exc.status, errors={field: page.refused(exc)}, **values)
    return page.redirect(f"/counter/person/{page.ref({'person_id': person.id})}")


# --- persons -------------------------------------------------------------------------------------


def person_of(current: StaffPage, ref: str) -> Person:
    current.require(COUNTER)
    value = current.page.deref(ref)
    if value is None or "person_id" not in value:
        raise PageNotFound()
    person = get_person_or_raise(current.page.uow, int(value["person_id"]))
    current.staff.ensure_region(person.region_code)
    return person


def _person_page(
    current: StaffPage,
    ref: str,
    person: Person,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    form: str = "",
    revealed: Any = None,
    values: dict[str, str] | None = None,
) -> Response:
    page = current.page
    cards = [
        {"ref": page.ref({"card_id": c.id}), "masked": card_no_tail(c.card_no), "card": c}
        for c in list_cards_of_person(page.uow, person_id=person.id)
    ]
    return page.render(
        "counter/person_form.html" if form else "counter/person.html", status=status, title=page.gettext("Person"),
        person=person_read(person), ref=ref,
        cards=cards, errors=errors or {}, form=form, revealed=revealed, values=values or {},
        documents=DOCUMENT_TYPES, supervisor=current.may(SUPERVISOR), statuses=PERSON_STATUSES,
    )  # fmt: skip


@router.get("/person/{ref}")
def person_view(ref: str, current: StaffPage = Depends(current_staff)) -> Response:
    return _person_page(current, ref, person_of(current, ref))


PERSON_FORMS = ("reveal", "query-password", "contact", "issue", "id-number", "status")
PERSON_STATUSES = tuple(s.value for s in PersonStatus)


@router.get("/person/{ref}/{form}")
def person_form(ref: str, form: str, current: StaffPage = Depends(current_staff)) -> Response:
    """The form of one person operation (one evidence form per page)."""
    if form not in PERSON_FORMS:
        raise PageNotFound()
    person = person_of(current, ref)
    if form == "reveal":
        current.require(SUPERVISOR)
    return _person_page(current, ref, person, form=form)


def evidence_errors(page: Page, document_type: str, document_number: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if document_type not in DOCUMENT_TYPES:
        errors["document_type"] = page.gettext("Choose the identity document you checked.")
    if not document_number.strip():
        errors["document_number"] = page.gettext("Enter the number of the document you checked.")
    return errors


@router.post("/person/{ref}/reveal")
def person_reveal(
    ref: str,
    current: StaffPage = Depends(current_staff),
    document_type: str = Form(""),
    document_number: str = Form(""),
) -> Response:
    """ID-5 / CH-2: the full ID number, phone and email, for a counter supervisor, audited with the
    document checked (``reveal_person``, as ``POST /api/v1/counter/persons/{id}/reveal``)."""
    page = current.page
    person = person_of(current, ref)
    current.require(SUPERVISOR)
    errors = evidence_errors(page, document_type, document_number)
    if errors:
        return _person_page(current, ref, person, status=422, errors=errors, form="reveal")
    try:
        checked = check_identity_evidence(
            person=person, document_type=document_type, document_number=document_number[:32]
        )
        revealed = reveal_person(page.uow, person_id=person.id, actor=current.actor(), evidence=str(checked))
    except DomainError as exc:
        return _person_page(
            current, ref, person, status=exc.status, errors={"document_number": page.refused(exc)}, form="reveal"
        )
    return _person_page(current, ref, person, revealed=revealed)


@router.post("/person/{ref}/query-password")
def person_query_password(
    ref: str,
    current: StaffPage = Depends(current_staff),
    document_type: str = Form(""),
    document_number: str = Form(""),
) -> Response:
    """QPW-3: back to the initial query password after the recorded identity check."""
    page = current.page
    person = person_of(current, ref)
    errors = evidence_errors(page, document_type, document_number)
    if errors:
        return _person_page(current, ref, person, status=422, errors=errors, form="query-password")
    try:
        reinitialise_query_password(
            page.uow, person=person, document_type=document_type, document_number=document_number[:32],
            actor=current.actor(),
        )  # fmt: skip
    except DomainError as exc:
        return _person_page(
            current, ref, person, status=exc.status, errors={"document_number": page.refused(exc)},
            form="query-password",
        )  # fmt: skip
    page.flash(
        page.gettext(
            "The query password is the initial one again: the last 8 characters of the ID number (X as 0). "
            "Remind the holder to change it after signing in."
        )
    )
    return page.redirect(f"/counter/person/{ref}")


@router.post("/person/{ref}/contact")
def person_contact(
    ref: str,
    current: StaffPage = Depends(current_staff),
    name: str = Form(""),
    phone: str = Form(""),
    email: str = Form(""),
    document_type: str = Form(""),
    document_number: str = Form(""),
) -> Response:
    """QPW-3 / PER-1: correct the name, phone and/or email (only the fields filled in change)."""
    page = current.page
    person = person_of(current, ref)
    values = {"name": name.strip()[:128], "phone": phone.strip()[:32], "email": email.strip()[:320]}
    errors = evidence_errors(page, document_type, document_number)
    if not any(values.values()):
        errors["name"] = page.gettext("Fill in at least one of name, phone and email.")
    if errors:
        return _person_page(current, ref, person, status=422, errors=errors, form="contact", values=values)
    try:
        correct_contact_details(
            page.uow, person_id=person.id, name=values["name"] or None, phone=values["phone"] or None,
            email=values["email"] or None, document_type=document_type, document_number=document_number[:32],
            actor=current.actor(),
        )  # fmt: skip
    except DomainError as exc:
        return _person_page(
            current, ref, person, status=exc.status, errors={"_form": page.refused(exc)}, form="contact",
            values=values,
        )  # fmt: skip
    page.flash(page.gettext("The record has been corrected; the holder has been told."))
    return page.redirect(f"/counter/person/{ref}")


@router.post("/person/{ref}/status")
def person_status(
    ref: str,
    current: StaffPage = Depends(current_staff),
    status: str = Form(""),
    confirm_final: str = Form(""),
    document_type: str = Form(""),
    document_number: str = Form(""),
) -> Response:
    """PER-1 / CARD-1: change the person's status (``set_person_status``, as ``POST .../persons/{id}/status``),
    with the identity document checked recorded in the audit entry (CH-2). Deceased is final and cancels
    every live card: the clerk ticks that they know it."""
    page = current.page
    person = person_of(current, ref)
    values = {"status": status, "document_type": document_type}
    errors = evidence_errors(page, document_type, document_number)
    if status not in PERSON_STATUSES:
        errors["status"] = page.gettext("Choose the new status.")
    elif status == person.status.value:
        errors["status"] = page.gettext("The person already has this status.")
    elif status == PersonStatus.DECEASED.value and confirm_final != "yes":
        errors["confirm_final"] = page.gettext("Confirm that you know this is final and cancels every card.")
    if errors:
        return _person_page(current, ref, person, status=422, errors=errors, form="status", values=values)
    try:
        checked = check_identity_evidence(
            person=person, document_type=document_type, document_number=document_number.strip()[:32]
        )
        set_person_status(
            page.uow, person_id=person.id, status=status, actor=current.actor(), evidence=checked.as_details()
        )
    except DomainError as exc:
        field = "document_number" if exc.code.startswith("IDENTITY_EVIDENCE") else "_form"
        return _person_page(
            current, ref, person, status=exc.status, errors={field: page.refused(exc)}, form="status", values=values
        )
    if status == PersonStatus.DECEASED.value:
        page.flash(page.gettext("The person is recorded as deceased; every live card has been cancelled."))
    else:
        page.flash(page.gettext("The status has been changed."))
    return page.redirect(f"/counter/person/{ref}")


@router.post("/person/{ref}/issue")
def person_issue(
    ref: str,
    current: StaffPage = Depends(current_staff),
    card_type: str = Form("social"),
    financial: str = Form(""),
    bank_code: str = Form(""),
) -> Response:
    """CARD-1 / CARD-3: issue a card (``issue_card``, as ``POST /api/v1/counter/cards``)."""
    page = current.page
    person = person_of(current, ref)
    values = {"card_type": card_type, "bank_code": bank_code.strip()[:16], "financial": financial}
    try:
        card = issue_card(
            page.uow, person_id=person.id, card_type=card_type[:16], actor=current.actor(),
            financial=financial == "yes", bank_code=values["bank_code"] or None,
        )  # fmt: skip
        notify_card_issued(page.uow, card=card, actor=current.actor())  # PIN-12, as the API's issue route
    except DomainError as exc:
        return _person_page(
            current, ref, person, status=exc.status, errors={"_form": page.refused(exc)}, form="issue", values=values
        )
    page.flash(page.gettext("The card has been issued."))
    return page.redirect(f"/counter/card/{page.ref({'card_id': card.id})}")


@router.post("/person/{ref}/id-number")
def person_id_number(
    ref: str,
    current: StaffPage = Depends(current_staff),
    new_id_number: str = Form(""),
    reason: str = Form(""),
    document_type: str = Form(""),
    document_number: str = Form(""),
) -> Response:
    """QPW-3 / PER-1: ask for the citizen ID on file to be corrected; a counter supervisor other than the
    requester approves it (``request_id_correction``, as ``POST .../corrections/id-number``)."""
    page = current.page
    person = person_of(current, ref)
    values = {"new_id_number": new_id_number.strip()[:32], "reason": reason.strip()[:400]}
    errors = evidence_errors(page, document_type, document_number)
    if not values["new_id_number"]:
        errors["new_id_number"] = page.gettext("Enter the correct citizen ID number.")
    if not values["reason"]:
        errors["reason"] = page.gettext("Say why the number on file is wrong.")
    if errors:
        return _person_page(current, ref, person, status=422, errors=errors, form="id-number", values=values)
    try:
        current.staff.ensure_region(parse_citizen_id(values["new_id_number"]).region_code)
        correction = request_id_correction(
            page.uow, person_id=person.id, new_id_number=values["new_id_number"], reason=values["reason"],
            document_type=document_type, document_number=document_number.strip()[:32], actor=current.actor(),
        )  # fmt: skip
    except DomainError as exc:
        field = "new_id_number" if exc.code.startswith(("ID_", "PERSON_DUPLICATE", "OUTSIDE")) else "_form"
        if exc.code.startswith("IDENTITY_EVIDENCE"):
            field = "document_number"
        return _person_page(
            current, ref, person, status=exc.status, errors={field: page.refused(exc)}, form="id-number",
            values=values,
        )  # fmt: skip
    page.flash(page.gettext("The correction has been requested. A counter supervisor other than you approves it."))
    return page.redirect(f"/counter/correction/{page.ref({'correction_id': correction.id})}")


# --- citizen ID corrections: a supervisor's approval ----------------------------------------------


@router.get("/corrections")
def corrections(current: StaffPage = Depends(current_staff)) -> Response:
    """The citizen ID corrections waiting for a supervisor in your region, oldest first (masked)."""
    current.require(COUNTER)
    page = current.page
    rows = [
        {"ref": page.ref({"correction_id": c.id}), "c": CorrectionRead.of(c)}
        for c in list_pending_corrections(page.uow, within=current.staff.region_code)
    ]
    return page.render("counter/corrections.html", title=page.gettext("ID number corrections"), rows=rows)


def _correction_of(current: StaffPage, ref: str) -> PersonCorrection:
    current.require(COUNTER)
    value = current.page.deref(ref)
    if value is None or "correction_id" not in value:
        raise PageNotFound()
    correction = get_correction_or_raise(current.page.uow, int(value["correction_id"]))
    current.staff.ensure_region(correction.region_code)
    return correction


def _correction_page(
    current: StaffPage,
    ref: str,
    correction: PersonCorrection,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    page = current.page
    return page.render(
        "counter/correction.html", status=status, title=page.gettext("ID number correction"), ref=ref,
        c=CorrectionRead.of(correction), errors=errors or {}, supervisor=current.may(SUPERVISOR),
        own=correction.requested_by == current.staff.username,
    )  # fmt: skip


@router.get("/correction/{ref}")
def correction_view(ref: str, current: StaffPage = Depends(current_staff)) -> Response:
    return _correction_page(current, ref, _correction_of(current, ref))


@router.post("/correction/{ref}/{decision}")
def correction_decide(
    ref: str, decision: str, current: StaffPage = Depends(current_staff), note: str = Form("")
) -> Response:
    """Approve or reject (a counter supervisor, never the requester: the service refuses SELF_APPROVAL)."""
    if decision not in ("approve", "reject"):
        raise PageNotFound()
    correction = _correction_of(current, ref)
    current.require(SUPERVISOR)
    page = current.page
    try:
        if decision == "approve":
            current.staff.ensure_region(new_region_of(correction))
            approve_id_correction(page.uow, correction_id=correction.id, actor=current.actor(), note=note[:400] or None)
            page.flash(page.gettext("The correction has been approved and applied; the holder has been told."))
        else:
            reject_id_correction(page.uow, correction_id=correction.id, actor=current.actor(), note=note[:400] or None)
            page.flash(page.gettext("The correction has been rejected; nothing of the person changed."))
    except DomainError as exc:
        return _correction_page(current, ref, correction, status=exc.status, errors={"_form": page.refused(exc)})
    return page.redirect(f"/counter/correction/{ref}")


def _register_page(
    current: StaffPage, *, status: int = 200, errors: dict[str, str] | None = None, **values: str
) -> Response:
    page = current.page
    return page.render(
        "counter/register.html", status=status, title=page.gettext("Register a person"), errors=errors or {},
        values=values,
    )  # fmt: skip


@router.get("/register")
def register_form(current: StaffPage = Depends(current_staff)) -> Response:
    current.require(COUNTER)
    return _register_page(current)


@router.post("/register")
def register(
    current: StaffPage = Depends(current_staff),
    id_number: str = Form(""),
    name: str = Form(""),
    phone: str = Form(""),
    email: str = Form(""),
) -> Response:
    """PER-1 / ID-4: register a person (``add_person``, as ``POST /api/v1/counter/persons``)."""
    current.require(COUNTER)
    page = current.page
    values = {"id_number": id_number.strip()[:32], "name": name.strip()[:64], "phone": phone.strip()[:32],
              "email": email.strip()[:254]}  # fmt: skip
    errors: dict[str, str] = {}
    if not values["id_number"]:
        errors["id_number"] = page.gettext("Enter the citizen ID number.")
    if not values["name"]:
        errors["name"] = page.gettext("Enter the name.")
    if errors:
        return _register_page(current, status=422, errors=errors, **values)
    try:
        current.staff.ensure_region(parse_citizen_id(values["id_number"]).region_code)
        person = add_person(
            page.uow, actor=current.actor(), id_number=values["id_number"], name=values["name"],
            phone=values["phone"] or None, email=values["email"] or None,
        )  # fmt: skip
    except DomainError as exc:
        field = "id_number" if exc.code.startswith(("ID_", "PERSON_", "OUTSIDE")) else "_form"
        return _register_page(current, status=exc.status, errors={field: page.refused(exc)}, **values)
    page.flash(page.gettext("The person has been registered."))
    return page.redirect(f"/counter/person/{page.ref({'person_id': person.id})}")


# --- cards ---------------------------------------------------------------------------------------


def card_of(current: StaffPage, ref: str) -> Card:
    value = current.page.deref(ref)
    if value is None or "card_id" not in value:
        raise PageNotFound()
    card = current.page.uow.session.get(Card, int(value["card_id"]))
    if card is None:
        raise PageNotFound()
    current.staff.ensure_card(region_code=card.region_code, bank_code=card.bank_code)
    return card


@router.get("/card/{ref}")
def card_view(ref: str, current: StaffPage = Depends(current_staff)) -> Response:
    page = current.page
    card = card_of(current, ref)
    pin = get_card_pin_status(page.uow, card_no=card.card_no) if card.state is CardState.ACTIVE else None
    holder_ref = page.ref({"person_id": card.person_id}) if current.may(COUNTER) else None
    actions = [a for a, roles in CARD_ACTIONS.items() if current.may(roles) and _offered(a, card.state)]
    return page.render(
        "counter/card.html", title=page.gettext("Card"), card=card, masked=card_no_tail(card.card_no), ref=ref,
        pin=pin, holder_ref=holder_ref, actions=actions,
        debit=card.financial and current.staff.role is Role.BANK_CLERK,  # FIN-2: the bank counter's pages
    )  # fmt: skip


def _action_page(
    current: StaffPage, ref: str, card: Card, action: str, *, status: int = 200, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    page = current.page
    pin_pad = None
    if action == "pin-reset":
        pin_pad = card_policy(page.uow, card).pin_reset_mode.value  # PIN-6: the region's policy
    return page.render(
        "counter/action.html", status=status, title=page.gettext("Card"), card=card, masked=card_no_tail(card.card_no),
        ref=ref, action=action, errors=errors or {}, values=values or {}, documents=DOCUMENT_TYPES,
        evidence=action not in NO_EVIDENCE, pin_pad=pin_pad, reasons=CLOSE_REASONS,
    )  # fmt: skip


def _action_of(current: StaffPage, action: str) -> str:
    if action not in CARD_ACTIONS:
        raise PageNotFound()
    current.require(CARD_ACTIONS[action])
    return action


@router.get("/card/{ref}/{action}")
def card_action_form(ref: str, action: str, current: StaffPage = Depends(current_staff)) -> Response:
    _action_of(current, action)
    return _action_page(current, ref, card_of(current, ref), action)


@router.post("/card/{ref}/{action}")
def card_action(
    ref: str,
    action: str,
    current: StaffPage = Depends(current_staff),
    document_type: str = Form(""),
    document_number: str = Form(""),
    reason: str = Form(""),
    pin_pad_terminal: str = Form(""),
    pin_block: str = Form(""),
) -> Response:
    """One card operation; each calls the service its API route calls, after the same access checks."""
    page = current.page
    _action_of(current, action)
    card = card_of(current, ref)
    values = {"document_type": document_type, "reason": reason, "pin_pad_terminal": pin_pad_terminal.strip()[:64]}
    errors: dict[str, str] = {}
    if action not in NO_EVIDENCE:
        errors.update(evidence_errors(page, document_type, document_number))
    if action == "cancel" and reason not in CLOSE_REASONS:
        errors["reason"] = page.gettext("Choose why the card is cancelled.")
    with_pad = bool(pin_pad_terminal.strip() or pin_block.strip())
    if action == "pin-reset" and with_pad:
        if not pin_pad_terminal.strip():
            errors["pin_pad_terminal"] = page.gettext("Enter the PIN pad's terminal number.")
        if not PIN_BLOCK.match(pin_block.strip()):
            errors["pin_block"] = page.gettext("The PIN pad did not send a PIN. Ask the holder to enter it again.")
    if errors:
        return _action_page(current, ref, card, action, status=422, errors=errors, values=values)
    number = document_number.strip()[:32]
    actor, uow, staff = current.actor(), page.uow, current.staff
    try:
        if action == "activate":
            card = activate_card(uow, card_no=card.card_no, actor=actor)
            done = page.gettext("The card has been activated.")
        elif action == "cancel":
            card = cancel_card(uow, card_no=card.card_no, actor=actor, reason=reason)
            done = page.gettext("The card has been cancelled.")
        elif action.startswith("loss-") or action == "replace":
            note = str(check_identity_evidence(person=get_person_or_raise(uow, card.person_id),
                                               document_type=document_type, document_number=number))  # fmt: skip
            if action == "loss-confirm":
                card = confirm_loss(uow, card_no=card.card_no, actor=actor, evidence=note).card
                done = page.gettext("The loss has been confirmed. The card is invalid for every use.")
            elif action == "loss-withdraw":
                card = withdraw_loss(uow, card_no=card.card_no, actor=actor, evidence=note)
                done = page.gettext("The loss report has been withdrawn; the card works again.")
            else:
                card = replace_card(uow, card_no=card.card_no, actor=actor, evidence=note)
                notify_card_issued(uow, card=card, actor=actor)  # PIN-12: the new card starts on the initial PIN
                done = page.gettext("A replacement card has been issued. The old number is invalid for every use.")
        else:
            target = prepare_counter_target(
                uow, card_no=card.card_no, document_type=document_type, document_number=number
            )
            if action == "pin-reset":
                new_pin = None
                if with_pad:
                    pad = counter_pin_pad(uow, terminal_id=values["pin_pad_terminal"], staff_region=staff.region_code)
                    new_pin = PinPadEntry(pad=pad, pin_block=bytes.fromhex(pin_block.strip()))
                reset_card_pin(uow, target=target, actor=actor, new_pin=new_pin)
                done = page.gettext("The PIN has been reset; the holder has been told.")
            elif action == "pin-unlock":
                unlock_card_pin(uow, target=target, actor=actor)
                done = page.gettext("The PIN has been unlocked; the holder has been told.")
            elif action == "pin-cancel":
                cancel_card_pin(uow, target=target, actor=actor)
                done = page.gettext("The PIN has been cancelled; the holder has been told.")
            else:
                restore_card_pin(uow, target=target, actor=actor)
                done = page.gettext("The original PIN has been restored; the holder has been told.")
    except DomainError as exc:
        field = "document_number" if exc.code.startswith("IDENTITY_EVIDENCE") else "_form"
        if exc.code.startswith(("PIN_TOO_SIMPLE", "PIN_INPUT")):
            field = "pin_block"
        return _action_page(
            current, ref, card, action, status=exc.status, errors={field: page.refused(exc)}, values=values
        )
    page.flash(done)
    return page.redirect(f"/counter/card/{page.ref({'card_id': card.id})}")
