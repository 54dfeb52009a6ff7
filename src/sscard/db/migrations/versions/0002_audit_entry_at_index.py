"""index audit entries by time

The audit report (``keys/reports.py``) reads one period of the log; without this index it scans the
whole table, which every PIN verification and login grows.

Revision ID: 0002_audit_entry_at_index
Revises: 0001_initial
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_audit_entry_at_index"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # CONCURRENTLY (outside the migration's transaction) on PostgreSQL: a live audit log is large and
    # takes entries all the time; a plain CREATE INDEX would block every audited change while it builds.
    with op.get_context().autocommit_block():
        op.create_index(op.f("ix_audit_entry_at"), "audit_entry", ["at"], unique=False, postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(op.f("ix_audit_entry_at"), table_name="audit_entry", postgresql_concurrently=True)
