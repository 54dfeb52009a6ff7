"""The region table: administrative codes with bilingual names and their hierarchy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.regions.codes import RegionLevel


class Region(Base):
    __tablename__ = "region"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(128))
    level: Mapped[RegionLevel] = mapped_column(
        Enum(RegionLevel, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    parent_code: Mapped[str | None] = mapped_column(String(6), ForeignKey("region.code"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"Region({self.code}, {self.name_en!r}, {self.level.value})"
