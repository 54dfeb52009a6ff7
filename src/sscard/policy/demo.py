"""Demo policies: the national defaults and two provinces that decide differently (wired into ``sscard demo load``).

Beijing keeps the seeds' initial PIN 123456 and runs the seed-004 PIN-change campaign for urban
employee medical insurance; Guangdong derives the initial PIN from the birth date, locks after five
wrong PINs, keeps oral loss reports for seven days; Shenzhen also retires never-changed initial
query passwords 90 days after registration. Rural cooperative medical cards use the last six ID
characters nationwide (seed 003).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sscard.audit import Actor
from sscard.db.session import UnitOfWork
from sscard.policy.service import latest_version, set_policy


@dataclass(frozen=True)
class DemoPolicy:
    region_code: str
    card_type: str | None
    values: dict[str, Any]
    reason: str


DEMO_POLICIES: tuple[DemoPolicy, ...] = (
    DemoPolicy(
        "000000",
        None,
        {"initial_pin_rule": "fixed_123456", "pin_lockout_threshold": 6, "loss_report_expiry_days": 5},
        "national defaults (seeds 002, 004)",
    ),
    DemoPolicy("000000", "rural", {"initial_pin_rule": "id_last6"}, "rural cooperative medical cards (seed 003)"),
    DemoPolicy(
        "110000",
        None,
        {
            "pin_reset_mode": "initial",
            "pin_change_campaigns": [
                {
                    "name": "bj-2026-employee-medical",
                    "start_date": "2026-04-13",
                    "populations": ["urban_employee_medical"],
                    "excluded_populations": ["urban_rural_resident_pension", "urban_resident_medical"],
                    "excluded_card_types": ["medical"],
                }
            ],
        },
        "designated pharmacies prompt employee medical insurance holders to change 123456 (seed 004)",
    ),
    DemoPolicy(
        "440000",
        None,
        {
            "initial_pin_rule": "birth_yymmdd",
            "pin_lockout_threshold": 5,
            "loss_report_expiry_days": 7,
            "temporary_password_minutes": 15,
            "login_hard_lock_failures": 8,
        },
        "Guangdong provincial rules",
    ),
    DemoPolicy(
        "440300",
        None,
        {"initial_query_password_valid_days": 90, "password_min_length": 10},
        "Shenzhen: never-changed initial query passwords expire (issue 5 item 7)",
    ),
)


def load_demo_policies(uow: UnitOfWork, *, actor: Actor | None = None) -> int:
    """Store the demo policies whose scope has no version yet (idempotent); returns how many were added."""
    actor = actor or Actor.system()
    added = 0
    for p in DEMO_POLICIES:
        if latest_version(uow, region_code=p.region_code, card_type=p.card_type) is not None:
            continue
        set_policy(uow, region_code=p.region_code, card_type=p.card_type, values=p.values, reason=p.reason, actor=actor)
        added += 1
    return added
