"""Partitioning inside Alembic migrations (0020, 0022, 0023; docs/partitioning.md), PostgreSQL only: a table
rebuilt as a partitioned one or back (its constraints and indexes read from the catalogue and rebuilt as
they are, so that a downgrade restores exactly what the upgrade found), and the statement triggers that
keep a partitioned table's unpartitioned key table in step."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

from sscard.db.partitions import add_months, create_default_sql, create_month_sql, month_start

MONTHS_AHEAD = 3


def run(*statements: str) -> None:
    for statement in statements:
        op.execute(text(statement))


def definitions(table: str) -> tuple[list[str], list[str]]:
    """``table``'s constraints other than its primary key (as ``ADD CONSTRAINT`` clauses) and its indexes
    that back no constraint (as ``CREATE INDEX`` statements), read from the catalogue: rebuilt as they are."""
    bind = op.get_bind()
    constraints = bind.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) "
            "AND contype <> 'p' AND conparentid = 0 ORDER BY conname"
        ),
        {"t": table},
    ).all()
    indexes = bind.execute(
        text(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = CAST(:t AS regclass) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
            "ORDER BY i.indexrelid"
        ),
        {"t": table},
    ).scalars()
    # A partitioned table's index reads "ON ONLY": the rebuilt table's index must cover all of it.
    plain = [index.replace(" ON ONLY ", " ON ", 1) for index in indexes]
    return [f"CONSTRAINT {name} {definition}" for name, definition in constraints], plain


def rename_indexes(table: str, suffix: str) -> None:
    """Free the schema-wide index names of ``table`` (its keys' too) for the table that replaces it."""
    names = (
        op.get_bind()
        .execute(
            text("SELECT indexname FROM pg_indexes WHERE tablename = :t AND schemaname = current_schema()"),
            {"t": table},
        )
        .scalars()
    )
    for name in list(names):
        run(f"ALTER INDEX {name} RENAME TO {name[: 63 - len(suffix)]}{suffix}")


def rebuild(table: str, *, partition_key: str | None) -> None:
    """Replace ``table`` by a copy partitioned by month of ``partition_key`` (primary key ``(id, key)``), or
    by a plain one (``None``: primary key ``(id)``), with the same rows, constraints and indexes."""
    bind = op.get_bind()
    constraints, indexes = definitions(table)
    old = f"{table}_old"
    run(f"ALTER TABLE {table} RENAME TO {old}")
    rename_indexes(old, "_old")
    partitioned = f" PARTITION BY RANGE ({partition_key})" if partition_key else ""
    key = f"id, {partition_key}" if partition_key else "id"
    run(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS, CONSTRAINT pk_{table} PRIMARY KEY ({key})){partitioned}",
        *(f"ALTER TABLE {table} ADD {constraint}" for constraint in constraints),
        *indexes,
    )
    if partition_key:
        oldest = bind.execute(text(f"SELECT min({partition_key}) FROM {old}")).scalar_one()  # noqa: S608
        this_month = month_start(datetime.now(UTC))
        month = month_start(oldest or this_month)
        while month <= add_months(this_month, MONTHS_AHEAD):
            run(create_month_sql(table, month))
            month = add_months(month, 1)
        run(create_default_sql(table))
    run(
        f"INSERT INTO {table} SELECT * FROM {old}",  # noqa: S608
        f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id",
        f"DROP TABLE {old}",
    )


def key_sync_sql(table: str, key_columns: tuple[str, ...]) -> str:
    """The trigger function that keeps ``<table>_key`` in step with every write to the table: once per
    statement, over its transition tables (a row-level PL/pgSQL call cost ~3x the insert itself in bulk).
    An UPDATE's transition tables hold the rows it moved to another month's partition too. Rows moved out
    of the default partition by ``sscard partitions ensure`` keep their keys (sscard.partition_move)."""
    cols = ", ".join(key_columns)
    n_cols = ", ".join(f"n.{c}" for c in key_columns)
    o_cols = ", ".join(f"o.{c}" for c in key_columns)
    same = f"n.id = o.id AND ({n_cols}) IS NOT DISTINCT FROM ({o_cols})"
    return f"""
CREATE FUNCTION {table}_key_sync() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF coalesce(current_setting('sscard.partition_move', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO {table}_key ({cols}) SELECT {cols} FROM new_rows;
  ELSIF TG_OP = 'UPDATE' THEN
    DELETE FROM {table}_key k USING old_rows o
      WHERE k.id = o.id AND NOT EXISTS (SELECT 1 FROM new_rows n WHERE {same});
    INSERT INTO {table}_key ({cols}) SELECT {n_cols} FROM new_rows n
      WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE {same});
  ELSE
    DELETE FROM {table}_key k USING old_rows o WHERE k.id = o.id;
  END IF;
  RETURN NULL;
END $$
"""  # noqa: S608 - the names above, never input


def key_triggers(table: str) -> tuple[str, ...]:
    """Transition tables allow one event per trigger: three triggers on the one function."""
    tables = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
              "DELETE": "OLD TABLE AS old_rows"}  # fmt: skip
    return tuple(
        f"CREATE TRIGGER {table}_key_{event.lower()} AFTER {event} ON {table} REFERENCING {refs} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_key_sync()"
        for event, refs in tables.items()
    )
