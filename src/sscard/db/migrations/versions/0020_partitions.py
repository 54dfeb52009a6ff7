"""audit_entry and terminal_txn partitioned by month on PostgreSQL (issue 23; docs/partitioning.md)

On PostgreSQL ``audit_entry`` becomes a table partitioned by range of ``at`` (UTC months) and
``terminal_txn`` one partitioned by ``business_date`` (civil months): a partition per month from the
oldest row's to three months ahead, and a default partition. A partitioned table's keys must hold the
partition key, so the keys that were global move to an unpartitioned key table kept in step by
triggers, under their old names: ``audit_entry_key`` (id; ``uq_audit_entry_stream_seq``) and
``terminal_txn_key`` (id; ``uq_terminal_txn_terminal_id_txn_id``, the idempotency of terminal requests;
``uq_terminal_txn_posting_id``). The foreign keys that pointed at the tables' ids point at the key
tables. ``audit_archive_horizon`` and ``partition_archive`` record what ``sscard partitions detach``
archived. SQLite: nothing to do.

Revision ID: 0020_partitions
Revises: 0019_import_chunk
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

from sscard.db.partition_rebuild import key_sync_sql, key_triggers
from sscard.db.partitions import add_months, create_default_sql, create_month_sql, month_start

revision: str = "0020_partitions"
down_revision: str | None = "0019_import_chunk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_AHEAD = 3


@dataclass(frozen=True)
class Keyed:
    """A table partitioned with a key table: the keys that were global, and how to rebuild it."""

    table: str
    key: str  # the partition key
    key_columns: tuple[str, ...]  # id first; mirrored in <table>_key
    key_ddl: str  # the key table's columns and constraints (the global keys, under their old names)
    plain_constraints: tuple[str, ...]  # the unpartitioned table's own keys (downgrade)
    indexes: tuple[str, ...]  # on the partitioned table (and as they were on the plain one)
    referring: tuple[tuple[str, str, str], ...]  # (table, constraint, column) of foreign keys to its id


TABLES = (
    Keyed(
        "audit_entry",
        "at",
        ("id", "stream", "seq"),
        "id bigint NOT NULL, stream integer NOT NULL, seq bigint NOT NULL, CONSTRAINT pk_audit_entry_key "
        "PRIMARY KEY (id), CONSTRAINT uq_audit_entry_stream_seq UNIQUE (stream, seq)",
        ("CONSTRAINT pk_audit_entry PRIMARY KEY (id)", "CONSTRAINT uq_audit_entry_stream_seq UNIQUE (stream, seq)"),
        ("CREATE INDEX ix_audit_entry_at ON {t} (at)",),
        (("audit_signature", "fk_audit_signature_entry_id_audit_entry", "entry_id"),),
    ),
    Keyed(
        "terminal_txn",
        "business_date",
        ("id", "terminal_id", "txn_id", "posting_id"),
        "id bigint NOT NULL, terminal_id varchar(32) NOT NULL, txn_id varchar(32) NOT NULL, posting_id bigint, "
        "CONSTRAINT pk_terminal_txn_key PRIMARY KEY (id), "
        "CONSTRAINT uq_terminal_txn_terminal_id_txn_id UNIQUE (terminal_id, txn_id), "
        "CONSTRAINT uq_terminal_txn_posting_id UNIQUE (posting_id)",
        (
            "CONSTRAINT pk_terminal_txn PRIMARY KEY (id)",
            "CONSTRAINT uq_terminal_txn_posting_id UNIQUE (posting_id)",
            "CONSTRAINT uq_terminal_txn_terminal_id_txn_id UNIQUE (terminal_id, txn_id)",
        ),
        (
            "CREATE INDEX ix_terminal_txn_business_date ON {t} (business_date)",
            "CREATE INDEX ix_terminal_txn_original_id ON {t} (original_id) WHERE original_id IS NOT NULL",
        ),
        (("terminal_txn", "fk_terminal_txn_original_id_terminal_txn", "original_id"),),
    ),
)
# The partitioned tables' own look-ups by the global keys (each partition's index; the key table says
# only whether a key is taken).
_LOOKUPS = {
    "audit_entry": ("CREATE INDEX ix_audit_entry_stream_seq ON audit_entry (stream, seq)",),
    "terminal_txn": ("CREATE INDEX ix_terminal_txn_terminal_id_txn_id ON terminal_txn (terminal_id, txn_id)",),
}
# Foreign keys from the table to others, as they were (kept on the partitioned table).
_OWN_FKS = {
    "audit_entry": (),
    "terminal_txn": (
        "fk_terminal_txn_account_id_ledger_account FOREIGN KEY (account_id) REFERENCES ledger_account (id)",
        "fk_terminal_txn_card_id_card FOREIGN KEY (card_id) REFERENCES card (id)",
        "fk_terminal_txn_institution_id_institution FOREIGN KEY (institution_id) REFERENCES institution (id)",
        "fk_terminal_txn_posting_id_ledger_posting FOREIGN KEY (posting_id) REFERENCES ledger_posting (id)",
    ),
}


def _run(*statements: str) -> None:
    for statement in statements:
        op.execute(text(statement))


def _rename_keys(table: str, suffix: str) -> None:
    """Free the schema-wide names of ``table``'s indexes (its keys' too) for the table that replaces it."""
    bind = op.get_bind()
    names = bind.execute(
        text("SELECT indexname FROM pg_indexes WHERE tablename = :t AND schemaname = current_schema()"), {"t": table}
    ).scalars()
    for name in list(names):
        _run(f"ALTER INDEX {name} RENAME TO {name[: 63 - len(suffix)]}{suffix}")


def _partition(t: Keyed) -> None:
    bind = op.get_bind()
    old = f"{t.table}_unpartitioned"
    for table, constraint, _column in t.referring:
        _run(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
    _run(f"ALTER TABLE {t.table} RENAME TO {old}")
    _rename_keys(old, "_unpart")
    _run(
        f"CREATE TABLE {t.table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE ({t.key})",
        f"ALTER TABLE {t.table} ADD CONSTRAINT pk_{t.table} PRIMARY KEY (id, {t.key})",
        *_LOOKUPS[t.table],
        *(index.format(t=t.table) for index in t.indexes),
        *(f"ALTER TABLE {t.table} ADD CONSTRAINT {fk}" for fk in _OWN_FKS[t.table]),
        f"CREATE TABLE {t.table}_key ({t.key_ddl})",
    )
    oldest = bind.execute(text(f"SELECT min({t.key}) FROM {old}")).scalar_one()  # noqa: S608
    this_month = month_start(datetime.now(UTC))
    month = month_start(oldest.astimezone(UTC) if isinstance(oldest, datetime) else oldest or this_month)
    while month <= add_months(this_month, MONTHS_AHEAD):
        _run(create_month_sql(t.table, month))
        month = add_months(month, 1)
    cols = ", ".join(t.key_columns)
    _run(
        create_default_sql(t.table),
        f"INSERT INTO {t.table} SELECT * FROM {old}",  # noqa: S608
        f"INSERT INTO {t.table}_key ({cols}) SELECT {cols} FROM {old}",  # noqa: S608
        f"ALTER SEQUENCE {t.table}_id_seq OWNED BY {t.table}.id",
        f"DROP TABLE {old}",
        *(
            f"ALTER TABLE {table} ADD CONSTRAINT {constraint}_key FOREIGN KEY ({column}) REFERENCES {t.table}_key (id)"
            for table, constraint, column in t.referring
        ),  # fmt: skip
        key_sync_sql(t.table, t.key_columns),
        *key_triggers(t.table),
    )


def _unpartition(t: Keyed) -> None:
    old = f"{t.table}_partitioned"
    for table, constraint, _column in t.referring:
        _run(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}_key")
    _run(f"ALTER TABLE {t.table} RENAME TO {old}", f"ALTER TABLE {t.table}_key RENAME TO {t.table}_key_old")
    _rename_keys(old, "_part")
    _rename_keys(f"{t.table}_key_old", "_old")
    _run(
        f"CREATE TABLE {t.table} (LIKE {old} INCLUDING DEFAULTS, {', '.join(t.plain_constraints)})",
        *(index.format(t=t.table) for index in t.indexes),
        *(f"ALTER TABLE {t.table} ADD CONSTRAINT {fk}" for fk in _OWN_FKS[t.table]),
        f"INSERT INTO {t.table} SELECT * FROM {old}",  # noqa: S608
        f"ALTER SEQUENCE {t.table}_id_seq OWNED BY {t.table}.id",
        f"DROP TABLE {old}",
        f"DROP FUNCTION {t.table}_key_sync()",
        f"DROP TABLE {t.table}_key_old",
        *(
            f"ALTER TABLE {table} ADD CONSTRAINT {constraint} FOREIGN KEY ({column}) REFERENCES {t.table} (id)"
            for table, constraint, column in t.referring
        ),  # fmt: skip
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for t in TABLES:
        _partition(t)
    _run(
        "CREATE TABLE partition_archive (partition_name varchar(63) NOT NULL, table_name varchar(63) NOT NULL, "
        "month date NOT NULL, detached_at timestamp with time zone NOT NULL, row_count bigint NOT NULL, "
        "CONSTRAINT pk_partition_archive PRIMARY KEY (partition_name))",
        "CREATE TABLE audit_archive_horizon (stream integer NOT NULL, seq bigint NOT NULL, hash bytea NOT NULL, "
        "archived_before date NOT NULL, recorded_at timestamp with time zone NOT NULL, mac bytea NOT NULL, "
        "CONSTRAINT pk_audit_archive_horizon PRIMARY KEY (stream))",
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    archived = op.get_bind().execute(text("SELECT count(*) FROM partition_archive")).scalar_one()
    if archived:
        raise RuntimeError(
            f"{archived} archived partitions (sscard partitions list): their rows are no longer in the "
            "tables; restore and re-attach them, or keep this revision"
        )
    for t in reversed(TABLES):
        _unpartition(t)
    _run("DROP TABLE partition_archive", "DROP TABLE audit_archive_horizon")
