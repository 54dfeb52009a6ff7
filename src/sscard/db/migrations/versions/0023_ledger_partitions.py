"""Ledger postings partitioned by month of their business date, and carried balances (issue 23;
docs/partitioning.md)

PostgreSQL: ``ledger_posting`` becomes partitioned by range of ``business_date`` (a partition per civil
month from the oldest posting's to three months ahead, and a default), primary key ``(id, business_date)``,
with 0020's design: its global keys move to the unpartitioned ``ledger_posting_key (id, reverses_id)``,
kept in step by statement triggers, under their old names (``uq_ledger_posting_reverses_id``: a posting is
reversed at most once; ``fk_ledger_posting_reverses_id_ledger_posting``: the reversed posting exists, even
archived). The foreign keys into the postings point at the key table: the legs', the terminal
transactions' (both deferred to the commit: the settlement batch writes a posting, its legs and its
transaction in one statement, and the key rows are written at its end) and the declarations'. A foreign
key into the partitioned table itself would cost every leg and transaction a check that locks each
attached month (measured: bench/partitioned_legs.py --postings, bench/README.md). A year's interest stays
unique: ``uq_ledger_posting_interest`` is ``(source_ref, business_date)``; interest is dated 31 December.

``ledger_carried_balance``: each account's balance at a cut, recorded by ``sscard partitions detach`` in
the transaction that detaches the ledger's months before it; append-only (a statement trigger refuses
UPDATE and DELETE; TRUNCATE, like disabling the trigger, is the table owner's, and ``sscard ledger check``
then finds balances that are not their carried balance plus their legs). SQLite: nothing to do.

Revision ID: 0023_ledger_partitions
Revises: 0022_history_partitions
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

from sscard.db.partition_rebuild import key_sync_sql, key_triggers, rebuild, run

revision: str = "0023_ledger_partitions"
down_revision: str | None = "0022_history_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, constraint, deferred): the foreign keys into the postings, all on ``posting_id``.
_INTO_POSTING = (
    ("ledger_leg", "fk_ledger_leg_posting_id_ledger_posting", True),
    ("terminal_txn", "fk_terminal_txn_posting_id_ledger_posting", True),
    ("contribution_declaration", "fk_contribution_declaration_posting_id_ledger_posting", False),
)
_KEY_COLUMNS = ("id", "reverses_id")
_APPEND_ONLY = """
CREATE FUNCTION ledger_carried_balance_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_carried_balance is append-only (%)', TG_OP USING ERRCODE = 'restrict_violation';
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    run(
        *(f"ALTER TABLE {table} DROP CONSTRAINT {name}" for table, name, _ in _INTO_POSTING),
        "ALTER TABLE ledger_posting DROP CONSTRAINT fk_ledger_posting_reverses_id_ledger_posting",
        "ALTER TABLE ledger_posting DROP CONSTRAINT uq_ledger_posting_reverses_id",
        "DROP INDEX uq_ledger_posting_interest",
        "CREATE TABLE ledger_posting_key (id bigint NOT NULL, reverses_id bigint, "
        "CONSTRAINT pk_ledger_posting_key PRIMARY KEY (id), "
        "CONSTRAINT uq_ledger_posting_reverses_id UNIQUE (reverses_id), "
        "CONSTRAINT fk_ledger_posting_reverses_id_ledger_posting FOREIGN KEY (reverses_id) "
        "REFERENCES ledger_posting_key (id))",
        "INSERT INTO ledger_posting_key (id, reverses_id) SELECT id, reverses_id FROM ledger_posting",
    )
    rebuild("ledger_posting", partition_key="business_date")
    run(
        "CREATE UNIQUE INDEX uq_ledger_posting_interest ON ledger_posting (source_ref, business_date) "
        "WHERE kind = 'interest'",
        "CREATE INDEX ix_ledger_posting_reverses_id ON ledger_posting (reverses_id) WHERE reverses_id IS NOT NULL",
        *(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (posting_id) REFERENCES ledger_posting_key (id)"
            + (" DEFERRABLE INITIALLY DEFERRED" if deferred else "")
            for table, name, deferred in _INTO_POSTING
        ),
        key_sync_sql("ledger_posting", _KEY_COLUMNS),
        *key_triggers("ledger_posting"),
        "CREATE TABLE ledger_carried_balance (account_id bigint NOT NULL, carried_before date NOT NULL, "
        "balance_fen bigint NOT NULL, recorded_at timestamp with time zone NOT NULL, "
        "CONSTRAINT pk_ledger_carried_balance PRIMARY KEY (account_id, carried_before), "
        "CONSTRAINT fk_ledger_carried_balance_account_id_ledger_account FOREIGN KEY (account_id) "
        "REFERENCES ledger_account (id))",
        "CREATE INDEX ix_ledger_carried_balance_carried_before ON ledger_carried_balance (carried_before)",
        _APPEND_ONLY,
        "CREATE TRIGGER ledger_carried_balance_append_only BEFORE UPDATE OR DELETE "
        "ON ledger_carried_balance FOR EACH STATEMENT EXECUTE FUNCTION ledger_carried_balance_append_only()",
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    archived = bind.execute(
        text("SELECT count(*) FROM partition_archive WHERE table_name IN ('ledger_posting', 'ledger_leg')")
    ).scalar_one()
    if archived:
        raise RuntimeError(
            f"{archived} archived partitions of the ledger (sscard partitions list): their rows are no longer "
            "in the tables, only their carried balances; restore and re-attach them, or keep this revision"
        )
    run(
        "DROP TABLE ledger_carried_balance",
        "DROP FUNCTION ledger_carried_balance_append_only()",
        *(f"ALTER TABLE {table} DROP CONSTRAINT {name}" for table, name, _ in _INTO_POSTING),
        *(f"DROP TRIGGER {trigger.split()[2]} ON ledger_posting" for trigger in key_triggers("ledger_posting")),
        "DROP FUNCTION ledger_posting_key_sync()",
        "DROP INDEX ix_ledger_posting_reverses_id",
        "DROP INDEX uq_ledger_posting_interest",
        "DROP TABLE ledger_posting_key",
    )
    rebuild("ledger_posting", partition_key=None)
    run(
        "CREATE UNIQUE INDEX uq_ledger_posting_interest ON ledger_posting (source_ref) WHERE kind = 'interest'",
        "ALTER TABLE ledger_posting ADD CONSTRAINT uq_ledger_posting_reverses_id UNIQUE (reverses_id)",
        "ALTER TABLE ledger_posting ADD CONSTRAINT fk_ledger_posting_reverses_id_ledger_posting "
        "FOREIGN KEY (reverses_id) REFERENCES ledger_posting (id)",
        *(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (posting_id) REFERENCES ledger_posting (id)"
            for table, name, _ in _INTO_POSTING
        ),
    )
