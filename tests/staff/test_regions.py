"""Regions: containment of six-digit codes and the region table (CH-2 scopes staff by region)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.regions import RegionLevel, is_within, level_of
from sscard.regions.errors import InvalidRegion, RegionExists, RegionNotFound
from sscard.regions.service import add_region, get_region_or_raise, list_regions
from tests.staff.factories import TEST_ACTOR, ensure_region


# rule CH-2: a province covers its cities and districts, a city its districts, national covers all
@pytest.mark.parametrize(
    ("child", "parent", "inside"),
    [
        ("110105", "110000", True),
        ("110100", "110000", True),
        ("110105", "110100", True),
        ("110105", "110105", True),
        ("440305", "000000", True),
        ("000000", "000000", True),
        ("440305", "440300", True),
        ("440106", "440300", False),  # Guangzhou district, Shenzhen staff: sibling city
        ("110105", "440000", False),
        ("110000", "110100", False),  # a parent is not inside its child
        ("000000", "110000", False),
        ("110105", "110108", False),  # sibling districts
        ("11010", "110000", False),  # malformed codes fail closed
        ("110105", "11000a", False),
        ("", "000000", False),
    ],
)
def test_is_within(child: str, parent: str, inside: bool) -> None:
    assert is_within(child, parent) is inside


def test_level_of() -> None:
    assert level_of("000000") is RegionLevel.NATIONAL
    assert level_of("440000") is RegionLevel.PROVINCE
    assert level_of("440300") is RegionLevel.CITY
    assert level_of("440305") is RegionLevel.DISTRICT
    with pytest.raises(ValueError):
        level_of("4403")


# rule CH-4: adding a region is audited; re-adding the same one is a no-op
def test_add_region_is_idempotent_and_audited(uow) -> None:
    ensure_region(uow, "540000")
    before = uow.session.scalar(select(AuditEntry).where(AuditEntry.subject == "region:540100"))
    assert before is None
    first = add_region(uow, code="540100", name_zh="拉萨市", name_en="Lhasa", actor=TEST_ACTOR)
    again = add_region(uow, code="540100", name_zh="拉萨市", name_en="Lhasa", actor=TEST_ACTOR)
    assert first is again
    assert first.level is RegionLevel.CITY and first.parent_code == "540000"
    entries = uow.session.scalars(select(AuditEntry).where(AuditEntry.subject == "region:540100")).all()
    assert [e.action for e in entries] == ["region.add"]
    with pytest.raises(RegionExists):
        add_region(uow, code="540100", name_zh="拉萨", name_en="Somewhere else", actor=TEST_ACTOR)


def test_add_region_rejects_bad_input(uow) -> None:
    ensure_region(uow, "000000")
    with pytest.raises(InvalidRegion):
        add_region(uow, code="44030", name_zh="x", name_en="x", actor=TEST_ACTOR)
    with pytest.raises(InvalidRegion):
        add_region(uow, code="440300", name_zh="x", name_en="x", level=RegionLevel.PROVINCE, actor=TEST_ACTOR)
    with pytest.raises(RegionNotFound):  # the parent province is not registered (no test commits 54xxxx)
        add_region(uow, code="540300", name_zh="x", name_en="x", actor=TEST_ACTOR)
    ensure_region(uow, "440000")
    with pytest.raises(InvalidRegion):  # a parent must contain the child
        add_region(uow, code="540300", name_zh="x", name_en="x", parent_code="440000", actor=TEST_ACTOR)
    with pytest.raises(InvalidRegion):
        add_region(uow, code="460000", name_zh=" ", name_en="Hainan", actor=TEST_ACTOR)


def test_list_regions_within(uow) -> None:
    for code in ("110105", "110108", "440305"):
        ensure_region(uow, code)
    inside = [r.code for r in list_regions(uow, within="110000")]
    # Other tests of this process may have committed more Beijing districts: what is listed is Beijing
    # only, in code order, with the ones made here among it.
    assert {"110000", "110100", "110105", "110108"} <= set(inside) and inside == sorted(inside)
    assert all(code.startswith("11") for code in inside)
    assert "440305" in [r.code for r in list_regions(uow)]
    assert get_region_or_raise(uow, "110105").name_en == "Test 110105"
    with pytest.raises(RegionNotFound):
        get_region_or_raise(uow, "not-a-code")
