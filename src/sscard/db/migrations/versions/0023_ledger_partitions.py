"""Ledger postings partitioned by month of their business date, and carried balances (issue 23;
docs/partitioning.md)

Every backend: ``contribution_declaration.posted_on``, its posting's business date (NULL while it has
no posting), so that a declaration names its posting by ``(posting_id, posted_on)``.

PostgreSQL: ``ledger_posting`` becomes partitioned by range of ``business_date`` (a partition per civil
month from the oldest posting's to three months ahead, and a default), primary key ``(id, business_date)``.
The foreign keys into it carry the posting's date: the legs ``(posting_id, posted_on)``, the terminal
transactions ``(posting_id, business_date)`` (a transaction and its posting share the business date in
every writer), the declarations ``(posting_id, posted_on)`` MATCH FULL. A year's interest stays unique
(``uq_ledger_posting_interest``: its source and date; interest of a year is dated 31 December). "A
posting is reversed at most once" moves to the unpartitioned ``ledger_reversal`` (reversed id as primary
key; never pruned), which every reversing posting must have a row in: ``(id, reverses_id) →
ledger_reversal (reversal_id, reversed_id)``, deferred, so that no writer can skip it. The reversed
posting itself is no longer a foreign key (it may be archived; ``ledger.reverse`` reads it first).

``ledger_carried_balance``: each account's balance at a cut, recorded by ``sscard partitions detach`` in
the transaction that detaches the ledger's months before it; append-only (a statement trigger refuses
UPDATE and DELETE; TRUNCATE, like disabling the trigger, is the table owner's, and ``sscard ledger check``
then finds balances that are not their carried balance plus their legs). SQLite: only the column.

Revision ID: 0023_ledger_partitions
Revises: 0022_history_partitions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

from sscard.db.partition_rebuild import rebuild, run

revision: str = "0023_ledger_partitions"
down_revision: str | None = "0022_history_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, constraint, its columns in the partitioned design, in the plain one, MATCH clause)
_INTO_POSTING = (
    ("ledger_leg", "fk_ledger_leg_posting_id_ledger_posting", "posting_id, posted_on", "posting_id", ""),
    ("terminal_txn", "fk_terminal_txn_posting_id_ledger_posting", "posting_id, business_date", "posting_id", ""),
    ("contribution_declaration", "fk_contribution_declaration_posting_id_ledger_posting", "posting_id, posted_on",
     "posting_id", " MATCH FULL"),
)  # fmt: skip
_REVERSAL_FK = "fk_ledger_posting_id_ledger_reversal"
_APPEND_ONLY = """
CREATE FUNCTION ledger_carried_balance_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_carried_balance is append-only (%)', TG_OP USING ERRCODE = 'restrict_violation';
END $$
"""


def upgrade() -> None:
    with op.batch_alter_table("contribution_declaration") as batch:
        batch.add_column(sa.Column("posted_on", sa.Date(), nullable=True))
    op.execute(
        text(
            "UPDATE contribution_declaration SET posted_on = (SELECT p.business_date FROM ledger_posting p "
            "WHERE p.id = contribution_declaration.posting_id) WHERE posting_id IS NOT NULL"
        )
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    run(
        *(f"ALTER TABLE {table} DROP CONSTRAINT {name}" for table, name, _, _, _ in _INTO_POSTING),
        "ALTER TABLE ledger_posting DROP CONSTRAINT fk_ledger_posting_reverses_id_ledger_posting",
        "ALTER TABLE ledger_posting DROP CONSTRAINT uq_ledger_posting_reverses_id",
        "DROP INDEX uq_ledger_posting_interest",
        "CREATE TABLE ledger_reversal (reversed_id bigint NOT NULL, reversal_id bigint NOT NULL, "
        "CONSTRAINT pk_ledger_reversal PRIMARY KEY (reversed_id), "
        "CONSTRAINT uq_ledger_reversal_reversal_id_reversed_id UNIQUE (reversal_id, reversed_id))",
        "INSERT INTO ledger_reversal (reversed_id, reversal_id) SELECT reverses_id, id FROM ledger_posting "
        "WHERE reverses_id IS NOT NULL",
    )
    rebuild("ledger_posting", partition_key="business_date")
    run(
        "CREATE UNIQUE INDEX uq_ledger_posting_interest ON ledger_posting (source_ref, business_date) "
        "WHERE kind = 'interest'",
        "CREATE INDEX ix_ledger_posting_reverses_id ON ledger_posting (reverses_id) WHERE reverses_id IS NOT NULL",
        f"ALTER TABLE ledger_posting ADD CONSTRAINT {_REVERSAL_FK} FOREIGN KEY (id, reverses_id) "
        "REFERENCES ledger_reversal (reversal_id, reversed_id) DEFERRABLE INITIALLY DEFERRED",
        *(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({columns}) "
            f"REFERENCES ledger_posting (id, business_date){match}"
            for table, name, columns, _, match in _INTO_POSTING
        ),
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
    if bind.dialect.name == "postgresql":
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
            *(f"ALTER TABLE {table} DROP CONSTRAINT {name}" for table, name, _, _, _ in _INTO_POSTING),
            f"ALTER TABLE ledger_posting DROP CONSTRAINT {_REVERSAL_FK}",
            "DROP INDEX ix_ledger_posting_reverses_id",
            "DROP INDEX uq_ledger_posting_interest",
        )
        rebuild("ledger_posting", partition_key=None)
        run(
            "CREATE UNIQUE INDEX uq_ledger_posting_interest ON ledger_posting (source_ref) WHERE kind = 'interest'",
            "ALTER TABLE ledger_posting ADD CONSTRAINT uq_ledger_posting_reverses_id UNIQUE (reverses_id)",
            "ALTER TABLE ledger_posting ADD CONSTRAINT fk_ledger_posting_reverses_id_ledger_posting "
            "FOREIGN KEY (reverses_id) REFERENCES ledger_posting (id)",
            *(
                f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({columns}) REFERENCES ledger_posting (id)"
                for table, name, _, columns, _ in _INTO_POSTING
            ),
            "DROP TABLE ledger_reversal",
        )
    with op.batch_alter_table("contribution_declaration") as batch:
        batch.drop_column("posted_on")
