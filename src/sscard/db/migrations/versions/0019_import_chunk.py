"""import_chunk: the line ranges of an import done by queue workers (issue 23 item 2)

Revision ID: 0019_import_chunk
Revises: 0018_statement_progress
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sscard.db.base

revision: str = "0019_import_chunk"
down_revision: str | None = "0018_statement_progress"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "import_chunk",
        sa.Column("id", _ID, nullable=False),
        sa.Column("job_id", _ID, nullable=False),
        sa.Column("first_line", sa.Integer(), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.Column("end_offset", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("already_present", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["import_job.id"], name=op.f("fk_import_chunk_job_id_import_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_chunk")),
        sa.UniqueConstraint("job_id", "first_line", name=op.f("uq_import_chunk_job_id_first_line")),
    )


def downgrade() -> None:
    op.drop_table("import_chunk")
