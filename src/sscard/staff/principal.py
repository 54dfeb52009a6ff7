"""The authenticated staff member a request acts as (CH-2): role, region and the audit actor."""

from __future__ import annotations

from dataclasses import dataclass

from sscard.audit import Actor, Channel
from sscard.regions.codes import is_within
from sscard.staff.errors import CardOtherBank, OutsideRegion
from sscard.staff.roles import Role


@dataclass(frozen=True, slots=True)
class StaffPrincipal:
    staff_id: int
    username: str
    role: Role
    region_code: str
    bank_code: str | None = None  # bank clerks: the bank of their outlet

    def actor(self, channel: Channel) -> Actor:
        """The audit actor for an action taken through ``channel`` (CH-4)."""
        return Actor(kind="staff", id=self.username, channel=channel, role=self.role.value, region=self.region_code)

    def covers(self, region_code: str) -> bool:
        """True when ``region_code`` lies in this staff member's region (sub-regions included)."""
        return is_within(region_code, self.region_code)

    def ensure_region(self, region_code: str) -> None:
        """Raise ``OutsideRegion`` unless the target lies in this staff member's region (CH-2)."""
        if not self.covers(region_code):
            # Name the staff region, not the target's: the target code may come from a person's ID.
            raise OutsideRegion(f"outside your region {self.region_code}")

    def ensure_card(self, *, region_code: str, bank_code: str | None) -> None:
        """CH-2 and PIN-6: the card lies in this staff member's region and, for a bank clerk, was issued
        through the clerk's own bank (``CARD_OTHER_BANK`` otherwise, also for a card of no bank)."""
        self.ensure_region(region_code)
        if self.role is Role.BANK_CLERK and (self.bank_code is None or bank_code != self.bank_code):
            raise CardOtherBank("the card was not issued through your bank")
