"""The ledger's oldest months archived with carried balances (issue 23 item 3; docs/partitioning.md,
"Archiving the ledger"): PostgreSQL only, a database of the module's own (archiving is for good)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from sscard.audit import Actor
from sscard.audit.detach import detach_before
from sscard.config import reset_settings_cache
from sscard.db import partitions
from sscard.db.partitions import PartitionError, PartitionTooRecent, add_months, month_start
from sscard.db.session import UnitOfWork
from sscard.ledger.errors import AlreadyReversed, PeriodArchived
from sscard.ledger.models import LedgerPosting
from sscard.ledger.rules import Leg
from sscard.ledger.service import balance, balance_on, movements, open_account, post, reverse
from sscard.ledger.service import check as check_ledger
from tests.conftest import drop_schema

THIS_MONTH = month_start(datetime.now(UTC))
YEAR = [add_months(THIS_MONTH, n) for n in range(-14, -2)]  # twelve months of postings, the last 3 months ago
CUT = add_months(THIS_MONTH, -6)  # the minimum age below is 6 months: the latest cut allowed
ACTOR = Actor.cli_operator()
pytestmark = pytest.mark.xdist_group("partitions")


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    from tests.conftest import fresh_database

    yield from fresh_database("postgresql", tmp_path_factory)


@pytest.fixture(autouse=True)
def _settings(pg, monkeypatch):
    monkeypatch.setenv("SSCARD_AUDIT_ANCHOR_FILE", str(pg.anchor_file))
    monkeypatch.setenv("SSCARD_PARTITION_DETACH_MIN_AGE_MONTHS", "6")
    reset_settings_cache()
    yield
    monkeypatch.undo()
    reset_settings_cache()


@contextmanager
def _uow(db) -> Iterator[UnitOfWork]:
    with Session(db.engine) as session:
        yield UnitOfWork(session)


def _deposit(uow: UnitOfWork, cash: int, debit: int, fen: int, on: date, ref: str) -> int:
    legs = [Leg(cash, -fen), Leg(debit, fen)]
    return post(uow, kind="debit_deposit", legs=legs, business_date=on, actor=ACTOR, source_ref=ref).id


def _contributor(uow: UnitOfWork) -> int:
    """A person with a contribution in the first month of the year of postings (archived below) only."""
    from tests.insurance_accounts.factories import declare, make_employer, register
    from tests.people.factories import add_test_person, new_id_number

    person = add_test_person(uow, id_number=new_id_number())
    reg = register(uow, person_id=person.id, employer=make_employer(uow), start=YEAR[0])
    declare(uow, reg=reg, period=YEAR[0])  # 8 % of 10,000 yuan to the pension account, 2 % to the medical
    return person.id


def _faults(pg, *statements: str) -> set[tuple[str, str]]:
    """The ledger check's findings after ``statements`` (rolled back afterwards)."""
    with pg.engine.connect() as c:
        for statement in statements:
            c.execute(text(statement))
        with Session(bind=c) as session:
            found = {(d.kind, d.ref) for d in check_ledger(UnitOfWork(session)).discrepancies}
        c.rollback()
    return found


