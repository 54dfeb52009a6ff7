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
