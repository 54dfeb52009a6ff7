"""Contribution declarations, their parts and the ledger's legs partitioned by month on PostgreSQL
(issue 23; docs/partitioning.md)

``contribution_part`` gets a ``period`` column on every backend (its declaration's contribution month),
so that a part names its declaration by ``(declaration_id, period)``: on PostgreSQL both tables become
partitioned by range of ``period`` (civil months, a partition per month from the oldest row's to three
months ahead, and a default partition), ``contribution_declaration``'s key becomes ``(id, period)`` and
the parts' foreign key points at it. No key table and no trigger: the business keys of a declaration,
``(employer_id, person_id, period, revision)`` and the self-declared one, already hold ``period`` and
stay unique constraints of the partitioned table; ids come from one sequence.

``ledger_leg`` gets ``posted_on`` (its posting's business date) on every backend and is partitioned by
its month on PostgreSQL, key ``(id, posted_on)``; nothing refers to a leg, and its foreign keys (to the
posting, still one unpartitioned table, and to the account) stay as they are. SQLite: only the columns.

Revision ID: 0022_history_partitions
Revises: 0021_idempotency_retention
"""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

from sscard.db.partition_rebuild import rebuild as _rebuild
from sscard.db.partition_rebuild import run as _run

revision: str = "0022_history_partitions"
down_revision: str | None = "0021_idempotency_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


@dataclass(frozen=True)
class Child:
    """A foreign key into a partitioned table that carries the partition key with the id."""

    table: str
    constraint: str
    column: str  # the id it names
    key_column: str  # its copy of the parent's partition key
    parent: str


_PART_FK = Child(
    "contribution_part", "fk_contribution_part_declaration_id_contribution_declaration", "declaration_id", "period",
    "contribution_declaration",
)  # fmt: skip
TABLES = (("contribution_declaration", "period"), ("contribution_part", "period"), ("ledger_leg", "posted_on"))
# The new partition keys: (table, column, the statement that fills it from the row's parent).
_NEW_KEYS = (
    ("contribution_part", "period", "UPDATE contribution_part SET period = (SELECT d.period FROM "
     "contribution_declaration d WHERE d.id = contribution_part.declaration_id)"),
    ("ledger_leg", "posted_on", "UPDATE ledger_leg SET posted_on = (SELECT p.business_date FROM ledger_posting p "
     "WHERE p.id = ledger_leg.posting_id)"),
)  # fmt: skip


def upgrade() -> None:
    for table, column, fill in _NEW_KEYS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.Date(), nullable=True))
        op.execute(text(fill))
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.Date(), nullable=False)
    if op.get_bind().dialect.name != "postgresql":
        return
    c = _PART_FK
    _run(f"ALTER TABLE {c.table} DROP CONSTRAINT {c.constraint}")
    for table, key in TABLES:
        _rebuild(table, partition_key=key)
    _run(
        f"ALTER TABLE {c.table} ADD CONSTRAINT {c.constraint} FOREIGN KEY ({c.column}, {c.key_column}) "
        f"REFERENCES {c.parent} (id, {c.key_column})"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        tables = [t for t, _ in TABLES]
        archived = bind.execute(
            text("SELECT count(*) FROM partition_archive WHERE table_name = ANY(:t)"), {"t": tables}
        ).scalar_one()
        if archived:
            raise RuntimeError(
                f"{archived} archived partitions of {', '.join(tables)} (sscard partitions list): their rows are no longer "
                "in the tables; restore and re-attach them, or keep this revision"
            )
        c = _PART_FK
        _run(f"ALTER TABLE {c.table} DROP CONSTRAINT {c.constraint}")
        for table, _key in reversed(TABLES):
            _rebuild(table, partition_key=None)
        _run(f"ALTER TABLE {c.table} ADD CONSTRAINT {c.constraint} FOREIGN KEY ({c.column}) REFERENCES {c.parent} (id)")
    for table, column, _fill in reversed(_NEW_KEYS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