# rule FIN-1: a year of postings; the months older than the minimum age are archived with each account's
# balance at the cut carried (append-only, audited, in the detach's transaction); ``ledger check`` proves
# balance = carried + the legs still attached, all dated from the cut on; a tampered carried balance fails
# it; a period before the cut is refused as PERIOD_ARCHIVED, never shown with wrong figures; money moves
# normally afterwards, never dated before the cut
def test_ledger_months_archived_with_carried_balances(pg) -> None:
    with _uow(pg) as uow:
        cash = open_account(uow, kind="bank_cash", region_code="110101", may_go_negative=True).id
        debit = open_account(uow, kind="debit", region_code="110101", may_go_negative=False).id
        ids = [_deposit(uow, cash, debit, 100 * (n + 1), month + timedelta(days=9), f"archive-test:{n}")
               for n, month in enumerate(YEAR)]  # fmt: skip
        first = uow.session.get_one(LedgerPosting, ids[0])  # reversed a month later: both archived below
        reverse(uow, posting=first, actor=ACTOR, source_ref="archive-test:undo", business_date=YEAR[1])
        _deposit(uow, cash, debit, 5, THIS_MONTH, "archive-test:now")
        _contributor(uow)
        uow.commit()
    total = sum(100 * (n + 1) for n in range(12)) - 100 + 5
    at_cut = sum(100 * (n + 1) for n, month in enumerate(YEAR) if month < CUT) - 100
    attached = len([month for month in YEAR if month >= CUT]) + 1
    with pg.engine.begin() as c:
        partitions.ensure(c, months_ahead=1)  # the old months' partitions, their rows moved out of the default
    with _uow(pg) as uow:
        assert check_ledger(uow).ok
        assert balance_on(uow, account_id=debit, on=CUT - timedelta(days=1)) == at_cut

    # Inside the minimum age: refused, nothing changed.
    with _uow(pg) as uow, pytest.raises(PartitionTooRecent):
        detach_before(uow, before=add_months(THIS_MONTH, -3), actor=ACTOR)
    with pg.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM ledger_carried_balance")).scalar_one() == 0
        assert all(p.attached for p in partitions.list_partitions(c, counts=False) if p.table.startswith("ledger_"))

    # An unbalanced posting among the months to archive: refused, nothing changed.
    with _uow(pg) as uow, pytest.raises(PartitionError, match="not zero"):
        uow.session.execute(
            text("INSERT INTO ledger_leg (posting_id, account_id, amount_fen, posted_on) VALUES (:p, :a, 1, :d)"),
            {"p": ids[0], "a": debit, "d": YEAR[0] + timedelta(9)},
        )
        detach_before(uow, before=CUT, actor=ACTOR)  # fmt: skip

    with _uow(pg) as uow:
        done = detach_before(uow, before=CUT, actor=ACTOR)
        uow.commit()
    names = [name for name, _, _ in done.partitions]
    for month in YEAR:
        for table in ("ledger_leg", "ledger_posting"):
            assert (partitions.partition_name(table, month) in names) == (month < CUT)
    assert names.index(partitions.partition_name("ledger_leg", YEAR[0])) < names.index(
        partitions.partition_name("ledger_posting", YEAR[0])
    )
    with pg.engine.connect() as c:
        carried = dict(c.execute(text("SELECT account_id, balance_fen FROM ledger_carried_balance "
                                      "WHERE carried_before = :c"), {"c": CUT}).all())  # fmt: skip
        assert (carried[debit], carried[cash]) == (at_cut, -at_cut)
        assert {20_000, 80_000, -100_000} <= set(carried.values())  # the contributor: medical, pension, clearing
        assert c.execute(text("SELECT count(*) FROM ledger_posting WHERE business_date < :c"), {"c": CUT}).scalar() == 0
        details = c.execute(text("SELECT details FROM audit_entry WHERE action = 'audit.archive' ORDER BY id DESC "
                                 "LIMIT 1")).scalar_one()  # fmt: skip
        assert json.loads(details)["carried"] == {"accounts": 5, "total_fen": 0}
        c.rollback()
        with pytest.raises(DBAPIError, match="append-only"), c.begin():  # nobody edits a carried balance
            c.execute(text("UPDATE ledger_carried_balance SET balance_fen = balance_fen + 1"))
        with pytest.raises(DBAPIError, match="append-only"), c.begin():
            c.execute(text("DELETE FROM ledger_carried_balance"))

    with _uow(pg) as uow:
        report = check_ledger(uow)
        assert report.ok, report.discrepancies
        assert report.carried_before == CUT
        assert balance(uow, debit) == total
        assert balance_on(uow, account_id=debit, on=THIS_MONTH + timedelta(days=1)) == total
        assert balance_on(uow, account_id=debit, on=CUT - timedelta(days=1)) == at_cut  # the carried balance
        with pytest.raises(PeriodArchived):
            balance_on(uow, account_id=debit, on=CUT - timedelta(days=2))
        with pytest.raises(PeriodArchived):
            movements(uow, account_id=debit, start=add_months(CUT, -1))
        assert [m.business_date >= CUT for m in movements(uow, account_id=debit)] == [True] * attached

    # Tampering with a carried balance, or a leg of an archived month put back, fails the check.
    disable = "ALTER TABLE ledger_carried_balance DISABLE TRIGGER ledger_carried_balance_append_only"
    raise_one = f"UPDATE ledger_carried_balance SET balance_fen = balance_fen + 1 WHERE account_id = {debit}"  # noqa: S608
    tampered = _faults(pg, disable, raise_one)
    assert {("balance_mismatch", f"account:{debit}"), ("carried_unbalanced", f"cut:{CUT}")} <= tampered
    legs, postings = (partitions.partition_name(t, YEAR[2]) for t in ("ledger_leg", "ledger_posting"))
    put_back = _faults(
        pg,
        "ALTER TABLE ledger_posting_default DROP CONSTRAINT archived_months",
        "ALTER TABLE ledger_leg_default DROP CONSTRAINT archived_months",
        f"INSERT INTO ledger_posting_default SELECT * FROM {postings}",  # noqa: S608 - a partition's name
        f"INSERT INTO ledger_leg_default SELECT * FROM {legs}",  # noqa: S608
    )
    assert {"leg_before_cut", "posting_before_cut", "balance_mismatch"} <= {kind for kind, _ in put_back}

    # Money moves as before: from the cut on; a posting dated before it is refused by the database.
    with _uow(pg) as uow:
        later = _deposit(uow, cash, debit, 7, THIS_MONTH + timedelta(days=1), "archive-test:after")
        reverse(uow, posting=uow.session.get_one(LedgerPosting, later), actor=ACTOR, source_ref="archive-test:undo2")
        uow.commit()
        with pytest.raises(AlreadyReversed):
            reverse(uow, posting=uow.session.get_one(LedgerPosting, later), actor=ACTOR, source_ref="archive-test:2")
        uow.session.rollback()
        assert check_ledger(uow).ok
        assert balance(uow, debit) == total
    with _uow(pg) as uow, pytest.raises(IntegrityError, match="archived_months"):
        _deposit(uow, cash, debit, 3, CUT - timedelta(days=1), "archive-test:too-old")
    # "Reversed at most once" is ledger_posting_key's, whoever writes: a second reversal of a posting of an
    # archived month (its key row kept) is refused by the database.
    with pg.engine.connect() as c, pytest.raises(IntegrityError, match="uq_ledger_posting_reverses_id"), c.begin():
        c.execute(text("INSERT INTO ledger_posting (kind, business_date, created_at, actor, channel, source_ref, "
                       "reverses_id) VALUES ('reversal', :d, now(), 'x', 'cli', 'archive-test:raw', :r)"),
                  {"d": THIS_MONTH, "r": ids[0]})  # fmt: skip

    # A later cut carries the earlier cut's balance plus the legs between the two.
    later_cut = add_months(THIS_MONTH, -3)
    with pytest.MonkeyPatch.context() as m:
        m.setenv("SSCARD_PARTITION_DETACH_MIN_AGE_MONTHS", "3")
        reset_settings_cache()
        with _uow(pg) as uow:
            detach_before(uow, before=later_cut, actor=ACTOR)
            uow.commit()
    reset_settings_cache()
    between = sum(100 * (n + 1) for n, month in enumerate(YEAR) if CUT <= month < later_cut)
    with _uow(pg) as uow:
        report = check_ledger(uow)
        assert report.ok and report.carried_before == later_cut, report.discrepancies
        assert balance_on(uow, account_id=debit, on=later_cut - timedelta(days=1)) == at_cut + between
        assert balance(uow, debit) == total
        with pytest.raises(PeriodArchived):
            balance_on(uow, account_id=debit, on=CUT)


