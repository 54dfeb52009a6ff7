"""Monthly range partitions of the history that grows without bound (PostgreSQL only; docs/partitioning.md).

A partitioned table has one partition per UTC month (``<table>_pYYYY_MM``) and a default partition
(``<table>_default``) so that no insert ever fails for a month nobody created. ``ensure`` creates the
months ahead (moving rows the default holds for them first), ``detach`` takes whole old months out of
the table and keeps each as a table of its own (an archive to dump, then drop), recorded in
``partition_archive``. On SQLite (the embedded default) nothing is partitioned and all of this is a no-op.

The SQL below is built only from the names in ``PARTITIONED`` and from dates, never from input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, text

#: Partitioned table → its partition key: a UTC timestamp (months of UTC) or a date (civil months). A table
#: comes before the tables it refers to: a month is detached from the referring table first.
PARTITIONED: dict[str, str] = {
    "audit_entry": "at",
    "terminal_txn": "business_date",
    "contribution_part": "period",  # migration 0021: names its declaration by (declaration_id, period)
    "contribution_declaration": "period",
    "ledger_leg": "posted_on",  # migration 0022: its posting's business date
    "ledger_posting": "business_date",  # migration 0023: its keys in ledger_posting_key (0020's design)
}
_DATE_KEYS = frozenset({"business_date", "period", "posted_on"})
#: The ledger's tables: archived only with each account's balance at the cut recorded first
#: (``ledger.archive.carry``, in the detach's transaction), which the balances' readers then add.
LEDGER = frozenset({"ledger_leg", "ledger_posting"})
#: Tables whose archived months are closed: their default partition refuses rows of those months, so that
#: nothing is written again for an archived month (a declaration's revisions are numbered from the rows
#: still attached: a new revision 1 of an archived month would duplicate the archived one).
#: The ledger's too: a posting dated before the cut would be missing from the carried balances.
CLOSED_WHEN_ARCHIVED = frozenset({"contribution_part", "contribution_declaration", *LEDGER})
_CLOSED = "archived_months"  # the check constraint on their default partition
_WRITE_ORDER = ("contribution_declaration", "contribution_part", "ledger_posting", "ledger_leg", "terminal_txn",
                "audit_entry")  # fmt: skip
#: Tables made for the partitioned ones (PostgreSQL only, no ORM model; docs/partitioning.md).
SUPPORT_TABLES = frozenset({"audit_entry_key", "terminal_txn_key", "ledger_posting_key", "audit_archive_horizon",
                            "partition_archive", "ledger_carried_balance"})  # fmt: skip
MOVING = "sscard.partition_move"  # set while ``ensure`` moves rows out of the default: keys stay as they are


class PartitionError(Exception):
    """A partition operation that would lose or break something: refused, nothing changed."""

    code = "PARTITIONS_REFUSED"


class PartitionTooRecent(PartitionError):
    """Months younger than ``partition_detach_min_age_months`` stay attached (config.py says why)."""

    code = "PARTITION_TOO_RECENT"


def month_start(value: date | datetime) -> date:
    return date(value.year, value.month, 1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month:%Y_%m}"


def default_name(table: str) -> str:
    return f"{table}_default"


def _bound(table: str, month: date) -> str:
    return f"'{month.isoformat()}'" if PARTITIONED[table] in _DATE_KEYS else f"'{month.isoformat()} 00:00:00+00'"


def _range(table: str, month: date) -> str:
    return f"FROM ({_bound(table, month)}) TO ({_bound(table, add_months(month, 1))})"


def create_month_sql(table: str, month: date) -> str:
    return f"CREATE TABLE {partition_name(table, month)} PARTITION OF {table} FOR VALUES {_range(table, month)}"


def create_default_sql(table: str) -> str:
    return f"CREATE TABLE {default_name(table)} PARTITION OF {table} DEFAULT"


def is_partitioned(connection: Connection, table: str) -> bool:
    """Whether ``table`` is partitioned here (PostgreSQL after migration 0020; never on SQLite)."""
    if connection.dialect.name != "postgresql":
        return False
    found = connection.execute(
        text(
            "SELECT c.relkind = 'p' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = :t AND n.nspname = current_schema()"
        ),
        {"t": table},
    ).scalar_one_or_none()
    return bool(found)


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    month: date | None  # None: the default partition
    rows: int
    attached: bool


def _attached(connection: Connection, table: str) -> list[tuple[str, str]]:
    """(partition name, bound expression) of ``table``'s attached partitions."""
    rows = connection.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "JOIN pg_namespace n ON n.oid = p.relnamespace "
            "WHERE p.relname = :t AND n.nspname = current_schema() ORDER BY c.relname"
        ),
        {"t": table},
    )
    return [(r[0], r[1]) for r in rows]


