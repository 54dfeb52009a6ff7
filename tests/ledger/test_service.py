"""Ledger services on SQLite and PostgreSQL: post, reverse, balances, the proof."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import text

from sscard.audit import Actor, Channel
from sscard.ledger.errors import AlreadyReversed, InsufficientFunds, LegsUnbalanced
from sscard.ledger.models import AccountKind, PostingKind
from sscard.ledger.rules import Leg
from sscard.ledger.service import balance, balance_on, check, movements, open_account, post, reverse
from tests.conftest import fresh_database, rolled_back_uow
from tests.people.factories import add_test_person

ACTOR = Actor(kind="system", id="test", channel=Channel.SYSTEM)
DAY = date(2025, 3, 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_uow(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A rolled-back unit of work on a database of its own: the session's ledger holds the other tests' rows."""
    database = fresh_database(request.param, tmp_path_factory)
    with rolled_back_uow(next(database).engine) as unit:
        yield unit
    next(database, None)  # drops it


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


# rule FIN-1 / FIN-2: each reference fault in words; a transaction is proved by a leg of its own posting (not the
# same amount on the same account in another posting); a card that exists is no fault; `limit` bounds orphan legs
# and each kind of transaction fault, the first ones kept
def test_reference_faults_in_words(uow) -> None:
    from sscard.ledger.models import Institution
    from sscard.ledger.rules import Discrepancy
    from sscard.settlement.models import TerminalTxn
    from tests.credentials.pin.factories import make_card

    mine, clearing = _accounts(uow)
    institution = Institution(region_code=mine.region_code, name=f"words {mine.id}", institution_type="pharmacy")
    uow.session.add(institution)
    uow.session.flush()
    card = make_card(uow)
    p1, p2, p3, p4, p5 = (
        post(uow, kind="contribution", legs=[Leg(mine.id, fen), Leg(clearing.id, -fen)], business_date=DAY,
             actor=ACTOR, source_ref=f"t:w{fen}").id
        for fen in (10, 20, 30, 40, 50)
    )  # fmt: skip
    nowhere = 10**12
    txns = [  # (posting, amount, institution, card)
        (p1, 10, institution.id, card.id),  # sound, with a card that exists
        (p3, 20, institution.id, None),  # 20 fen moved on this account, but by another posting (p2)
        (p2, 20, nowhere, None),
        (p4, 40, institution.id, nowhere),
        (p5, 50, nowhere, None),
    ]
    ids = []
    for n, (posting_id, amount, institution_id, card_id) in enumerate(txns):
        row = TerminalTxn(terminal_id="T-WORDS", txn_id=f"w{mine.id}-{n}", purpose="settle", request_digest="0" * 64,
                          institution_id=institution_id, card_id=card_id, account_id=mine.id, amount_fen=amount,
                          posting_id=posting_id, reversed=False, business_date=DAY, answer={})  # fmt: skip
        uow.session.add(row)
        uow.session.flush()
        ids.append(row.id)
    orphan = "INSERT INTO ledger_leg (posting_id, account_id, amount_fen, posted_on) VALUES (:p, :a, 0, :d)"
    for posting_id in (p1, p2):
        uow.session.execute(text(orphan), {"p": posting_id, "a": nowhere, "d": DAY})
    legs = list(
        uow.session.scalars(text("SELECT id FROM ledger_leg WHERE account_id = :a ORDER BY id"), {"a": nowhere})
    )
    orphans = [
        Discrepancy("leg_without_account", f"posting:{p}", f"leg {leg} on account {nowhere}: no such account")
        for p, leg in zip((p1, p2), legs, strict=True)
    ]
    txn_faults = [
        Discrepancy(
            "txn_not_posted", f"terminal_txn:{ids[1]}", f"its posting {p3} moves no 20 fen on account {mine.id}"
        ),
        Discrepancy("txn_unknown_institution", f"terminal_txn:{ids[2]}", f"no institution {nowhere}"),
        Discrepancy("txn_unknown_institution", f"terminal_txn:{ids[4]}", f"no institution {nowhere}"),
        Discrepancy("txn_unknown_card", f"terminal_txn:{ids[3]}", f"no card {nowhere}"),
    ]
    assert check(uow).discrepancies == orphans + txn_faults
    assert check(uow, limit=1).discrepancies == orphans[:1] + txn_faults[:2] + txn_faults[3:]


