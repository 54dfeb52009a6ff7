"""key carriers and incidents (KEY-5, KEY-9); card personalisation record (CARD-7)

KEY-5: one ministry delivery receipt may list several carriers, so ``key_carrier.receipt_no`` is no
longer unique (an index keeps the look-up by receipt). KEY-9: a department notice measure names its
outbox message, so it is done only once the message was delivered. CARD-7: ``card_personalisation``
keeps what was personalised on each card's face and chip (name and citizen ID sealed, ID-5).

Revision ID: 0016_card_channels
Revises: 0015_integrity_signatures
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sscard.db.base

revision: str = "0016_card_channels"
down_revision: str | None = "0015_integrity_signatures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "card_personalisation",
        sa.Column("id", _ID, nullable=False),
        sa.Column("card_id", _ID, nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("gender", sa.String(length=1), nullable=False),
        sa.Column("id_number_enc", sa.LargeBinary(), nullable=False),
        sa.Column("card_no", sa.String(length=9), nullable=False),
        sa.Column("chip_serial", sa.String(length=32), nullable=False),
        sa.Column("personalised_on", sa.Date(), nullable=False),
        sa.Column("bureau", sa.String(length=64), nullable=False),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["card.id"], name=op.f("fk_card_personalisation_card_id_card")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_personalisation")),
        sa.UniqueConstraint("card_id", name=op.f("uq_card_personalisation_card_id")),
        sa.UniqueConstraint("chip_serial", name=op.f("uq_card_personalisation_chip_serial")),
    )
    with op.batch_alter_table("key_carrier", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_key_carrier_receipt_no"), type_="unique")
        batch_op.create_index(batch_op.f("ix_key_carrier_receipt_no"), ["receipt_no"], unique=False)
    with op.batch_alter_table("key_incident_measure", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outbox_message_id", _ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_key_incident_measure_outbox_message_id_outbox_message"),
            "outbox_message",
            ["outbox_message_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("key_incident_measure", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_key_incident_measure_outbox_message_id_outbox_message"), type_="foreignkey"
        )
        batch_op.drop_column("outbox_message_id")
    with op.batch_alter_table("key_carrier", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_key_carrier_receipt_no"))
        batch_op.create_unique_constraint(batch_op.f("uq_key_carrier_receipt_no"), ["receipt_no"])
    op.drop_table("card_personalisation")
