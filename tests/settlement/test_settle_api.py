"""Medical settlement over the terminal protocol (FIN-1, PIN-2, PIN-5, CARD-4): signed round trips to the
real app on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from sscard.db.session import unit_of_work
from sscard.ledger.service import check
from sscard.terminal.client import TerminalError
from tests.settlement.factories import balance_of

pytestmark = pytest.mark.usefixtures("db_env")


def refusal(call, *args, **kwargs) -> TerminalError:
    with pytest.raises(TerminalError) as info:
        call(*args, **kwargs)
    return info.value


def ledger_ok() -> None:
    with unit_of_work() as uow:
        report = check(uow)
    assert report.ok, report.discrepancies


# rule FIN-1: a payment moves money once; the same request again returns the first answer, moves nothing
def test_settle_then_repeat_moves_money_once(terminal, funded_card, ledger_counts) -> None:
    pharmacy = terminal("pharmacy")
    card_no, account = funded_card(10_000)
    first = pharmacy.settle(card_no, 2_580, "T0001")
    assert first["ok"] is True and first["code"] is None
    assert first["paid_fen"] == 2_580 and first["remainder_fen"] == 0 and first["balance_fen"] == 7_420
    counts = ledger_counts()
    again = pharmacy.settle(card_no, 2_580, "T0001")
    assert again == first
    assert ledger_counts() == counts and balance_of(account) == 7_420
    ledger_ok()


# rule FIN-1: the same transaction id with another amount or another card is TXN_CONFLICT, nothing moves
def test_same_txn_id_other_request_is_conflict(terminal, funded_card, ledger_counts) -> None:
    pharmacy = terminal("hospital")
    card_no, account = funded_card(10_000)
    other_card, other_account = funded_card(10_000)
    pharmacy.settle(card_no, 1_000, "X-1")
    counts = ledger_counts()
    err = refusal(pharmacy.settle, card_no, 1_001, "X-1")
    assert err.code == "TXN_CONFLICT" and err.status == 409
    assert refusal(pharmacy.settle, other_card, 1_000, "X-1").code == "TXN_CONFLICT"
    assert refusal(pharmacy.settle, card_no, 1_000, "X-1", partial=True).code == "TXN_CONFLICT"
    assert ledger_counts() == counts
    assert balance_of(account) == 9_000 and balance_of(other_account) == 10_000
    # the id is per terminal: another terminal may use it
    assert terminal("clinic").settle(card_no, 1_000, "X-1")["balance_fen"] == 8_000


# rule FIN-1: insufficient balance is INSUFFICIENT_FUNDS; a partial payment pays what the account holds
def test_insufficient_funds_and_partial_payment(terminal, funded_card, ledger_counts) -> None:
    pharmacy = terminal("pharmacy")
    card_no, account = funded_card(1_500)
    counts = ledger_counts()
    err = refusal(pharmacy.settle, card_no, 2_000, "P1")
    assert err.code == "INSUFFICIENT_FUNDS" and err.status == 409 and err.problem["balance_fen"] == 1_500
    assert ledger_counts() == counts
    answer = pharmacy.settle(card_no, 2_000, "P1", partial=True)  # a refused id was never stored
    assert (answer["paid_fen"], answer["remainder_fen"], answer["balance_fen"]) == (1_500, 500, 0)
    assert balance_of(account) == 0
    assert refusal(pharmacy.settle, card_no, 1, "P2", partial=True).code == "INSUFFICIENT_FUNDS"
    ledger_ok()


# rule PIN-2: an enabled PIN is required and checked; PIN-5: wrong PINs count toward the lock as at verify
def test_pin_enabled_required_and_wrong_pins_lock(terminal, funded_card, ledger_counts) -> None:
    pharmacy = terminal("pharmacy")
    card_no, account = funded_card(10_000)
    assert pharmacy.settle(card_no, 100, "N1")["pin_enabled"] is False  # PIN-2: not enabled, none needed
    pharmacy.request(
        "POST",
        "/terminal/pin/change",
        json_body={
            "card_no": card_no,
            "old_pin_block": pharmacy.pin_block(card_no, "123456"),
            "new_pin_block": pharmacy.pin_block(card_no, "740296"),
        },
    )
    counts = ledger_counts()
    err = refusal(pharmacy.settle, card_no, 100, "E1")
    assert err.code == "PIN_REQUIRED" and err.status == 428
    assert pharmacy.settle(card_no, 100, "E1", pin="740296")["pin_enabled"] is True
    counts = ledger_counts()
    lefts = []
    for i in range(5):
        err = refusal(pharmacy.settle, card_no, 100, f"W{i}", pin="000123")
        assert err.code == "PIN_WRONG"
        lefts.append(err.problem["tries_left"])
    assert lefts == [5, 4, 3, 2, 1]
    # the count is the card's, across channels: the sixth wrong PIN at verify locks it
    verify = {"card_no": card_no, "pin_block": pharmacy.pin_block(card_no, "000123")}
    assert refusal(pharmacy.request, "POST", "/terminal/pin/verify", json_body=verify).problem["tries_left"] == 0
    err = refusal(pharmacy.settle, card_no, 100, "R1", pin="740296")
    assert err.code == "PIN_LOCKED" and err.status == 423
    assert ledger_counts() == counts and balance_of(account) == 9_800


# rule CARD-4: a card not activated cannot pay; a loss-reported card is blocked (CARD-5)
def test_card_states(terminal, funded_card, ledger_counts) -> None:
    from sscard.cards.loss import report_loss_by_hotline
    from tests.people.factories import CLERK, new_id_number

    pharmacy = terminal("pharmacy")
    inactive, _ = funded_card(5_000, activate=False)
    id_number = new_id_number()
    lost, _ = funded_card(5_000, id_number=id_number)
    with unit_of_work() as uow:
        report_loss_by_hotline(uow, id_number=id_number, actor=CLERK)
    counts = ledger_counts()
    assert refusal(pharmacy.settle, inactive, 100, "C1").code == "CARD_NOT_ACTIVE"
    assert refusal(pharmacy.settle, lost, 100, "C2").code == "CARD_BLOCKED"
    assert refusal(pharmacy.settle, "Z99999999", 100, "C3").code == "CARD_NOT_FOUND"
    assert ledger_counts() == counts


# rule FIN-1: only designated medical institutions settle; bad amounts are refused; nothing is posted
@pytest.mark.parametrize("kind", ["kiosk", "bank_outlet", "service_outlet"])
def test_non_medical_terminal_refused(terminal, funded_card, ledger_counts, kind) -> None:
    card_no, account = funded_card(5_000)
    counts = ledger_counts()
    err = refusal(terminal(kind).settle, card_no, 100, "K1")
    assert err.code == "TERMINAL_NOT_MEDICAL" and err.status == 403
    assert ledger_counts() == counts and balance_of(account) == 5_000


# rule FIN-1: negative, zero, absurd or non-integer amounts get a clear code and move nothing
def test_bad_amounts(terminal, funded_card, ledger_counts) -> None:
    pharmacy = terminal("pharmacy")
    card_no, account = funded_card(5_000)
    counts = ledger_counts()
    for amount in (0, -100, 100_000_001, 10**18):
        assert refusal(pharmacy.settle, card_no, amount, "A1").code == "AMOUNT_INVALID", amount
    for amount in (1.5, "100", None, True):
        body = {"card_no": card_no, "amount_fen": amount, "txn_id": "A2"}
        err = refusal(pharmacy.request, "POST", "/terminal/settlement", json_body=body)
        assert err.code == "VALIDATION_FAILED" and err.status == 422, amount
    assert ledger_counts() == counts and balance_of(account) == 5_000


# rule FIN-1: refunds whole or part, never more than paid in total, each idempotent by its own id
def test_refunds(terminal, funded_card, ledger_counts) -> None:
    pharmacy = terminal("pharmacy")
    card_no, account = funded_card(10_000)
    pharmacy.settle(card_no, 3_000, "S1")
    part = pharmacy.refund("S1", "RF1", amount_fen=1_000)
    assert (part["refunded_fen"], part["refundable_fen"], part["balance_fen"]) == (1_000, 2_000, 8_000)
    counts = ledger_counts()
    assert pharmacy.refund("S1", "RF1", amount_fen=1_000) == part  # the same refund again: nothing more
    assert refusal(pharmacy.refund, "S1", "RF1", amount_fen=999).code == "TXN_CONFLICT"
    err = refusal(pharmacy.refund, "S1", "RF2", amount_fen=2_001)
    assert err.code == "REFUND_EXCEEDS_PAYMENT" and err.problem["refunded_fen"] == 1_000
    assert refusal(pharmacy.refund, "S1", "RF2", amount_fen=0).code == "AMOUNT_INVALID"
    assert refusal(pharmacy.refund, "NOPE", "RF3").code == "TXN_NOT_FOUND"
    assert refusal(terminal("pharmacy").refund, "S1", "RF3").code == "TXN_NOT_FOUND"  # another terminal's
    assert ledger_counts() == counts
    rest = pharmacy.refund("S1", "RF2")  # the rest
    assert (rest["refunded_fen"], rest["refundable_fen"], rest["balance_fen"]) == (2_000, 0, 10_000)
    assert refusal(pharmacy.refund, "S1", "RF4", amount_fen=1).code == "REFUND_EXCEEDS_PAYMENT"
    assert refusal(pharmacy.reverse, "S1", "RV1").code == "REVERSAL_NOT_ALLOWED"
    assert balance_of(account) == 10_000
    ledger_ok()


# rule FIN-1: a same-day reversal undoes the settlement once; then nothing is left to refund
def test_reversal(terminal, funded_card, ledger_counts) -> None:
    pharmacy = terminal("community_health_station")
    card_no, account = funded_card(10_000)
    pharmacy.settle(card_no, 4_000, "S9")
    answer = pharmacy.reverse("S9", "RV9")
    assert answer["reversed_fen"] == 4_000 and answer["balance_fen"] == 10_000
    counts = ledger_counts()
    assert pharmacy.reverse("S9", "RV9") == answer
    assert refusal(pharmacy.reverse, "S9", "RV10").code == "SETTLEMENT_REVERSED"
    assert refusal(pharmacy.refund, "S9", "RF9").code == "SETTLEMENT_REVERSED"
    assert refusal(pharmacy.reverse, "S9", "S9").code == "TXN_CONFLICT"  # the settlement's own id
    assert ledger_counts() == counts and balance_of(account) == 10_000
    ledger_ok()


# rule issue-22-4: a settlement with an Idempotency-Key leaves the batch lane for the stack, which honours
# the key like on every state-changing route; a query string there is refused (issue 22 item 3)
def test_settlement_honours_an_idempotency_key(terminal, funded_card, ledger_counts, client) -> None:
    pharmacy = terminal("pharmacy")
    card_no, account = funded_card(10_000)

    def send(amount: int, txn: str, key: str = "settle-key-1", target: str = "/terminal/settlement"):
        body = {"card_no": card_no, "amount_fen": amount, "txn_id": txn}
        req = pharmacy.build_request("POST", target, json_body=body)
        req.headers["Idempotency-Key"] = key
        return client.send(req)

    first = send(1_000, "IK-1")
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers, first.text
    counts = ledger_counts()
    again = send(1_000, "IK-1")
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = send(2_000, "IK-2")
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert ledger_counts() == counts and balance_of(account) == 9_000
    refused = send(1_000, "IK-3", key="settle-key-2", target="/terminal/settlement?x=1")
    assert refused.status_code == 422 and refused.json()["code"] == "UNKNOWN_QUERY_PARAMETER"
    ledger_ok()
