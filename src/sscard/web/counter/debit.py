"""Bank counter pages of a card's RMB debit account (FIN-2, FIN-3): open, deposit, withdraw, transfer.

Bank clerks only, on the cards issued through their own bank and in their region (``ensure_card``, as
``api/counter_debit.py``); the same services, each posting's ``source_ref`` the request's id and its
actor the clerk. Amounts are typed in yuan and posted in fen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Form, Response

from sscard.cards.models import Card
from sscard.cards.numbers import card_no_tail
from sscard.debit import service
from sscard.errors import DomainError
from sscard.staff.roles import Role
from sscard.web import i18n
from sscard.web.counter.auth import StaffPage, current_staff
from sscard.web.counter.routes import card_of
from sscard.web.page import page_router

router = page_router("counter")

BANK_STAFF = frozenset({Role.BANK_CLERK})
MOVEMENTS: dict[str, Callable[..., dict[str, Any]]] = {
    "deposit": service.deposit,
    "withdrawal": service.withdraw,
    "transfer": service.transfer,
}
MOVES = tuple(MOVEMENTS)


def yuan_to_fen(yuan: str) -> int | None:
    """A positive amount in yuan with at most two decimals (``120``, ``120.5``, ``1,200.50``) as fen;
    None when the text is not one."""
    text = yuan.strip().replace(",", "").replace("，", "")
    whole, _, cents = text.partition(".")
    if not whole.isdigit() or len(whole) > 9 or (cents and (not cents.isdigit() or len(cents) > 2)):
        return None
    fen = int(whole) * 100 + int((cents or "0").ljust(2, "0"))
    return fen if fen > 0 else None


def _bank_card(current: StaffPage, ref: str) -> Card:
    current.require(BANK_STAFF)
    return card_of(current, ref)  # CARD_OTHER_BANK / OUTSIDE_REGION as the API's _bank_card


def _account_page(
    current: StaffPage, ref: str, card: Card, *, status: int = 200, errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    page = current.page
    return page.render(
        "counter/debit.html", status=status, title=page.gettext("Debit account"), ref=ref, card=card,
        masked=card_no_tail(card.card_no), account=service.counter_view(page.uow, card), errors=errors or {},
        values=values or {},
    )  # fmt: skip


@router.get("/debit/{ref}")
def debit_view(ref: str, current: StaffPage = Depends(current_staff)) -> Response:
    """The card's debit account: balance, movements and the counter's forms (or the open button)."""
    return _account_page(current, ref, _bank_card(current, ref))


@router.post("/debit/{ref}/open")
def debit_open(ref: str, current: StaffPage = Depends(current_staff)) -> Response:
    """FIN-3: open the card's debit account through its issuing bank (``open_debit_account``)."""
    page = current.page
    card = _bank_card(current, ref)
    try:
        service.open_debit_account(page.uow, card_no=card.card_no, actor=current.actor())
    except DomainError as exc:
        return _account_page(current, ref, card, status=exc.status, errors={"_form": page.refused(exc)})
    page.flash(page.gettext("The debit account has been opened."))
    return page.redirect(f"/counter/debit/{ref}")


@router.post("/debit/{ref}/move")
def debit_move(
    ref: str,
    current: StaffPage = Depends(current_staff),
    kind: str = Form(""),
    amount: str = Form(""),
    to_card_no: str = Form(""),
) -> Response:
    """FIN-2: cash in, cash out (never more than the balance), or a transfer to another card's account."""
    page = current.page
    card = _bank_card(current, ref)
    move = kind
    target = to_card_no.strip().upper()[:32]
    values = {"kind": kind if kind in MOVES else "", "amount": amount.strip()[:20], "to_card_no": target}
    errors: dict[str, str] = {}
    if move not in MOVES:
        errors["kind"] = page.gettext("Choose deposit, withdrawal or transfer.")
    fen = yuan_to_fen(amount)
    if fen is None:
        errors["amount"] = page.gettext("Enter an amount in yuan greater than zero, e.g. 100 or 100.50.")
    if move == "transfer" and not target:
        errors["to_card_no"] = page.gettext("Enter the number of the card to transfer to.")
    if errors or fen is None:
        return _account_page(current, ref, card, status=422, errors=errors, values=values)
    kwargs: dict[str, Any] = {"to_card_no": target} if move == "transfer" else {}
    movement = MOVEMENTS[move]
    source_ref = f"request:{page.request.scope.get('state', {}).get('request_id') or 'page'}"
    try:
        done = movement(
            page.uow, card_no=card.card_no, amount_fen=fen, actor=current.actor(), source_ref=source_ref, **kwargs
        )
    except DomainError as exc:
        field = "amount" if exc.code.startswith(("AMOUNT", "INSUFFICIENT")) else "_form"
        if move == "transfer" and exc.code in ("CARD_NOT_FOUND", "TRANSFER_TO_SELF", "DEBIT_ACCOUNT_NOT_FOUND"):
            field = "to_card_no"  # about the target card (this card's own account was found above)
        return _account_page(current, ref, card, status=exc.status, errors={field: page.refused(exc)}, values=values)
    balance = i18n.money(done["balance_fen"], page.lang)
    page.flash(page.gettext("Done. The balance is now %(balance)s.") % {"balance": balance})
    return page.redirect(f"/counter/debit/{ref}")
