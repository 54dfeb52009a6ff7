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


# rule FIN-1: each refusal says why, in words the terminal can show; the amount's bounds are 1 and 100,000,000
def test_each_refusal_says_why(terminal, funded_card, ledger_counts) -> None:
    pharmacy = terminal("pharmacy")
    tid = pharmacy.profile.terminal_id
    card_no, _ = funded_card(1_000)
    low = "the medical personal account's balance is too low"
    err = refusal(pharmacy.settle, card_no, 1_001, "W1")
    assert (err.detail, err.problem["balance_fen"]) == (low + "; the terminal may ask for a partial payment", 1_000)
    assert refusal(pharmacy.settle, card_no, 100_000_000, "W2").code == "INSUFFICIENT_FUNDS"  # in bounds
    empty, _ = funded_card(0)
    err = refusal(pharmacy.settle, empty, 1, "W3", partial=True)
    assert (err.code, err.detail, err.problem["balance_fen"]) == ("INSUFFICIENT_FUNDS", low, 0)
    assert refusal(pharmacy.settle, card_no, 0, "W4").detail == (
        "the amount must be a whole number of fen from 1 to 100000000"
    )
    assert refusal(terminal("kiosk").settle, card_no, 100, "W5").detail == (
        "a kiosk terminal cannot settle against the medical personal account; "
        "settlement is offered at clinic, community_health_station, hospital, pharmacy terminals"
    )
    assert refusal(pharmacy.settle, "Z99999999", 100, "W6").detail == "no card with this number"
    assert pharmacy.settle(card_no, 1, "S1")["balance_fen"] == 999  # one fen is an amount
    assert refusal(pharmacy.refund, "S1", "R0", amount_fen=0).detail == (
        "the refund amount must be a whole number of fen from 1 to 100000000"
    )
    assert refusal(pharmacy.refund, "NOPE", "R1").detail == f"terminal {tid} has no settlement NOPE"
    assert refusal(terminal("kiosk").refund, "S1", "R1").code == "TERMINAL_NOT_MEDICAL"
    assert refusal(terminal("kiosk").reverse, "S1", "V1").code == "TERMINAL_NOT_MEDICAL"
    assert refusal(pharmacy.reverse, "NOPE", "V1").code == "TXN_NOT_FOUND"
    pharmacy.refund("S1", "R2")
    err = refusal(pharmacy.refund, "S1", "R3", amount_fen=1)
    assert err.detail == "settlement S1 paid 1 fen, of which 1 fen were refunded already"
    assert (err.problem["paid_fen"], err.problem["refunded_fen"]) == (1, 1)
    assert refusal(pharmacy.reverse, "S1", "V2").detail == (
        f"settlement S1 is of {pharmacy.settle(card_no, 2, 'S2')['business_date']} or was refunded; refund it instead"
    )
    pharmacy.reverse("S2", "V3")
    assert refusal(pharmacy.reverse, "S2", "V4").detail == "settlement S2 was reversed already"
    assert refusal(pharmacy.refund, "S2", "R4").detail == "settlement S2 was reversed"
    ledger_ok()


# rule FIN-1: a settlement of an earlier business day is refunded, never reversed
def test_a_settlement_of_another_day_is_not_reversed(terminal, funded_card) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from sscard.settlement.models import TerminalTxn

    pharmacy = terminal("pharmacy")
    card_no, account = funded_card(5_000)
    paid = pharmacy.settle(card_no, 1_000, "D1")
    with unit_of_work() as uow:
        row = uow.session.scalars(
            select(TerminalTxn).where(
                TerminalTxn.terminal_id == pharmacy.profile.terminal_id, TerminalTxn.txn_id == "D1"
            )
        ).one()
        row.business_date -= timedelta(days=1)
    assert refusal(pharmacy.reverse, "D1", "V1").code == "REVERSAL_NOT_ALLOWED"
    assert pharmacy.refund("D1", "R1")["refunded_fen"] == paid["paid_fen"] == 1_000
    assert balance_of(account) == 5_000