def _month_of(table: str, name: str) -> date | None:
    prefix = f"{table}_p"
    if not name.startswith(prefix):
        return None
    year, month = name[len(prefix) :].split("_")
    return date(int(year), int(month), 1)


def list_partitions(connection: Connection, *, counts: bool = True) -> list[Partition]:
    """Every partition of every partitioned table, attached or archived (``partition_archive``)."""
    if connection.dialect.name != "postgresql":
        return []
    found: list[Partition] = []
    for table in PARTITIONED:
        if not is_partitioned(connection, table):
            continue
        for name, _bound_expr in _attached(connection, table):
            n = _count(connection, name) if counts else -1
            found.append(Partition(table, name, _month_of(table, name), n, True))
        archived = connection.execute(
            text("SELECT partition_name, month, row_count FROM partition_archive WHERE table_name = :t ORDER BY month"),
            {"t": table},
        )
        found += [Partition(table, r[0], r[1], r[2], False) for r in archived]
    return sorted(found, key=lambda p: (p.table, p.month or date.max))


def _count(connection: Connection, name: str) -> int:
    return int(connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())  # noqa: S608 - a catalogue name


def ensure(connection: Connection, *, months_ahead: int, today: date | None = None) -> list[str]:
    """Create the partitions from this month to ``months_ahead`` months after it (idempotent), and one
    for every month the default partition holds rows of (moved out of it first); the names created."""
    if connection.dialect.name != "postgresql":
        return []
    if months_ahead < 0:
        raise PartitionError("--months-ahead must be 0 or more")
    this_month = month_start(today or datetime.now(UTC))
    created: list[str] = []
    moved: list[tuple[str, str, date]] = []  # (table, new partition, month): filled, attached below
    tables = [table for table in PARTITIONED if is_partitioned(connection, table)]
    strays = {table: _default_months(connection, table, PARTITIONED[table]) for table in tables}
    # Every table a month moves out of is locked before the first move, in the order writers take them
    # (a declaration, its parts, their legs; a payment's legs, its transaction; the audit entry last).
    for table in sorted((t for t in tables if strays[t]), key=_WRITE_ORDER.index):
        connection.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
    for table in tables:
        key = PARTITIONED[table]
        existing = {name for name, _ in _attached(connection, table)}
        stray = strays[table]
        wanted = sorted({*stray, *(add_months(this_month, i) for i in range(months_ahead + 1))})
        for month in wanted:
            name = partition_name(table, month)
            if name in existing or _archived(connection, name):
                continue
            if month in stray:
                _move_out_of_default(connection, table, key, month)
                moved.append((table, name, month))
            else:
                connection.execute(text(create_month_sql(table, month)))
            created.append(name)
    # Referred tables first: attaching a referring table's month checks its foreign key against them.
    for table, name, month in reversed(moved):
        connection.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES {_range(table, month)}"))
    return created


def _default_months(connection: Connection, table: str, key: str) -> set[date]:
    utc = "" if key in _DATE_KEYS else " AT TIME ZONE 'UTC'"
    rows = connection.execute(
        text(f"SELECT DISTINCT date_trunc('month', {key}{utc})::date FROM {default_name(table)}")  # noqa: S608
    )
    return {r[0] for r in rows}


def _archived(connection: Connection, name: str) -> bool:
    query = text("SELECT 1 FROM partition_archive WHERE partition_name = :n")
    return connection.execute(query, {"n": name}).first() is not None


