"""What every sender takes and how it fails."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delivery:
    """One message to one address, as a sender needs it (already rendered, opened from its seal)."""

    message_id: str
    channel: str  # "email" | "sms"
    to: str
    subject: str
    body: str

    def __repr__(self) -> str:  # the body may carry a temporary password, the address is personal data
        return f"Delivery(id={self.message_id}, channel={self.channel})"


class SendFailed(Exception):
    """Delivery failed. ``permanent``: retrying cannot help (a rejected recipient, a refused message)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
