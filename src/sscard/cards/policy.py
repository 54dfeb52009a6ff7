"""Card policy values (POL). Regional policy data arrives with the policy domain and replaces these bodies."""

from __future__ import annotations

# CARD-5: a provisional (oral) loss report lapses after this many days unless confirmed at a counter.
DEFAULT_LOSS_REPORT_EXPIRY_DAYS = 5


def loss_report_expiry_days(region_code: str) -> int:
    """Days a hotline loss report blocks the card before it lapses, for the card's region (CARD-5)."""
    return DEFAULT_LOSS_REPORT_EXPIRY_DAYS