def _posting(uow, *legs: tuple[int, int], on: date = DAY, leg_dates: tuple[date, ...] = ()) -> int:
    """A posting written straight into the tables (what a faulty writer or an editor of the database does)."""
    from sscard.db.base import utcnow
    from sscard.ledger.models import LedgerLeg, LedgerPosting

    posting = LedgerPosting(kind="contribution", business_date=on, created_at=utcnow(), actor="t", channel="system",
                            source_ref="t:raw")  # fmt: skip
    uow.session.add(posting)
    uow.session.flush()
    for n, (account_id, fen) in enumerate(legs):
        posted_on = leg_dates[n] if n < len(leg_dates) else on
        uow.session.add(LedgerLeg(posting_id=posting.id, account_id=account_id, amount_fen=fen, posted_on=posted_on))
    uow.session.flush()
    return posting.id


# rule FIN-2 / INS-3: `ledger check` names each kind of fault with its place and figures, at most `limit` of each
def test_check_names_each_discrepancy(uow) -> None:
    from sqlalchemy import func, select

    from sscard.ledger.models import LedgerAccount, LedgerLeg, LedgerPosting
    from sscard.ledger.rules import Discrepancy

    assert check(uow).ok
    mine, clearing = _accounts(uow)
    empty = _posting(uow)
    lopsided = _posting(uow, (clearing.id, 5))
    misdated = _posting(uow, (mine.id, 7), (clearing.id, -7), leg_dates=(date(2025, 4, 1),))
    leg = uow.session.scalars(select(LedgerLeg).where(LedgerLeg.posting_id == misdated).order_by(LedgerLeg.id)).first()
    uow.session.execute(text("UPDATE ledger_account SET balance_fen = 9 WHERE id = :i"), {"i": mine.id})
    uow.session.execute(text("UPDATE ledger_account SET balance_fen = -2 WHERE id = :i"), {"i": clearing.id})
    expected = [
        Discrepancy("posting_without_legs", f"posting:{empty}", "no legs"),
        Discrepancy("posting_unbalanced", f"posting:{lopsided}", "legs sum to 5 fen"),
        Discrepancy("leg_misdated", f"posting:{misdated}", f"leg {leg.id} dated 2025-04-01, its posting 2025-03-01"),
        Discrepancy("balance_mismatch", f"account:{mine.id}", "balance 9 fen, its legs sum to 7 fen"),
    ]  # (below zero cannot be stored: ck_ledger_account_non_negative)
    report = check(uow)
    assert report.discrepancies == expected and not report.ok
    count = uow.session.scalar
    assert (report.accounts, report.postings, report.legs) == (
        count(select(func.count()).select_from(LedgerAccount)),
        count(select(func.count()).select_from(LedgerPosting)),
        count(select(func.count()).select_from(LedgerLeg)),
    )
    assert check(uow, limit=1).discrepancies == [expected[0], expected[2], expected[3]]


