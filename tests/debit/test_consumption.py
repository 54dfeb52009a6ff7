"""Bank POS consumption from the debit account over the terminal protocol (FIN-2, FIN-3, PIN-2, PIN-5,
CARD-4): signed round trips to the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from sscard.db.session import unit_of_work
from sscard.ledger.service import check
from sscard.terminal.client import TerminalError
from tests.settlement.factories import balance_of

pytestmark = pytest.mark.usefixtures("db_env")
PATH = "/terminal/debit/consumption"


def consume(pos, card_no: str, amount: int, txn_id: str, *, pin: str | None = None) -> dict:
    body = {"card_no": card_no, "amount_fen": amount, "txn_id": txn_id}
    if pin is not None:
        body["pin_block"] = pos.pin_block(card_no, pin)
    return pos.request("POST", PATH, json_body=body)


def refusal(*args, **kwargs) -> TerminalError:
    with pytest.raises(TerminalError) as info:
        consume(*args, **kwargs)
    return info.value


def ledger_ok() -> None:
    with unit_of_work() as uow:
        report = check(uow)
    assert report.ok, report.discrepancies


# rule FIN-2: a consumption moves money once; the same request again returns the first answer
def test_consume_once(terminal, debit_card, ledger_counts) -> None:
    pos = terminal("bank_outlet")
    card_no, account = debit_card(10_000)
    first = consume(pos, card_no, 2_500, "P1")
    assert first["ok"] is True and first["balance_fen"] == 7_500 and first["pin_enabled"] is False
    counts = ledger_counts()
    assert consume(pos, card_no, 2_500, "P1") == first
    assert ledger_counts() == counts and balance_of(account) == 7_500
    err = refusal(pos, card_no, 2_501, "P1")
    assert err.code == "TXN_CONFLICT" and err.status == 409
    ledger_ok()


# rule FIN-2: no overdraft: INSUFFICIENT_FUNDS, nothing posted; bad amounts AMOUNT_INVALID
def test_insufficient_and_bad_amounts(terminal, debit_card, ledger_counts) -> None:
    pos = terminal("bank_outlet")
    card_no, account = debit_card(1_000)
    counts = ledger_counts()
    err = refusal(pos, card_no, 1_001, "I1")
    assert err.code == "INSUFFICIENT_FUNDS" and err.problem["balance_fen"] == 1_000
    for amount in (0, -5, 1_000_000_001):
        assert refusal(pos, card_no, amount, "I2").code == "AMOUNT_INVALID", amount
    assert refusal(pos, "Z99999999", 100, "I3").code == "CARD_NOT_FOUND"
    no_account, _ = debit_card(open_account=False)
    assert refusal(pos, no_account, 100, "I4").code == "DEBIT_ACCOUNT_NOT_FOUND"
    assert ledger_counts() == counts and balance_of(account) == 1_000


# rule FIN-2: debit consumption only at bank POS terminals
@pytest.mark.parametrize("kind", ["pharmacy", "kiosk"])
def test_not_a_bank_terminal(terminal, debit_card, ledger_counts, kind) -> None:
    card_no, account = debit_card(1_000)
    counts = ledger_counts()
    assert refusal(terminal(kind), card_no, 100, "K1").code == "TERMINAL_NOT_BANK"
    assert ledger_counts() == counts


# rule FIN-3, PIN-2, PIN-5: the card PIN, same rules and counter as verify; a locked PIN refuses, nothing moves
def test_pin_rules(terminal, debit_card, ledger_counts) -> None:
    pos = terminal("bank_outlet")
    card_no, account = debit_card(10_000)
    kiosk = terminal("kiosk")  # PIN changes are offered at self-service and medical terminals
    kiosk.request("POST", "/terminal/pin/change", json_body={
        "card_no": card_no, "old_pin_block": kiosk.pin_block(card_no, "123456"),
        "new_pin_block": kiosk.pin_block(card_no, "740296")})  # fmt: skip
    counts = ledger_counts()
    err = refusal(pos, card_no, 100, "Q1")
    assert err.code == "PIN_REQUIRED" and err.status == 428
    assert consume(pos, card_no, 100, "Q1", pin="740296")["pin_enabled"] is True
    counts = ledger_counts()
    lefts = [refusal(pos, card_no, 100, f"W{i}", pin="000123").problem["tries_left"] for i in range(6)]
    assert lefts == [5, 4, 3, 2, 1, 0]
    err = refusal(pos, card_no, 100, "Q2", pin="740296")
    assert err.code == "PIN_LOCKED" and err.status == 423
    assert ledger_counts() == counts and balance_of(account) == 9_900


# rule CARD-4, CARD-5: a card not activated or reported lost cannot pay
def test_card_states(terminal, debit_card, ledger_counts) -> None:
    from sscard.cards.loss import report_loss_by_hotline
    from tests.people.factories import CLERK, new_id_number

    pos = terminal("bank_outlet")
    id_number = new_id_number(region="110105")
    lost, account = debit_card(5_000, id_number=id_number)
    with unit_of_work() as uow:
        report_loss_by_hotline(uow, id_number=id_number, actor=CLERK)
    counts = ledger_counts()
    assert refusal(pos, lost, 100, "C1").code == "CARD_BLOCKED"
    assert ledger_counts() == counts and balance_of(account) == 5_000


# rule FIN-2 (contract Idempotency-Key) on the terminal route too, per terminal
def test_idempotency_key_on_terminal(terminal, debit_card, ledger_counts, client) -> None:
    pos = terminal("bank_outlet")
    card_no, account = debit_card(10_000)
    body = {"card_no": card_no, "amount_fen": 300, "txn_id": "IK1"}
    req = pos.build_request("POST", PATH, json_body=body)
    req.headers["Idempotency-Key"] = "k-1"
    first = client.send(req)
    assert first.status_code == 200, first.text
    counts = ledger_counts()
    req = pos.build_request("POST", PATH, json_body=body)
    req.headers["Idempotency-Key"] = "k-1"
    again = client.send(req)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    req = pos.build_request("POST", PATH, json_body={**body, "txn_id": "IK2"})
    req.headers["Idempotency-Key"] = "k-1"
    assert client.send(req).json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert ledger_counts() == counts and balance_of(account) == 9_700


# rule FIN-2: the holder sees the debit account's balance and movements (portal API's view)
def test_holder_view(terminal, debit_card) -> None:
    from sscard.cards.models import Card
    from sscard.debit.service import holder_view

    pos = terminal("bank_outlet")
    card_no, _ = debit_card(10_000)
    consume(pos, card_no, 1_234, "H1")
    with unit_of_work() as uow:
        from sqlalchemy import select

        person_id = uow.session.scalar(select(Card.person_id).where(Card.card_no == card_no))
        (view,) = holder_view(uow, person_id=person_id)
    assert view["balance_fen"] == 8_766
    assert [m["amount_fen"] for m in view["movements"]] == [-1_234, 10_000]
    assert [m["kind"] for m in view["movements"]] == ["debit_consumption", "debit_deposit"]
    assert card_no not in str(view)  # masked


# rule PIN-5 with Idempotency-Key: a wrong PIN is counted and committed, but keeps no key; the key then
# answers the request that succeeded
def test_wrong_pin_keeps_no_idempotency_key(terminal, debit_card, ledger_counts, client) -> None:
    pos = terminal("bank_outlet")
    kiosk = terminal("kiosk")
    card_no, account = debit_card(10_000)
    kiosk.request("POST", "/terminal/pin/change", json_body={
        "card_no": card_no, "old_pin_block": kiosk.pin_block(card_no, "123456"),
        "new_pin_block": kiosk.pin_block(card_no, "740296")})  # fmt: skip

    def send(pin: str):
        body = {"card_no": card_no, "amount_fen": 200, "txn_id": "WK1", "pin_block": pos.pin_block(card_no, pin)}
        req = pos.build_request("POST", PATH, json_body=body)
        req.headers["Idempotency-Key"] = "wk-1"
        return client.send(req)

    wrong = send("000123")
    assert wrong.status_code == 403 and wrong.json()["code"] == "PIN_WRONG" and wrong.json()["tries_left"] == 5
    right = send("740296")
    assert right.status_code == 200, right.text
    assert balance_of(account) == 9_800
