"""The money rules of settlement (FIN-1), called on ``settlement/service.py`` itself: no app, no enrolment.

test_settle_api.py drives the same paths over the terminal protocol. These call ``settle``, ``refund`` and
``reverse`` with a unit of work (rolled back after each test), so that every answer, refusal, stored row,
posting and audit entry is compared whole, and so that ``make mutation`` (group settlement) pays a fraction
of a second per mutant instead of an app, a staff login and an enrolment per test.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from sscard.audit.models import AuditEntry
from sscard.cards.loss import report_loss_by_hotline
from sscard.credentials.pin.campaign import local_date
from sscard.credentials.pin.service import change_card_pin
from sscard.errors import DomainError
from sscard.ledger.models import AccountKind, LedgerAccount, LedgerLeg, LedgerPosting
from sscard.ledger.rules import Leg
from sscard.ledger.service import balance, check, legs_of
from sscard.security_module import get_security_module
from sscard.settlement.models import TerminalTxn
from sscard.settlement.service import Answer, refund, reverse, settle
from sscard.terminal.client import generate_enrollment_key, split_terminal_keys
from sscard.terminal.envelope import open_envelope, public_key_bytes
from sscard.terminal.pinblock import encipher_pin_block, pin_block_pan
from sscard.terminal_registry.auth import AuthenticatedTerminal
from sscard.terminal_registry.models import InstitutionType
from tests.credentials.pin.factories import make_card
from tests.people.factories import CLERK, new_id_number
from tests.settlement.factories import fund
from tests.staff.factories import ensure_region

REGION = "110105"
LOW = "the medical personal account's balance is too low"
_serial = itertools.count(1)


def _terminal(kind: str = "pharmacy", name: str = "仁和大药房") -> AuthenticatedTerminal:
    version = get_security_module().terminal_key_version(region_code=REGION)
    tid = f"T{REGION}{next(_serial):08X}"
    return AuthenticatedTerminal(tid, name, InstitutionType(kind), REGION, version, get_security_module().suite)


def _pin_block(t: AuthenticatedTerminal, card_no: str, pin: str) -> bytes:
    """The format-4 block of ``pin`` under the terminal's PIN key, as the terminal makes it."""
    pair = generate_enrollment_key()
    envelope = get_security_module().export_terminal_key(
        terminal_id=t.terminal_id, region_code=REGION, key_version=t.key_version,
        recipient_public_key=public_key_bytes(pair),
    )  # fmt: skip
    _, pin_key = split_terminal_keys(open_envelope(pair, envelope, t.terminal_id.encode()))
    return encipher_pin_block(pin_key, pin, pin_block_pan(card_no), cipher="sm4" if t.suite == "sm" else "aes")


@pytest.fixture
def funded(uow):
    """``funded(10_000)`` → (card number, medical account id) of a new holder whose account holds that."""
    ensure_region(uow, REGION)

    def make(fen: int = 10_000, *, activate: bool = True, **person: object) -> tuple[str, int]:
        card = make_card(uow, activate=activate, **person)
        return card.card_no, fund(uow, card.person_id, fen)

    return make


def _refused(call, *args: Any, **kwargs: Any) -> DomainError:
    with pytest.raises(DomainError) as info:
        call(*args, **kwargs)
    return info.value


def _moves(uow) -> tuple[int, int, int]:
    """(terminal transactions, postings, legs): what a refused request must leave unchanged."""
    count = [uow.session.scalar(select(func.count()).select_from(m)) for m in (TerminalTxn, LedgerPosting, LedgerLeg)]
    return (count[0], count[1], count[2])


def _pay(uow, t, card_no: str, amount: int, txn: str, **kw: Any) -> Answer:
    return settle(uow, terminal=t, card_no=card_no, amount_fen=amount, txn_id=txn, pin_block=kw.pop("pin", None),
                  actor=t.actor(), **kw)  # fmt: skip


def _refund(uow, t, txn: str, own: str, amount: int | None = None) -> Answer:
    return refund(uow, terminal=t, txn_id=txn, refund_txn_id=own, amount_fen=amount, actor=t.actor())


def _reverse(uow, t, txn: str, own: str) -> Answer:
    return reverse(uow, terminal=t, txn_id=txn, reversal_txn_id=own, actor=t.actor())


