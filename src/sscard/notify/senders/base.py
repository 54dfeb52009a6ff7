"""What every sender takes and how it fails."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from sscard.files import private_dir

_file_lock = threading.Lock()


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


def write_private(path: Path, data: bytes, *, append: bool, what: str) -> None:
    """Write ``data`` to an owner-only file and fsync it before the dispatcher marks the message sent.

    The file sinks hold what would have been sent (it may carry a temporary password for the few
    minutes it is valid, exactly as the holder's phone or mailbox would), hence mode 0600.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    try:
        private_dir(path.parent)
        with _file_lock:
            fd = os.open(path, flags, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
    except OSError as exc:
        raise SendFailed(f"{what} sink not writable: {type(exc).__name__}") from exc
