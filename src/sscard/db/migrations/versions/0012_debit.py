"""RMB debit account (issue 20, FIN-2, FIN-3) and stored Idempotency-Key answers (contract.md)

Tables: ``debit_account`` (card -> the holder's ``debit`` ledger account, through the issuing bank) and
``idempotent_request`` (caller scope + Idempotency-Key -> request digest + first answer). The new ledger
account and posting kinds are plain strings: no change to the ledger tables.

Revision ID: 0012_debit
Revises: 0011_corrections
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sscard.db.base

revision: str = "0012_debit"
down_revision: str | None = "0011_corrections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "debit_account",
        sa.Column("id", _ID, nullable=False),
        sa.Column("card_id", _ID, nullable=False),
        sa.Column("person_id", _ID, nullable=False),
        sa.Column("bank_code", sa.String(length=16), nullable=False),
        sa.Column("ledger_account_id", _ID, nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["card.id"], name=op.f("fk_debit_account_card_id_card")),
        sa.ForeignKeyConstraint(
            ["ledger_account_id"], ["ledger_account.id"], name=op.f("fk_debit_account_ledger_account_id_ledger_account")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_debit_account_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debit_account")),
        sa.UniqueConstraint("card_id", name=op.f("uq_debit_account_card_id")),
    )
    with op.batch_alter_table("debit_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debit_account_ledger_account_id"), ["ledger_account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_debit_account_person_id"), ["person_id"], unique=False)
    op.create_table(
        "idempotent_request",
        sa.Column("id", _ID, nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotent_request")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_idempotent_request_scope_key")),
    )


def downgrade() -> None:
    op.drop_table("idempotent_request")
    with op.batch_alter_table("debit_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debit_account_person_id"))
        batch_op.drop_index(batch_op.f("ix_debit_account_ledger_account_id"))
    op.drop_table("debit_account")