def _row(uow, t, txn: str) -> TerminalTxn:
    query = select(TerminalTxn).where(TerminalTxn.terminal_id == t.terminal_id, TerminalTxn.txn_id == txn)
    return uow.session.scalars(query).one()


def _entries(uow, t) -> list[tuple[str, dict[str, Any]]]:
    """The settlement entries the terminal wrote, oldest first: (action, details without the card's fields)."""
    query = select(AuditEntry).where(AuditEntry.actor_id == t.terminal_id, AuditEntry.action.like("settlement.%"))
    out = []
    for entry in uow.session.scalars(query.order_by(AuditEntry.id)):
        details = json.loads(entry.details)
        out.append((entry.action, {k: v for k, v in details.items() if k not in ("person_id", "type")}))
    return out


def _clearing(uow, institution_id: int) -> LedgerAccount:
    query = select(LedgerAccount).where(
        LedgerAccount.kind == AccountKind.SETTLEMENT_CLEARING.value, LedgerAccount.institution_id == institution_id
    )
    return uow.session.scalars(query).one()


def _ledger_ok(uow) -> None:
    uow.flush()
    report = check(uow)
    assert report.ok, report.discrepancies


# ------------------------------------------------------------------------------------------------- settle
# rule FIN-1: a payment's answer, its stored transaction, its posting (medical account − → the institution's
# clearing account +) and its audit entry on the card, each whole
def test_a_payment_is_answered_stored_posted_and_audited(uow, funded) -> None:
    t = _terminal("hospital", "协和医院")
    card_no, account = funded(10_000)
    today = local_date()
    answer = _pay(uow, t, card_no, 2_580, "S1")
    assert answer == Answer({
        "ok": True, "code": None, "txn_id": "S1", "amount_fen": 2_580, "paid_fen": 2_580, "remainder_fen": 0,
        "balance_fen": 7_420, "pin_enabled": False, "business_date": today.isoformat(),
    })  # fmt: skip
    row = _row(uow, t, "S1")
    card_id = row.card_id
    assert (row.purpose, row.amount_fen, row.account_id, row.business_date, row.reversed, row.original_id) == (
        "settle",
        -2_580,
        account,
        today,
        False,
        None,
    )
    assert row.answer == answer.body and row.card_id is not None
    clearing = _clearing(uow, row.institution_id)
    assert (clearing.region_code, balance(uow, clearing.id), balance(uow, account)) == (REGION, 2_580, 7_420)
    posting = uow.session.get_one(LedgerPosting, row.posting_id)
    assert (posting.kind, posting.memo, posting.source_ref, posting.business_date, posting.reverses_id) == (
        "settlement",
        f"{t.terminal_id}/S1",
        f"terminal_txn:{row.id}",
        today,
        None,
    )
    assert legs_of(uow, posting.id) == [Leg(account, -2_580), Leg(clearing.id, 2_580)]
    assert _entries(uow, t) == [
        ("settlement.pay", {"card_id": card_id, "txn_id": "S1", "amount_fen": 2_580, "paid_fen": 2_580,
                            "institution_id": row.institution_id}),
    ]  # fmt: skip
    # the institution is the terminal's (region, name, type): a second payment there uses the same account
    _pay(uow, t, card_no, 20, "S2")
    assert _row(uow, t, "S2").institution_id == row.institution_id and balance(uow, clearing.id) == 2_600
    other = _terminal("clinic", "另一诊所")
    _pay(uow, other, card_no, 30, "S1")
    assert _row(uow, other, "S1").institution_id != row.institution_id
    _ledger_ok(uow)