# rule FIN-1: what a settlement, a refund and a reversal store, post and audit: the transaction (signed as seen
# by the account), a posting of its own kind against the institution's clearing account, an entry on the card
def test_each_movement_is_stored_posted_and_audited(terminal, funded_card) -> None:
    import json
    from datetime import date

    from sqlalchemy import select

    from sscard.audit.models import AuditEntry
    from sscard.ledger.models import AccountKind, LedgerAccount, LedgerPosting
    from sscard.ledger.rules import Leg
    from sscard.ledger.service import legs_of
    from sscard.settlement.models import TerminalTxn

    pharmacy = terminal("hospital")
    tid = pharmacy.profile.terminal_id
    card_no, account = funded_card(10_000)
    paid = pharmacy.settle(card_no, 3_000, "M1")
    assert paid == {
        "ok": True, "code": None, "txn_id": "M1", "amount_fen": 3_000, "paid_fen": 3_000, "remainder_fen": 0,
        "balance_fen": 7_000, "pin_enabled": False, "business_date": paid["business_date"],
    }  # fmt: skip
    assert date.fromisoformat(paid["business_date"])
    refunded = pharmacy.refund("M1", "M1-R", amount_fen=500)
    assert refunded == {
        "ok": True, "code": None, "txn_id": "M1-R", "original_txn_id": "M1", "refunded_fen": 500,
        "refundable_fen": 2_500, "balance_fen": 7_500, "business_date": paid["business_date"],
    }  # fmt: skip
    pharmacy.settle(card_no, 1_000, "M2")
    reversed_ = pharmacy.reverse("M2", "M2-V")
    assert reversed_ == {
        "ok": True, "code": None, "txn_id": "M2-V", "original_txn_id": "M2", "reversed_fen": 1_000,
        "balance_fen": 7_500, "business_date": paid["business_date"],
    }  # fmt: skip
    with unit_of_work() as uow:
        rows = {
            t.txn_id: t
            for t in uow.session.scalars(select(TerminalTxn).where(TerminalTxn.terminal_id == tid))
        }  # fmt: skip
        assert {k: (t.purpose, t.amount_fen, t.account_id, t.reversed) for k, t in rows.items()} == {
            "M1": ("settle", -3_000, account, False), "M1-R": ("refund", 500, account, False),
            "M2": ("settle", -1_000, account, True), "M2-V": ("reversal", 1_000, account, False),
        }  # fmt: skip
        assert rows["M1-R"].original_id == rows["M1"].id and rows["M2-V"].original_id == rows["M2"].id
        assert rows["M1"].card_id == rows["M1-R"].card_id is not None
        clearing = uow.session.scalars(
            select(LedgerAccount).where(
                LedgerAccount.kind == AccountKind.SETTLEMENT_CLEARING.value,
                LedgerAccount.institution_id == rows["M1"].institution_id,
            )
        ).one()
        postings = {k: uow.session.get(LedgerPosting, t.posting_id) for k, t in rows.items()}
        assert {k: (p.kind, p.memo, p.source_ref) for k, p in postings.items()} == {
            "M1": ("settlement", f"{tid}/M1", f"terminal_txn:{rows['M1'].id}"),
            "M1-R": ("settlement_refund", f"{tid}/M1-R refunds M1", f"terminal_txn:{rows['M1-R'].id}"),
            "M2": ("settlement", f"{tid}/M2", f"terminal_txn:{rows['M2'].id}"),
            "M2-V": ("settlement_reversal", f"{tid}/M2-V reverses M2", f"terminal_txn:{rows['M2-V'].id}"),
        }  # fmt: skip
        assert postings["M2-V"].reverses_id == postings["M2"].id and postings["M1-R"].reverses_id is None
        assert legs_of(uow, postings["M1"].id) == [Leg(account, -3_000), Leg(clearing.id, 3_000)]
        assert legs_of(uow, postings["M1-R"].id) == [Leg(account, 500), Leg(clearing.id, -500)]
        assert legs_of(uow, postings["M2-V"].id) == [Leg(account, 1_000), Leg(clearing.id, -1_000)]
        assert all(p.business_date.isoformat() == paid["business_date"] for p in postings.values())
        entries = uow.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.actor_id == tid, AuditEntry.action.like("settlement.%"))
            .order_by(AuditEntry.id)
        ).all()  # fmt: skip
        institution = rows["M1"].institution_id
        card = rows["M1"].card_id
        card_fields = ("card_id", "person_id", "type")
        details = [json.loads(e.details) for e in entries]
        assert {d["card_id"] for d in details} == {card}
        assert [
            (e.action, {k: v for k, v in d.items() if k not in card_fields})
            for e, d in zip(entries, details, strict=True)
        ] == [
            ("settlement.pay", {"txn_id": "M1", "amount_fen": 3_000, "paid_fen": 3_000, "institution_id": institution}),
            ("settlement.refund", {"txn_id": "M1-R", "original_txn_id": "M1", "amount_fen": 500}),
            ("settlement.pay", {"txn_id": "M2", "amount_fen": 1_000, "paid_fen": 1_000, "institution_id": institution}),
            ("settlement.reverse", {"txn_id": "M2-V", "original_txn_id": "M2", "amount_fen": 1_000}),
        ]


