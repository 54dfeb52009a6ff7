"""Pure contribution rules: the 30-day deadline, the 16th birthday, months, bases and parts (INS-1..3).

Rounding, stated once: every amount is integer fen; a part is ``base_fen × rate_bp`` rounded half-up
to the fen, computed as ``(base_fen × bp + 5000) // 10000`` (bases are positive, so floor division
rounds half-up), never through floats. The personal-account share is computed the same way from the
base (not from the rounded part) and is never more than its part.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sscard.insurance.errors import BaseAbsurd, BaseInvalid, PeriodInvalid
from sscard.insurance.models import InsuranceType, RegistrationKind
from sscard.policy.schemas import RegionalPolicy

REGISTRATION_DAYS = 30  # Social Insurance Law art. 58: within 30 days of employment
MINIMUM_AGE = 16  # Labour Law art. 15: no employment under 16
ABSURD_FACTOR = 10  # a base over ten times the ceiling is refused, not clamped

EMPLOYEE_TYPES = (
    InsuranceType.BASIC_PENSION,
    InsuranceType.EMPLOYEE_MEDICAL,
    InsuranceType.UNEMPLOYMENT,
    InsuranceType.WORK_INJURY,
    InsuranceType.MATERNITY,
)
SELF_TYPES = (InsuranceType.BASIC_PENSION, InsuranceType.EMPLOYEE_MEDICAL)


def registration_deadline(employment_start: date) -> date:
    return employment_start + timedelta(days=REGISTRATION_DAYS)


def days_late(*, employment_start: date, registered_on: date) -> int:
    """Days after the deadline (0 when on time): INS-1."""
    return max(0, (registered_on - registration_deadline(employment_start)).days)


def birthday(born: date, years: int) -> date:
    """The ``years``-th birthday (29 February → 1 March in other years)."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)


def parse_period(text: str | date) -> date:
    """``YYYY-MM`` (or a date) → the first day of that month."""
    if isinstance(text, date):
        return text.replace(day=1)
    value = text.strip()
    if len(value) != 7 or value[4] != "-" or not (value[:4].isdigit() and value[5:].isdigit()):
        raise PeriodInvalid(f"{value[:16]!r} is not a YYYY-MM month")
    year, month = int(value[:4]), int(value[5:])
    if not (1 <= month <= 12 and year >= 1900):
        raise PeriodInvalid(f"{value!r} is not a YYYY-MM month")
    return date(year, month, 1)


def month_after(period: date) -> date:
    return date(period.year + period.month // 12, period.month % 12 + 1, 1)


def declared_late(period: date, received: date) -> bool:
    """A declaration is due by the end of the month after its period (INS-7 marks a later one late)."""
    return received >= month_after(month_after(period))


def round_bp(base_fen: int, bp: int) -> int:
    return (base_fen * bp + 5000) // 10000


@dataclass(frozen=True, slots=True)
class BaseBounds:
    floor_fen: int
    ceiling_fen: int

    @classmethod
    def of(cls, policy: RegionalPolicy) -> BaseBounds:
        wage = policy.average_monthly_wage_fen
        return cls(
            (wage * policy.contribution_base_floor_pct + 99) // 100,  # rounded up: never below 60 %
            wage * policy.contribution_base_ceiling_pct // 100,  # rounded down: never above 300 %
        )

    def contains(self, base_fen: int) -> bool:
        return self.floor_fen <= base_fen <= self.ceiling_fen


def clamped_base(declared_fen: int, bounds: BaseBounds) -> int:
    """The base contributions are computed on: as the agencies do, a base below the floor is raised to
    it and one above the ceiling capped (the declaration keeps the declared figure). Not a positive
    whole number, or more than ten times the ceiling (a typing error, not a salary): refused."""
    if isinstance(declared_fen, bool) or not isinstance(declared_fen, int) or declared_fen <= 0:
        raise BaseInvalid(f"base {declared_fen!r} fen")
    if declared_fen > bounds.ceiling_fen * ABSURD_FACTOR:
        raise BaseAbsurd(f"base {declared_fen} fen; the ceiling is {bounds.ceiling_fen} fen")
    return min(max(declared_fen, bounds.floor_fen), bounds.ceiling_fen)


@dataclass(frozen=True, slots=True)
class PartAmounts:
    insurance_type: InsuranceType
    employer_fen: int
    individual_fen: int
    personal_account_fen: int


@dataclass(frozen=True, slots=True)
class Rates:
    """The policy's contribution rates, extracted once (the import computes millions of parts)."""

    pension: tuple[int, int, int]  # employer, individual, into the account
    medical: tuple[int, int, int]
    unemployment: tuple[int, int]
    work_injury: dict[str, int]
    work_injury_default: str
    maternity: int
    flexible_pension: int
    flexible_medical: int

    @classmethod
    def of(cls, p: RegionalPolicy) -> Rates:
        return cls(
            (p.pension_employer_bp, p.pension_individual_bp, p.pension_account_bp),
            (p.medical_employer_bp, p.medical_individual_bp, p.medical_account_bp),
            (p.unemployment_employer_bp, p.unemployment_individual_bp),
            dict(p.work_injury_class_bp),
            p.work_injury_default_class,
            p.maternity_employer_bp,
            p.flexible_pension_bp,
            p.flexible_medical_bp,
        )


def compute_parts(
    *,
    base_fen: int,
    types: Iterable[InsuranceType],
    kind: RegistrationKind,
    rates: Rates,
    industry_class: str | None = None,
) -> list[PartAmounts]:
    """The parts of one month's contribution on ``base_fen`` for the insurance types held.

    Resident medical is a yearly flat premium, not a share of a monthly base: no part here.
    """
    parts = []
    self_paid = kind is not RegistrationKind.EMPLOYEE
    for t in types:
        if t is InsuranceType.BASIC_PENSION:
            employer_bp, individual_bp, account_bp = rates.pension
            if self_paid:
                employer_bp, individual_bp = 0, rates.flexible_pension
        elif t is InsuranceType.EMPLOYEE_MEDICAL:
            employer_bp, individual_bp, account_bp = rates.medical
            if self_paid:
                employer_bp, individual_bp = 0, rates.flexible_medical
        elif self_paid:
            continue  # flexible workers hold only pension and medical
        elif t is InsuranceType.UNEMPLOYMENT:
            (employer_bp, individual_bp), account_bp = rates.unemployment, 0
        elif t is InsuranceType.WORK_INJURY:
            cls = industry_class if industry_class in rates.work_injury else rates.work_injury_default
            employer_bp, individual_bp, account_bp = rates.work_injury[cls], 0, 0
        elif t is InsuranceType.MATERNITY:
            employer_bp, individual_bp, account_bp = rates.maternity, 0, 0
        else:
            continue
        individual = round_bp(base_fen, individual_bp)
        parts.append(
            PartAmounts(t, round_bp(base_fen, employer_bp), individual, min(round_bp(base_fen, account_bp), individual))
        )
    return parts
