"""terminal payments: four foreign keys that every writer already proves, checked by ``ledger check`` instead

Every terminal payment (settlement, refund, reversal, bank POS consumption) writes two legs and a stored
transaction; each foreign key on them is a key-share lock and an index probe of the row it names, per row,
at the statement's end (bench/README.md, settlement: about 8 checks and 50-65 µs of PostgreSQL CPU per
settlement). Dropped here, because the transaction that writes the row has already read and locked or
read the row it names, and those rows are never deleted (no code deletes an account, a card or an
institution):
- ``fk_ledger_leg_account_id_ledger_account``: every writer of legs (``ledger.post_many``,
  ``post_many_in_sets``, the payment batch's ``WRITE_PG``) locks the leg's account ``FOR UPDATE`` in the
  same transaction first (``post_many`` refuses a missing one, ``AccountNotFound``) and updates its balance
  in the same statement or the next;
- ``fk_terminal_txn_account_id_ledger_account``: the holder's account, locked the same way, and also a leg
  of the transaction's posting;
- ``fk_terminal_txn_card_id_card`` and ``fk_terminal_txn_institution_id_institution``: read in the same
  transaction (the card with its locked PIN row, the institution with its clearing account).
What they guarded, ``sscard ledger check`` now proves (``ledger.service.check``): every leg's account
exists (``leg_without_account``); every stored terminal transaction names a posting that moves its amount
on its account (``txn_not_posted``, stronger than the account's foreign key), and its institution and
card exist (``txn_unknown_institution``, ``txn_unknown_card``). A check finds a broken reference after the
fact where the key refused it; the writers above are the only ones, and each is tested.

Kept: the legs' and the stored transactions' keys to their posting (0023 pointed them at
``ledger_posting_key``, checked at the commit), and ``original_id`` (refunds and reversals only).

Revision ID: 0024_payment_references
Revises: 0023_ledger_partitions
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024_payment_references"
down_revision: str | None = "0023_ledger_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, constraint, column, referred table) as 0007 / 0010 created them (0020 and 0022 kept the names).
DROPPED = (
    ("ledger_leg", "fk_ledger_leg_account_id_ledger_account", "account_id", "ledger_account"),
    ("terminal_txn", "fk_terminal_txn_account_id_ledger_account", "account_id", "ledger_account"),
    ("terminal_txn", "fk_terminal_txn_card_id_card", "card_id", "card"),
    ("terminal_txn", "fk_terminal_txn_institution_id_institution", "institution_id", "institution"),
)
_TABLES = ("ledger_leg", "terminal_txn")


def upgrade() -> None:
    # PostgreSQL: ALTER TABLE ... DROP CONSTRAINT (a partitioned table's partitions drop theirs with it);
    # SQLite: the table rebuilt without them.
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            for owner, name, _column, _referred in DROPPED:
                if owner == table:
                    batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            for owner, name, column, referred in DROPPED:
                if owner == table:
                    batch.create_foreign_key(name, referred, [column], ["id"])
