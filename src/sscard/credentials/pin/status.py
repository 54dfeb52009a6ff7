"""The PIN state of one card as the rules see it (PIN-2, PIN-5), pure: no database, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sscard.credentials.pin.models import CardPin

# PIN-5 / seed 004: six consecutive wrong PINs lock the card (policy may set another number).
DEFAULT_LOCKOUT_THRESHOLD = 6


@dataclass(frozen=True, slots=True)
class PinStatus:
    enabled: bool  # PIN-2: False = never changed (or cancelled / reset to initial): no PIN needed
    failures: int
    locked: bool
    threshold: int
    restorable: bool  # PIN-8: a holder change the counter can undo
    changed_at: datetime | None = None
    changed_channel: str | None = None

    @property
    def tries_left(self) -> int:
        return 0 if self.locked else max(0, self.threshold - self.failures)


def pin_status_of(row: CardPin | None, *, threshold: int) -> PinStatus:
    """The status a card's PIN row means under ``threshold`` (no row: initial, never failed)."""
    if row is None:
        return PinStatus(enabled=False, failures=0, locked=False, threshold=threshold, restorable=False)
    # A threshold lowered by policy below the current count locks at once (the count was reached).
    locked = row.locked_at is not None or row.failures >= threshold
    return PinStatus(
        enabled=row.pvv is not None,
        failures=row.failures,
        locked=locked,
        threshold=threshold,
        restorable=row.restorable,
        changed_at=row.changed_at,
        changed_channel=row.changed_channel,
    )