# rule FIN-1: the same request again gets the first answer, marked as a replay, and moves nothing — the card
# number however written; the same id with another card, amount or option is TXN_CONFLICT
def test_a_repeated_payment_is_replayed_and_another_request_under_its_id_conflicts(uow, funded) -> None:
    t = _terminal()
    card_no, account = funded(10_000)
    other_card, other_account = funded(10_000)
    first = _pay(uow, t, card_no, 1_000, "X1")
    moves = _moves(uow)
    again = _pay(uow, t, f"{card_no[:4]} {card_no[4:]}".lower(), 1_000, "X1")
    assert again == Answer(first.body, replayed=True)
    for card, amount, partial in ((card_no, 1_001, False), (other_card, 1_000, False), (card_no, 1_000, True)):
        refused = _refused(_pay, uow, t, card, amount, "X1", partial=partial)
        assert refused.code == "TXN_CONFLICT", (card, amount, partial)
    assert _moves(uow) == moves and balance(uow, account) == 9_000 and balance(uow, other_account) == 10_000
    # the id is the terminal's own: another terminal's X1 is another payment
    assert _pay(uow, _terminal("clinic"), card_no, 1_000, "X1").body["balance_fen"] == 8_000


# rule FIN-1: a repeat is answered from the store before anything else is checked: a terminal retrying a payment
# after the holder reported the card lost gets the first answer, not CARD_BLOCKED (the money did move)
def test_a_repeat_is_answered_before_the_card_is_checked_again(uow, funded) -> None:
    t = _terminal()
    id_number = new_id_number()
    card_no, account = funded(5_000, id_number=id_number)
    first = _pay(uow, t, card_no, 1_000, "L1")
    report_loss_by_hotline(uow, id_number=id_number, actor=CLERK)
    moves = _moves(uow)
    assert _pay(uow, t, card_no, 1_000, "L1") == Answer(first.body, replayed=True)
    assert _refused(_pay, uow, t, card_no, 1_000, "L2").code == "CARD_BLOCKED"
    assert _moves(uow) == moves and balance(uow, account) == 4_000


# rule FIN-1: not enough money is INSUFFICIENT_FUNDS (with the balance), nothing stored; a partial payment
# pays what the account holds and answers the rest; the whole balance is paid, not one fen more
def test_insufficient_funds_and_partial_payment(uow, funded) -> None:
    t = _terminal()
    card_no, account = funded(1_500)
    moves = _moves(uow)
    refused = _refused(_pay, uow, t, card_no, 1_501, "P1")
    assert (refused.code, refused.detail, refused.extra) == (
        "INSUFFICIENT_FUNDS",
        LOW + "; the terminal may ask for a partial payment",
        {"balance_fen": 1_500},
    )
    assert _moves(uow) == moves
    part = _pay(uow, t, card_no, 2_000, "P1", partial=True)  # a refused id was never stored
    assert {k: part.body[k] for k in ("amount_fen", "paid_fen", "remainder_fen", "balance_fen")} == {
        "amount_fen": 2_000, "paid_fen": 1_500, "remainder_fen": 500, "balance_fen": 0
    }  # fmt: skip
    row = _row(uow, t, "P1")
    assert row.amount_fen == -1_500 and legs_of(uow, row.posting_id)[0] == Leg(account, -1_500)
    assert _entries(uow, t)[-1][1] | {"card_id": 0, "institution_id": 0} == {
        "card_id": 0, "institution_id": 0, "txn_id": "P1", "amount_fen": 2_000, "paid_fen": 1_500
    }  # fmt: skip
    moves = _moves(uow)
    empty = _refused(_pay, uow, t, card_no, 1, "P2", partial=True)
    assert (empty.code, empty.detail, empty.extra) == ("INSUFFICIENT_FUNDS", LOW, {"balance_fen": 0})
    assert _moves(uow) == moves and balance(uow, account) == 0
    # exactly the balance is paid; a partial payment of less than the balance pays the amount asked
    card2, account2 = funded(2_500)
    assert _pay(uow, t, card2, 1_000, "P3", partial=True).body["paid_fen"] == 1_000
    assert _pay(uow, t, card2, 1_500, "P4").body["balance_fen"] == 0 and balance(uow, account2) == 0
    _ledger_ok(uow)


# rule FIN-1: a holder without a medical personal account has nothing to pay with: INSUFFICIENT_FUNDS, balance 0
def test_a_holder_without_a_medical_account_cannot_pay(uow) -> None:
    ensure_region(uow, REGION)
    card_no = make_card(uow).card_no
    t = _terminal()
    moves = _moves(uow)
    for partial in (False, True):
        refused = _refused(_pay, uow, t, card_no, 100, "N1", partial=partial)
        assert (refused.code, refused.extra) == ("INSUFFICIENT_FUNDS", {"balance_fen": 0})
    assert _moves(uow) == moves


