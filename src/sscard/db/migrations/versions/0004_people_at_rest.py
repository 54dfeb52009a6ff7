"""bank clerks carry their bank

``staff_account.bank_code``: a bank outlet's staff act only on cards issued through their bank
(PIN-6, FIN-3). Existing bank clerk accounts get no bank: they act on no card until an administrator
recreates them with one (fail closed).

Revision ID: 0004_people_at_rest
Revises: 0003_bigint_ids
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_people_at_rest"
down_revision: str | None = "0003_bigint_ids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_account") as batch:
        batch.add_column(sa.Column("bank_code", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_account") as batch:
        batch.drop_column("bank_code")