# rule FIN-2: a posting to an account that does not exist or is closed is refused, in words, and moves nothing;
# each posting has one actor; the statement's movements and a past balance go by business date, both ends included
def test_refusals_in_words_and_movements_by_date(uow) -> None:
    from sscard.db.base import utcnow
    from sscard.ledger.errors import AccountClosed, AccountNotFound
    from sscard.ledger.service import NewPosting, post_many

    mine, clearing = _accounts(uow)
    legs = [Leg(mine.id, 10), Leg(clearing.id, -10)]
    with pytest.raises(AccountNotFound) as missing:
        post(uow, kind="contribution", legs=[Leg(mine.id, 1), Leg(10**12, -1)], business_date=DAY, actor=ACTOR,
             source_ref="t")  # fmt: skip
    assert missing.value.detail == f"ledger account {10**12} does not exist"
    with pytest.raises(ValueError) as one_each:
        post_many(uow, postings=[NewPosting("contribution", legs, DAY, "t")] * 2, actor=[ACTOR])
    assert str(one_each.value) == "one actor per posting"
    days = [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)]
    for n, day in enumerate(days, start=1):
        post(uow, kind="contribution", legs=[Leg(mine.id, n), Leg(clearing.id, -n)], business_date=day, actor=ACTOR,
             source_ref=f"t:{n}")  # fmt: skip
    assert [m.amount_fen for m in movements(uow, account_id=mine.id, start=days[1])] == [2, 3]
    assert [m.amount_fen for m in movements(uow, account_id=mine.id, end=days[1])] == [1, 2]
    assert [m.business_date for m in movements(uow, account_id=mine.id, start=days[1], end=days[1])] == [days[1]]
    assert [balance_on(uow, account_id=mine.id, on=d) for d in days] == [1, 3, 6]
    uow.session.execute(text("UPDATE ledger_account SET closed_at = :t WHERE id = :i"), {"t": utcnow(), "i": mine.id})
    with pytest.raises(AccountClosed) as closed:
        post(uow, kind="contribution", legs=legs, business_date=DAY, actor=ACTOR, source_ref="t")
    assert closed.value.detail == f"ledger account {mine.id} is closed"
    assert balance(uow, mine.id) == 6
    with pytest.raises(AccountNotFound) as gone:
        balance(uow, 10**12)
    assert gone.value.detail == f"ledger account {10**12} does not exist"


# rule FIN-2: the personal accounts of many people opened in one go, once each; an institution made once
def test_accounts_and_institutions_are_made_once(uow) -> None:
    from sscard.ledger.service import ensure_institution, ensure_personal_accounts, get_account

    people = [add_test_person(uow).id for _ in range(3)]
    region = "110105"
    before = open_account(uow, kind=AccountKind.MEDICAL_PERSONAL, region_code=region, person_id=people[0])
    stranger = add_test_person(uow).id  # an account of someone not asked about is not among the answers
    open_account(uow, kind=AccountKind.MEDICAL_PERSONAL, region_code=region, person_id=stranger)
    found = ensure_personal_accounts(uow, kind=AccountKind.MEDICAL_PERSONAL.value,
                                     person_regions=dict.fromkeys(people, region))  # fmt: skip
    assert set(found) == set(people) and found[people[0]] == before.id
    for person in people:
        account = get_account(uow, kind=AccountKind.MEDICAL_PERSONAL.value, person_id=person)
        assert (account.id, account.region_code, account.balance_fen, account.may_go_negative) == (
            found[person], region, 0, False
        )  # fmt: skip
    assert ensure_personal_accounts(uow, kind=AccountKind.MEDICAL_PERSONAL.value, person_regions={}) == {}
    again = ensure_personal_accounts(uow, kind=AccountKind.MEDICAL_PERSONAL.value,
                                     person_regions=dict.fromkeys(people, region))  # fmt: skip
    assert again == found
    # an account of another kind is not taken for this one: a pension account is opened beside the medical one
    pension = ensure_personal_accounts(uow, kind=AccountKind.PENSION_PERSONAL.value, person_regions={people[0]: region})
    assert set(pension) == {people[0]} and pension[people[0]] != found[people[0]]
    assert get_account(uow, kind=AccountKind.PENSION_PERSONAL.value, person_id=people[0]).id == pension[people[0]]
    first = ensure_institution(uow, region_code=region, name="测试医院", institution_type="hospital")
    assert ensure_institution(uow, region_code=region, name="测试医院", institution_type="hospital") == first
    assert ensure_institution(uow, region_code=region, name="测试药房", institution_type="pharmacy") != first
    assert ensure_institution(uow, region_code="310104", name="测试医院", institution_type="hospital") != first


