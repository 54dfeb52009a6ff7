"""Who acted, through which channel, in which region: carried by every service call that changes state."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    PORTAL = "portal"
    EMPLOYER = "employer"  # the employer portal and API (INS-1, INS-3)
    COUNTER = "counter"
    BANK = "bank"
    TERMINAL = "terminal"
    HOTLINE = "hotline"
    SECURITY = "security"
    ADMIN = "admin"
    CLI = "cli"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # staff | holder | terminal | system | caller
    id: str  # staff username, person id, terminal id, "system"; never a full citizen ID
    channel: Channel
    role: str = ""
    region: str = ""

    @classmethod
    def system(cls, channel: Channel = Channel.SYSTEM) -> Actor:
        return cls(kind="system", id="system", channel=channel, role="system")

    @classmethod
    def cli_operator(cls) -> Actor:
        import getpass

        return cls(kind="staff", id=f"cli:{getpass.getuser()}", channel=Channel.CLI, role="operator")
