"""yearly statements (issue 19, INS-4)

Table ``statement``: one per person and year (unique), the verification code's digest (unique) and
the code sealed, the content digest and snapshot, the delivered file and its digest.

Revision ID: 0009_statements
Revises: 0008_discrepancies
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sscard.db.base

revision: str = "0009_statements"
down_revision: str | None = "0008_discrepancies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "statement",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("code_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("code_enc", sa.LargeBinary(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("pdf_path", sa.String(length=255), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf_size", sa.Integer(), nullable=False),
        sa.Column("generated_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("notices", sa.SmallInteger(), nullable=False),
        sa.Column("downloaded_at", sscard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_statement_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_statement_code_digest")),
        sa.UniqueConstraint("person_id", "year", name=op.f("uq_statement_person_id_year")),
    )
    with op.batch_alter_table("statement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_statement_region_code"), ["region_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("statement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_region_code"))
    op.drop_table("statement")
