"""audit_entry partitioned by month on PostgreSQL (issue 23; docs/partitioning.md); SQLite unchanged

On PostgreSQL ``audit_entry`` becomes a table partitioned by range of ``at`` (one partition per UTC
month from its oldest entry's to three months ahead, and a default partition). A partitioned table's
keys must hold the partition key, so the two keys that were global move to ``audit_entry_key``, an
unpartitioned table of (id, stream, seq) kept in step by triggers: ``pk_audit_entry_key`` keeps ids
unique, ``uq_audit_entry_stream_seq`` (the old name) keeps one entry per place in a stream, and
``audit_signature`` now refers to it. ``audit_archive_horizon`` and ``partition_archive`` record what
``sscard partitions detach`` archived. SQLite: nothing to do.

Revision ID: 0019_partitions
Revises: 0018_statement_progress
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

from sscard.db.partitions import add_months, create_default_sql, create_month_sql, month_start

revision: str = "0019_partitions"
down_revision: str | None = "0018_statement_progress"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_AHEAD = 3

# The key table follows every write to audit_entry (AFTER ROW: an UPDATE that moves a row to another
# month's partition fires DELETE then INSERT, which these mirror). Rows moved out of the default
# partition by ``sscard partitions ensure`` keep their keys (sscard.partition_move).
_SYNC = """
CREATE FUNCTION audit_entry_key_sync() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF coalesce(current_setting('sscard.partition_move', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO audit_entry_key (id, stream, seq) VALUES (NEW.id, NEW.stream, NEW.seq);
  ELSIF TG_OP = 'UPDATE' THEN
    IF (NEW.id, NEW.stream, NEW.seq) IS DISTINCT FROM (OLD.id, OLD.stream, OLD.seq) THEN
      UPDATE audit_entry_key SET id = NEW.id, stream = NEW.stream, seq = NEW.seq WHERE id = OLD.id;
    END IF;
  ELSE
    DELETE FROM audit_entry_key WHERE id = OLD.id;
  END IF;
  RETURN NULL;
END $$
"""

_COLUMNS = (
    "id bigint NOT NULL DEFAULT nextval('audit_entry_id_seq'::regclass), stream integer NOT NULL, "
    "seq bigint NOT NULL, at timestamp with time zone NOT NULL, actor_kind varchar(16) NOT NULL, "
    "actor_id varchar(64) NOT NULL, role varchar(32) NOT NULL, channel varchar(16) NOT NULL, "
    "region varchar(12) NOT NULL, subject varchar(128) NOT NULL, action varchar(64) NOT NULL, "
    "result varchar(32) NOT NULL, details text NOT NULL, prev_hash bytea NOT NULL, hash bytea NOT NULL"
)


def _run(*statements: str) -> None:
    for statement in statements:
        op.execute(text(statement))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    bind = op.get_bind()
    _run(
        "ALTER TABLE audit_signature DROP CONSTRAINT fk_audit_signature_entry_id_audit_entry",
        "ALTER TABLE audit_entry RENAME TO audit_entry_unpartitioned",
        "ALTER TABLE audit_entry_unpartitioned RENAME CONSTRAINT pk_audit_entry TO pk_audit_entry_unpartitioned",
        "ALTER TABLE audit_entry_unpartitioned RENAME CONSTRAINT uq_audit_entry_stream_seq TO uq_audit_entry_unpart",
        "ALTER INDEX ix_audit_entry_at RENAME TO ix_audit_entry_at_unpartitioned",
        f"CREATE TABLE audit_entry ({_COLUMNS}) PARTITION BY RANGE (at)",
        "ALTER TABLE audit_entry ADD CONSTRAINT pk_audit_entry PRIMARY KEY (id, at)",
        "CREATE INDEX ix_audit_entry_stream_seq ON audit_entry (stream, seq)",
        "CREATE INDEX ix_audit_entry_at ON audit_entry (at)",
        "CREATE TABLE audit_entry_key (id bigint NOT NULL, stream integer NOT NULL, seq bigint NOT NULL, "
        "CONSTRAINT pk_audit_entry_key PRIMARY KEY (id), CONSTRAINT uq_audit_entry_stream_seq UNIQUE (stream, seq))",
    )
    oldest = bind.execute(text("SELECT min(at) FROM audit_entry_unpartitioned")).scalar_one()
    this_month = month_start(datetime.now(UTC))
    month = month_start(oldest.astimezone(UTC)) if oldest is not None else this_month
    while month <= add_months(this_month, MONTHS_AHEAD):
        _run(create_month_sql("audit_entry", month))
        month = add_months(month, 1)
    _run(
        create_default_sql("audit_entry"),
        "INSERT INTO audit_entry SELECT * FROM audit_entry_unpartitioned",
        "INSERT INTO audit_entry_key (id, stream, seq) SELECT id, stream, seq FROM audit_entry_unpartitioned",
        "ALTER SEQUENCE audit_entry_id_seq OWNED BY audit_entry.id",
        "DROP TABLE audit_entry_unpartitioned",
        "ALTER TABLE audit_signature ADD CONSTRAINT fk_audit_signature_entry_id_audit_entry_key "
        "FOREIGN KEY (entry_id) REFERENCES audit_entry_key (id)",
        _SYNC,
        "CREATE TRIGGER audit_entry_key_sync AFTER INSERT OR UPDATE OR DELETE ON audit_entry "
        "FOR EACH ROW EXECUTE FUNCTION audit_entry_key_sync()",
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
            f"{archived} archived partitions (sscard partitions list): their entries are no longer in the "
            "table; restore and re-attach them, or keep this revision"
        )
    _run(
        "ALTER TABLE audit_signature DROP CONSTRAINT fk_audit_signature_entry_id_audit_entry_key",
        "ALTER TABLE audit_entry RENAME TO audit_entry_partitioned",
        "ALTER TABLE audit_entry_partitioned RENAME CONSTRAINT pk_audit_entry TO pk_audit_entry_partitioned",
        "ALTER INDEX ix_audit_entry_at RENAME TO ix_audit_entry_at_partitioned",
        "ALTER TABLE audit_entry_key RENAME CONSTRAINT uq_audit_entry_stream_seq TO uq_audit_entry_key_stream",
        f"CREATE TABLE audit_entry ({_COLUMNS}, CONSTRAINT pk_audit_entry PRIMARY KEY (id), "
        "CONSTRAINT uq_audit_entry_stream_seq UNIQUE (stream, seq))",
        "CREATE INDEX ix_audit_entry_at ON audit_entry (at)",
        "INSERT INTO audit_entry SELECT * FROM audit_entry_partitioned",
        "ALTER SEQUENCE audit_entry_id_seq OWNED BY audit_entry.id",
        "DROP TABLE audit_entry_partitioned",
        "DROP FUNCTION audit_entry_key_sync()",
        "DROP TABLE audit_entry_key",
        "DROP TABLE partition_archive",
        "DROP TABLE audit_archive_horizon",
        "ALTER TABLE audit_signature ADD CONSTRAINT fk_audit_signature_entry_id_audit_entry "
        "FOREIGN KEY (entry_id) REFERENCES audit_entry (id)",
    )
