"""Employers, their user accounts and sessions.

The contact person's name and phone are personal data: sealed like the person's (``*_enc``), never
in clear. An employer account signs in with the USCC as login; its password and any temporary
password are Argon2id hashes only; failures are counted in the shared ``login_throttle`` table
(kinds ``empacc`` / ``empsrc``), exactly like the query password's (QPW-7).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class Employer(Base):
    __tablename__ = "employer"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    contact_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Work-injury rate class (1..8 in national practice); NULL: the region's default class.
    industry_class: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Employer(id={self.id}, uscc={self.uscc}, region={self.region_code})"


class EmployerAccount(Base):
    __tablename__ = "employer_account"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("employer.id"), unique=True)
    login: Mapped[str] = mapped_column(String(18), unique=True)  # the USCC
    password_hash: Mapped[str | None] = mapped_column(String(255))
    must_change: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_at: Mapped[datetime | None]
    # QPW-5: at most one outstanding temporary password; a new one voids the previous.
    temp_hash: Mapped[str | None] = mapped_column(String(255))
    temp_issued_at: Mapped[datetime | None]
    temp_expires_at: Mapped[datetime | None]
    temp_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:  # never a hash
        return f"EmployerAccount(id={self.id}, employer_id={self.employer_id})"


class EmployerSession(Base):
    __tablename__ = "employer_session"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("employer_account.id"), index=True)
    employer_id: Mapped[int] = mapped_column(ForeignKey("employer.id"), index=True)
    must_change: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"EmployerSession(id={self.id}, employer_id={self.employer_id})"
