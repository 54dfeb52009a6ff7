"""A page session: the browser's cookie holds a random token, the row only its SHA-256 digest.

The channel's own session (a portal token, a staff token, an employer token) is kept sealed
(``auth_token_enc``, AEAD context ``page_auth_token``) so the pages resolve the signed-in user through
the very services the API uses. ``data`` holds flash messages and opaque result references (JSON),
never personal data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class PageSession(Base):
    __tablename__ = "page_session"

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    # The synchronizer token of the session's forms (useless without the session cookie).
    csrf_token: Mapped[str] = mapped_column(String(64))
    auth_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    principal: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)  # the absolute timeout (and the sweep's key)
    revoked_at: Mapped[datetime | None]

    def __repr__(self) -> str:  # never a token
        return f"PageSession(id={self.id}, channel={self.channel}, principal={self.principal})"