# rule FIN-1: the whole balance can be paid (not one fen more), and a refund may give back exactly what is left
def test_the_whole_balance_is_paid_and_refunded_exactly(terminal, funded_card) -> None:
    pharmacy = terminal("clinic")
    card_no, account = funded_card(2_500)
    assert refusal(pharmacy.settle, card_no, 2_501, "E0").code == "INSUFFICIENT_FUNDS"
    assert pharmacy.settle(card_no, 2_500, "E1")["balance_fen"] == 0
    assert pharmacy.refund("E1", "E1-R1", amount_fen=1_000)["refundable_fen"] == 1_500
    assert refusal(pharmacy.refund, "E1", "E1-R2", amount_fen=1_501).code == "REFUND_EXCEEDS_PAYMENT"
    last = pharmacy.refund("E1", "E1-R3", amount_fen=1_500)
    assert (last["refunded_fen"], last["refundable_fen"], last["balance_fen"]) == (1_500, 0, 2_500)
    assert balance_of(account) == 2_500
    ledger_ok()


# rule FIN-1: a repeated payment, refund or reversal is answered as a replay (Idempotent-Replayed: true), the
# first time not; the card number is the same card however it is written (case, spaces)
def test_a_repeated_request_is_marked_as_a_replay(terminal, funded_card, client) -> None:
    pharmacy = terminal("pharmacy")
    card_no, account = funded_card(10_000)

    def send(path: str, body: dict):
        return client.send(pharmacy.build_request("POST", path, json_body=body))

    settle = {"card_no": card_no, "amount_fen": 700, "txn_id": "H1"}
    first = send("/terminal/settlement", settle)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers, first.text
    spaced = settle | {"card_no": f"{card_no[:4]} {card_no[4:]}".lower()}
    again = send("/terminal/settlement", spaced)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true", again.text
    assert again.json() == first.json()
    for path, body in (
        ("/terminal/settlement/refund", {"txn_id": "H1", "refund_txn_id": "H1-R", "amount_fen": 100}),
        ("/terminal/settlement/reverse", {"txn_id": "H2", "reversal_txn_id": "H2-V"}),
    ):
        if path.endswith("reverse"):
            pharmacy.settle(card_no, 300, "H2")
        once = send(path, body)
        assert once.status_code == 200 and "Idempotent-Replayed" not in once.headers, once.text
        twice = send(path, body)
        assert twice.status_code == 200 and twice.headers["Idempotent-Replayed"] == "true"
        assert twice.json() == once.json()
    assert balance_of(account) == 10_000 - 700 + 100


