"""audit entries indexed by time; audit chain checkpoints

The audit report (``key_register/reports.py``) reads one period of the log; without the index it scans the
whole table, which every PIN verification and login grows. Checkpoints let the report's chain check
start where the last full walk (``sscard audit verify``) found each stream intact.

Revision ID: 0002_audit_checkpoints
Revises: 0001_initial
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sscard.db.base

revision: str = "0002_audit_checkpoints"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("stream", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("verified_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("mac", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_audit_checkpoint")),
    )
    # CONCURRENTLY (outside the migration's transaction) on PostgreSQL: a live audit log is large and
    # takes entries all the time; a plain CREATE INDEX would block every audited change while it builds.
    with op.get_context().autocommit_block():
        op.create_index(op.f("ix_audit_entry_at"), "audit_entry", ["at"], unique=False, postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(op.f("ix_audit_entry_at"), table_name="audit_entry", postgresql_concurrently=True)
    op.drop_table("audit_checkpoint")
