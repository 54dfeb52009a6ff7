"""medical settlement (issue 20, FIN-1): institutions, the terminal transaction store, institution accounts

Tables: ``institution`` (a designated medical institution: region + name, as its terminals name it) and
``terminal_txn`` (terminal + transaction id -> request digest + first answer, the idempotency store of
money-moving terminal requests). ``ledger_account`` gets ``institution_id`` (the institution's
``settlement_clearing`` account); the region-wide system account index now leaves those out.

Revision ID: 0010_settlement
Revises: 0009_statements
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sscard.db.base

revision: str = "0010_settlement"
down_revision: str | None = "0009_statements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SYSTEM = "person_id IS NULL AND institution_id IS NULL"


def upgrade() -> None:
    op.create_table(
        "institution",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("institution_type", sa.String(length=32), nullable=False),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_institution")),
        sa.UniqueConstraint("region_code", "name", name=op.f("uq_institution_region_code_name")),
    )
    op.create_table(
        "terminal_txn",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("terminal_id", sa.String(length=32), nullable=False),
        sa.Column("txn_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("posting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("original_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reversed", sa.Boolean(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["ledger_account.id"], name=op.f("fk_terminal_txn_account_id_ledger_account")
        ),
        sa.ForeignKeyConstraint(["card_id"], ["card.id"], name=op.f("fk_terminal_txn_card_id_card")),
        sa.ForeignKeyConstraint(
            ["institution_id"], ["institution.id"], name=op.f("fk_terminal_txn_institution_id_institution")
        ),
        sa.ForeignKeyConstraint(
            ["original_id"], ["terminal_txn.id"], name=op.f("fk_terminal_txn_original_id_terminal_txn")
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["ledger_posting.id"], name=op.f("fk_terminal_txn_posting_id_ledger_posting")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terminal_txn")),
        sa.UniqueConstraint("posting_id", name=op.f("uq_terminal_txn_posting_id")),
        sa.UniqueConstraint("terminal_id", "txn_id", name=op.f("uq_terminal_txn_terminal_id_txn_id")),
    )
    with op.batch_alter_table("terminal_txn", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_terminal_txn_account_id"), ["account_id"], unique=False)
        batch_op.create_index("ix_terminal_txn_institution_date", ["institution_id", "business_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_terminal_txn_original_id"), ["original_id"], unique=False)

    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.drop_index("uq_ledger_account_system")
        batch_op.add_column(
            sa.Column("institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.create_index(
            "uq_ledger_account_institution",
            ["kind", "institution_id"],
            unique=True,
            sqlite_where=sa.text("institution_id IS NOT NULL"),
            postgresql_where=sa.text("institution_id IS NOT NULL"),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_ledger_account_institution_id_institution"), "institution", ["institution_id"], ["id"]
        )
        batch_op.create_index(
            "uq_ledger_account_system",
            ["kind", "region_code"],
            unique=True,
            sqlite_where=sa.text(_SYSTEM),
            postgresql_where=sa.text(_SYSTEM),
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_ledger_account_institution_id_institution"), type_="foreignkey")
        batch_op.drop_index(
            "uq_ledger_account_institution",
            sqlite_where=sa.text("institution_id IS NOT NULL"),
            postgresql_where=sa.text("institution_id IS NOT NULL"),
        )
        batch_op.drop_index("uq_ledger_account_system")
        batch_op.drop_column("institution_id")
        batch_op.create_index(
            "uq_ledger_account_system",
            ["kind", "region_code"],
            unique=True,
            sqlite_where=sa.text("person_id IS NULL"),
            postgresql_where=sa.text("person_id IS NULL"),
        )

    with op.batch_alter_table("terminal_txn", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_terminal_txn_original_id"))
        batch_op.drop_index("ix_terminal_txn_institution_date")
        batch_op.drop_index(batch_op.f("ix_terminal_txn_account_id"))

    op.drop_table("terminal_txn")
    op.drop_table("institution")
