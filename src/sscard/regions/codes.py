"""Pure rules over six-digit administrative codes: level and containment. No database."""

from __future__ import annotations

import re
from enum import StrEnum

NATIONAL = "000000"
_CODE = re.compile(r"^[0-9]{6}$")


class RegionLevel(StrEnum):
    NATIONAL = "national"
    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"


# Broader levels first, so a parent must rank strictly lower than its child.
LEVEL_RANK = {RegionLevel.NATIONAL: 0, RegionLevel.PROVINCE: 1, RegionLevel.CITY: 2, RegionLevel.DISTRICT: 3}


def is_region_code(code: str) -> bool:
    return bool(_CODE.match(code or ""))


def level_of(code: str) -> RegionLevel:
    """The level a code's shape implies: 000000 national, XX0000 province, XXXX00 city, else district."""
    if not is_region_code(code):
        raise ValueError("a region code is six digits")
    if code == NATIONAL:
        return RegionLevel.NATIONAL
    if code.endswith("0000"):
        return RegionLevel.PROVINCE
    if code.endswith("00"):
        return RegionLevel.CITY
    return RegionLevel.DISTRICT


def is_within(child_code: str, parent_code: str) -> bool:
    """True when ``child_code`` is ``parent_code`` or lies inside it (110105 is within 110100 and 110000).

    Malformed codes are never within anything: an authorisation check must fail closed.
    """
    if not (is_region_code(child_code) and is_region_code(parent_code)):
        return False
    if child_code == parent_code:
        return True
    level = level_of(parent_code)
    if level is RegionLevel.NATIONAL:
        return True
    if level is RegionLevel.PROVINCE:
        return child_code[:2] == parent_code[:2]
    if level is RegionLevel.CITY:
        return child_code[:4] == parent_code[:4]
    return False


def parent_code_of(code: str) -> str | None:
    """The code of the next broader level implied by the code itself (None for national)."""
    level = level_of(code)
    if level is RegionLevel.NATIONAL:
        return None
    if level is RegionLevel.PROVINCE:
        return NATIONAL
    if level is RegionLevel.CITY:
        return code[:2] + "0000"
    return code[:4] + "00"


def region_prefix(code: str) -> str:
    """The code prefix shared by every code within ``code`` ('' for national): for SQL ``LIKE prefix%``."""
    level = level_of(code)
    if level is RegionLevel.NATIONAL:
        return ""
    if level is RegionLevel.PROVINCE:
        return code[:2]
    if level is RegionLevel.CITY:
        return code[:4]
    return code
