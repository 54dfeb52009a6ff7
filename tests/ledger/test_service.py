"""Ledger services on SQLite and PostgreSQL: post, reverse, balances, the proof."""

from __future__ import annotations

import random
from datetime import date

import pytest
from sqlalchemy import text

from sscard.audit import Actor, Channel
from sscard.ledger.errors import AlreadyReversed, InsufficientFunds, LegsUnbalanced
from sscard.ledger.models import AccountKind, PostingKind
from sscard.ledger.rules import Leg
from sscard.ledger.service import balance, balance_on, check, movements, open_account, post, reverse
from tests.people.factories import add_test_person

ACTOR = Actor(kind="system", id="test", channel=Channel.SYSTEM)
DAY = date(2025, 3, 1)


def _accounts(uow):
    # A region of its own: tests that commit (db_env) leave the shared regions' system accounts moved.
    region = f"9{random.randrange(10**5):05d}"
    person = add_test_person(uow)
    mine = open_account(uow, kind=AccountKind.MEDICAL_PERSONAL, region_code=region, person_id=person.id)
    clearing = open_account(uow, kind=AccountKind.CONTRIBUTION_CLEARING, region_code=region)
    return mine, clearing


# rule FIN-2 / INS-3: a posting moves both balances; the proof holds; the same account is opened once
def test_post_moves_balances_and_check_holds(uow) -> None:
    mine, clearing = _accounts(uow)
    assert open_account(uow, kind=AccountKind.CONTRIBUTION_CLEARING, region_code=clearing.region_code).id == clearing.id
    assert not mine.may_go_negative and clearing.may_go_negative
    post(
        uow,
        kind=PostingKind.CONTRIBUTION,
        legs=[Leg(mine.id, 1234), Leg(clearing.id, -1234)],
        business_date=DAY,
        actor=ACTOR,
        source_ref="test:1",
    )
    assert balance(uow, mine) == 1234 and mine.balance_fen == 1234
    assert balance(uow, clearing.id) == -1234
    assert balance_on(uow, account_id=mine.id, on=date(2025, 2, 28)) == 0
    assert [m.amount_fen for m in movements(uow, account_id=mine.id)] == [1234]
    assert check(uow).ok


# rule FIN-2: nothing is posted from unbalanced legs or into a negative personal balance
def test_refusals_post_nothing(uow) -> None:
    mine, clearing = _accounts(uow)
    with pytest.raises(LegsUnbalanced):
        post(
            uow,
            kind="contribution",
            legs=[Leg(mine.id, 5), Leg(clearing.id, -4)],
            business_date=DAY,
            actor=ACTOR,
            source_ref="t",
        )
    with pytest.raises(InsufficientFunds):
        post(
            uow,
            kind="settlement",
            legs=[Leg(mine.id, -1), Leg(clearing.id, 1)],
            business_date=DAY,
            actor=ACTOR,
            source_ref="t",
        )
    assert balance(uow, mine) == 0 and movements(uow, account_id=mine.id) == []


# rule INS-7: a correction is a reversing posting, once, never an edit
def test_reverse_once(uow) -> None:
    mine, clearing = _accounts(uow)
    first = post(
        uow,
        kind=PostingKind.CONTRIBUTION,
        legs=[Leg(mine.id, 500), Leg(clearing.id, -500)],
        business_date=DAY,
        actor=ACTOR,
        source_ref="t",
    )
    undo = reverse(uow, posting=first, actor=ACTOR, source_ref="t:undo")
    assert undo.kind == PostingKind.CONTRIBUTION_REVERSAL and undo.reverses_id == first.id
    assert balance(uow, mine) == 0
    with pytest.raises(AlreadyReversed):
        reverse(uow, posting=first, actor=ACTOR, source_ref="t:undo2")
    assert check(uow).ok


# rule FIN-2 / INS-3: `ledger check` finds a cached balance that disagrees with its legs
def test_check_finds_tampered_balance(uow) -> None:
    mine, clearing = _accounts(uow)
    post(
        uow,
        kind="contribution",
        legs=[Leg(mine.id, 10), Leg(clearing.id, -10)],
        business_date=DAY,
        actor=ACTOR,
        source_ref="t",
    )
    uow.session.execute(text("UPDATE ledger_account SET balance_fen = 11 WHERE id = :i"), {"i": mine.id})
    report = check(uow)
    assert not report.ok
    assert report.discrepancies[0].kind == "balance_mismatch"
    assert report.discrepancies[0].ref == f"account:{mine.id}"


# rule FIN-1 / FIN-2: `ledger check` proves the references migration 0023 took from the foreign keys:
# a leg's account exists; a stored terminal transaction's posting moves its amount on its account, and its
# institution and card exist. Each fault is found, and a sound transaction is not reported.
def test_check_finds_broken_references(uow) -> None:
    from sscard.ledger.models import Institution
    from sscard.settlement.models import TerminalTxn

    mine, clearing = _accounts(uow)
    institution = Institution(region_code=mine.region_code, name=f"check {mine.id}", institution_type="pharmacy")
    uow.session.add(institution)
    uow.session.flush()
    postings = [
        post(uow, kind="contribution", legs=[Leg(mine.id, 10 * (n + 1)), Leg(clearing.id, -10 * (n + 1))],
             business_date=DAY, actor=ACTOR, source_ref=f"t:ref{n}").id
        for n in range(5)
    ]  # fmt: skip
    assert check(uow).ok
    nowhere = 10**12
    txns = [  # (posting, account, amount, institution, card): sound, then one fault each
        (postings[0], mine.id, 10, institution.id, None),
        (postings[1], mine.id, 21, institution.id, None),
        (postings[2], clearing.id, 30, institution.id, None),
        (postings[3], mine.id, 40, nowhere, None),
        (postings[4], mine.id, 50, institution.id, nowhere),
    ]
    ids = []
    for n, (posting_id, account_id, amount, institution_id, card_id) in enumerate(txns):
        row = TerminalTxn(terminal_id="T-CHECK", txn_id=f"c{mine.id}-{n}", purpose="settle", request_digest="0" * 64,
                          institution_id=institution_id, card_id=card_id, account_id=account_id, amount_fen=amount,
                          posting_id=posting_id, reversed=False, business_date=DAY, answer={})  # fmt: skip
        uow.session.add(row)
        uow.session.flush()
        ids.append(row.id)
    uow.session.execute(
        text("INSERT INTO ledger_leg (posting_id, account_id, amount_fen, posted_on) VALUES (:p, :a, 0, :d)"),
        {"p": postings[0], "a": nowhere, "d": DAY},
    )
    faults = {(d.kind, d.ref) for d in check(uow).discrepancies}
    assert faults == {
        ("leg_without_account", f"posting:{postings[0]}"),
        ("txn_not_posted", f"terminal_txn:{ids[1]}"),
        ("txn_not_posted", f"terminal_txn:{ids[2]}"),
        ("txn_unknown_institution", f"terminal_txn:{ids[3]}"),
        ("txn_unknown_card", f"terminal_txn:{ids[4]}"),
    }
