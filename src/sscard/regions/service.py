"""Add, find and list regions. Other domains (staff, keys, policy) reference ``region.code``."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from sscard.audit import Actor, record_event
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.regions.codes import (
    LEVEL_RANK,
    RegionLevel,
    is_region_code,
    is_within,
    level_of,
    parent_code_of,
    region_prefix,
)
from sscard.regions.errors import InvalidRegion, RegionExists, RegionNotFound
from sscard.regions.models import Region


def get_region(uow: UnitOfWork, code: str) -> Region | None:
    """The region with this code, or None."""
    if not is_region_code(code):
        return None
    return uow.session.get(Region, code)


def get_region_or_raise(uow: UnitOfWork, code: str) -> Region:
    """The region with this code; ``RegionNotFound`` otherwise."""
    region = get_region(uow, code)
    if region is None:
        raise RegionNotFound(f"region {code!r} is not registered" if is_region_code(code) else "not a region code")
    return region


def add_region(
    uow: UnitOfWork,
    *,
    code: str,
    name_zh: str,
    name_en: str,
    actor: Actor,
    level: RegionLevel | None = None,
    parent_code: str | None = None,
) -> Region:
    """Register a region under its parent; re-adding the same region is a no-op (idempotent)."""
    if not is_region_code(code):
        raise InvalidRegion("a region code is six digits")
    implied = level_of(code)
    level = RegionLevel(level) if level is not None else implied
    if level is not implied:
        raise InvalidRegion(f"code {code} is a {implied.value} code, not {level.value}")
    name_zh, name_en = name_zh.strip(), name_en.strip()
    if not name_zh or not name_en or len(name_zh) > 64 or len(name_en) > 128:
        raise InvalidRegion("both names are required (zh up to 64, en up to 128 characters)")
    parent_code = parent_code if parent_code is not None else parent_code_of(code)
    parent = _check_parent(uow, code, level, parent_code)

    existing = uow.session.get(Region, code)
    if existing is not None:
        if (existing.name_zh, existing.name_en, existing.level, existing.parent_code) == (
            name_zh,
            name_en,
            level,
            parent_code,
        ):
            return existing
        raise RegionExists(f"region {code} is already registered as {existing.name_en!r}")

    region = Region(
        code=code, name_zh=name_zh, name_en=name_en, level=level, parent_code=parent.code if parent else None
    )
    uow.session.add(region)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="region.add",
        subject=f"region:{code}",
        details={"level": level.value, "parent": region.parent_code, "name_en": name_en},
    )
    return region


def _check_parent(uow: UnitOfWork, code: str, level: RegionLevel, parent_code: str | None) -> Region | None:
    if level is RegionLevel.NATIONAL:
        if parent_code is not None:
            raise InvalidRegion("the national region has no parent")
        return None
    if parent_code is None or not is_region_code(parent_code):
        raise InvalidRegion("a region below national needs a six-digit parent code")
    parent = uow.session.get(Region, parent_code)
    if parent is None:
        raise RegionNotFound(f"parent region {parent_code} is not registered; add it first")
    if not is_within(code, parent.code) or LEVEL_RANK[parent.level] >= LEVEL_RANK[level]:
        raise InvalidRegion(f"{parent.code} ({parent.level.value}) cannot contain {code} ({level.value})")
    return parent


def list_regions(uow: UnitOfWork, *, within: str | None = None, page: Keyset | None = None) -> list[Region]:
    """All regions ordered by code, optionally only those inside ``within`` (itself included)."""
    stmt = select(Region)
    if within is not None:
        stmt = stmt.where(within_region(Region.code, within))
    return taken(uow.session.scalars(ordered(stmt, page, Region.code)), page)


def within_region(column: ColumnElement[str] | InstrumentedAttribute[str], code: str) -> ColumnElement[bool]:
    """SQL for ``is_within(column, code)``: the region itself or a code under it (a list filtered in the
    database, so it can be paged there). A malformed code contains nothing: the check fails closed."""
    if not is_region_code(code):
        return false()
    prefix = region_prefix(code)
    return column == code if len(prefix) == 6 else or_(column == code, column.startswith(prefix, autoescape=True))