# rule INS-3: on PostgreSQL the missing personal accounts of a batch are made once each in one statement, whatever
# their number (a row a statement was ~330 a batch of the contributions import). The group `ledger-service` of
# `make mutation` runs this test on PostgreSQL.
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_personal_accounts_are_made_once_in_one_statement(uow) -> None:
    from sqlalchemy import event

    from sscard.ledger.service import ensure_personal_accounts

    region = f"9{random.randrange(10**5):05d}"
    engine, sent = uow.session.get_bind().engine, []

    def counted(_conn, _cursor, _statement, parameters, _context, executemany) -> None:  # noqa: ANN001
        sent.append(len(parameters) if executemany else 1)

    statements = []
    for number in (1, 3):
        people = {add_test_person(uow).id: region for _ in range(number)}
        uow.session.flush()
        event.listen(engine, "before_cursor_execute", counted)
        try:
            found = ensure_personal_accounts(uow, kind=AccountKind.PENSION_PERSONAL.value, person_regions=people)
        finally:
            event.remove(engine, "before_cursor_execute", counted)
        assert set(found) == set(people)
        statements.append(sum(sent))
        sent.clear()
    assert statements[0] == statements[1]


# rule INS-7: a reversal of any posting but a contribution is of kind "reversal"; it carries its memo, channel and
# business date, its legs opposite the original's in the same order; a second reversal is refused in words.
# The statement lists movements by business date (oldest first), not by the order they were posted.
def test_a_reversal_is_recorded_whole_and_movements_go_by_business_date(uow) -> None:
    from sscard.ledger.models import LedgerPosting
    from sscard.ledger.service import legs_of

    mine, clearing = _accounts(uow)
    later_day, earlier_day = date(2025, 3, 5), date(2025, 3, 2)
    paid_in = post(uow, kind="contribution", legs=[Leg(mine.id, 300), Leg(clearing.id, -300)],
                   business_date=later_day, actor=ACTOR, source_ref="t:in")  # fmt: skip
    spent = post(uow, kind=PostingKind.SETTLEMENT, legs=[Leg(clearing.id, 120), Leg(mine.id, -120)],
                 business_date=earlier_day, actor=ACTOR, source_ref="t:spent")  # fmt: skip
    assert [m.posting_id for m in movements(uow, account_id=mine.id)] == [spent.id, paid_in.id]
    undo = reverse(uow, posting=spent, actor=ACTOR, source_ref="t:undo", channel="counter", memo="误操作",
                   business_date=date(2025, 3, 6))  # fmt: skip
    row = uow.session.get_one(LedgerPosting, undo.id)
    assert (row.kind, row.reverses_id, row.memo, row.channel, row.business_date, row.source_ref) == (
        PostingKind.REVERSAL.value, spent.id, "误操作", "counter", date(2025, 3, 6), "t:undo"
    )  # fmt: skip
    assert legs_of(uow, undo.id) == [Leg(clearing.id, -120), Leg(mine.id, 120)]
    with pytest.raises(AlreadyReversed) as twice:
        reverse(uow, posting=spent, actor=ACTOR, source_ref="t:undo2")
    assert twice.value.detail == f"posting {spent.id} has already been reversed"
    assert balance(uow, mine) == 300


# rule FIN-2 / INS-3: `ledger check` counts what it proved — nothing on an empty ledger — and names at most 100 faults
# of a kind unless told otherwise, the first ones by posting
def test_check_counts_an_empty_ledger_and_names_100_of_a_kind(empty_uow) -> None:
    from sscard.ledger.rules import Discrepancy

    empty = check(empty_uow)
    assert (empty.accounts, empty.postings, empty.legs, empty.ok) == (0, 0, 0, True)
    ids = [_posting(empty_uow) for _ in range(101)]
    assert check(empty_uow).discrepancies == [
        Discrepancy("posting_without_legs", f"posting:{i}", "no legs") for i in ids[:100]
    ]


