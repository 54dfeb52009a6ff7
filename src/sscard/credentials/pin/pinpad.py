"""The counter's PIN pad (PIN-6): a registered terminal of a service or bank outlet.

A reset to a holder-chosen PIN takes the PIN as a format-4 block enciphered by the pad under its own
terminal key, so the clerk's computer never sees the PIN (PIN-11). The pad must be active, of an
outlet, and inside the clerk's region.
"""

from __future__ import annotations

from dataclasses import dataclass

from sscard.credentials.pin.errors import PinInputInvalid
from sscard.db.session import UnitOfWork
from sscard.regions.codes import is_within
from sscard.staff.errors import OutsideRegion
from sscard.terminal_registry.models import InstitutionType, TerminalStatus
from sscard.terminal_registry.service import get_terminal_or_raise

PIN_PAD_KINDS = frozenset({InstitutionType.SERVICE_OUTLET, InstitutionType.BANK_OUTLET})


@dataclass(frozen=True, slots=True)
class PinPad:
    terminal_id: str
    region_code: str
    key_version: int


def counter_pin_pad(uow: UnitOfWork, *, terminal_id: str, staff_region: str) -> PinPad:
    """The outlet PIN pad ``terminal_id`` if the clerk may use it; a clear refusal otherwise."""
    terminal = get_terminal_or_raise(uow, terminal_id)
    if not is_within(terminal.region_code, staff_region):
        raise OutsideRegion(f"the PIN pad is outside your region {staff_region}")
    if terminal.status is not TerminalStatus.ACTIVE:
        raise PinInputInvalid(f"the PIN pad {terminal_id} is {terminal.status.value}")
    if terminal.institution_type not in PIN_PAD_KINDS:
        raise PinInputInvalid("a counter PIN pad is a service-outlet or bank-outlet terminal")
    return PinPad(terminal_id=terminal.terminal_id, region_code=terminal.region_code, key_version=terminal.key_version)
