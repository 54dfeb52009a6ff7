"""discrepancy reports (INS-6) and once-per-year interest postings

``discrepancy_report``: the holder's report about what an employer declared (employer and month
optional), its text and the agency's answer sealed; ``open`` until answered. A partial unique index
on ``ledger_posting.source_ref`` for ``interest`` postings: a year's interest is credited to a
personal account once, even when two runs race.

Revision ID: 0008_discrepancies
Revises: 0007_insurance
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sscard.db.base

revision: str = "0008_discrepancies"
down_revision: str | None = "0007_insurance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "discrepancy_report",
        sa.Column("id", ROW_ID, nullable=False),
        sa.Column("person_id", ROW_ID, nullable=False),
        sa.Column("employer_id", ROW_ID, nullable=True),
        sa.Column("period", sa.Date(), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "answered", name="reportstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("answer_enc", sa.LargeBinary(), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sscard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_discrepancy_report_person_id_person")),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employer.id"], name=op.f("fk_discrepancy_report_employer_id_employer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discrepancy_report")),
    )
    with op.batch_alter_table("discrepancy_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_discrepancy_report_person_id"), ["person_id"], unique=False)
        batch_op.create_index("ix_discrepancy_report_status_region", ["status", "region_code"], unique=False)
    with op.batch_alter_table("ledger_posting", schema=None) as batch_op:
        batch_op.create_index(
            "uq_ledger_posting_interest",
            ["source_ref"],
            unique=True,
            sqlite_where=sa.text("kind = 'interest'"),
            postgresql_where=sa.text("kind = 'interest'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_posting", schema=None) as batch_op:
        batch_op.drop_index("uq_ledger_posting_interest")
    with op.batch_alter_table("discrepancy_report", schema=None) as batch_op:
        batch_op.drop_index("ix_discrepancy_report_status_region")
        batch_op.drop_index(batch_op.f("ix_discrepancy_report_person_id"))
    op.drop_table("discrepancy_report")