# rule FIN-1 / PIN-4: only designated medical institutions settle, pay, refund or reverse, in words
def test_only_medical_terminals_settle(uow, funded) -> None:
    card_no, _ = funded(5_000)
    pharmacy = _terminal()
    _pay(uow, pharmacy, card_no, 100, "K0")
    moves = _moves(uow)
    for kind in ("kiosk", "bank_outlet", "service_outlet"):
        t = _terminal(kind)
        refused = _refused(_pay, uow, t, card_no, 100, "K1")
        assert (refused.code, refused.detail) == ("TERMINAL_NOT_MEDICAL", (
            f"a {kind} terminal cannot settle against the medical personal account; "
            "settlement is offered at clinic, community_health_station, hospital, pharmacy terminals"
        ))  # fmt: skip
        # the check comes before the settlement is looked up: a kiosk with the pharmacy's id is refused as such
        kiosk = AuthenticatedTerminal(pharmacy.terminal_id, "k", InstitutionType(kind), REGION, 1, pharmacy.suite)
        assert _refused(_refund, uow, kiosk, "K0", "R1").code == "TERMINAL_NOT_MEDICAL"
        assert _refused(_reverse, uow, kiosk, "K0", "V1").code == "TERMINAL_NOT_MEDICAL"
    assert _moves(uow) == moves
    for kind in ("hospital", "clinic", "community_health_station"):
        assert _pay(uow, _terminal(kind), card_no, 100, "K2").body["ok"] is True


# rule FIN-1: the amount is a whole number of fen from 1 to 100,000,000, in words; an unknown card says so
def test_amounts_and_unknown_cards_are_refused_in_words(uow, funded) -> None:
    t = _terminal()
    card_no, account = funded(5_000)
    moves = _moves(uow)
    for amount in (0, -100, 100_000_001):
        refused = _refused(_pay, uow, t, card_no, amount, "A1")
        assert (refused.code, refused.detail) == (
            "AMOUNT_INVALID",
            "the amount must be a whole number of fen from 1 to 100000000",
        ), amount
    assert _refused(_pay, uow, t, card_no, 100_000_000, "A2").code == "INSUFFICIENT_FUNDS"  # in bounds
    refused = _refused(_pay, uow, t, "Z99999999", 100, "A3")
    assert (refused.code, refused.detail) == ("CARD_NOT_FOUND", "no card with this number")
    assert _moves(uow) == moves and balance(uow, account) == 5_000
    assert _pay(uow, t, card_no, 1, "A4").body["balance_fen"] == 4_999  # one fen is an amount


# rule CARD-4 / CARD-5: a card not activated, or loss-reported, cannot pay, and nothing moves
def test_a_card_not_active_or_loss_reported_cannot_pay(uow, funded) -> None:
    t = _terminal()
    inactive, account = funded(5_000, activate=False)
    id_number = new_id_number()
    lost, lost_account = funded(5_000, id_number=id_number)
    report_loss_by_hotline(uow, id_number=id_number, actor=CLERK)
    moves = _moves(uow)
    assert _refused(_pay, uow, t, inactive, 100, "C1").code == "CARD_NOT_ACTIVE"
    assert _refused(_pay, uow, t, lost, 100, "C2").code == "CARD_BLOCKED"
    assert _moves(uow) == moves and balance(uow, account) == balance(uow, lost_account) == 5_000


# rule PIN-2 / PIN-5: the PIN entered goes to the PIN check: a wrong initial PIN on a card whose PIN is not
# enabled is PIN_WRONG; once enabled a PIN is required, the right one pays (pin_enabled), a wrong one counts
def test_the_pin_entered_is_checked(uow, funded) -> None:
    t = _terminal()
    card_no, account = funded(10_000)
    moves = _moves(uow)
    wrong = _refused(_pay, uow, t, card_no, 100, "W1", pin=_pin_block(t, card_no, "000123"))
    assert (wrong.code, wrong.extra["tries_left"]) == ("PIN_WRONG", 5)
    assert _moves(uow) == moves
    change_card_pin(uow, card_no=card_no, old_pin_block=_pin_block(t, card_no, "123456"),
                    new_pin_block=_pin_block(t, card_no, "740296"), terminal=t, actor=t.actor())  # fmt: skip
    assert _refused(_pay, uow, t, card_no, 100, "W2").code == "PIN_REQUIRED"
    assert _refused(_pay, uow, t, card_no, 100, "W3", pin=_pin_block(t, card_no, "000123")).code == "PIN_WRONG"
    assert _moves(uow) == moves
    paid = _pay(uow, t, card_no, 100, "W4", pin=_pin_block(t, card_no, "740296"))
    assert (paid.body["pin_enabled"], paid.body["balance_fen"]) == (True, 9_900)