# rule FIN-2 / INS-3: an account without legs proves a zero balance (and is sound at zero); `limit` bounds each
# kind of fault, misdated legs and balances alike, the first ones kept
def test_check_an_account_without_legs_and_the_limit_of_each_kind(uow) -> None:
    from sscard.ledger.rules import Discrepancy

    mine, clearing = _accounts(uow)
    assert check(uow).ok
    uow.session.execute(text("UPDATE ledger_account SET balance_fen = 9 WHERE id = :i"), {"i": clearing.id})
    assert check(uow).discrepancies == [
        Discrepancy("balance_mismatch", f"account:{clearing.id}", "balance 9 fen, its legs sum to 0 fen")
    ]
    uow.session.execute(text("UPDATE ledger_account SET balance_fen = 0 WHERE id = :i"), {"i": clearing.id})
    late = date(2025, 4, 1)
    first = _posting(uow, (mine.id, 7), (clearing.id, -7), leg_dates=(late,))
    second = _posting(uow, (mine.id, 7), (clearing.id, -7), leg_dates=(late,))
    misdated = [
        Discrepancy("leg_misdated", f"posting:{p}", f"leg {leg} dated 2025-04-01, its posting 2025-03-01")
        for p, leg in ((first, _leg_ids(uow, first)[0]), (second, _leg_ids(uow, second)[0]))
    ]
    unproved = [
        Discrepancy("balance_mismatch", f"account:{mine.id}", "balance 0 fen, its legs sum to 14 fen"),
        Discrepancy("balance_mismatch", f"account:{clearing.id}", "balance 0 fen, its legs sum to -14 fen"),
    ]
    assert check(uow).discrepancies == misdated + unproved
    assert check(uow, limit=1).discrepancies == [misdated[0], unproved[0]]


# rule FIN-2 / INS-3: `limit` bounds the faulty accounts named, not the accounts read: sound ones before them (a
# personal account in credit or at zero, a clearing account below zero) take no place; a clearing account's balance
# below zero is no fault of its own, only its mismatch is
def test_check_names_the_faulty_accounts_past_sound_ones(uow) -> None:
    from sscard.ledger.rules import Discrepancy

    mine, clearing = _accounts(uow)
    post(uow, kind="contribution", legs=[Leg(mine.id, 5), Leg(clearing.id, -5)], business_date=DAY, actor=ACTOR,
         source_ref="t:sound")  # fmt: skip
    at_zero = open_account(
        uow, kind=AccountKind.PENSION_PERSONAL, region_code=mine.region_code, person_id=mine.person_id
    )
    faulty = open_account(uow, kind=AccountKind.INTEREST_EXPENSE, region_code=mine.region_code)
    assert mine.id < clearing.id < at_zero.id < faulty.id
    uow.session.execute(text("UPDATE ledger_account SET balance_fen = -9 WHERE id = :i"), {"i": faulty.id})
    mismatch = [Discrepancy("balance_mismatch", f"account:{faulty.id}", "balance -9 fen, its legs sum to 0 fen")]
    assert check(uow).discrepancies == mismatch
    assert check(uow, limit=1).discrepancies == mismatch


# rule FIN-2: a person's account never goes below zero unless its opener says so, whatever its kind (a holder's
# debit account too); a region's account of a personal kind neither; a region's system account may
def test_only_system_accounts_may_go_negative_by_default(uow) -> None:
    region = f"9{random.randrange(10**5):05d}"
    person = add_test_person(uow).id
    opened = [
        open_account(uow, kind=AccountKind.DEBIT, region_code=region, person_id=person),
        open_account(uow, kind=AccountKind.MEDICAL_PERSONAL, region_code=region),
        open_account(uow, kind=AccountKind.BANK_CASH, region_code=region),
    ]
    assert [account.may_go_negative for account in opened] == [False, False, True]


