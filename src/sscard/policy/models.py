"""Stored policy versions: one row per change of one scope (region + card type), never updated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID

# The card-type column of a version that applies to every card type (not NULL: NULLs are distinct in
# PostgreSQL unique constraints, and two "all types" version 3 rows must collide).
ANY_CARD_TYPE = "any"


class PolicyVersion(Base):
    __tablename__ = "policy_version"
    __table_args__ = (UniqueConstraint("region_code", "card_type", "version"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    card_type: Mapped[str] = mapped_column(String(16), default=ANY_CARD_TYPE)
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime]
    # Only the keys this scope overrides, as validated JSON values (policy/schemas.py).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_role: Mapped[str] = mapped_column(String(32), default="")
    changed_channel: Mapped[str] = mapped_column(String(16), default="")
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def scope(self) -> str:
        return f"{self.region_code}/{self.card_type} v{self.version}"

    def __repr__(self) -> str:
        return f"PolicyVersion({self.scope}, from={self.effective_from.isoformat()})"