# ------------------------------------------------------------------------------------------------- refund
# rule FIN-1: a refund gives back part or the rest of a settlement, never more than it paid in total; each is
# stored, posted (clearing − → account +) and audited; each is idempotent by its own id
def test_refunds_part_and_rest_never_more_than_paid(uow, funded) -> None:
    t = _terminal()
    card_no, account = funded(10_000)
    paid = _pay(uow, t, card_no, 3_000, "S1")
    today = local_date().isoformat()
    part = _refund(uow, t, "S1", "R1", 1_000)
    assert part == Answer({
        "ok": True, "code": None, "txn_id": "R1", "original_txn_id": "S1", "refunded_fen": 1_000,
        "refundable_fen": 2_000, "balance_fen": 8_000, "business_date": today,
    })  # fmt: skip
    original, row = _row(uow, t, "S1"), _row(uow, t, "R1")
    assert (row.purpose, row.amount_fen, row.account_id, row.card_id, row.institution_id, row.original_id) == (
        "refund",
        1_000,
        account,
        original.card_id,
        original.institution_id,
        original.id,
    )
    assert row.answer == part.body and row.business_date == local_date()
    clearing = _clearing(uow, original.institution_id).id
    posting = uow.session.get_one(LedgerPosting, row.posting_id)
    assert (posting.kind, posting.memo, posting.source_ref, posting.reverses_id) == (
        "settlement_refund",
        f"{t.terminal_id}/R1 refunds S1",
        f"terminal_txn:{row.id}",
        None,
    )
    assert legs_of(uow, posting.id) == [Leg(account, 1_000), Leg(clearing, -1_000)]
    assert _entries(uow, t)[-1] == (
        "settlement.refund",
        {"card_id": original.card_id, "txn_id": "R1", "original_txn_id": "S1", "amount_fen": 1_000},
    )
    moves = _moves(uow)
    assert _refund(uow, t, "S1", "R1", 1_000) == Answer(part.body, replayed=True)
    assert _refused(_refund, uow, t, "S1", "R1", 999).code == "TXN_CONFLICT"
    assert _refused(_refund, uow, t, "S2", "R1", 1_000).code == "TXN_CONFLICT"  # the same id, another settlement
    too_much = _refused(_refund, uow, t, "S1", "R2", 2_001)
    assert (too_much.code, too_much.detail, too_much.extra) == (
        "REFUND_EXCEEDS_PAYMENT", "settlement S1 paid 3000 fen, of which 1000 fen were refunded already",
        {"paid_fen": 3_000, "refunded_fen": 1_000},
    )  # fmt: skip
    zero = _refused(_refund, uow, t, "S1", "R2", 0)
    assert (zero.code, zero.detail) == (
        "AMOUNT_INVALID",
        "the refund amount must be a whole number of fen from 1 to 100000000",
    )
    assert _moves(uow) == moves
    rest = _refund(uow, t, "S1", "R3")  # no amount: the rest
    assert {k: rest.body[k] for k in ("refunded_fen", "refundable_fen", "balance_fen")} == {
        "refunded_fen": 2_000, "refundable_fen": 0, "balance_fen": 10_000
    }  # fmt: skip
    moves = _moves(uow)
    nothing_left = _refused(_refund, uow, t, "S1", "R4")
    assert (nothing_left.code, nothing_left.extra) == (
        "REFUND_EXCEEDS_PAYMENT",
        {"paid_fen": 3_000, "refunded_fen": 3_000},
    )
    assert _refused(_refund, uow, t, "S1", "R5", 1).code == "REFUND_EXCEEDS_PAYMENT"
    assert _moves(uow) == moves and balance(uow, account) == 10_000
    assert paid.body["paid_fen"] == 3_000
    _ledger_ok(uow)


