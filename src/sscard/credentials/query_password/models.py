"""Query-password state, login throttles, portal sessions and liability-notice acknowledgements.

The initial password is derived from the ID by policy rule (QPW-1) and never stored: a holder who
never changed it has no ``query_password`` row, or one whose ``password_hash`` is NULL. Passwords and
temporary passwords are kept only as Argon2id hashes; session tokens only as SHA-256 digests.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class QueryPassword(Base):
    __tablename__ = "query_password"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True, autoincrement=False)
    # NULL: the initial password applies (QPW-1, derived at verification time).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    changed_at: Mapped[datetime | None]
    # QPW-3: the counter set the account back to the initial password (restarts its optional expiry).
    reinitialised_at: Mapped[datetime | None]
    # QPW-5: at most one outstanding temporary password; a new one replaces (voids) the previous.
    temp_hash: Mapped[str | None] = mapped_column(String(255))
    temp_issued_at: Mapped[datetime | None]
    temp_expires_at: Mapped[datetime | None]
    temp_used_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:  # never a hash
        return f"QueryPassword(person_id={self.person_id}, set={self.password_hash is not None})"


class LoginThrottle(Base):
    """QPW-7 counters, keyed by a blind index (of the ID number, or of the source address).

    Keyed by the ID number's index rather than the person, so an ID nobody registered is throttled
    exactly like a real account and the answers never tell the two apart. Only ever changed by
    single atomic statements (architecture: exact counters under concurrency).
    """

    __tablename__ = "login_throttle"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # "account" | "source"
    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    first_failure_at: Mapped[datetime | None]
    wait_until: Mapped[datetime | None]
    hard_locked_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PortalSession(Base):
    __tablename__ = "portal_session"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    # QPW-2 / QPW-5: signed in with the initial or a temporary password: only the change is allowed.
    must_change: Mapped[bool] = mapped_column(Boolean, default=False)
    via_temporary: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"PortalSession(id={self.id}, person_id={self.person_id}, must_change={self.must_change})"


class NoticeAcknowledgement(Base):
    """QPW-4: the holder acknowledged this version of the liability notice at this time."""

    __tablename__ = "liability_notice_ack"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    notice_version: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("portal_session.id"))
    acknowledged_at: Mapped[datetime] = mapped_column(default=utcnow)