# rule FIN-1: a holder without a medical personal account has nothing to pay with: INSUFFICIENT_FUNDS, balance 0
def test_a_holder_without_a_medical_account_cannot_pay(terminal, ledger_counts) -> None:
    from tests.credentials.pin.factories import make_card

    with unit_of_work() as uow:
        card_no = make_card(uow).card_no
    counts = ledger_counts()
    err = refusal(terminal("pharmacy").settle, card_no, 100, "N1")
    assert (err.code, err.problem["balance_fen"]) == ("INSUFFICIENT_FUNDS", 0)
    assert refusal(terminal("pharmacy").settle, card_no, 100, "N2", partial=True).code == "INSUFFICIENT_FUNDS"
    assert ledger_counts() == counts


# rule FIN-1: a refund's or a reversal's own id, used again for another settlement, is TXN_CONFLICT: the same id
# means the same request, its settlement included
def test_a_refund_or_reversal_id_reused_for_another_settlement_is_a_conflict(
    terminal, funded_card, ledger_counts
) -> None:
    pharmacy = terminal("pharmacy")
    card_no, account = funded_card(10_000)
    for txn in ("O1", "O2", "O3", "O4"):
        pharmacy.settle(card_no, 1_000, txn)
    pharmacy.reverse("O1", "V1")
    pharmacy.refund("O3", "R1", amount_fen=100)
    counts = ledger_counts()
    assert refusal(pharmacy.reverse, "O2", "V1").code == "TXN_CONFLICT"
    assert refusal(pharmacy.refund, "O4", "R1", amount_fen=100).code == "TXN_CONFLICT"
    assert ledger_counts() == counts and balance_of(account) == 10_000 - 4_000 + 1_000 + 100


# rule FIN-1: a refund or reversal of a settlement whose month is archived (its row detached, its key kept
# in terminal_txn_key: docs/partitioning.md) is refused as archived, not as unknown, and moves nothing; an
# id never used is still unknown
def test_a_refund_or_reversal_of_an_archived_settlement_is_period_archived(
    terminal, funded_card, ledger_counts, db
) -> None:
    from sqlalchemy import text

    pharmacy = terminal("pharmacy")
    card_no, account = funded_card(5_000)
    pharmacy.settle(card_no, 1_000, "A1")
    assert refusal(pharmacy.refund, "A0", "R0").code == "TXN_NOT_FOUND"
    if db.backend != "postgresql":
        pytest.skip("months are archived on PostgreSQL only (partitions)")
    from sscard.settlement import txn_store
    from tests.conftest import rolled_back_uow

    def archived() -> bool:
        with rolled_back_uow(db.engine) as uow:
            return txn_store.is_archived(uow, terminal_id=pharmacy.profile.terminal_id, txn_id="A1")

    assert not archived()  # the key with its row (read in one statement: a copy committing meanwhile is not archived)
    with db.engine.begin() as c:  # what a detach leaves: the key, not the row (as ``partitions.ensure`` moves)
        c.execute(text("SET LOCAL sscard.partition_move = 'on'"))
        c.execute(text("DELETE FROM terminal_txn WHERE terminal_id = :t AND txn_id = 'A1'"),
                  {"t": pharmacy.profile.terminal_id})  # fmt: skip
    assert archived()
    counts = ledger_counts()
    refused = refusal(pharmacy.refund, "A1", "R1")
    words = f"terminal {pharmacy.profile.terminal_id}'s transaction A1 is of an archived month"
    assert (refused.code, refused.detail) == ("PERIOD_ARCHIVED", words)
    assert refusal(pharmacy.reverse, "A1", "V1").code == "PERIOD_ARCHIVED"
    assert refusal(pharmacy.refund, "A0", "R2").code == "TXN_NOT_FOUND"
    assert ledger_counts() == counts and balance_of(account) == 4_000
