"""Region API shapes."""

from __future__ import annotations

from pydantic import BaseModel

from sscard.regions.codes import RegionLevel


class RegionRead(BaseModel):
    code: str
    name_zh: str
    name_en: str
    level: RegionLevel
    parent_code: str | None