# rule FIN-2: an account another transaction opened between the look-up and the insert (two first uses at once) is
# read back: the unique index refuses the second, and the loser takes the winner's account
def test_an_account_opened_meanwhile_is_read_back(uow, monkeypatch: pytest.MonkeyPatch) -> None:
    from sscard.ledger import service

    mine, _ = _accounts(uow)
    looked_up, get_account = [], service.get_account

    def missed_once(uow, **owner):  # the first look-up ran before the other transaction committed
        looked_up.append(owner)
        return None if len(looked_up) == 1 else get_account(uow, **owner)

    monkeypatch.setattr(service, "get_account", missed_once)
    again = open_account(uow, kind=AccountKind.MEDICAL_PERSONAL, region_code=mine.region_code, person_id=mine.person_id)
    assert (again.id, len(looked_up)) == (mine.id, 2)


# rule FIN-2: a posting keeps its memo, and its actor's id and its channel within their columns (64 and 16 characters)
def test_a_posting_keeps_its_memo_and_actor_and_channel_within_their_columns(uow) -> None:
    from sscard.ledger.models import LedgerPosting

    mine, clearing = _accounts(uow)
    long_actor = Actor(kind="staff", id="a" * 70, channel=Channel.SYSTEM)
    made = post(uow, kind="contribution", legs=[Leg(mine.id, 1), Leg(clearing.id, -1)], business_date=DAY,
                actor=long_actor, source_ref="t:long", channel="c" * 20, memo="补缴")  # fmt: skip
    row = uow.session.get_one(LedgerPosting, made.id)
    assert (row.actor, row.channel, row.memo) == ("a" * 64, "c" * 16, "补缴")


# rule FIN-2: the statement lists a day's movements by posting, whatever order their legs were written in (two
# transactions posting at once take their postings' ids and their legs' ids in different orders)
def test_a_days_movements_go_by_posting(uow) -> None:
    from sscard.ledger.models import LedgerLeg

    mine, clearing = _accounts(uow)
    first, second = _posting(uow), _posting(uow)
    for posting_id, fen in ((second, 2), (first, 1)):
        for account_id, amount in ((mine.id, fen), (clearing.id, -fen)):
            uow.session.add(LedgerLeg(posting_id=posting_id, account_id=account_id, amount_fen=amount, posted_on=DAY))
        uow.session.flush()
    assert [(m.posting_id, m.amount_fen) for m in movements(uow, account_id=mine.id)] == [(first, 1), (second, 2)]


# rule FIN-1 / FIN-2: each account is found by its owner: a person's own, an institution's, a region's (none of them
# taken for another), each opened once
def test_each_account_is_found_by_its_owner(uow) -> None:
    from sscard.ledger.service import ensure_institution, get_account

    region = f"9{random.randrange(10**5):05d}"
    kind = AccountKind.SETTLEMENT_CLEARING.value
    first = ensure_institution(uow, region_code=region, name="甲医院", institution_type="hospital")
    second = ensure_institution(uow, region_code=region, name="乙医院", institution_type="hospital")
    of_region = open_account(uow, kind=kind, region_code=region)
    of_first = open_account(uow, kind=kind, region_code=region, institution_id=first)
    of_second = open_account(uow, kind=kind, region_code=region, institution_id=second)
    assert len({of_region.id, of_first.id, of_second.id}) == 3
    assert open_account(uow, kind=kind, region_code=region, institution_id=first).id == of_first.id
    assert get_account(uow, kind=kind, institution_id=second).id == of_second.id
    assert get_account(uow, kind=kind, region_code=region).id == of_region.id
    assert get_account(uow, kind=kind) is None  # no region named: no region's account
    person = add_test_person(uow)
    own = open_account(uow, kind=AccountKind.MEDICAL_PERSONAL, region_code=region, person_id=person.id)
    assert open_account(uow, kind=AccountKind.MEDICAL_PERSONAL, region_code=region, person_id=person.id).id == own.id
    assert get_account(uow, kind=AccountKind.MEDICAL_PERSONAL.value, region_code=region) is None


