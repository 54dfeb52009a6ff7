"""Regional policy values (POL): what a region may decide about credentials, loss reports and campaigns.

Every field has the national default the rules name; a region stores only what it overrides. The
model is the single place that validates a value, whether it comes from the admin API, the CLI or
the demo data, so a stored policy can always be read back.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sscard.cards.types import CardType


class InitialPinRule(StrEnum):
    """PIN-1: how the initial card PIN is derived (never stored)."""

    FIXED_123456 = "fixed_123456"  # seeds 002 / 004
    ID_LAST6 = "id_last6"  # rural medical cards (seed 003): last 6 characters of the ID, X → 0
    BIRTH_YYMMDD = "birth_yymmdd"  # birth date from the ID as YYMMDD


class InitialQueryPasswordRule(StrEnum):
    """QPW-1: how the initial online query password is derived (never stored)."""

    ID_LAST8_X0 = "id_last8_x0"  # last 8 characters of the 18-character ID, X converted to 0


class PinResetMode(StrEnum):
    """PIN-6: what a counter reset does, per policy."""

    INITIAL = "initial"  # back to the initial PIN (not enabled)
    NEW_PIN = "new_pin"  # the holder enters a new PIN on the PIN pad
    EITHER = "either"  # the holder chooses


class InsurancePopulation(StrEnum):
    """Insured populations a campaign selects or excludes (INS-2, PIN-9)."""

    URBAN_EMPLOYEE_PENSION = "urban_employee_pension"  # 城镇职工基本养老保险
    URBAN_RURAL_RESIDENT_PENSION = "urban_rural_resident_pension"  # 城乡居民养老保险
    URBAN_EMPLOYEE_MEDICAL = "urban_employee_medical"  # 城镇职工基本医疗保险
    URBAN_RESIDENT_MEDICAL = "urban_resident_medical"  # 城镇居民医疗保险
    URBAN_RURAL_RESIDENT_MEDICAL = "urban_rural_resident_medical"  # 城乡居民基本医疗保险
    RURAL_COOPERATIVE_MEDICAL = "rural_cooperative_medical"  # 新型农村合作医疗
    UNEMPLOYMENT = "unemployment"
    WORK_INJURY = "work_injury"
    MATERNITY = "maternity"


class PinCampaign(BaseModel):
    """PIN-9: from ``start_date`` terminals of the region prompt the selected holders still on the initial PIN."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    start_date: date
    # Optional: the prompt stops; the holder's change itself never has a deadline (PIN-9).
    end_date: date | None = None
    populations: list[InsurancePopulation] = Field(min_length=1)
    excluded_populations: list[InsurancePopulation] = Field(default_factory=list)
    excluded_card_types: list[CardType] = Field(default_factory=list)

    @model_validator(mode="after")
    def _dates_in_order(self) -> PinCampaign:
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        if set(self.populations) & set(self.excluded_populations):
            raise ValueError("a population cannot be both included and excluded")
        return self

    def applies(self, *, card_type: CardType | str, populations: set[str], on: date) -> bool:
        """True when a holder of ``populations`` with a card of ``card_type`` is prompted on ``on``."""
        if on < self.start_date or (self.end_date is not None and on > self.end_date):
            return False
        if CardType(card_type) in self.excluded_card_types:
            return False
        wanted = {p.value for p in self.populations}
        excluded = {p.value for p in self.excluded_populations}
        return bool(populations & wanted) and not populations & excluded