# rule FIN-1: a yearly statement, an account's movements of a year and a year's interest for a year before
# the cut are PERIOD_ARCHIVED (they would need the archived legs), never figures without them
def test_archived_years_are_refused(pg) -> None:
    from sscard.insurance.accounts.interest import credit_interest
    from sscard.insurance.accounts.records import accounts_of, derived_balance, movements_of
    from sscard.ledger.models import AccountKind, LedgerAccount
    from sscard.statements.loading import contributor_region, contributors, load_statements

    archived_year = (CUT - timedelta(days=1)).year
    with _uow(pg) as uow:
        account = uow.session.scalar(
            select(LedgerAccount).where(LedgerAccount.kind == AccountKind.PENSION_PERSONAL.value)
        )  # fmt: skip
        if account is None or not uow.session.execute(text("SELECT count(*) FROM ledger_carried_balance")).scalar():
            pytest.skip("runs after the archive above")
        person = account.person_id
        for read in (
            lambda: derived_balance(uow, account_id=account.id, before=add_months(CUT, -1)),
            lambda: movements_of(uow, person_id=person, kind=AccountKind.PENSION_PERSONAL, year=archived_year),
            lambda: contributors(uow.session, year=archived_year),
            lambda: contributor_region(uow.session, person_id=1, year=archived_year),
            lambda: load_statements(uow.session, [], year=archived_year),
            lambda: credit_interest(uow, year=archived_year, actor=ACTOR, today=THIS_MONTH + timedelta(days=400)),
        ):
            with pytest.raises(PeriodArchived):
                read()
        # From the cut on: the carried balance opens the figures (this person has nothing else attached).
        pension = 1_000_000 * 8 // 100
        assert [a.balance_fen for a in accounts_of(uow, person_id=person) if a.kind == "pension_personal"] == [pension]
        page = movements_of(uow, person_id=person, kind=AccountKind.PENSION_PERSONAL)
        assert (page.total, page.opening_balance_fen, page.closing_balance_fen) == (0, pension, pension)
        year = THIS_MONTH.year + 1
        assert (person, "110105") in contributors(uow.session, year=year)  # in use: a balance carried
        (data,) = load_statements(uow.session, [(person, "110105")], year=year)
        assert (data.account("pension_personal").opening_fen, data.account("pension_personal").closing_fen) == (
            pension, pension,
        )  # fmt: skip


