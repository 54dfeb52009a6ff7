"""The RMB debit account at the bank counter over HTTP (FIN-2, FIN-3): open, deposit, withdraw, transfer,
Idempotency-Key (contract.md), bad input refused with a clear code and nothing posted."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sscard.cards.models import Card
from sscard.cards.states import CardState
from sscard.db.session import unit_of_work
from sscard.ledger.models import LedgerPosting
from sscard.ledger.service import check
from sscard.notify.models import OutboxMessage
from sscard.staff.roles import Role
from tests.credentials.pin.factories import make_card
from tests.people.factories import new_id_number, new_phone
from tests.settlement.factories import balance_of
from tests.staff.factories import TEST_BANK

pytestmark = pytest.mark.usefixtures("db_env")


def url(card_no: str, what: str = "") -> str:
    return f"/api/v1/counter/cards/{card_no}/debit" + (f"/{what}" if what else "")


def ledger_ok() -> None:
    with unit_of_work() as uow:
        report = check(uow)
    assert report.ok, report.discrepancies


def set_state(card_no: str, state: CardState) -> None:
    with unit_of_work() as uow:
        card = uow.session.scalar(select(Card).where(Card.card_no == card_no))
        card.state = state


def notices(topic: str) -> int:
    with unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).where(OutboxMessage.topic == topic)) or 0)


# rule FIN-3: the debit account is opened at the card's own bank outlet by a clerk of that bank
def test_open_at_own_bank_only(client, staff_headers, debit_card) -> None:
    card_no, _ = debit_card(open_account=False)
    with unit_of_work() as uow:
        from tests.staff.factories import login_token, make_staff

        other = make_staff(uow, role=Role.BANK_CLERK, bank_code="OTHERBANK")
        other_bank = {"Authorization": f"Bearer {login_token(uow, other)}"}
    r = client.post(url(card_no), headers=other_bank)
    assert r.status_code == 403 and r.json()["code"] == "CARD_OTHER_BANK"
    r = client.post(url(card_no), headers=staff_headers(Role.COUNTER_CLERK))
    assert r.status_code == 403
    bank = staff_headers(Role.BANK_CLERK)
    r = client.post(url(card_no), headers=bank)
    assert r.status_code == 201, r.text
    assert r.json()["bank_code"] == TEST_BANK and r.json()["balance_fen"] == 0
    r = client.post(url(card_no), headers=bank)
    assert r.status_code == 409 and r.json()["code"] == "DEBIT_ACCOUNT_EXISTS"
    # a card without the financial function (no bank) has no debit account: CARD_OTHER_BANK for a bank clerk
    with unit_of_work() as uow:
        plain = make_card(uow, id_number=new_id_number(region="110105")).card_no
    assert client.post(url(plain), headers=bank).json()["code"] == "CARD_OTHER_BANK"


# rule FIN-2: deposit, withdrawal and transfer are balanced postings; the ledger proves it
def test_deposit_withdraw_transfer(client, staff_headers, debit_card) -> None:
    bank = staff_headers(Role.BANK_CLERK)
    a, acc_a = debit_card(0)
    b, acc_b = debit_card(0)
    r = client.post(url(a, "deposit"), json={"amount_fen": 50_000}, headers=bank)
    assert r.status_code == 200, r.text
    assert r.json()["balance_fen"] == 50_000
    r = client.post(url(a, "withdrawal"), json={"amount_fen": 12_000}, headers=bank)
    assert r.status_code == 200 and r.json()["balance_fen"] == 38_000
    r = client.post(url(a, "transfer"), json={"amount_fen": 8_000, "to_card_no": b}, headers=bank)
    assert r.status_code == 200 and r.json()["balance_fen"] == 30_000
    assert balance_of(acc_a) == 30_000 and balance_of(acc_b) == 8_000
    with unit_of_work() as uow:
        posting = uow.session.get_one(LedgerPosting, r.json()["posting_id"])
        # traceable: the request id, the clerk, the bank channel
        assert posting.source_ref.startswith("request:") and posting.source_ref != "request:unknown"
        assert posting.channel == "bank" and posting.actor
    ledger_ok()


# rule FIN-2 (contract Idempotency-Key): the same key and body move money once and give the first answer;
# another body under the same key is 422 IDEMPOTENCY_KEY_REUSED; keys are per caller
def test_idempotency_key(client, staff_headers, debit_card, ledger_counts) -> None:
    bank = staff_headers(Role.BANK_CLERK)
    card_no, account = debit_card(10_000)
    headers = {**bank, "Idempotency-Key": "wd-0001"}
    first = client.post(url(card_no, "withdrawal"), json={"amount_fen": 1_000}, headers=headers)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    counts = ledger_counts()
    again = client.post(
        url(card_no, "withdrawal"),
        content=b'{ "amount_fen" : 1000 }',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post(url(card_no, "withdrawal"), json={"amount_fen": 2_000}, headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert ledger_counts() == counts and balance_of(account) == 9_000
    # the same key from another clerk is that clerk's own request
    mine = {**staff_headers(Role.BANK_CLERK), "Idempotency-Key": "wd-0001"}
    assert client.post(url(card_no, "withdrawal"), json={"amount_fen": 1_000}, headers=mine).status_code == 200
    assert balance_of(account) == 8_000
    # a refused request keeps no key: asked again, it is decided again
    big = {**bank, "Idempotency-Key": "wd-0002"}
    assert client.post(url(card_no, "withdrawal"), json={"amount_fen": 9_000}, headers=big).status_code == 409
    client.post(url(card_no, "deposit"), json={"amount_fen": 1_000}, headers=bank)
    assert client.post(url(card_no, "withdrawal"), json={"amount_fen": 9_000}, headers=big).status_code == 200
    assert balance_of(account) == 0
    bad = {**bank, "Idempotency-Key": "x" * 200}
    assert client.post(url(card_no, "deposit"), json={"amount_fen": 1}, headers=bad).json()["code"] == (
        "IDEMPOTENCY_KEY_INVALID"
    )
    ledger_ok()


# rule FIN-2: no credit, no overdraft; bad amounts, unknown cards and accounts, transfer to oneself:
# each a clear code, nothing posted
def test_bad_input_posts_nothing(client, staff_headers, debit_card, ledger_counts) -> None:
    bank = staff_headers(Role.BANK_CLERK)
    card_no, account = debit_card(5_000)
    no_account, _ = debit_card(open_account=False)
    counts = ledger_counts()
    for amount in (0, -100, 1_000_000_001, 10**18):
        for what in ("deposit", "withdrawal"):
            r = client.post(url(card_no, what), json={"amount_fen": amount}, headers=bank)
            assert r.status_code == 422 and r.json()["code"] == "AMOUNT_INVALID", (what, amount)
    for amount in (1.5, "100", None, True):
        r = client.post(url(card_no, "deposit"), json={"amount_fen": amount}, headers=bank)
        assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED", amount
    r = client.post(url(card_no, "withdrawal"), json={"amount_fen": 5_001}, headers=bank)
    assert r.status_code == 409 and r.json()["code"] == "INSUFFICIENT_FUNDS" and r.json()["balance_fen"] == 5_000
    r = client.post(url(card_no, "transfer"), json={"amount_fen": 100, "to_card_no": card_no}, headers=bank)
    assert r.status_code == 422 and r.json()["code"] == "TRANSFER_TO_SELF"
    r = client.post(url(card_no, "transfer"), json={"amount_fen": 100, "to_card_no": "Z99999999"}, headers=bank)
    assert r.status_code == 404 and r.json()["code"] == "CARD_NOT_FOUND"
    r = client.post(url(card_no, "transfer"), json={"amount_fen": 100, "to_card_no": no_account}, headers=bank)
    assert r.status_code == 404 and r.json()["code"] == "DEBIT_ACCOUNT_NOT_FOUND"
    r = client.post(url(no_account, "deposit"), json={"amount_fen": 100}, headers=bank)
    assert r.status_code == 404 and r.json()["code"] == "DEBIT_ACCOUNT_NOT_FOUND"
    r = client.post(url("Z99999999", "deposit"), json={"amount_fen": 100}, headers=bank)
    assert r.status_code == 404 and r.json()["code"] == "CARD_NOT_FOUND"
    assert ledger_counts() == counts and balance_of(account) == 5_000


# rule FIN-2, CARD-4, CARD-5: a lost, loss-reported or cancelled card moves no money at the counter
@pytest.mark.parametrize("state", [CardState.LOST, CardState.LOSS_REPORTED, CardState.CANCELLED])
def test_blocked_card(client, staff_headers, debit_card, ledger_counts, state) -> None:
    bank = staff_headers(Role.BANK_CLERK)
    card_no, account = debit_card(5_000)
    set_state(card_no, state)
    counts = ledger_counts()
    for what, body in (("withdrawal", {"amount_fen": 100}), ("deposit", {"amount_fen": 100})):
        r = client.post(url(card_no, what), json=body, headers=bank)
        assert r.status_code == 409 and r.json()["code"] == "CARD_BLOCKED", (what, r.text)
    assert ledger_counts() == counts and balance_of(account) == 5_000


# rule FIN-2 (CH-5): withdrawals and transfers at or above the policy threshold are notified; smaller ones not
def test_notices_above_threshold(client, staff_headers, debit_card) -> None:
    bank = staff_headers(Role.BANK_CLERK)
    card_no, _ = debit_card(500_000, phone=new_phone())
    other, _ = debit_card(0)
    before = notices("debit.withdrawal"), notices("debit.transfer")
    client.post(url(card_no, "withdrawal"), json={"amount_fen": 99_999}, headers=bank)
    assert notices("debit.withdrawal") == before[0]
    client.post(url(card_no, "withdrawal"), json={"amount_fen": 100_000}, headers=bank)
    assert notices("debit.withdrawal") > before[0]
    client.post(url(card_no, "transfer"), json={"amount_fen": 150_000, "to_card_no": other}, headers=bank)
    assert notices("debit.transfer") > before[1]
