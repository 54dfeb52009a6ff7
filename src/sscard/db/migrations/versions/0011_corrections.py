"""person record corrections awaiting a supervisor's approval

Issue 19 item 6 (QPW-3, PER-1): the counter corrects a person's name, phone and email at once (with
the identity evidence recorded); a correction of the citizen ID number itself is requested by one
staff member and applied only when a counter supervisor other than the requester approves it. The
pending new number is stored sealed (``new_value_enc``, a protected column), never in clear.

Revision ID: 0011_corrections
Revises: 0010_settlement
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sscard.db.base

revision: str = "0011_corrections"
down_revision: str | None = "0010_settlement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "person_correction",
        sa.Column("id", ROW_ID, nullable=False),
        sa.Column("person_id", ROW_ID, nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("new_value_enc", sa.LargeBinary(), nullable=False),
        sa.Column("old_masked", sa.String(length=64), nullable=False),
        sa.Column("new_masked", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("evidence_type", sa.String(length=32), nullable=False),
        sa.Column("evidence_masked", sa.String(length=32), nullable=False),
        sa.Column(
            "state",
            sa.Enum("pending", "approved", "rejected", name="correctionstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sscard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_person_correction_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_correction")),
    )
    with op.batch_alter_table("person_correction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_correction_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_correction_region_code"), ["region_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("person_correction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_correction_region_code"))
        batch_op.drop_index(batch_op.f("ix_person_correction_person_id"))
    op.drop_table("person_correction")