class RegionalPolicy(BaseModel):
    """The full set of policy values; a region's stored version overrides some of them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- card PIN (PIN-1, PIN-5, PIN-6, PIN-9) ---
    initial_pin_rule: InitialPinRule = InitialPinRule.FIXED_123456
    pin_lockout_threshold: int = Field(default=6, ge=1, le=20)
    pin_reset_mode: PinResetMode = PinResetMode.EITHER
    pin_change_campaigns: tuple[PinCampaign, ...] = ()
    # PIN-4: activation at a service window or bank outlet may set the holder's own PIN on the counter's
    # PIN pad in the same step; False: the card is activated with its PIN not enabled, changed later.
    pin_at_activation: bool = True

    # --- online query password (QPW-1, QPW-5..QPW-7) ---
    query_password_rule: InitialQueryPasswordRule = InitialQueryPasswordRule.ID_LAST8_X0
    # Issue 5 item 7: never-changed initial passwords stop working ``valid_days`` after the later of the
    # holder's registration (or counter re-initialisation) and ``expiry_from``; None = they never expire.
    initial_query_password_valid_days: int | None = Field(default=None, ge=1, le=3650)
    initial_query_password_expiry_from: date | None = None
    password_min_length: int = Field(default=8, ge=8, le=64)
    password_max_length: int = Field(default=128, ge=64, le=1024)  # QPW-6: never below 64
    password_hash_memory_kib: int = Field(default=19 * 1024, ge=8 * 1024, le=1024 * 1024)
    password_hash_time_cost: int = Field(default=2, ge=1, le=10)
    password_hash_parallelism: int = Field(default=1, ge=1, le=8)
    # Per account: this many failures are free, then waits of base, 2×base, 4×base ... up to max.
    login_free_failures: int = Field(default=3, ge=1, le=100)
    login_wait_base_seconds: int = Field(default=30, ge=1, le=3600)
    login_wait_max_seconds: int = Field(default=900, ge=1, le=86400)
    # QPW-7: consecutive failures that lock the account until the counter verifies the holder; None = never.
    login_hard_lock_failures: int | None = Field(default=10, ge=2, le=1000)
    # Per source address, over a sliding window (an attacker spreading guesses over many accounts).
    source_free_failures: int = Field(default=20, ge=1, le=10000)
    source_wait_base_seconds: int = Field(default=10, ge=1, le=3600)
    source_wait_max_seconds: int = Field(default=900, ge=1, le=86400)
    source_window_seconds: int = Field(default=3600, ge=60, le=7 * 86400)
    # Portal sign-in asks for a captcha once the account has this many consecutive failures (0: always);
    # None: never. QPW-1/QPW-7 require none (the waits and the hard lock throttle guessing), so off.
    login_captcha_after_failures: int | None = Field(default=None, ge=0, le=100)
    temporary_password_minutes: int = Field(default=10, ge=1, le=1440)  # QPW-5, ASVS 6.5.5
    forgot_password_min_interval_seconds: int = Field(default=60, ge=0, le=86400)

    # --- cards (CARD-5) ---
    loss_report_expiry_days: int = Field(default=5, ge=1, le=90)

    # --- RMB debit account (FIN-2): withdrawals, transfers and POS consumption of at least this many fen
    # are notified to the holder (CH-5); 0 notifies every one. National default ¥1,000.
    debit_notify_threshold_fen: int = Field(default=100_000, ge=0, le=100_000_000)

    # --- social insurance contributions (INS-3): rates in basis points of the base (100 bp = 1 %) ---
    # Each part is rounded half-up to the fen: (base_fen × bp + 5000) // 10000, integers only.
    average_monthly_wage_fen: int = Field(default=800_000, ge=10_000, le=100_000_000)  # the region's
    contribution_base_floor_pct: int = Field(default=60, ge=1, le=100)  # bases below are raised to it
    contribution_base_ceiling_pct: int = Field(default=300, ge=100, le=1000)  # bases above are capped
    pension_employer_bp: int = Field(default=1600, ge=0, le=5000)
    pension_individual_bp: int = Field(default=800, ge=0, le=5000)
    pension_account_bp: int = Field(default=800, ge=0, le=5000)  # of the individual part, into the account
    medical_employer_bp: int = Field(default=800, ge=0, le=5000)  # employee medical; regions differ (6-10 %)
    medical_individual_bp: int = Field(default=200, ge=0, le=5000)
    medical_account_bp: int = Field(default=200, ge=0, le=5000)  # the individual 2 % into the account
    unemployment_employer_bp: int = Field(default=50, ge=0, le=5000)
    unemployment_individual_bp: int = Field(default=50, ge=0, le=5000)
    # Work injury: employer only, by industry risk class (national classes 1-8, 0.2 % … 1.9 %).
    work_injury_class_bp: dict[str, int] = Field(
        default_factory=lambda: {"1": 20, "2": 40, "3": 70, "4": 90, "5": 110, "6": 130, "7": 160, "8": 190}
    )
    work_injury_default_class: str = Field(default="1", min_length=1, max_length=8)
    # Maternity: employer only. Collected together with employee medical since 2019, kept as its own part
    # here so statements and queries show it; a region that merged the rate sets it to 0.
    maternity_employer_bp: int = Field(default=80, ge=0, le=5000)
    # Flexible and self-employed workers pay both parts themselves (INS-2).
    flexible_pension_bp: int = Field(default=2000, ge=0, le=5000)  # of which pension_account_bp into the account
    flexible_medical_bp: int = Field(default=700, ge=0, le=5000)  # of which medical_account_bp into the account
    # Interest credited to the personal accounts, per year ("2024": 262 = 2.62 %).
    interest_rate_bp_by_year: dict[str, int] = Field(
        default_factory=lambda: {"2021": 669, "2022": 612, "2023": 397, "2024": 262}
    )

    @model_validator(mode="after")
    def _contribution_rules(self) -> RegionalPolicy:
        if self.pension_account_bp > max(self.pension_individual_bp, self.flexible_pension_bp):
            raise ValueError("pension_account_bp exceeds the individual pension rate")
        if self.medical_account_bp > max(self.medical_individual_bp, self.flexible_medical_bp):
            raise ValueError("medical_account_bp exceeds the individual medical rate")
        if self.work_injury_default_class not in self.work_injury_class_bp:
            raise ValueError("work_injury_default_class is not one of work_injury_class_bp")
        for key, bp in self.work_injury_class_bp.items():
            if not 0 <= bp <= 5000 or not 1 <= len(key) <= 8:
                raise ValueError("work_injury_class_bp: classes of 1-8 characters, rates 0-5000 bp")
        for year, bp in self.interest_rate_bp_by_year.items():
            if not (len(year) == 4 and year.isdigit()) or not 0 <= bp <= 5000:
                raise ValueError("interest_rate_bp_by_year: four-digit years, rates 0-5000 bp")
        return self

    @field_validator("pin_change_campaigns", mode="after")
    @classmethod
    def _unique_campaign_names(cls, value: tuple[PinCampaign, ...]) -> tuple[PinCampaign, ...]:
        names = [c.name for c in value]
        if len(names) != len(set(names)):
            raise ValueError("campaign names must be unique")
        return value


POLICY_KEYS: tuple[str, ...] = tuple(RegionalPolicy.model_fields)


class EffectivePolicy(RegionalPolicy):
    """The policy in force for a region and card type at a moment, with where each value came from."""

    region_code: str
    card_type: CardType | None = None
    as_of: datetime
    # key → "000000/any v3" for values set by a stored version; keys at their default are absent.
    sources: dict[str, str] = Field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        """The policy values alone, JSON-ready (no provenance)."""
        return self.model_dump(mode="json", include=set(POLICY_KEYS))

    def campaigns_prompting(self, *, card_type: CardType | str, populations: set[str], on: date) -> list[PinCampaign]:
        """PIN-9: the campaigns whose prompt a holder of ``populations`` sees at a terminal on ``on``."""
        return [c for c in self.pin_change_campaigns if c.applies(card_type=card_type, populations=populations, on=on)]


class PolicyChange(BaseModel):
    """A change to one region's (and optionally one card type's) stored policy: a new version."""

    model_config = ConfigDict(extra="forbid")

    card_type: CardType | None = Field(default=None, description="Only for this card type (CARD-3); empty = all.")
    set: dict[str, Any] = Field(default_factory=dict, description="Policy keys and their new values.")
    unset: list[str] = Field(default_factory=list, description="Keys to inherit again from the broader region.")
    effective_from: datetime | None = Field(default=None, description="When it takes effect (default now).")
    reason: str = Field(min_length=3, max_length=200, description="Why (recorded with the version).")


class PolicyVersionRead(BaseModel):
    region_code: str
    card_type: str
    version: int
    effective_from: datetime
    settings: dict[str, Any]
    changed_by: str
    changed_role: str
    reason: str
    created_at: datetime
