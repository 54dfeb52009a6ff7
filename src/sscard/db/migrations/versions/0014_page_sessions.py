"""page sessions: the server-side sessions of the web pages (issue 21)

Revision ID: 0014_page_sessions
Revises: 0013_sealed_documents
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sscard.db.base

revision: str = "0014_page_sessions"
down_revision: str | None = "0013_sealed_documents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "page_session",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("auth_token_enc", sa.LargeBinary(), nullable=True),
        sa.Column("principal", sa.String(length=32), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sscard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_page_session_token_hash")),
    )
    with op.batch_alter_table("page_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_page_session_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("page_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_page_session_expires_at"))
    op.drop_table("page_session")
