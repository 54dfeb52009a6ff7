"""Monthly partitions of the audit history (issue 23; docs/partitioning.md): PostgreSQL partitions,
SQLite stays as it was. Each module database is its own: archiving takes months out for good."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from sscard.audit import Actor
from sscard.audit.anchors import anchor_now
from sscard.audit.detach import detach_before
from sscard.audit.service import record_event, verify_chain
from sscard.cli.main import app
from sscard.config import reset_settings_cache
from sscard.db import partitions
from sscard.db.partitions import PartitionError, add_months, month_start
from sscard.db.session import UnitOfWork
from sscard.ledger.service import check as check_ledger
from tests.conftest import drop_schema, rolled_back_uow

THIS_MONTH = month_start(datetime.now(UTC))
# One worker, in this order: archiving takes months out of the module's database for good.
pytestmark = pytest.mark.xdist_group("partitions")
ACTOR = Actor.cli_operator()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request, tmp_path_factory):
    from tests.conftest import fresh_database

    yield from fresh_database(request.param, tmp_path_factory)


@pytest.fixture(autouse=True)
def _anchors(db, monkeypatch):
    """The chain's checks read this database's own anchor file (as the ``uow`` fixture does)."""
    monkeypatch.setenv("SSCARD_AUDIT_ANCHOR_FILE", str(db.anchor_file))
    monkeypatch.setenv("SSCARD_PARTITION_DETACH_MIN_AGE_MONTHS", "1")  # these tests archive months a few old
    reset_settings_cache()
    yield
    monkeypatch.undo()
    reset_settings_cache()


@pytest.fixture
def pg(db):
    if db.backend != "postgresql":
        pytest.skip("partitions are PostgreSQL's")
    return db


@contextmanager
def _uow(db) -> Iterator[UnitOfWork]:
    """A unit of work that commits for real (archiving is DDL that the tests must see afterwards)."""
    with Session(db.engine) as session:
        yield UnitOfWork(session)


def _write(db, monkeypatch, at: datetime, n: int, subject: str = "partition-test") -> None:
    """``n`` audit entries dated ``at`` (the chain's clock set there), committed."""
    with monkeypatch.context() as m, _uow(db) as uow:
        m.setattr("sscard.audit.service.utcnow", lambda: at)
        for i in range(n):
            record_event(uow, actor=ACTOR, action="test.partition", subject=f"{subject}:{i}")
        uow.commit()


def _where(db, since: datetime) -> dict[str, int]:
    """Partition → entries of this test's clock range."""
    with db.engine.connect() as c:
        rows = c.execute(
            text("SELECT tableoid::regclass::text AS p, count(*) FROM audit_entry WHERE at >= :s GROUP BY 1"),
            {"s": since},
        )
        return {r[0].split(".")[-1]: r[1] for r in rows}


def _mid(month: date) -> datetime:
    return datetime(month.year, month.month, 15, 12, tzinfo=UTC)


# rule CH-4: SQLite (the embedded default) is not partitioned: every partition command is a no-op
def test_sqlite_is_unchanged(db, request) -> None:
    if db.backend != "sqlite":
        pytest.skip("the SQLite case")
    with db.engine.connect() as c:
        assert not partitions.is_partitioned(c, "audit_entry")
        assert partitions.ensure(c, months_ahead=3) == []
        assert partitions.list_partitions(c) == []
        names = c.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
    assert "audit_entry" in names and not any(n.startswith("audit_entry_") for n in names)
    with rolled_back_uow(db.engine) as uow:
        assert detach_before(uow, before=THIS_MONTH, actor=ACTOR).partitions == []
    request.getfixturevalue("db_env")
    result = CliRunner().invoke(app, ["partitions", "ensure"])
    assert result.exit_code == 0 and "nothing is partitioned" in result.output


# rule CH-4: entries land in their month's partition; a month nobody created goes to the default, and
# ensure gives it its partition (rows moved, keys kept) and creates future months only once
def test_rows_land_in_their_month_and_ensure_is_idempotent(pg, monkeypatch) -> None:
    stray = add_months(THIS_MONTH, -7)  # older than anything the migration created
    since = datetime.combine(stray, datetime.min.time(), UTC)
    _write(pg, monkeypatch, _mid(stray), 3, "stray")
    _write(pg, monkeypatch, _mid(THIS_MONTH), 2, "now")
    found = _where(pg, since)
    assert found["audit_entry_default"] == 3
    assert found[partitions.partition_name("audit_entry", THIS_MONTH)] >= 2

    with pg.engine.begin() as c:
        created = partitions.ensure(c, months_ahead=6)
    assert partitions.partition_name("audit_entry", stray) in created
    assert partitions.partition_name("audit_entry", add_months(THIS_MONTH, 6)) in created
    with pg.engine.begin() as c:
        assert partitions.ensure(c, months_ahead=6) == []  # idempotent
    found = _where(pg, since)
    assert found[partitions.partition_name("audit_entry", stray)] == 3
    assert "audit_entry_default" not in found
    with _uow(pg) as uow:
        assert verify_chain(uow).ok  # moved rows: still one chain, keys still there


# rule CH-4: ids and (stream, seq) stay unique across partitions (audit_entry_key), archived months included
def test_keys_stay_unique_across_months(pg, monkeypatch) -> None:
    _write(pg, monkeypatch, _mid(THIS_MONTH), 1, "unique")
    with pg.engine.connect() as c:
        row = c.execute(text("SELECT * FROM audit_entry ORDER BY id DESC LIMIT 1")).mappings().one()
    with pg.engine.connect() as c:
        other_month = row["at"] + timedelta(days=40)
        copy = {**row, "at": other_month}
        cols = ", ".join(copy)
        values = ", ".join(f":{k}" for k in copy)
        for changed in ({"id": row["id"] + 10**12}, {"seq": row["seq"] + 10**9}):  # same place; same id
            with pytest.raises(IntegrityError):
                with c.begin():
                    c.execute(text(f"INSERT INTO audit_entry ({cols}) VALUES ({values})"), {**copy, **changed})  # noqa: S608
    # An update that moves the row to another month's partition keeps its key; a delete frees it.
    key = text("SELECT count(*) FROM audit_entry_key WHERE id = :i AND stream = :s AND seq = :q")
    where = {"i": row["id"], "s": row["stream"], "q": row["seq"]}
    with pg.engine.connect() as c:
        c.execute(text("UPDATE audit_entry SET at = :at WHERE id = :i"), {"at": other_month, "i": row["id"]})
        assert c.execute(key, where).scalar_one() == 1
        c.execute(text("DELETE FROM audit_entry WHERE id = :i"), {"i": row["id"]})
        assert c.execute(key, where).scalar_one() == 0
        c.rollback()


# rule CH-4: a detached month is archived as its own table; the chain verifies from the archived heads,
# the report says from which month, and the ledger check still passes
def test_detach_archives_and_chain_still_verifies(pg, monkeypatch) -> None:
    old, older = add_months(THIS_MONTH, -2), add_months(THIS_MONTH, -3)
    with pg.engine.begin() as c:
        partitions.ensure(c, months_ahead=1)
        for month in (older, old):  # the months exist before the entries (ensure's other path is tested above)
            if partitions.partition_name("audit_entry", month) not in {p.name for p in partitions.list_partitions(c)}:
                c.execute(text(partitions.create_month_sql("audit_entry", month)))
    _write(pg, monkeypatch, _mid(older), 4, "older")
    _write(pg, monkeypatch, _mid(old), 4, "old")
    _write(pg, monkeypatch, _mid(THIS_MONTH), 4, "now")
    with _uow(pg) as uow:  # anchored before: the anchored places of the old streams get archived
        assert not anchor_now(uow, actor=ACTOR).faults
        uow.commit()

    with _uow(pg) as uow:
        with pytest.raises(PartitionError):  # the current month is never archived
            detach_before(uow, before=add_months(THIS_MONTH, 1), actor=ACTOR)
    with _uow(pg) as uow:
        done = detach_before(uow, before=add_months(THIS_MONTH, -1), actor=ACTOR)
        uow.commit()
    archived = {name: rows for name, _month, rows in done.partitions}
    assert archived[partitions.partition_name("audit_entry", older)] >= 4
    assert archived[partitions.partition_name("audit_entry", old)] >= 4
    with pg.engine.connect() as c:
        states = {p.name: p.attached for p in partitions.list_partitions(c)}
        assert states[partitions.partition_name("audit_entry", old)] is False
        archive = partitions.partition_name("audit_entry", old)
        kept = c.execute(text(f"SELECT count(*) FROM {archive}")).scalar_one()  # noqa: S608
        assert kept == archived[partitions.partition_name("audit_entry", old)]  # the archive is a table
        assert c.execute(text("SELECT count(*) FROM audit_entry WHERE at < :b"),
                         {"b": datetime.combine(add_months(THIS_MONTH, -1), datetime.min.time(), UTC)}
                         ).scalar_one() == 0  # fmt: skip

    _write(pg, monkeypatch, _mid(THIS_MONTH), 2, "older")  # their streams go on after the archive
    with _uow(pg) as uow:
        report = verify_chain(uow)
        assert report.ok, report.problem
        assert report.archived_before == add_months(THIS_MONTH, -1)
        assert check_ledger(uow).ok
        report = verify_chain(uow, since_checkpoints=True)
        assert report.ok, report.problem
    with _uow(pg) as uow:  # heads and anchored places in the archived months are no tampering
        assert not anchor_now(uow, actor=ACTOR).faults
        uow.commit()
    with _uow(pg) as uow:
        assert verify_chain(uow).ok

    # A place of an archived month is still taken: nobody writes a second entry there.
    with pg.engine.connect() as c, pytest.raises(IntegrityError), c.begin():
        c.execute(text(f"INSERT INTO audit_entry SELECT * FROM {archive}"))  # noqa: S608

    # Tampering with the first attached entry, or with a horizon, is still found.
    with pg.engine.connect() as c:
        first = c.execute(
            text("SELECT e.id, e.at FROM audit_entry e JOIN audit_archive_horizon h ON h.stream = e.stream "
                 "AND e.seq = h.seq + 1 LIMIT 1")
        ).one()  # fmt: skip
        c.execute(text("UPDATE audit_entry SET prev_hash = :h WHERE id = :i"), {"h": b"\x01" * 32, "i": first.id})
        session_report = _verify_on(c)
        assert not session_report.ok
        assert session_report.problem.entry_id == first.id
        c.rollback()
    with pg.engine.connect() as c:
        c.execute(text("UPDATE audit_archive_horizon SET seq = seq - 1 WHERE stream = (SELECT min(stream) FROM "
                       "audit_archive_horizon)"))  # fmt: skip
        assert "MAC" in _verify_on(c).problem.reason
        c.rollback()


def _verify_on(connection):
    with Session(bind=connection) as session:
        return verify_chain(UnitOfWork(session))


def _txn_owner(db) -> tuple[int, int]:
    """An institution and an account of this test's own (terminal transactions name both)."""
    import secrets

    from sscard.ledger.models import Institution, LedgerAccount

    with _uow(db) as uow:
        institution = Institution(region_code="110101", name=f"partition {secrets.token_hex(4)}",
                                  institution_type="pharmacy")  # fmt: skip
        account = LedgerAccount(kind="settlement_clearing", region_code="110101", may_go_negative=True)
        uow.session.add_all([institution, account])
        uow.commit()
        return institution.id, account.id


def _claim(db, owner: tuple[int, int], txn_id: str, on: date) -> int:
    from sscard.settlement import txn_store

    with _uow(db) as uow:
        row_id = txn_store.claim(uow, terminal_id="PART-T1", txn_id=txn_id, purpose="settle", digest=txn_id * 2,
                                 institution_id=owner[0], card_id=None, account_id=owner[1], amount_fen=-100,
                                 business_date=on, answer={"ok": True, "txn": txn_id})  # fmt: skip
        uow.commit()
        return row_id


# rule FIN-1: terminal transactions land in their business month; once a month is archived its
# transaction ids stay taken (terminal_txn_key): a terminal retrying one is refused, never paid again
def test_terminal_txns_by_month_and_idempotent_after_archive(pg) -> None:
    from sscard.settlement import txn_store
    from sscard.settlement.errors import TxnConflict

    owner = _txn_owner(pg)
    old = add_months(THIS_MONTH, -4)
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    _claim(pg, owner, f"O{tag}", old + timedelta(days=9))
    _claim(pg, owner, f"N{tag}", THIS_MONTH + timedelta(days=1))

    def where(txn_id: str) -> str:
        with pg.engine.connect() as c:
            query = text(
                "SELECT tableoid::regclass::text FROM terminal_txn WHERE terminal_id = 'PART-T1' AND txn_id = :t"
            )
            return c.execute(query, {"t": txn_id}).scalar_one().split(".")[-1]

    assert where(f"O{tag}") == "terminal_txn_default"  # no partition for that month: the default takes it
    assert where(f"N{tag}") == partitions.partition_name("terminal_txn", THIS_MONTH)
    with pg.engine.begin() as c:
        assert partitions.partition_name("terminal_txn", old) in partitions.ensure(c, months_ahead=3)
    assert where(f"O{tag}") == partitions.partition_name("terminal_txn", old)

    with _uow(pg) as uow:
        done = detach_before(uow, before=add_months(THIS_MONTH, -1), actor=ACTOR)
        uow.commit()
    assert partitions.partition_name("terminal_txn", old) in {name for name, _, _ in done.partitions}
    with pg.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM terminal_txn WHERE txn_id = :t"), {"t": f"O{tag}"}).scalar() == 0

    with pytest.raises(TxnConflict):  # archived: the id is still taken, nothing is stored or paid again
        _claim(pg, owner, f"O{tag}", THIS_MONTH)
    with pytest.raises(txn_store.AlreadyAnswered):  # attached: the first answer, as before partitioning
        _claim(pg, owner, f"N{tag}", THIS_MONTH + timedelta(days=1))
    with _uow(pg) as uow:
        assert verify_chain(uow).ok
    # The claims above have no posting (no money is under test here): `ledger check` would rightly report
    # them (txn_not_posted) in the later tests of this shared schema, so the attached one goes.
    with pg.engine.begin() as c:
        c.execute(text("DELETE FROM terminal_txn WHERE terminal_id = 'PART-T1'"))


# rule CH-4: the commands: list (JSON), ensure idempotent and audited, detach refusing the current month
def test_cli(pg, db_env) -> None:
    import json

    runner = CliRunner()
    listed = json.loads(runner.invoke(app, ["partitions", "list", "--json"]).output)
    this = f"{THIS_MONTH:%Y-%m}"
    assert {(p["table"], p["state"]) for p in listed if p["month"] == this} == {
        (table, "attached") for table in partitions.PARTITIONED
    }
    first = runner.invoke(app, ["partitions", "ensure", "--months-ahead", "9", "--json"])
    assert first.exit_code == 0, first.output
    assert partitions.partition_name("terminal_txn", add_months(THIS_MONTH, 9)) in json.loads(first.output)["created"]
    again = runner.invoke(app, ["partitions", "ensure", "--months-ahead", "9"])
    assert again.exit_code == 0 and "all partitions exist" in again.output
    with pg.engine.connect() as c:
        query = text("SELECT details FROM audit_entry WHERE action = 'partitions.ensure' ORDER BY id DESC LIMIT 1")
        assert partitions.partition_name("audit_entry", add_months(THIS_MONTH, 9)) in c.execute(query).scalar_one()
    refused = runner.invoke(app, ["partitions", "detach", "--before", f"{add_months(THIS_MONTH, 1):%Y-%m}"])
    assert refused.exit_code == 1 and "PARTITIONS_REFUSED" in refused.output


# rule CH-4 (retention): months younger than the minimum age stay attached, by the service and the command
def test_detach_refuses_months_younger_than_the_minimum_age(pg, db_env, monkeypatch) -> None:
    from sscard.config import Settings
    from sscard.db.partitions import PartitionTooRecent

    assert Settings.model_fields["partition_detach_min_age_months"].default == 24
    monkeypatch.setenv("SSCARD_PARTITION_DETACH_MIN_AGE_MONTHS", "6")
    reset_settings_cache()
    old = add_months(THIS_MONTH, -8)
    with pg.engine.begin() as c:
        c.execute(text(partitions.create_month_sql("audit_entry", old)))
    young = add_months(THIS_MONTH, -5)
    with _uow(pg) as uow:
        with pytest.raises(PartitionTooRecent, match=f"latest allowed is --before {add_months(THIS_MONTH, -6):%Y-%m}"):
            detach_before(uow, before=young, actor=ACTOR)
    refused = CliRunner().invoke(app, ["partitions", "detach", "--before", f"{young:%Y-%m}"])
    assert refused.exit_code == 1 and "PARTITION_TOO_RECENT" in refused.output, refused.output
    with pg.engine.connect() as c:
        assert {p.name: p.attached for p in partitions.list_partitions(c)}[
            partitions.partition_name("audit_entry", old)
        ]
    done = CliRunner().invoke(app, ["partitions", "detach", "--before", f"{add_months(THIS_MONTH, -6):%Y-%m}"])
    assert done.exit_code == 0, done.output
    with pg.engine.connect() as c:
        attached = {p.name: p.attached for p in partitions.list_partitions(c)}
    assert not attached[partitions.partition_name("audit_entry", old)]


# rule CH-4: the cut must be clean: an entry of a later month before an archived one in its stream
# (clocks apart at the month's end) refuses the archive, nothing changed
def test_detach_refuses_a_cut_through_a_stream(pg, monkeypatch) -> None:
    a, b = add_months(THIS_MONTH, -5), add_months(THIS_MONTH, -4)
    with pg.engine.begin() as c:
        for month in (a, b):
            c.execute(text(partitions.create_month_sql("audit_entry", month)))
    _write(pg, monkeypatch, _mid(b), 1, "skew")  # the stream's entry n in the later month …
    _write(pg, monkeypatch, _mid(a), 1, "skew")  # … and n + 1 in the earlier one
    with _uow(pg) as uow:
        with pytest.raises(PartitionError, match="archive one month less"):
            detach_before(uow, before=b, actor=ACTOR)
    with pg.engine.connect() as c:
        assert {p.name: p.attached for p in partitions.list_partitions(c)}[partitions.partition_name("audit_entry", a)]


# rule CH-4: 0019 converts a PostgreSQL audit log with entries in place and back (upgrade, downgrade,
# upgrade): every entry kept, the chain intact each time
def test_migration_round_trip_keeps_the_chain(pg, monkeypatch, tmp_path) -> None:
    import secrets

    monkeypatch.setenv("SSCARD_AUDIT_ANCHOR_FILE", str(tmp_path / "anchors.jsonl"))  # a database of its own
    reset_settings_cache()

    from sscard.audit.service import ensure_streams
    from sscard.db import migrate
    from sscard.db.session import build_engine

    schema = f"t_{secrets.token_hex(6)}"
    migrate.upgrade(pg.url, schema, "0019_import_chunk")
    engine = build_engine(pg.url, schema=schema)
    try:
        with Session(engine) as session:
            ensure_streams(UnitOfWork(session))
            session.commit()
        with monkeypatch.context() as m, Session(engine) as session:
            m.setattr("sscard.audit.service.utcnow", lambda: _mid(add_months(THIS_MONTH, -2)))
            for i in range(5):
                record_event(UnitOfWork(session), actor=ACTOR, action="test.partition", subject=f"migrate:{i}")
            session.commit()
        here = SimpleNamespace(engine=engine)
        owner = _txn_owner(here)
        for n in range(3):
            _claim(here, owner, f"RT{n}", add_months(THIS_MONTH, -2) + timedelta(days=n))

        def state() -> tuple[bool, bool, int, int, bool]:
            with engine.connect() as c, Session(bind=c) as session:
                entries = c.execute(text("SELECT count(*) FROM audit_entry")).scalar_one()
                txns = c.execute(text("SELECT count(*) FROM terminal_txn WHERE terminal_id = 'PART-T1'")).scalar_one()
                ok = verify_chain(UnitOfWork(session)).ok
                return partitions.is_partitioned(c, "audit_entry"), partitions.is_partitioned(c, "terminal_txn"), \
                    entries, txns, ok  # fmt: skip

        assert state() == (False, False, 5, 3, True)
        migrate.upgrade(pg.url, schema)
        assert state() == (True, True, 5, 3, True)
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM audit_entry_key")).scalar_one() == 5
            assert c.execute(text("SELECT count(*) FROM terminal_txn_key")).scalar_one() == 3
            for table, rows in (("audit_entry", 5), ("terminal_txn", 3)):
                month = partitions.partition_name(table, add_months(THIS_MONTH, -2))
                assert c.execute(text(f"SELECT count(*) FROM {month}")).scalar_one() == rows  # noqa: S608
        from sscard.settlement.txn_store import AlreadyAnswered

        with pytest.raises(AlreadyAnswered):  # the idempotency key came across: the first answer
            _claim(here, owner, "RT1", add_months(THIS_MONTH, -2))
        migrate.downgrade(pg.url, schema, "0019_import_chunk")
        assert state() == (False, False, 5, 3, True)
        migrate.upgrade(pg.url, schema)
        assert state() == (True, True, 5, 3, True)
    finally:
        engine.dispose()
        drop_schema(pg.url, schema)


# rule CH-4: an entry committed while ``ensure`` moves its month out of the default partition is kept, not
# deleted with the month's other rows: the move locks the default, the writer waits, then lands in the month
def test_an_entry_written_while_its_month_leaves_the_default_is_kept(pg, monkeypatch) -> None:
    month = add_months(THIS_MONTH, 15)  # beyond every month the tests above created: the default's
    at = datetime.combine(month, datetime.min.time(), UTC) + timedelta(days=3)
    _write(pg, monkeypatch, at, 1, subject="moving-before")
    writers: list[threading.Thread] = []
    failures: list[BaseException] = []

    def write_during() -> None:
        try:
            _write(pg, monkeypatch, at + timedelta(hours=1), 1, subject="moving-during")
        except BaseException as exc:  # noqa: BLE001  # reported by the test's thread below
            failures.append(exc)

    with pg.engine.begin() as c:
        execute = c.execute

        def copy_then_write(statement, *args, **kwargs):
            if "partition_move = 'on'" in str(statement) and not writers:  # copied, not yet deleted
                writers.append(threading.Thread(target=write_during))
                writers[0].start()
                writers[0].join(1.0)
                assert writers[0].is_alive(), "the writer did not wait for the move"
            return execute(statement, *args, **kwargs)

        monkeypatch.setattr(c, "execute", copy_then_write)
        assert partitions.partition_name("audit_entry", month) in partitions.ensure(c, months_ahead=0)
    writers[0].join(30)
    assert not failures, failures
    with pg.engine.connect() as c:
        rows = c.execute(
            text("SELECT subject, tableoid::regclass::text FROM audit_entry WHERE subject LIKE 'moving-%'")
        ).all()
    assert sorted(rows) == [
        (f"moving-{w}:0", partitions.partition_name("audit_entry", month)) for w in ("before", "during")
    ]
    with _uow(pg) as uow:
        assert verify_chain(uow).ok


def _declared(db, periods: list[date]) -> list[int]:
    """A person of this test's own, with a declaration (parts and a posting) for each of ``periods``."""
    from tests.insurance_accounts.factories import declare, make_employer, register
    from tests.people.factories import add_test_person, new_id_number

    with _uow(db) as uow:
        person = add_test_person(uow, id_number=new_id_number())
        reg = register(uow, person_id=person.id, employer=make_employer(uow), start=min(periods))
        ids = [declare(uow, reg=reg, period=p).id for p in periods]
        uow.commit()
        return ids


def _homes(db, table: str, column: str, ids: list[int]) -> list[str]:
    """The partition of each row of ``table`` whose ``column`` is in ``ids`` (sorted)."""
    with db.engine.connect() as c:
        query = text(f"SELECT tableoid::regclass::text FROM {table} WHERE {column} = ANY(:ids) ORDER BY 1")  # noqa: S608
        return [name.split(".")[-1] for name in c.execute(query, {"ids": ids}).scalars()]


# rule INS-3: declarations and their parts land in the partition of their contribution month (period), the
# parts with their declaration; a month nobody created goes to the default until ensure gives it its own
def test_contributions_by_period(pg) -> None:
    stray = add_months(THIS_MONTH, -9)
    ids = _declared(pg, [stray, THIS_MONTH])
    here = partitions.partition_name("contribution_declaration", THIS_MONTH)
    assert _homes(pg, "contribution_declaration", "id", ids) == ["contribution_declaration_default", here]
    parts_here = partitions.partition_name("contribution_part", THIS_MONTH)
    assert (
        _homes(pg, "contribution_part", "declaration_id", ids) == ["contribution_part_default"] * 2 + [parts_here] * 2
    )
    with pg.engine.begin() as c:
        created = partitions.ensure(c, months_ahead=1)
    assert {partitions.partition_name(t, stray) for t in ("contribution_part", "contribution_declaration")} <= set(
        created
    )
    assert _homes(pg, "contribution_declaration", "id", ids)[0] == partitions.partition_name(
        "contribution_declaration", stray
    )
    with _uow(pg) as uow:
        assert check_ledger(uow).ok


# rule INS-3: a part names its declaration by (id, period): a part filed under another month is refused
# (the foreign key carries the partition key), and a declaration's business key stays unique
def test_contribution_keys(pg) -> None:
    (did,) = _declared(pg, [THIS_MONTH])
    part = _row(pg, "SELECT * FROM contribution_part WHERE declaration_id = :d LIMIT 1", d=did)
    _refused(
        pg, "contribution_part", {**part, "period": add_months(THIS_MONTH, -1)}, "fk_contribution_part_declaration"
    )
    decl = _row(pg, "SELECT * FROM contribution_declaration WHERE id = :d", d=did)
    _refused(pg, "contribution_declaration", decl, r"Key \(employer_id, person_id, period, revision\)")


def _row(db, query: str, **params) -> dict:
    """One row as a dict, without its id (to insert a copy under a new one)."""
    with db.engine.connect() as c:
        row = dict(c.execute(text(query), params).mappings().one())
    del row["id"]
    return row


def _refused(db, table: str, row: dict, match: str) -> None:
    cols, values = ", ".join(row), ", ".join(f":{k}" for k in row)
    with db.engine.connect() as c, pytest.raises(IntegrityError, match=match), c.begin():
        c.execute(text(f"INSERT INTO {table} ({cols}) VALUES ({values})"), row)  # noqa: S608


# rule INS-3: archiving detaches the parts' month, then the declarations' (each an archive table), and the
# archived months are closed: a declaration of such a month is refused, never numbered revision 1 again
def test_contributions_detach_and_close(pg) -> None:
    old = add_months(THIS_MONTH, -6)
    ids = _declared(pg, [old, THIS_MONTH])
    with pg.engine.begin() as c:
        partitions.ensure(c, months_ahead=1)
    decl = _row(pg, "SELECT * FROM contribution_declaration WHERE id = :d", d=ids[0])
    with _uow(pg) as uow:
        done = detach_before(uow, before=add_months(THIS_MONTH, -1), actor=ACTOR)
        uow.commit()
    names = [name for name, _, _ in done.partitions]
    part, declaration = (partitions.partition_name(t, old) for t in ("contribution_part", "contribution_declaration"))
    assert names.index(part) < names.index(declaration)
    with pg.engine.connect() as c:
        assert c.execute(text(f"SELECT count(*) FROM {part}")).scalar_one() >= 2  # noqa: S608 - the archive
        assert c.execute(text("SELECT count(*) FROM contribution_declaration WHERE id = ANY(:i)"),
                         {"i": ids}).scalar_one() == 1  # fmt: skip
    _refused(pg, "contribution_declaration", decl, "archived_months")
    _service_refuses_the_archived_month(pg, decl, old)
    assert _declared(pg, [THIS_MONTH])  # the months still attached take declarations as before
    with _uow(pg) as uow:
        assert check_ledger(uow).ok
        assert verify_chain(uow).ok


def _service_refuses_the_archived_month(pg, decl, month: date) -> None:
    """The declaration service names the refusal (PERIOD_ARCHIVED), for the same base and for a correction,
    before the database's check is reached (which the API answered as a retryable 409, an import as a bug)."""
    from sscard.insurance.declarations import DeclarationInput, declare_batch
    from sscard.insurance.errors import PeriodArchived
    from sscard.insurance.models import DeclarationDocument, DocumentSource
    from tests.insurance_accounts.factories import sealed_document

    for base in (decl["base_fen"], decl["base_fen"] + 100_000):  # the same again; a correction
        with _uow(pg) as uow:
            doc = DeclarationDocument(
                employer_id=decl["employer_id"], source=DocumentSource.API, sha256="2" * 64, size=2,
                content_enc=sealed_document(b"{}"), actor="test", channel="system",
            )  # fmt: skip
            uow.session.add(doc)
            uow.flush()
            item = DeclarationInput(line=7, employer_id=decl["employer_id"], person_id=decl["person_id"], period=month,
                                    declared_base_fen=base)  # fmt: skip
            [outcome] = declare_batch(uow, items=[item], document=doc, actor=ACTOR)
            assert (outcome.line, outcome.status, outcome.code) == (7, "rejected", PeriodArchived.code)
            uow.session.rollback()


# rule FIN-1: a posting's legs land in the partition of its business month, as the posting (0023) does;
# ``ledger check`` reads every month (a leg slipped into another month's partition unbalances its posting and
# is misdated). Archiving the ledger's months with carried balances: tests/db/test_ledger_archive.py
def test_ledger_legs_by_month_and_check_across_them(pg) -> None:
    from sscard.ledger.rules import Leg
    from sscard.ledger.service import balance_on, open_account, post

    # Months nobody made yet (the ledger's months before THIS_MONTH - 1 were archived by the tests above).
    months = [add_months(THIS_MONTH, 30), add_months(THIS_MONTH, 31), THIS_MONTH]
    with _uow(pg) as uow:
        region = f"9{datetime.now(UTC):%H%M%S}"[:6]
        cash = open_account(uow, kind="bank_cash", region_code=region, may_go_negative=True)
        debit = open_account(uow, kind="debit", region_code=region, may_go_negative=False)
        ids = [post(uow, kind="debit_deposit", legs=[Leg(cash.id, -100 * (n + 1)), Leg(debit.id, 100 * (n + 1))],
                    business_date=month + timedelta(days=3), actor=ACTOR, source_ref=f"partition-test:{n}").id
               for n, month in enumerate(months)]  # fmt: skip
        uow.commit()
        assert balance_on(uow, account_id=debit.id, on=months[1] + timedelta(days=5)) == 600
    assert _homes(pg, "ledger_leg", "posting_id", ids[:2]) == ["ledger_leg_default"] * 4  # months nobody made
    assert _homes(pg, "ledger_posting", "id", ids[:2]) == ["ledger_posting_default"] * 2
    with pg.engine.begin() as c:
        partitions.ensure(c, months_ahead=1)
    homes = _homes(pg, "ledger_leg", "posting_id", ids)
    assert homes == sorted(partitions.partition_name("ledger_leg", m) for m in months for _ in range(2))
    assert _homes(pg, "ledger_posting", "id", ids) == sorted(partitions.partition_name("ledger_posting", m)
                                                             for m in months)  # fmt: skip
    with _uow(pg) as uow:
        report = check_ledger(uow)
        assert report.ok and report.legs >= 6, report.discrepancies

    with pg.engine.connect() as c:  # a leg of the first posting, filed under the current month
        c.execute(text("INSERT INTO ledger_leg (posting_id, account_id, amount_fen, posted_on) VALUES (:p, :a, 1, :m)"),
                  {"p": ids[0], "a": debit.id, "m": THIS_MONTH})  # fmt: skip
        with Session(bind=c) as session:
            faults = {(d.kind, d.ref) for d in check_ledger(UnitOfWork(session)).discrepancies}
        c.rollback()
    assert {("posting_unbalanced", f"posting:{ids[0]}"), ("leg_misdated", f"posting:{ids[0]}")} <= faults
