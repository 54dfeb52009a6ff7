"""audit anchors: the database's record of the anchors written outside it

Each ``sscard audit verify`` / ``sscard audit anchor`` appends a MACed digest of every stream head to
an append-only file outside the database (``audit/anchors.py``); this table records each one (its
number, time and line hash), so that a file cut short, lost or swapped is seen.

Revision ID: 0005_audit_anchors
Revises: 0004_people_at_rest
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sscard.db.base

revision: str = "0005_audit_anchors"
down_revision: str | None = "0004_people_at_rest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_anchor",
        sa.Column("n", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("line_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("streams", sa.Integer(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("faults", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("n", name=op.f("pk_audit_anchor")),
    )


def downgrade() -> None:
    op.drop_table("audit_anchor")
