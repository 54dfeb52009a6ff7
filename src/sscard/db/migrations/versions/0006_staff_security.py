"""staff second factor (TOTP) and enrol-only sessions

Issue 17 item 8: security officers, key custodians, auditors and administrators sign in with a TOTP
code as well; the secret is sealed (``totp_secret_enc``, a protected column). A session opened by such
a role before enrolment may only enrol (``enrol_only``). Staff login throttles and the hard lock live
in ``login_throttle`` (kinds ``staffacc`` and ``staffsrc``): no schema change there.

Revision ID: 0006_staff_security
Revises: 0005_audit_anchors
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sscard.db.base

revision: str = "0006_staff_security"
down_revision: str | None = "0005_audit_anchors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_account") as batch:
        batch.add_column(sa.Column("totp_secret_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("totp_confirmed_at", sscard.db.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("staff_session") as batch:
        batch.add_column(sa.Column("enrol_only", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("staff_session") as batch:
        batch.drop_column("enrol_only")
    with op.batch_alter_table("staff_account") as batch:
        batch.drop_column("totp_confirmed_at")
        batch.drop_column("totp_secret_enc")
