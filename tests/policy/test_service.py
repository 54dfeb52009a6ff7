"""Policy as data: versions, inheritance, card types, effective dates, audit (POL, CARD-3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sscard.audit import Actor, Channel
from sscard.audit.models import AuditEntry
from sscard.db.base import utcnow
from sscard.policy.demo import load_demo_policies
from sscard.policy.errors import PolicyInvalid, PolicyScheduleConflict
from sscard.policy.service import (
    get_effective_policy,
    list_policy_versions,
    loss_report_expiry_days,
    region_chain,
    set_policy,
)
from tests.policy.factories import registered_district
from tests.staff.factories import ensure_region

ADMIN = Actor(kind="staff", id="admin1", channel=Channel.ADMIN, role="administrator", region="000000")


def test_region_chain() -> None:
    assert region_chain("110105") == ["000000", "110000", "110100", "110105"]
    with pytest.raises(PolicyInvalid):
        region_chain("11010")


# rule CARD-5 / PIN-5: a region without stored policy gets the national defaults
def test_defaults_without_versions(uow) -> None:
    code = registered_district(uow)
    p = get_effective_policy(uow, region_code=code)
    assert p.loss_report_expiry_days == 5 and p.pin_lockout_threshold == 6 and p.sources == {}
    assert loss_report_expiry_days(uow, region_code=code) == 5


# rule CARD-3: province overrides national, district overrides province; card type selects within a region
def test_inheritance_and_card_type(uow) -> None:
    district = registered_district(uow)
    province = district[:2] + "0000"
    set_policy(
        uow,
        region_code=province,
        values={"pin_lockout_threshold": 5, "loss_report_expiry_days": 7},
        reason="province rule",
        actor=ADMIN,
    )
    set_policy(
        uow,
        region_code=province,
        card_type="rural",
        values={"initial_pin_rule": "id_last6"},
        reason="rural cards",
        actor=ADMIN,
    )
    set_policy(uow, region_code=district, values={"loss_report_expiry_days": 3}, reason="district rule", actor=ADMIN)

    social = get_effective_policy(uow, region_code=district, card_type="social")
    assert social.pin_lockout_threshold == 5 and social.loss_report_expiry_days == 3
    assert social.initial_pin_rule == "fixed_123456"
    assert social.sources["loss_report_expiry_days"] == f"{district}/any v1"
    assert social.sources["pin_lockout_threshold"] == f"{province}/any v1"
    rural = get_effective_policy(uow, region_code=district, card_type="rural")
    assert rural.initial_pin_rule == "id_last6" and rural.sources["initial_pin_rule"] == f"{province}/rural v1"
    # Another province is untouched.
    assert get_effective_policy(uow, region_code="650102").pin_lockout_threshold in (5, 6)


# rule CARD-5: the loss-report expiry follows the card's region policy
def test_loss_report_expiry_days_follows_policy(uow) -> None:
    code = registered_district(uow)
    set_policy(uow, region_code=code, values={"loss_report_expiry_days": 9}, reason="longer holds", actor=ADMIN)
    assert loss_report_expiry_days(uow, region_code=code, card_type="social") == 9


# POL: every change is a new version with who and why; unset returns to inheritance; audited
def test_versions_audited_and_unset(uow) -> None:
    code = registered_district(uow)
    v1 = set_policy(uow, region_code=code, values={"temporary_password_minutes": 5}, reason="shorter", actor=ADMIN)
    v2 = set_policy(uow, region_code=code, values={"pin_reset_mode": "initial"}, reason="reset to initial", actor=ADMIN)
    v3 = set_policy(uow, region_code=code, unset=["temporary_password_minutes"], reason="back to default", actor=ADMIN)
    assert (v1.version, v2.version, v3.version) == (1, 2, 3)
    assert v2.settings == {"temporary_password_minutes": 5, "pin_reset_mode": "initial"}
    assert v3.settings == {"pin_reset_mode": "initial"} and v3.changed_by == "admin1"
    p = get_effective_policy(uow, region_code=code)
    assert p.temporary_password_minutes == 10 and p.pin_reset_mode == "initial"
    assert [v.version for v in list_policy_versions(uow, region_code=code)] == [1, 2, 3]
    entries = uow.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "policy.set", AuditEntry.subject == f"policy:{code}/any")
    ).all()
    assert len(entries) == 3 and all(e.actor_id == "admin1" for e in entries)


# POL: a version takes effect at its date; earlier moments still see the previous one
def test_effective_dates(uow) -> None:
    code = registered_district(uow)
    now = utcnow()
    set_policy(uow, region_code=code, values={"loss_report_expiry_days": 4}, reason="now", actor=ADMIN, now=now)
    later = now + timedelta(days=30)
    set_policy(
        uow,
        region_code=code,
        values={"loss_report_expiry_days": 6},
        reason="next month",
        actor=ADMIN,
        effective_from=later,
        now=now,
    )
    assert get_effective_policy(uow, region_code=code, at=now + timedelta(days=1)).loss_report_expiry_days == 4
    assert get_effective_policy(uow, region_code=code, at=later).loss_report_expiry_days == 6
    with pytest.raises(PolicyScheduleConflict):
        set_policy(
            uow,
            region_code=code,
            values={"loss_report_expiry_days": 8},
            reason="before the scheduled one",
            actor=ADMIN,
            now=now,
        )
    with pytest.raises(PolicyInvalid):
        set_policy(
            uow,
            region_code=code,
            values={"loss_report_expiry_days": 8},
            reason="backdated",
            actor=ADMIN,
            effective_from=now - timedelta(days=1),
            now=now,
        )


@pytest.mark.parametrize(
    "values,fault",
    [
        ({"no_such_key": 1}, "unknown policy keys"),
        ({"pin_lockout_threshold": 0}, "pin_lockout_threshold"),
        ({"initial_pin_rule": "654321"}, "initial_pin_rule"),
        ({"password_max_length": 32}, "password_max_length"),
        ({}, "nothing to change"),
    ],
)
def test_invalid_changes(uow, values, fault) -> None:
    code = registered_district(uow)
    with pytest.raises(PolicyInvalid) as info:
        set_policy(uow, region_code=code, values=values, reason="bad change", actor=ADMIN)
    assert fault in info.value.detail


def test_unregistered_region_refused(uow) -> None:
    from sscard.regions.errors import RegionNotFound

    with pytest.raises(RegionNotFound):
        set_policy(uow, region_code="159999", values={"loss_report_expiry_days": 4}, reason="nowhere", actor=ADMIN)


# POL demo data: at least two regions with different rules; loading twice adds nothing
def test_demo_policies(uow) -> None:
    from sscard.demo import data

    for r in data.REGIONS:
        ensure_region(uow, r.code)
    load_demo_policies(uow)
    assert load_demo_policies(uow) == 0
    bj = get_effective_policy(uow, region_code="110105", card_type="social")
    gd = get_effective_policy(uow, region_code="440305", card_type="social")
    assert bj.initial_pin_rule == "fixed_123456" and gd.initial_pin_rule == "birth_yymmdd"
    assert bj.pin_lockout_threshold == 6 and gd.pin_lockout_threshold == 5
    assert gd.loss_report_expiry_days == 7 and bj.loss_report_expiry_days == 5
    assert get_effective_policy(uow, region_code="110105", card_type="rural").initial_pin_rule == "id_last6"
    assert bj.pin_change_campaigns and not gd.pin_change_campaigns
    assert get_effective_policy(uow, region_code="440305").initial_query_password_valid_days == 90
