"""Pure contribution rules, without a database (INS-1, INS-3)."""

from __future__ import annotations

from datetime import date

import pytest

from sscard.insurance.errors import BaseAbsurd, BaseInvalid, PeriodInvalid
from sscard.insurance.models import InsuranceType as T
from sscard.insurance.models import RegistrationKind
from sscard.insurance.rules import (
    BaseBounds,
    Rates,
    birthday,
    clamped_base,
    compute_parts,
    days_late,
    declared_late,
    parse_period,
    registration_deadline,
    round_bp,
)
from sscard.policy.schemas import RegionalPolicy

RATES = Rates.of(RegionalPolicy())


# rule INS-1: deadline = start + 30 days; days late after it
def test_thirty_day_rule() -> None:
    start = date(2025, 1, 1)
    assert registration_deadline(start) == date(2025, 1, 31)
    assert days_late(employment_start=start, registered_on=date(2025, 1, 31)) == 0
    assert days_late(employment_start=start, registered_on=date(2025, 2, 1)) == 1
    assert days_late(employment_start=start, registered_on=date(2024, 12, 1)) == 0


def test_sixteenth_birthday_of_a_leap_day_child() -> None:
    assert birthday(date(2008, 2, 29), 16) == date(2024, 2, 29)
    assert birthday(date(2004, 2, 29), 17) == date(2021, 3, 1)


# rule INS-3: rounding half-up to the fen with integers
def test_round_half_up() -> None:
    assert round_bp(12345, 800) == 988  # 987.6
    assert round_bp(6250, 800) == 500  # exactly 500.0
    assert round_bp(1, 5000) == 1  # 0.5 rounds up
    assert round_bp(1, 4999) == 0


# rule INS-3: the base is clamped to 60-300 % of the average wage; absurd or non-positive bases refused
def test_base_bounds_and_clamping() -> None:
    bounds = BaseBounds.of(RegionalPolicy(average_monthly_wage_fen=800_000))
    assert (bounds.floor_fen, bounds.ceiling_fen) == (480_000, 2_400_000)
    assert clamped_base(100_000, bounds) == 480_000
    assert clamped_base(5_000_000, bounds) == 2_400_000
    assert clamped_base(600_000, bounds) == 600_000
    for bad in (0, -1, True):
        with pytest.raises(BaseInvalid):
            clamped_base(bad, bounds)
    with pytest.raises(BaseAbsurd):
        clamped_base(24_000_001, bounds)


# rule INS-3: national defaults: pension 16 % + 8 % (8 % into the account), medical individual 2 % into it
def test_employee_parts_national_defaults() -> None:
    parts = {
        p.insurance_type: p
        for p in compute_parts(base_fen=1_000_000, types=list(T), kind=RegistrationKind.EMPLOYEE, rates=RATES)
    }
    assert (parts[T.BASIC_PENSION].employer_fen, parts[T.BASIC_PENSION].individual_fen) == (160_000, 80_000)
    assert parts[T.BASIC_PENSION].personal_account_fen == 80_000
    assert (parts[T.EMPLOYEE_MEDICAL].individual_fen, parts[T.EMPLOYEE_MEDICAL].personal_account_fen) == (
        20_000,
        20_000,
    )
    assert (parts[T.UNEMPLOYMENT].employer_fen, parts[T.UNEMPLOYMENT].individual_fen) == (5_000, 5_000)
    assert parts[T.WORK_INJURY].individual_fen == 0 and parts[T.WORK_INJURY].employer_fen == 2_000  # class 1
    assert T.RESIDENT_MEDICAL not in parts  # a yearly premium, not a monthly base


def test_work_injury_by_class_and_flexible_workers() -> None:
    (injury,) = compute_parts(
        base_fen=1_000_000, types=[T.WORK_INJURY], kind=RegistrationKind.EMPLOYEE, rates=RATES, industry_class="8"
    )
    assert injury.employer_fen == 19_000
    flex = compute_parts(
        base_fen=1_000_000, types=[T.BASIC_PENSION, T.UNEMPLOYMENT], kind=RegistrationKind.FLEXIBLE, rates=RATES
    )
    assert [(p.insurance_type, p.employer_fen, p.individual_fen, p.personal_account_fen) for p in flex] == [
        (T.BASIC_PENSION, 0, 200_000, 80_000)
    ]


def test_periods_and_lateness() -> None:
    assert parse_period("2025-03") == date(2025, 3, 1)
    for bad in ("2025-13", "2025/03", "25-03", "2025-3"):
        with pytest.raises(PeriodInvalid):
            parse_period(bad)
    assert not declared_late(date(2025, 1, 1), date(2025, 2, 28))
    assert declared_late(date(2025, 1, 1), date(2025, 3, 1))
    assert declared_late(date(2024, 12, 1), date(2025, 2, 1))
