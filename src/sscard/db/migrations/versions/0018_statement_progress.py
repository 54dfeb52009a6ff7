"""statement (year, region_code) index: the progress of statements generated over the queue

Revision ID: 0018_statement_progress
Revises: 0017_settlement_write_path
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018_statement_progress"
down_revision: str | None = "0017_settlement_write_path"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_statement_year_region", "statement", ["year", "region_code"])


def downgrade() -> None:
    op.drop_index("ix_statement_year_region", table_name="statement")
