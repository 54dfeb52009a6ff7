"""Policy values and campaigns as pure rules (no database)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from sscard.cards.types import CardType
from sscard.policy.schemas import PinCampaign, RegionalPolicy


# rule PIN-1 / PIN-5 / QPW-1 / QPW-5 / QPW-6 / CARD-5: the national defaults the rules name
def test_defaults() -> None:
    p = RegionalPolicy()
    assert p.initial_pin_rule == "fixed_123456"
    assert p.pin_lockout_threshold == 6
    assert p.query_password_rule == "id_last8_x0"
    assert p.password_min_length == 8 and p.password_max_length >= 64
    assert (p.password_hash_memory_kib, p.password_hash_time_cost, p.password_hash_parallelism) == (19456, 2, 1)
    assert p.temporary_password_minutes == 10
    assert p.loss_report_expiry_days == 5
    assert p.initial_query_password_valid_days is None


# rule QPW-6: no maximum below 64; the minimum cannot go below 8
@pytest.mark.parametrize("field,value", [("password_max_length", 63), ("password_min_length", 6)])
def test_length_bounds(field: str, value: int) -> None:
    with pytest.raises(ValidationError):
        RegionalPolicy.model_validate({field: value})


# rule PIN-1: only the three derivations exist
def test_unknown_pin_rule_refused() -> None:
    with pytest.raises(ValidationError):
        RegionalPolicy.model_validate({"initial_pin_rule": "000000"})


SEED_CAMPAIGN = PinCampaign(
    name="seed-004",
    start_date=date(2026, 4, 13),
    populations=["urban_employee_medical"],
    excluded_populations=["urban_rural_resident_pension", "urban_resident_medical"],
    excluded_card_types=[CardType.MEDICAL],
)


# rule PIN-9: from the policy date, the selected population is prompted; the others are out of scope
def test_campaign_selects_population_and_date() -> None:
    employee = {"urban_employee_medical", "urban_employee_pension"}
    assert not SEED_CAMPAIGN.applies(card_type="social", populations=employee, on=date(2026, 4, 12))
    assert SEED_CAMPAIGN.applies(card_type="social", populations=employee, on=date(2026, 4, 13))
    assert SEED_CAMPAIGN.applies(card_type="social", populations=employee, on=date(2030, 1, 1))  # no deadline
    assert not SEED_CAMPAIGN.applies(card_type="social", populations={"urban_resident_medical"}, on=date(2026, 5, 1))
    assert not SEED_CAMPAIGN.applies(
        card_type="social", populations={"urban_employee_medical", "urban_rural_resident_pension"}, on=date(2026, 5, 1)
    )


# rule PIN-9: legacy medical cards are out of scope
def test_campaign_excludes_card_type() -> None:
    assert not SEED_CAMPAIGN.applies(card_type="medical", populations={"urban_employee_medical"}, on=date(2026, 5, 1))


# rule PIN-9: a population cannot be both in and out; dates in order; names unique in a policy
def test_campaign_validation() -> None:
    with pytest.raises(ValidationError):
        PinCampaign(
            name="x", start_date=date(2026, 1, 1), populations=["maternity"], excluded_populations=["maternity"]
        )
    with pytest.raises(ValidationError):
        PinCampaign(name="x", start_date=date(2026, 2, 1), end_date=date(2026, 1, 1), populations=["maternity"])
    with pytest.raises(ValidationError):
        RegionalPolicy(pin_change_campaigns=(SEED_CAMPAIGN, SEED_CAMPAIGN))
