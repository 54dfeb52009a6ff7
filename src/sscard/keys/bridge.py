"""The key-management records' links to the other registries: the key inventory of the security
module (``sscard.security``) and the terminal registry (``sscard.terminals``).

Kept in one place so that the records here name keys only by their inventory label and terminals
only by their id, and so that an incident still records what must be done when a registry cannot
do it itself (the measure stays pending until an officer confirms it by hand).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from sscard.audit import Actor
from sscard.db.session import UnitOfWork
from sscard.errors import DomainError


def _inventory() -> ModuleType | None:
    """The key-inventory service of the security module, once it provides revoke/rotate by label."""
    try:
        module = importlib.import_module("sscard.security.inventory")
    except ImportError:
        return None
    needed = ("get_key", "revoke_key", "schedule_rotation")
    return module if all(hasattr(module, name) for name in needed) else None


def key_known(uow: UnitOfWork, label: str) -> bool | None:
    """True/False when the inventory can tell whether a key with this label exists; None without one."""
    inventory = _inventory()
    if inventory is None:
        return None
    return inventory.get_key(uow, label=label) is not None


@dataclass(frozen=True)
class Outcome:
    done: bool  # False: still to be done (or confirmed) by hand
    detail: str


def revoke_key(uow: UnitOfWork, *, label: str, reason: str, actor: Actor) -> Outcome:
    """Revoke the key with this label in the inventory (KEY-9)."""
    inventory = _inventory()
    if inventory is None:
        return Outcome(False, "key inventory unavailable: revoke by hand, then confirm")
    try:
        inventory.revoke_key(uow, label=label, reason=reason, actor=actor)
    except DomainError as exc:
        return Outcome(False, f"inventory refused: {exc.code}")
    return Outcome(True, "revoked in the key inventory")


def schedule_rotation(uow: UnitOfWork, *, label: str, reason: str, actor: Actor) -> Outcome:
    """Schedule the rotation of the key with this label; ``done`` only once the inventory says it rotated."""
    inventory = _inventory()
    if inventory is None:
        return Outcome(False, "key inventory unavailable: rotate by hand, then confirm")
    try:
        inventory.schedule_rotation(uow, label=label, reason=reason, actor=actor)
    except DomainError as exc:
        return Outcome(False, f"inventory refused: {exc.code}")
    return Outcome(False, "rotation scheduled in the key inventory")


def key_rotated(uow: UnitOfWork, *, label: str) -> bool | None:
    """Whether the inventory reports the key rotated (a successor is active); None without an inventory."""
    inventory = _inventory()
    if inventory is None or not hasattr(inventory, "is_rotated"):
        return None
    return bool(inventory.is_rotated(uow, label=label))


def terminal_region(uow: UnitOfWork, terminal_id: str) -> str:
    """The region of a registered terminal; ``TerminalNotFound`` (404) for an unknown id."""
    from sscard.terminals.service import get_terminal_or_raise

    return get_terminal_or_raise(uow, terminal_id).region_code


def block_terminal(uow: UnitOfWork, *, terminal_id: str, reason: str, actor: Actor) -> Outcome:
    """Block a terminal in the registry (its requests are refused from the next one, CH-3)."""
    from sscard.terminals.models import TerminalStatus
    from sscard.terminals.service import block_terminal as block
    from sscard.terminals.service import get_terminal

    terminal = get_terminal(uow, terminal_id)
    if terminal is None:
        return Outcome(False, "terminal not in the registry: block it by hand, then confirm")
    if terminal.status is not TerminalStatus.ACTIVE:
        return Outcome(True, f"terminal already {terminal.status.value}")
    block(uow, terminal_id=terminal_id, reason=reason, actor=actor)
    return Outcome(True, "blocked in the terminal registry")


def list_keys(uow: UnitOfWork, *, region_code: str) -> list[dict[str, str]]:
    """Keys of the inventory in a region (label, state, region), for the inventory report."""
    inventory = _inventory()
    if inventory is None or not hasattr(inventory, "list_keys"):
        return []
    rows = []
    for key in inventory.list_keys(uow, region_code=region_code):
        state = getattr(key, "state", getattr(key, "status", ""))
        rows.append(
            {
                "label": str(getattr(key, "label", "")),
                "state": str(getattr(state, "value", state)),
                "region": str(getattr(key, "region_code", "")),
                "source": "inventory",
            }
        )
    return rows