# rule FIN-2 / INS-3: on PostgreSQL a batch's postings go by COPY (`post_many_in_sets`, the contributions import): each
# posting whole with its actor and channel within their columns, its legs dated by it, the ids in order, the balances
# moved (loaded accounts too), a reversal's reference kept; no postings, no ids. The group `ledger-service` of
# `make mutation` runs this test on PostgreSQL (pyproject.toml).
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_postings_in_sets_are_written_whole(uow) -> None:
    from sqlalchemy import select

    from sscard.db.bulk import writes_in_sets
    from sscard.ledger.models import LedgerLeg, LedgerPosting
    from sscard.ledger.service import NewPosting, post_many_in_sets

    assert writes_in_sets(uow)
    assert post_many_in_sets(uow, postings=[], actor=ACTOR) == []
    mine, clearing = _accounts(uow)
    staff = Actor(kind="staff", id="s" * 70, channel=Channel.COUNTER)
    paid_in, spent = date(2025, 3, 5), date(2025, 3, 2)
    ids = post_many_in_sets(uow, actor=[staff, ACTOR], postings=[
        NewPosting("contribution", [Leg(mine.id, 300), Leg(clearing.id, -300)], paid_in, "t:in", memo="缴费"),
        NewPosting("settlement", [Leg(clearing.id, 120), Leg(mine.id, -120)], spent, "t:out"),
    ])  # fmt: skip
    (undo,) = post_many_in_sets(uow, actor=ACTOR, channel="c" * 20, postings=[
        NewPosting("reversal", [Leg(clearing.id, -120), Leg(mine.id, 120)], paid_in, "t:undo", reverses_id=ids[1])
    ])  # fmt: skip
    assert len(ids) == 2 and ids[0] < ids[1] < undo
    rows = [uow.session.get_one(LedgerPosting, i) for i in (*ids, undo)]
    assert [(r.kind, r.business_date, r.actor, r.channel, r.source_ref, r.reverses_id, r.memo) for r in rows] == [
        ("contribution", paid_in, "s" * 64, "counter", "t:in", None, "缴费"),
        ("settlement", spent, "test", "system", "t:out", None, None),
        ("reversal", paid_in, "test", "c" * 16, "t:undo", ids[1], None),
    ]
    legs = uow.session.scalars(select(LedgerLeg).where(LedgerLeg.posting_id.in_([*ids, undo])).order_by(LedgerLeg.id))
    assert [(leg.posting_id, leg.account_id, leg.amount_fen, leg.posted_on) for leg in legs] == [
        (ids[0], mine.id, 300, paid_in), (ids[0], clearing.id, -300, paid_in),
        (ids[1], clearing.id, 120, spent), (ids[1], mine.id, -120, spent),
        (undo, clearing.id, -120, paid_in), (undo, mine.id, 120, paid_in),
    ]  # fmt: skip
    assert (mine.balance_fen, clearing.balance_fen) == (300, -300)  # the loaded accounts moved with their rows
    assert (balance(uow, mine), balance(uow, clearing)) == (300, -300)
    assert check(uow).ok


# The ledger's cut in the test below: older than any posting of the session's database (nothing else is archived).
CUT = date(1900, 2, 1)
BEFORE_CUT = date(1900, 1, 31)


