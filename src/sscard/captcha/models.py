"""Captcha challenges: the answer only as a keyed hash, single use, short-lived."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow


class CaptchaChallenge(Base):
    __tablename__ = "captcha_challenge"

    id: Mapped[str] = mapped_column(String(48), primary_key=True)
    answer_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