# rule FIN-1: migration 0023 keeps every posting, leg and reversal across upgrade, downgrade and upgrade
# (the keys move to ledger_posting_key and back)
def test_migration_round_trip_keeps_the_ledger(pg, tmp_path, monkeypatch) -> None:
    import secrets

    from sscard.db import migrate
    from sscard.db.session import build_engine

    schema = f"t_{secrets.token_hex(6)}"
    migrate.upgrade(pg.url, schema, "0022_history_partitions")
    engine = build_engine(pg.url, schema=schema)
    try:
        with Session(engine) as session:
            uow = UnitOfWork(session)
            cash = open_account(uow, kind="bank_cash", region_code="110101", may_go_negative=True).id
            debit = open_account(uow, kind="debit", region_code="110101", may_go_negative=False).id
            paid = _deposit(uow, cash, debit, 500, YEAR[0], "round-trip:1")
            _deposit(uow, cash, debit, 300, THIS_MONTH, "round-trip:2")
            session.commit()
        with engine.begin() as c:  # a reversal as 0022 stores it (the posting's unique reverses_id)
            undo = c.execute(text("INSERT INTO ledger_posting (kind, business_date, created_at, actor, channel, "
                                  "source_ref, reverses_id) VALUES ('reversal', :d, now(), 'x', 'cli', 'round-trip:3', "
                                  ":r) RETURNING id"), {"d": YEAR[1], "r": paid}).scalar_one()  # fmt: skip
            c.execute(text("INSERT INTO ledger_leg (posting_id, account_id, amount_fen, posted_on) VALUES "
                           "(:p, :debit, -500, :d), (:p, :cash, 500, :d)"),
                      {"p": undo, "debit": debit, "cash": cash, "d": YEAR[1]})  # fmt: skip
            c.execute(text("UPDATE ledger_account SET balance_fen = balance_fen + CASE WHEN id = :debit THEN -500 "
                           "ELSE 500 END WHERE id IN (:debit, :cash)"), {"debit": debit, "cash": cash})  # fmt: skip

        def state() -> tuple[bool, int, int, list[tuple[int, int]], bool]:
            """Partitioned?, postings, legs, (reversal, reversed), every balance the sum of its legs (the
            check's own query needs this revision's tables)."""
            with engine.connect() as c:
                postings = c.execute(text("SELECT count(*) FROM ledger_posting")).scalar_one()
                legs = c.execute(text("SELECT count(*) FROM ledger_leg")).scalar_one()
                reversed_ = c.execute(text("SELECT id, reverses_id FROM ledger_posting WHERE reverses_id IS NOT NULL"))
                wrong = c.execute(
                    text(
                        "SELECT count(*) FROM ledger_account a WHERE balance_fen <> (SELECT "
                        "coalesce(sum(amount_fen), 0) FROM ledger_leg l WHERE l.account_id = a.id)"
                    )
                )
                return (partitions.is_partitioned(c, "ledger_posting"), postings, legs, [tuple(r) for r in reversed_],
                        wrong.scalar_one() == 0)  # fmt: skip

        assert state() == (False, 3, 6, [(undo, paid)], True)
        migrate.upgrade(pg.url, schema)
        assert state() == (True, 3, 6, [(undo, paid)], True)
        with engine.connect() as c:
            keys = c.execute(text("SELECT id, reverses_id FROM ledger_posting_key ORDER BY id")).all()
            assert [tuple(k) for k in keys if k.reverses_id is not None] == [(undo, paid)] and len(keys) == 3
        with Session(engine) as session:
            assert check_ledger(UnitOfWork(session)).ok
        with Session(engine) as session, pytest.raises(AlreadyReversed):  # still reversed once only
            reverse(UnitOfWork(session), posting=session.get_one(LedgerPosting, paid), actor=ACTOR, source_ref="x")
        migrate.downgrade(pg.url, schema, "0022_history_partitions")
        assert state() == (False, 3, 6, [(undo, paid)], True)
        with engine.connect() as c, pytest.raises(IntegrityError), c.begin():  # the unique column is back
            c.execute(text("INSERT INTO ledger_posting (kind, business_date, created_at, actor, channel, source_ref, "
                           "reverses_id) VALUES ('reversal', :d, now(), 'x', 'cli', 'round-trip:4', :r)"),
                      {"d": THIS_MONTH, "r": paid})  # fmt: skip
        migrate.upgrade(pg.url, schema)
        assert state() == (True, 3, 6, [(undo, paid)], True)
    finally:
        engine.dispose()
        drop_schema(pg.url, schema)