# rule FIN-1: the refundable amount is the settlement's own: another settlement's refunds do not count, and a
# partial payment refunds what it paid, not what was asked
def test_each_settlement_counts_its_own_refunds(uow, funded) -> None:
    t = _terminal()
    card_no, account = funded(1_000)
    _pay(uow, t, card_no, 600, "S1")
    _pay(uow, t, card_no, 900, "S2", partial=True)  # pays the 400 left
    _refund(uow, t, "S1", "R1", 500)
    assert _refund(uow, t, "S2", "R2").body["refunded_fen"] == 400
    refused = _refused(_refund, uow, t, "S2", "R3", 1)
    assert refused.extra == {"paid_fen": 400, "refunded_fen": 400}
    assert _refund(uow, t, "S1", "R4").body == _row(uow, t, "R4").answer
    assert _row(uow, t, "R4").amount_fen == 100 and balance(uow, account) == 1_000


# rule FIN-1: a refund or reversal names a settlement of this terminal: another terminal's, an unknown id or a
# refund's own id is TXN_NOT_FOUND, in words
def test_only_this_terminals_settlements_are_refunded_or_reversed(uow, funded) -> None:
    t, other = _terminal(), _terminal()
    card_no, _ = funded(10_000)
    _pay(uow, t, card_no, 1_000, "S1")
    _refund(uow, t, "S1", "R1", 100)
    moves = _moves(uow)
    for terminal, txn in ((t, "NOPE"), (other, "S1"), (t, "R1")):
        for call in (_refund, _reverse):
            refused = _refused(call, uow, terminal, txn, "Z1")
            assert (refused.code, refused.detail) == (
                "TXN_NOT_FOUND",
                f"terminal {terminal.terminal_id} has no settlement {txn}",
            ), (call, txn)
    assert _moves(uow) == moves


# ------------------------------------------------------------------------------------------------ reverse
# rule FIN-1: a same-day reversal gives the whole settlement back once, posted as reversing it, audited;
# then nothing is left to refund or reverse
def test_a_same_day_reversal_undoes_the_settlement_once(uow, funded) -> None:
    t = _terminal("community_health_station")
    card_no, account = funded(10_000)
    _pay(uow, t, card_no, 4_000, "S9")
    answer = _reverse(uow, t, "S9", "V9")
    assert answer == Answer({
        "ok": True, "code": None, "txn_id": "V9", "original_txn_id": "S9", "reversed_fen": 4_000,
        "balance_fen": 10_000, "business_date": local_date().isoformat(),
    })  # fmt: skip
    original, row = _row(uow, t, "S9"), _row(uow, t, "V9")
    assert original.reversed is True and row.reversed is False
    assert (row.purpose, row.amount_fen, row.account_id, row.card_id, row.original_id, row.answer) == (
        "reversal",
        4_000,
        account,
        original.card_id,
        original.id,
        answer.body,
    )
    clearing = _clearing(uow, original.institution_id).id
    posting = uow.session.get_one(LedgerPosting, row.posting_id)
    assert (posting.kind, posting.memo, posting.source_ref, posting.reverses_id) == (
        "settlement_reversal",
        f"{t.terminal_id}/V9 reverses S9",
        f"terminal_txn:{row.id}",
        original.posting_id,
    )
    assert legs_of(uow, posting.id) == [Leg(account, 4_000), Leg(clearing, -4_000)]
    assert _entries(uow, t)[-1] == (
        "settlement.reverse",
        {"card_id": original.card_id, "txn_id": "V9", "original_txn_id": "S9", "amount_fen": 4_000},
    )
    moves = _moves(uow)
    assert _reverse(uow, t, "S9", "V9") == Answer(answer.body, replayed=True)
    again = _refused(_reverse, uow, t, "S9", "V10")
    assert (again.code, again.detail) == ("SETTLEMENT_REVERSED", "settlement S9 was reversed already")
    gone = _refused(_refund, uow, t, "S9", "R9")
    assert (gone.code, gone.detail) == ("SETTLEMENT_REVERSED", "settlement S9 was reversed")
    assert _refused(_reverse, uow, t, "S9", "S9").code == "TXN_CONFLICT"  # the settlement's own id
    assert _moves(uow) == moves and balance(uow, account) == 10_000
    _ledger_ok(uow)


