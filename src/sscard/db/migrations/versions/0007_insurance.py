"""insurance records: ledger, employers, registration/participation, declarations (issue 19)

Tables: ``ledger_account`` / ``ledger_posting`` / ``ledger_leg`` (generic double-entry ledger, the
personal accounts non-negative by a check constraint), ``employer`` / ``employer_account`` /
``employer_session``, ``insurance_registration`` / ``insurance_participation`` (INS-1/2),
``declaration_document`` / ``contribution_declaration`` / ``contribution_part`` (INS-3/7).

Revision ID: 0007_insurance
Revises: 0006_staff_security
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sscard.db.base

revision: str = "0007_insurance"
down_revision: str | None = "0006_staff_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "employer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("contact_name_enc", sa.LargeBinary(), nullable=True),
        sa.Column("contact_phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("industry_class", sa.String(length=8), nullable=True),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employer")),
        sa.UniqueConstraint("uscc", name=op.f("uq_employer_uscc")),
    )
    with op.batch_alter_table("employer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_employer_region_code"), ["region_code"], unique=False)

    op.create_table(
        "ledger_posting",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source_ref", sa.String(length=64), nullable=False),
        sa.Column("reverses_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["ledger_posting.id"], name=op.f("fk_ledger_posting_reverses_id_ledger_posting")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_posting")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_ledger_posting_reverses_id")),
    )
    with op.batch_alter_table("ledger_posting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_posting_source_ref"), ["source_ref"], unique=False)

    op.create_table(
        "declaration_document",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("employer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "source",
            sa.Enum("api", "csv", "portal", name="documentsource", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employer.id"], name=op.f("fk_declaration_document_employer_id_employer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declaration_document")),
    )
    with op.batch_alter_table("declaration_document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_declaration_document_employer_id"), ["employer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_declaration_document_sha256"), ["sha256"], unique=False)

    op.create_table(
        "employer_account",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("employer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("login", sa.String(length=18), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("must_change", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sscard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("temp_hash", sa.String(length=255), nullable=True),
        sa.Column("temp_issued_at", sscard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("temp_expires_at", sscard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("temp_used_at", sscard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employer.id"], name=op.f("fk_employer_account_employer_id_employer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employer_account")),
        sa.UniqueConstraint("employer_id", name=op.f("uq_employer_account_employer_id")),
        sa.UniqueConstraint("login", name=op.f("uq_employer_account_login")),
    )
    op.create_table(
        "insurance_registration",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("employer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("employee", "flexible", "self_employed", name="registrationkind", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("employment_start", sa.Date(), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("days_late", sa.Integer(), nullable=False),
        sa.Column(
            "premium_decision",
            sa.Enum("waived", "charged", name="premiumdecision", native_enum=False, length=16),
            nullable=True,
        ),
        sa.Column("premium_fen", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sscard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("chosen_base_fen", sa.BigInteger(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employer.id"], name=op.f("fk_insurance_registration_employer_id_employer")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_insurance_registration_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_registration")),
    )
    with op.batch_alter_table("insurance_registration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_insurance_registration_employer_id"), ["employer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_insurance_registration_person_id"), ["person_id"], unique=False)

    op.create_table(
        "ledger_account",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("balance_fen", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("may_go_negative", sa.Boolean(), nullable=False),
        sa.Column("opened_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sscard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("may_go_negative OR balance_fen >= 0", name=op.f("ck_ledger_account_non_negative")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_ledger_account_person_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_account")),
    )
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_account_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            "uq_ledger_account_personal",
            ["kind", "person_id"],
            unique=True,
            sqlite_where=sa.text("person_id IS NOT NULL"),
            postgresql_where=sa.text("person_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_ledger_account_system",
            ["kind", "region_code"],
            unique=True,
            sqlite_where=sa.text("person_id IS NULL"),
            postgresql_where=sa.text("person_id IS NULL"),
        )

    op.create_table(
        "contribution_declaration",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("employer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("registration_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("declared_base_fen", sa.BigInteger(), nullable=False),
        sa.Column("base_fen", sa.BigInteger(), nullable=False),
        sa.Column("document_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("corrected", sa.Boolean(), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("posting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["declaration_document.id"],
            name=op.f("fk_contribution_declaration_document_id_declaration_document"),
        ),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employer.id"], name=op.f("fk_contribution_declaration_employer_id_employer")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_contribution_declaration_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["ledger_posting.id"], name=op.f("fk_contribution_declaration_posting_id_ledger_posting")
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["insurance_registration.id"],
            name=op.f("fk_contribution_declaration_registration_id_insurance_registration"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_declaration")),
        sa.UniqueConstraint(
            "employer_id",
            "person_id",
            "period",
            "revision",
            name=op.f("uq_contribution_declaration_employer_id_person_id_period_revision"),
        ),
    )
    with op.batch_alter_table("contribution_declaration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contribution_declaration_document_id"), ["document_id"], unique=False)
        batch_op.create_index("ix_contribution_declaration_person_period", ["person_id", "period"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_contribution_declaration_registration_id"), ["registration_id"], unique=False
        )
        batch_op.create_index(
            "uq_contribution_declaration_self",
            ["person_id", "period", "revision"],
            unique=True,
            sqlite_where=sa.text("employer_id IS NULL"),
            postgresql_where=sa.text("employer_id IS NULL"),
        )

    op.create_table(
        "employer_session",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("employer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("must_change", sa.Boolean(), nullable=False),
        sa.Column("created_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sscard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sscard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["employer_account.id"], name=op.f("fk_employer_session_account_id_employer_account")
        ),
        sa.ForeignKeyConstraint(
            ["employer_id"], ["employer.id"], name=op.f("fk_employer_session_employer_id_employer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employer_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_employer_session_token_hash")),
    )
    with op.batch_alter_table("employer_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_employer_session_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_employer_session_employer_id"), ["employer_id"], unique=False)

    op.create_table(
        "insurance_participation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("registration_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "insurance_type",
            sa.Enum(
                "basic_pension",
                "employee_medical",
                "resident_medical",
                "unemployment",
                "work_injury",
                "maternity",
                name="insurancetype",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("stop_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_insurance_participation_person_id_person")),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["insurance_registration.id"],
            name=op.f("fk_insurance_participation_registration_id_insurance_registration"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_participation")),
    )
    with op.batch_alter_table("insurance_participation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_insurance_participation_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_insurance_participation_registration_id"), ["registration_id"], unique=False
        )

    op.create_table(
        "ledger_leg",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("posting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["ledger_account.id"], name=op.f("fk_ledger_leg_account_id_ledger_account")
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["ledger_posting.id"], name=op.f("fk_ledger_leg_posting_id_ledger_posting")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_leg")),
    )
    with op.batch_alter_table("ledger_leg", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_leg_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_leg_posting_id"), ["posting_id"], unique=False)

    op.create_table(
        "contribution_part",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("declaration_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "insurance_type",
            sa.Enum(
                "basic_pension",
                "employee_medical",
                "resident_medical",
                "unemployment",
                "work_injury",
                "maternity",
                name="insurancetype",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("employer_fen", sa.BigInteger(), nullable=False),
        sa.Column("individual_fen", sa.BigInteger(), nullable=False),
        sa.Column("personal_account_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"],
            ["contribution_declaration.id"],
            name=op.f("fk_contribution_part_declaration_id_contribution_declaration"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contribution_part")),
    )
    with op.batch_alter_table("contribution_part", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contribution_part_declaration_id"), ["declaration_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contribution_part", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contribution_part_declaration_id"))

    op.drop_table("contribution_part")
    with op.batch_alter_table("ledger_leg", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_leg_posting_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_leg_account_id"))

    op.drop_table("ledger_leg")
    with op.batch_alter_table("insurance_participation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insurance_participation_registration_id"))
        batch_op.drop_index(batch_op.f("ix_insurance_participation_person_id"))

    op.drop_table("insurance_participation")
    with op.batch_alter_table("employer_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employer_session_employer_id"))
        batch_op.drop_index(batch_op.f("ix_employer_session_account_id"))

    op.drop_table("employer_session")
    with op.batch_alter_table("contribution_declaration", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_contribution_declaration_self",
            sqlite_where=sa.text("employer_id IS NULL"),
            postgresql_where=sa.text("employer_id IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_contribution_declaration_registration_id"))
        batch_op.drop_index("ix_contribution_declaration_person_period")
        batch_op.drop_index(batch_op.f("ix_contribution_declaration_document_id"))

    op.drop_table("contribution_declaration")
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_ledger_account_system",
            sqlite_where=sa.text("person_id IS NULL"),
            postgresql_where=sa.text("person_id IS NULL"),
        )
        batch_op.drop_index(
            "uq_ledger_account_personal",
            sqlite_where=sa.text("person_id IS NOT NULL"),
            postgresql_where=sa.text("person_id IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_ledger_account_person_id"))

    op.drop_table("ledger_account")
    with op.batch_alter_table("insurance_registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insurance_registration_person_id"))
        batch_op.drop_index(batch_op.f("ix_insurance_registration_employer_id"))

    op.drop_table("insurance_registration")
    op.drop_table("employer_account")
    with op.batch_alter_table("declaration_document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_declaration_document_sha256"))
        batch_op.drop_index(batch_op.f("ix_declaration_document_employer_id"))

    op.drop_table("declaration_document")
    with op.batch_alter_table("ledger_posting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_posting_source_ref"))

    op.drop_table("ledger_posting")
    with op.batch_alter_table("employer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employer_region_code"))

    op.drop_table("employer")
