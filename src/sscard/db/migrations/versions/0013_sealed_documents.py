"""declaration documents sealed at rest: declaration_document.content → content_enc

ID-5 / INS-7: the original declaration document (an employer's request body or an uploaded CSV) holds
the employees' full citizen ID numbers; it is now sealed like the protected fields (AEAD, context
``declaration_document``) and registered for data-key rotation, so the column takes the ``_enc``
name of every sealed column. Rows written before this revision (development databases only: the
table came with the same unreleased change) hold clear bytes and do not open; they are not converted.

Revision ID: 0013_sealed_documents
Revises: 0012_debit
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_sealed_documents"
down_revision: str | None = "0012_debit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("declaration_document", schema=None) as batch_op:
        batch_op.alter_column("content", new_column_name="content_enc")


def downgrade() -> None:
    with op.batch_alter_table("declaration_document", schema=None) as batch_op:
        batch_op.alter_column("content_enc", new_column_name="content")