def _move_out_of_default(connection: Connection, table: str, key: str, month: date) -> None:
    """A month's partition created when the default already holds rows of it: the rows are copied into
    a new table and deleted from the default (their keys kept: they still exist); ``ensure`` attaches the
    table once every table's rows are out (a referring table's first: PARTITIONED's order), so that no
    foreign key sees a row gone that is only moving."""
    name = partition_name(table, month)
    lo, hi = _bound(table, month), _bound(table, add_months(month, 1))
    in_month = f"{key} >= {lo} AND {key} < {hi}"
    # Writers wait until the month is attached: the copy and the DELETE below each read their own snapshot,
    # and a row committed between them would be deleted without having been copied. The parent is locked,
    # not only the default: a writer that waited on the default would then break its partition constraint,
    # one that waits on the parent routes its row after the commit, into the new month. Readers go on.
    connection.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
    connection.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)"))
    connection.execute(text(f"INSERT INTO {name} SELECT * FROM {default_name(table)} WHERE {in_month}"))  # noqa: S608
    connection.execute(text(f"SET LOCAL {MOVING} = 'on'"))
    connection.execute(text(f"DELETE FROM {default_name(table)} WHERE {in_month}"))  # noqa: S608
    connection.execute(text(f"SET LOCAL {MOVING} = 'off'"))


def months_before(connection: Connection, table: str, before: date) -> list[tuple[str, date]]:
    """The attached month partitions of ``table`` that end on or before ``before`` (oldest first)."""
    months = [(name, _month_of(table, name)) for name, _ in _attached(connection, table)]
    return sorted((n, m) for n, m in months if m is not None and add_months(m, 1) <= before)


def default_holds_before(connection: Connection, table: str, before: date) -> bool:
    key = PARTITIONED[table]
    query = text(f"SELECT 1 FROM {default_name(table)} WHERE {key} < {_bound(table, before)} LIMIT 1")  # noqa: S608
    return connection.execute(query).first() is not None


def detach_month(connection: Connection, table: str, name: str, month: date, *, at: datetime) -> int:
    """Detach one month's partition: it stays a table of its own (the archive), recorded; its rows."""
    rows = _count(connection, name)
    connection.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
    # The archive keeps its foreign keys as constraints of its own; one into another partitioned table
    # would hold that table's month in place (its detach checks that nothing refers to its rows).
    for constraint in connection.execute(
        text(
            "SELECT conname FROM pg_constraint WHERE conrelid = CAST(:n AS regclass) AND contype = 'f' "
            "AND confrelid IN (SELECT c.oid FROM pg_class c WHERE c.relkind = 'p')"
        ),
        {"n": name},
    ).scalars():
        connection.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {constraint}"))
    connection.execute(
        text(
            "INSERT INTO partition_archive (table_name, partition_name, month, detached_at, row_count) "
            "VALUES (:t, :n, :m, :at, :rows)"
        ),
        {"t": table, "n": name, "m": month, "at": at, "rows": rows},
    )
    return rows


def detach_months(connection: Connection, table: str, before: date, *, at: datetime) -> list[tuple[str, date, int]]:
    """Detach every month of ``table`` that ends on or before ``before``: (name, month, rows) of each
    (the caller checked ``default_holds_before`` first)."""
    if not is_partitioned(connection, table):
        return []
    months = months_before(connection, table, before)
    detached = [(name, month, detach_month(connection, table, name, month, at=at)) for name, month in months]
    if detached and table in CLOSED_WHEN_ARCHIVED:
        _close_archived(connection, table, before)
    return detached


def _close_archived(connection: Connection, table: str, before: date) -> None:
    """The default partition refuses rows of the months before ``before`` (they are archived)."""
    default = default_name(table)
    connection.execute(text(f"ALTER TABLE {default} DROP CONSTRAINT IF EXISTS {_CLOSED}"))
    bound = _bound(table, before)
    connection.execute(text(f"ALTER TABLE {default} ADD CONSTRAINT {_CLOSED} CHECK ({PARTITIONED[table]} >= {bound})"))


def archived_before(connection: Connection, table: str) -> date | None:
    """The first month still attached when older months of ``table`` are archived; None when none are."""
    if not is_partitioned(connection, table):
        return None
    query = text("SELECT max(month) FROM partition_archive WHERE table_name = :t")
    last = connection.execute(query, {"t": table}).scalar_one_or_none()
    return None if last is None else add_months(last, 1)


def dump_hint(connection: Connection, name: str) -> str:
    """How to keep an archived partition off the database: dump it, check the dump, drop the table."""
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    database = connection.execute(text("SELECT current_database()")).scalar_one()
    return (
        f"pg_dump --format=custom --table={schema}.{name} --file={name}.dump {database}  "
        f"# then, with the dump kept and checked (pg_restore --list {name}.dump): DROP TABLE {schema}.{name}"
    )


