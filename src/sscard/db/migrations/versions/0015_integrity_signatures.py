"""sealed personal data bound to its row; staff SM2 signing keys and audit-entry signatures

GB/T 39786-2021 level 3 (docs/compliance.md):

* Integrity of important data at rest, checked on read: a person's ID number, name, phone and e-mail
  and an employer's contact name and phone are re-sealed with their row's identity in the AEAD's
  associated data (identity/protected.py ``RowBinding``: table, column, and the person's citizen-ID
  blind index or the employer's credit code). Each value is opened under its old context (the field
  kind only) and sealed under the bound one, BATCH rows per round trip; a value that already opens
  bound (a re-run) is left alone. The downgrade seals them back unbound.
* Non-repudiation: ``audit_signing_key`` (each staff member's SM2 key pair, the private key sealed)
  and ``audit_signature`` (the SM2 signature of a signed operation's audit entry, audit/signatures.py).
  Keys of existing staff are created at their first signed operation.

Revision ID: 0015_integrity_signatures
Revises: 0014_page_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_integrity_signatures"
down_revision: str | None = "0014_page_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
# table: (the column holding the row's identity, {sealed column: field kind})
BOUND = {
    "person": ("id_number_bidx", {"id_number_enc": "id_number", "name_enc": "name", "phone_enc": "phone",
                                  "email_enc": "email"}),
    "employer": ("uscc", {"contact_name_enc": "name", "contact_phone_enc": "phone"}),
}  # fmt: skip


def _reseal(*, bind_rows: bool) -> None:
    from sscard.identity.protected import FieldKind, RowBinding
    from sscard.security_module.errors import ProtectedDataInvalid

    conn = op.get_bind()
    for table_name, (key_column, sealed) in BOUND.items():
        t = sa.table(table_name, sa.column("id"), sa.column(key_column), *(sa.column(c) for c in sealed))
        last = 0
        while True:
            rows = conn.execute(
                sa.select(t).where(t.c.id > last).order_by(t.c.id).limit(BATCH)
            ).mappings().all()  # fmt: skip
            if not rows:
                break
            last = rows[-1]["id"]
            for row in rows:
                key = row[key_column]
                values = {}
                for column, kind_name in sealed.items():
                    token = row[column]
                    if token is None:
                        continue
                    kind = FieldKind(kind_name)
                    binding = RowBinding(table_name, column, key.encode() if isinstance(key, str) else bytes(key))
                    source, target = (None, binding) if bind_rows else (binding, None)
                    try:
                        clear = kind.open(bytes(token), row=source)
                    except ProtectedDataInvalid:
                        kind.open(bytes(token), row=target)  # already in the target form (a re-run), else raises
                        continue
                    values[column] = kind.seal(clear, row=target)
                if values:
                    conn.execute(sa.update(t).where(t.c.id == row["id"]).values(values))


def upgrade() -> None:
    op.create_table(
        "audit_signing_key",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=64), nullable=False),
        sa.Column("private_key_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_signing_key")),
        sa.UniqueConstraint("username", name=op.f("uq_audit_signing_key_username")),
    )
    op.create_table(
        "audit_signature",
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False,
                  nullable=False),
        sa.Column("signer", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["audit_entry.id"], name=op.f("fk_audit_signature_entry_id_audit_entry")),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_signature")),
    )  # fmt: skip
    with op.batch_alter_table("audit_signature", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_signature_signer"), ["signer"], unique=False)
    _reseal(bind_rows=True)


def downgrade() -> None:
    _reseal(bind_rows=False)
    with op.batch_alter_table("audit_signature", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_signature_signer"))
    op.drop_table("audit_signature")
    op.drop_table("audit_signing_key")
