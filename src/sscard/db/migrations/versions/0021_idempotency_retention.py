"""idempotent_request.created_at indexed: Idempotency-Key answers are purged after their retention

Revision ID: 0021_idempotency_retention
Revises: 0020_partitions
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_idempotency_retention"
down_revision: str | None = "0020_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotent_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotent_request_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotent_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotent_request_created_at"))
