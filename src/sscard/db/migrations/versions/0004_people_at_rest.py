"""bank clerks carry their bank; staff accounts with the published demo password are marked

``staff_account.bank_code``: a bank outlet's staff act only on cards issued through their bank
(PIN-6, FIN-3). Existing bank clerk accounts get no bank: they act on no card until an administrator
recreates them with one (fail closed).

``staff_account.demo_password``: true when the account's password is the published demo password;
production refuses to start while an active account has it (startup.py). Existing accounts are
verified here once against that password (one Argon2id verification each, about 40-60 ms).

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


def _mark_demo_passwords() -> None:
    from sscard.demo.data import DEMO_STAFF_PASSWORD
    from sscard.staff.passwords import verify_password

    staff = sa.table("staff_account", sa.column("id"), sa.column("password_hash"), sa.column("demo_password"))
    bind = op.get_bind()
    marked = [
        row.id
        for row in bind.execute(sa.select(staff.c.id, staff.c.password_hash))
        if verify_password(row.password_hash, DEMO_STAFF_PASSWORD)
    ]
    if marked:
        bind.execute(sa.update(staff).where(staff.c.id.in_(marked)).values(demo_password=True))


def upgrade() -> None:
    with op.batch_alter_table("staff_account") as batch:
        batch.add_column(sa.Column("bank_code", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("demo_password", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.create_index(batch.f("ix_staff_account_demo_password"), ["demo_password"], unique=False)
    _mark_demo_passwords()


def downgrade() -> None:
    with op.batch_alter_table("staff_account") as batch:
        batch.drop_index(batch.f("ix_staff_account_demo_password"))
        batch.drop_column("demo_password")
        batch.drop_column("bank_code")
