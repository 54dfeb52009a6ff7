"""settlement write path: indexes no query reads dropped, the daily file's index, HOT balance updates

Every settlement inserts a posting, two legs, a stored terminal transaction and two audit entries, and
updates two balances; each index on those tables is one more B-tree insertion per row (bench/README.md, settlement,
twelfth session). Dropped, because no query reads them (``grep`` of ``src``: none filters or joins on
these columns):
- ``ix_ledger_posting_source_ref``: postings are never looked up by their source, except a year's
  interest, which ``uq_ledger_posting_interest`` (partial, 0008) serves;
- ``ix_terminal_txn_account_id``: no query selects stored transactions by account;
- ``ix_terminal_txn_institution_date`` (institution, date): no query filters by institution; the daily
  file and ``sscard settlement reconcile`` select one business date, which now has its own index
  (``ix_terminal_txn_business_date``) instead of reading the whole table;
- ``ix_audit_entry_subject`` and ``ix_audit_entry_action``: no query selects audit entries by subject or
  action (the walk reads by stream and seq, the key register's report by time, ``ix_audit_entry_at``);
  every audited change, two per settlement, wrote both.
``ix_terminal_txn_original_id`` becomes partial (``original_id IS NOT NULL``): only refunds and reversals
have an original, and the refund sum asks for one original's (``original_id = :id``).

``ledger_account`` keeps a fifth of each page free on PostgreSQL (fillfactor 80): a balance update can
then write the row's new version in the same page without touching the table's five indexes (a HOT
update); on full pages two thirds of the balance updates moved the row and inserted into every index.
Pages written before this migration get the room as they are rewritten (``VACUUM FULL`` would do it
at once, under an exclusive lock; not done here).

Revision ID: 0017_settlement_write_path
Revises: 0016_card_channels
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_settlement_write_path"
down_revision: str | None = "0016_card_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER_ACCOUNT_FILLFACTOR = 80
_HAS_ORIGINAL = "original_id IS NOT NULL"


def upgrade() -> None:
    # CONCURRENTLY on PostgreSQL (outside the migration's transaction): both tables take writes all day.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_terminal_txn_business_date", "terminal_txn", ["business_date"], postgresql_concurrently=True
        )
        op.drop_index("ix_terminal_txn_institution_date", table_name="terminal_txn", postgresql_concurrently=True)
        op.drop_index("ix_terminal_txn_account_id", table_name="terminal_txn", postgresql_concurrently=True)
        op.drop_index("ix_ledger_posting_source_ref", table_name="ledger_posting", postgresql_concurrently=True)
        op.drop_index("ix_audit_entry_subject", table_name="audit_entry", postgresql_concurrently=True)
        op.drop_index("ix_audit_entry_action", table_name="audit_entry", postgresql_concurrently=True)
        op.drop_index("ix_terminal_txn_original_id", table_name="terminal_txn", postgresql_concurrently=True)
        op.create_index(
            "ix_terminal_txn_original_id",
            "terminal_txn",
            ["original_id"],
            postgresql_where=sa.text(_HAS_ORIGINAL),
            sqlite_where=sa.text(_HAS_ORIGINAL),
            postgresql_concurrently=True,
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE ledger_account SET (fillfactor = {LEDGER_ACCOUNT_FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE ledger_account RESET (fillfactor)")
    with op.get_context().autocommit_block():
        op.drop_index("ix_terminal_txn_original_id", table_name="terminal_txn", postgresql_concurrently=True)
        op.create_index("ix_terminal_txn_original_id", "terminal_txn", ["original_id"], postgresql_concurrently=True)
        op.create_index("ix_audit_entry_action", "audit_entry", ["action"], postgresql_concurrently=True)
        op.create_index("ix_audit_entry_subject", "audit_entry", ["subject"], postgresql_concurrently=True)
        op.create_index("ix_ledger_posting_source_ref", "ledger_posting", ["source_ref"], postgresql_concurrently=True)
        op.create_index("ix_terminal_txn_account_id", "terminal_txn", ["account_id"], postgresql_concurrently=True)
        op.create_index(
            "ix_terminal_txn_institution_date",
            "terminal_txn",
            ["institution_id", "business_date"],
            postgresql_concurrently=True,
        )
        op.drop_index("ix_terminal_txn_business_date", table_name="terminal_txn", postgresql_concurrently=True)