def include_in_comparison(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's ``include_object``: the partitions and the support tables (no models), and the keys
    PostgreSQL partitioning replaced (docs/partitioning.md), are no drift to report."""
    if type_ == "table" and name is not None and _made_for_partitions(name):
        return False
    table = getattr(obj, "table", None)
    table_name = getattr(table, "name", None)
    if type_ in ("unique_constraint", "index") and table_name in PARTITIONED:
        return False
    if type_ == "foreign_key_constraint":
        # Into a partitioned table: its key holds the partition key (and PostgreSQL adds one per partition).
        referred = getattr(getattr(obj, "referred_table", None), "name", None)
        if referred is not None and (referred in PARTITIONED or _made_for_partitions(referred)):
            return False
    return True


def _made_for_partitions(name: str) -> bool:
    """A partition, a default partition or a support table (no model of its own)."""
    return name in SUPPORT_TABLES or any(name.startswith(f"{t}_p") or name == default_name(t) for t in PARTITIONED)


# --- the ledger's carried balances (docs/partitioning.md, "Archiving the ledger") ------------------------

CARRIED = "ledger_carried_balance"
#: The latest cut: every leg of a business date before it is archived, its sum per account carried.
LEDGER_CUT_SQL = "SELECT max(carried_before) FROM ledger_carried_balance"
# Each account's balance at the cut: the previous cut's carried balance plus its legs dated before the cut.
_AT_CUT = (
    "SELECT account_id, sum(amount_fen) AS balance_fen FROM ("
    "SELECT account_id, balance_fen AS amount_fen FROM ledger_carried_balance "
    "WHERE carried_before = (SELECT max(carried_before) FROM ledger_carried_balance) "
    "UNION ALL SELECT account_id, amount_fen FROM ledger_leg WHERE posted_on < :before) AS x GROUP BY account_id"
)


@dataclass(frozen=True)
class Carried:
    before: date
    accounts: int
    total_fen: int  # zero: every archived posting's legs sum to zero


def carry_ledger(connection: Connection, before: date, *, at: datetime) -> Carried | None:
    """Record each account's balance at ``before`` (``ledger_carried_balance``) ahead of detaching the
    ledger's months before it, in the caller's transaction; None when no ledger month is to be detached.

    Refused (nothing changed) when the balances at the cut do not sum to zero (an unbalanced posting among
    those months), or when a declaration still attached names a posting of those months (it would lose its
    posting). Whether each cached balance is its carried balance plus its legs is ``sscard ledger check``'s
    to prove, before and after: the carry keeps the legs' sums, so a fault stays as visible as it was."""
    if not is_partitioned(connection, "ledger_posting"):
        return None
    if not months_before(connection, "ledger_posting", before) and not months_before(connection, "ledger_leg", before):
        return None
    previous = connection.execute(text(LEDGER_CUT_SQL)).scalar_one_or_none()
    if previous is not None and previous >= before:
        return None
    # Nothing may be written into the months carried until they are detached: their partitions (and the
    # defaults) are locked against writers; postings of today's months go on meanwhile.
    for table in ("ledger_posting", "ledger_leg"):
        for name, _month in months_before(connection, table, before):
            connection.execute(text(f"LOCK TABLE {name} IN SHARE MODE"))
        connection.execute(text(f"LOCK TABLE {default_name(table)} IN SHARE MODE"))
    early = connection.execute(
        text("SELECT d.id FROM contribution_declaration d JOIN ledger_posting p ON p.id = d.posting_id "
             "WHERE d.period >= :b AND p.business_date < :b LIMIT 1"),
        {"b": before},
    ).scalar_one_or_none()  # fmt: skip
    if early is not None:
        raise PartitionError(
            f"declaration {early} of a month kept is posted before {before:%Y-%m}: archive fewer months"
        )
    found = connection.execute(
        text(f"SELECT count(*), coalesce(sum(balance_fen), 0) FROM ({_AT_CUT}) AS c"),  # noqa: S608
        {"before": before},
    ).one()
    if found[1] != 0:
        raise PartitionError(f"the balances before {before:%Y-%m} sum to {found[1]} fen, not zero (sscard ledger "
                             "check: an unbalanced posting): nothing archived")  # fmt: skip
    connection.execute(
        text(f"INSERT INTO {CARRIED} (account_id, carried_before, balance_fen, recorded_at) "  # noqa: S608
             f"SELECT account_id, :before, balance_fen, :at FROM ({_AT_CUT}) AS c"),
        {"before": before, "at": at},
    )  # fmt: skip
    return Carried(before, int(found[0]), int(found[1]))