# rule FIN-1 / FIN-2: with the ledger's older months archived (PostgreSQL), `ledger check` proves each cached balance
# equals the balance carried at the cut plus the legs still attached; it names each posting and leg dated before the
# cut and carried balances that do not sum to zero (at most `limit` of each kind), and leaves a terminal transaction
# dated before the cut to the archive; a balance or the movements needing the legs before the cut are
# PERIOD_ARCHIVED, in words. The group `ledger-service` of `make mutation` runs this test on PostgreSQL.
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_check_with_archived_months(uow) -> None:
    from sscard.db.base import utcnow
    from sscard.ledger.errors import PeriodArchived
    from sscard.ledger.models import Institution
    from sscard.ledger.rules import Discrepancy
    from sscard.settlement.models import TerminalTxn

    mine, clearing = _accounts(uow)
    other = open_account(uow, kind=AccountKind.SETTLEMENT_CLEARING, region_code=mine.region_code)

    # What `sscard partitions detach` records at the cut, and the balance the account keeps.
    carried = ("INSERT INTO ledger_carried_balance (account_id, carried_before, balance_fen, recorded_at) "
               "VALUES (:a, :c, :b, :t)")  # fmt: skip
    kept = "UPDATE ledger_account SET balance_fen = :b WHERE id = :a"

    def carry(account_id: int, fen: int) -> None:
        uow.session.execute(text(carried), {"a": account_id, "c": CUT, "b": fen, "t": utcnow()})
        uow.session.execute(text(kept), {"a": account_id, "b": fen})

    carry(mine.id, 50)
    carry(clearing.id, -50)
    on_cut = post(uow, kind="contribution", legs=[Leg(mine.id, 7), Leg(clearing.id, -7)], business_date=CUT,
                  actor=ACTOR, source_ref="t:cut").id  # fmt: skip
    report = check(uow)
    assert (report.ok, report.carried_before) == (True, CUT), report.discrepancies
    assert [balance_on(uow, account_id=mine.id, on=day) for day in (BEFORE_CUT, CUT)] == [50, 57]
    assert [m.posting_id for m in movements(uow, account_id=mine.id, start=CUT)] == [on_cut]
    with pytest.raises(PeriodArchived) as balance_refused:
        balance_on(uow, account_id=mine.id, on=date(1900, 1, 30))
    assert balance_refused.value.detail == "the balance on 1900-01-30: the ledger before 1900-02-01 is archived"
    with pytest.raises(PeriodArchived) as movements_refused:
        movements(uow, account_id=mine.id, start=BEFORE_CUT)
    assert movements_refused.value.detail == "the movements from 1900-01-31: the ledger before 1900-02-01 is archived"

    early = [_posting(uow, (clearing.id, fen), (clearing.id, -fen), on=BEFORE_CUT) for fen in (3, 4)]
    carry(other.id, 1)  # carried beside the others: they no longer sum to zero
    institution = Institution(region_code=mine.region_code, name=f"cut {mine.id}", institution_type="pharmacy")
    uow.session.add(institution)
    uow.session.flush()
    txns = []  # each naming no institution: the one dated before the cut is the archive's, not looked for
    for n, (posting_id, account_id, fen, day) in enumerate(((early[0], clearing.id, 3, BEFORE_CUT),
                                                            (on_cut, mine.id, 7, CUT))):  # fmt: skip
        row = TerminalTxn(terminal_id="T-CUT", txn_id=f"cut{mine.id}-{n}", purpose="settle", request_digest="0" * 64,
                          institution_id=10**12, card_id=None, account_id=account_id, amount_fen=fen,
                          posting_id=posting_id, reversed=False, business_date=day, answer={})  # fmt: skip
        uow.session.add(row)
        uow.session.flush()
        txns.append(row.id)
    archived = "before the cut 1900-02-01 (its month is archived)"
    expected = [
        *(Discrepancy("posting_before_cut", f"posting:{p}", f"dated 1900-01-31, {archived}") for p in early),
        *(Discrepancy("leg_before_cut", f"posting:{p}", f"leg {leg} dated 1900-01-31, {archived}")
          for p in early for leg in _leg_ids(uow, p)),
        Discrepancy("carried_unbalanced", "cut:1900-02-01",
                    "the balances carried at 1900-02-01 sum to 1 fen, not zero"),
        Discrepancy("txn_unknown_institution", f"terminal_txn:{txns[1]}", f"no institution {10**12}"),
    ]  # fmt: skip
    assert check(uow).discrepancies == expected
    assert check(uow, limit=1).discrepancies == [expected[0], expected[2], expected[6], expected[7]]


def _leg_ids(uow, posting_id: int) -> list[int]:
    legs = text("SELECT id FROM ledger_leg WHERE posting_id = :p ORDER BY id")
    return list(uow.session.scalars(legs, {"p": posting_id}))