# rule FIN-1: a settlement of an earlier business day, or one refunded in part, is refunded, never reversed
def test_a_settlement_of_another_day_or_refunded_is_not_reversed(uow, funded) -> None:
    t = _terminal()
    card_no, account = funded(5_000)
    _pay(uow, t, card_no, 1_000, "D1")
    _pay(uow, t, card_no, 1_000, "D2")
    _pay(uow, t, card_no, 1_000, "D3")
    row = _row(uow, t, "D1")
    row.business_date -= timedelta(days=1)
    uow.flush()
    moves = _moves(uow)
    refused = _refused(_reverse, uow, t, "D1", "V1")
    assert (refused.code, refused.detail) == (
        "REVERSAL_NOT_ALLOWED",
        f"settlement D1 is of {row.business_date} or was refunded; refund it instead",
    )
    assert _moves(uow) == moves and _row(uow, t, "D1").reversed is False
    assert _refund(uow, t, "D1", "R1").body["refunded_fen"] == 1_000
    _refund(uow, t, "D2", "R2", 1)
    assert _refused(_reverse, uow, t, "D2", "V2").code == "REVERSAL_NOT_ALLOWED"
    # a reversal id used for another settlement is a conflict: the same id means the same request
    assert _reverse(uow, t, "D3", "V3").body["reversed_fen"] == 1_000
    assert _refused(_reverse, uow, t, "D2", "V3").code == "TXN_CONFLICT"
    assert balance(uow, account) == 5_000 - 1_000 + 1
    _ledger_ok(uow)


# --------------------------------------------------------------------------------- a copy that won the race
@pytest.fixture
def copy_not_yet_committed(monkeypatch):
    """``copy_not_yet_committed()``: the next request's first look-up (before the account's lock) finds
    nothing, as when a copy of it commits while this one waits for the lock; later look-ups find its answer."""
    from sscard.settlement import txn_store

    real, blind = txn_store.replay, [0]

    def replay(uow, **key: Any) -> dict[str, Any] | None:
        if blind[0]:
            blind[0] -= 1
            return None
        return real(uow, **key)

    monkeypatch.setattr(txn_store, "replay", replay)

    def arm() -> None:
        blind[0] = 1

    return arm


# rule FIN-1: a copy of the request that committed while this one waited for the account's lock is found under
# the lock and its answer given as a replay, not decided again (its money has moved: a second decision would
# refuse it as too little money, nothing left to refund, already reversed — or pay twice)
def test_a_copy_answered_while_waiting_for_the_lock_is_replayed(uow, funded, copy_not_yet_committed) -> None:
    t = _terminal()
    card_no, account = funded(3_000)
    _pay(uow, t, card_no, 1_000, "S1")
    whole = _pay(uow, t, card_no, 2_000, "S2")  # the balance is now 0
    moves = _moves(uow)
    copy_not_yet_committed()
    assert _pay(uow, t, card_no, 2_000, "S2") == Answer(whole.body, replayed=True)
    assert _moves(uow) == moves
    refunded = _refund(uow, t, "S2", "R1")  # the whole of it
    moves = _moves(uow)
    copy_not_yet_committed()
    assert _refund(uow, t, "S2", "R1") == Answer(refunded.body, replayed=True)
    assert _moves(uow) == moves
    reversed_ = _reverse(uow, t, "S1", "V1")
    moves = _moves(uow)
    copy_not_yet_committed()
    assert _reverse(uow, t, "S1", "V1") == Answer(reversed_.body, replayed=True)
    assert _moves(uow) == moves
    # with money left, the copy's claim of the transaction id is what finds it
    again = _pay(uow, t, card_no, 500, "S3")
    moves = _moves(uow)
    copy_not_yet_committed()
    assert _pay(uow, t, card_no, 500, "S3") == Answer(again.body, replayed=True)
    assert _moves(uow) == moves and balance(uow, account) == 2_500
