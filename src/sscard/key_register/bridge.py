"""The key-management records' links to the other registries: the key inventory of the security
module (``sscard.key_register.inventory``) and the terminal registry (``sscard.terminal_registry``).

Kept in one place so that the records here name keys only by their inventory label and terminals
only by their id, and so that an incident still records what must be done when a registry refuses
(the measure stays pending until an officer confirms it by hand).
"""

from __future__ import annotations

from dataclasses import dataclass

from sscard.audit import Actor
from sscard.db.session import UnitOfWork
from sscard.errors import DomainError
from sscard.key_register import inventory
from sscard.regions.codes import is_within
from sscard.terminal_registry.models import TerminalStatus
from sscard.terminal_registry.service import block_terminal as block
from sscard.terminal_registry.service import get_terminal, get_terminal_or_raise


def key_known(uow: UnitOfWork, label: str) -> bool:
    """Whether the key inventory holds a key with this label."""
    return inventory.get_key(uow, label=label) is not None


@dataclass(frozen=True)
class Outcome:
    done: bool  # False: still to be done (or confirmed) by hand
    detail: str


def revoke_key(uow: UnitOfWork, *, label: str, reason: str, actor: Actor) -> Outcome:
    """Revoke every version of the key with this label in the inventory (KEY-9)."""
    try:
        inventory.revoke_key(uow, label=label, reason=reason, actor=actor)
    except DomainError as exc:
        return Outcome(False, f"inventory refused ({exc.code}): revoke by hand, then confirm")
    return Outcome(True, "revoked in the key inventory")


def schedule_rotation(uow: UnitOfWork, *, label: str, reason: str, actor: Actor) -> Outcome:
    """Schedule the rotation of the key with this label; ``done`` only once the inventory says it rotated."""
    try:
        inventory.schedule_rotation(uow, label=label, reason=reason, actor=actor)
    except DomainError as exc:
        return Outcome(False, f"inventory refused ({exc.code}): rotate by hand, then confirm")
    return Outcome(False, "rotation scheduled in the key inventory")


def key_rotated(uow: UnitOfWork, *, label: str) -> bool:
    """Whether the inventory reports the key rotated (no version still waits for its scheduled rotation)."""
    return inventory.is_rotated(uow, label=label)


def terminal_region(uow: UnitOfWork, terminal_id: str) -> str:
    """The region of a registered terminal; ``TerminalNotFound`` (404) for an unknown id."""

    return get_terminal_or_raise(uow, terminal_id).region_code


def block_terminal(uow: UnitOfWork, *, terminal_id: str, reason: str, actor: Actor) -> Outcome:
    """Block a terminal in the registry (its requests are refused from the next one, CH-3)."""

    terminal = get_terminal(uow, terminal_id)
    if terminal is None:
        return Outcome(False, "terminal not in the registry: block it by hand, then confirm")
    if terminal.status is not TerminalStatus.ACTIVE:
        return Outcome(True, f"terminal already {terminal.status.value}")
    block(uow, terminal_id=terminal_id, reason=reason, actor=actor)
    return Outcome(True, "blocked in the terminal registry")


def list_keys(uow: UnitOfWork, *, region_code: str) -> list[dict[str, str]]:
    """Keys of the inventory in a region and its sub-regions (label@version, state, region), for reports."""
    return [
        {
            "label": f"{key.label}@{key.version}",
            "state": key.state + (" (rotation due)" if key.rotation_due else ""),
            "region": key.region_code,
            "source": "inventory",
        }
        for key in inventory.list_keys(uow)
        if is_within(key.region_code, region_code)
    ]
