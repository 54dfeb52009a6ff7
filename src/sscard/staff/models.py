"""Staff accounts and their login sessions (CH-2).

Passwords are kept only as Argon2id hashes; session tokens only as SHA-256 digests (they are 256-bit
random values, so a fast hash is enough and a stolen table yields no usable token).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID
from sscard.staff.roles import Role


class StaffAccount(Base):
    __tablename__ = "staff_account"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])
    )
    region_code: Mapped[str] = mapped_column(String(6), ForeignKey("region.code"), index=True)
    # A bank outlet's staff carry their bank (PIN-6, FIN-3): required for bank clerks, empty otherwise.
    bank_code: Mapped[str | None] = mapped_column(String(16), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The password is the published demo password (set with the password): production refuses to start
    # while an active account has it (startup.py), with one indexed query instead of an Argon2 run each.
    demo_password: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # Changed only by single atomic UPDATE statements (architecture: exact counters under concurrency).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # Second factor (issue 17 item 8): the TOTP secret, sealed like other protected fields
    # (identity/protected_columns.py); confirmed once the holder proved a first code.
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:  # never the hash
        return f"StaffAccount(id={self.id}, username={self.username!r}, role={self.role}, region={self.region_code})"


class StaffSession(Base):
    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # A session of a role that needs a second factor, opened before one was enrolled: it may only
    # enrol (staff/totp.py), nothing else.
    enrol_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    def __repr__(self) -> str:
        return f"StaffSession(id={self.id}, staff_id={self.staff_id}, expires_at={self.expires_at})"
