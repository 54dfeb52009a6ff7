"""The terminal registry (CH-3): register, block, unblock, retire — each audited (CH-4)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from sqlalchemy import bindparam, select

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.logging import mask_text
from sscard.regions.service import get_region_or_raise
from sscard.security_module import get_security_module
from sscard.security_module.diversify import terminal_master_label
from sscard.terminal.envelope import EnvelopeError, load_public_key
from sscard.terminal.protocol import SUITES, TERMINAL_ID
from sscard.terminal_registry.errors import (
    TerminalExists,
    TerminalNotFound,
    TerminalPublicKeyInvalid,
    TerminalStateConflict,
)
from sscard.terminal_registry.models import InstitutionType, Terminal, TerminalStatus

# Raises (e.g. ``StaffPrincipal.ensure_region``) when the acting staff member may not touch the region.
RegionCheck = Callable[[str], None]


def subject_of(terminal_id: str) -> str:
    return f"terminal:{terminal_id}"


# Built once: read on every terminal request (authentication).
_BY_TERMINAL_ID = select(Terminal).where(Terminal.terminal_id == bindparam("terminal_id"))


def get_terminal(uow: UnitOfWork, terminal_id: str) -> Terminal | None:
    """The terminal with this id, or ``None``."""
    return uow.session.scalar(_BY_TERMINAL_ID, {"terminal_id": terminal_id})


def get_terminal_or_raise(uow: UnitOfWork, terminal_id: str) -> Terminal:
    """The terminal with this id; ``TerminalNotFound`` otherwise."""
    terminal = get_terminal(uow, terminal_id)
    if terminal is None:
        raise TerminalNotFound(f"no terminal {terminal_id}")
    return terminal


def list_terminals(
    uow: UnitOfWork, *, region_prefix: str = "", status: TerminalStatus | None = None, page: Keyset | None = None
) -> list[Terminal]:
    """Terminals whose region code starts with ``region_prefix`` (the staff region's significant digits)."""
    query = select(Terminal)
    if region_prefix:
        query = query.where(Terminal.region_code.startswith(region_prefix))
    if status is not None:
        query = query.where(Terminal.status == status)
    return taken(uow.session.scalars(ordered(query, page, Terminal.id)), page)


def public_key_fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()


def _new_terminal_id(uow: UnitOfWork, region_code: str) -> str:
    # Random rather than sequential: ids go on receipts and in logs, and should not reveal how many
    # terminals a region has. 32 bits per region; the unique constraint backs the check below.
    while True:
        candidate = f"T{region_code}{secrets.token_hex(4).upper()}"
        if get_terminal(uow, candidate) is None:
            return candidate


def register_terminal(
    uow: UnitOfWork,
    *,
    institution_name: str,
    institution_type: InstitutionType,
    region_code: str,
    public_key: bytes,
    suite: str,
    actor: Actor,
    terminal_id: str | None = None,
) -> Terminal:
    """Register a terminal of an institution in a region, enrolled with its P-256 public key.

    ``terminal_id`` is chosen by the platform unless given (the demo data uses a fixed one).
    """
    if terminal_id is not None:
        if not TERMINAL_ID.match(terminal_id):
            raise ValueError("a terminal id is 1 to 32 letters, digits, '.', '_' or '-'")
        if get_terminal(uow, terminal_id) is not None:
            raise TerminalExists(f"terminal {terminal_id} is already registered")
    try:
        load_public_key(public_key)
    except EnvelopeError as exc:
        raise TerminalPublicKeyInvalid(str(exc)) from None
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}")  # the security module's own setting: a bug, not input
    get_region_or_raise(uow, region_code)
    # A terminal key is diversified from its city's TMK (KEY-3): it starts on the TMK's current version.
    key_version = get_security_module().terminal_key_version(region_code=region_code)
    terminal = Terminal(
        terminal_id=terminal_id or _new_terminal_id(uow, region_code),
        institution_name=institution_name.strip(),
        institution_type=institution_type,
        region_code=region_code,
        status=TerminalStatus.ACTIVE,
        suite=suite,
        key_version=key_version,
        public_key_fingerprint=public_key_fingerprint(public_key),
        enrolled_by=actor.id,
        enrolled_at=utcnow(),
    )
    uow.session.add(terminal)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="terminal.register",
        subject=subject_of(terminal.terminal_id),
        details={
            "institution_type": institution_type.value,
            "region": region_code,
            "suite": suite,
            "key_version": terminal.key_version,
            "public_key_sha256": terminal.public_key_fingerprint,
        },
    )
    return terminal


def record_key_export(uow: UnitOfWork, *, terminal: Terminal, kcvs: tuple[str, str], actor: Actor) -> None:
    """Audit that the terminal's MAC and PIN keys go out sealed to the enrolled public key (KEY-3)."""
    record_event(
        uow,
        actor=actor,
        action="terminal.key.export",
        subject=subject_of(terminal.terminal_id),
        details={
            "key_version": terminal.key_version,
            "mac_kcv": kcvs[0],
            "pin_kcv": kcvs[1],
            "to": terminal.public_key_fingerprint,
        },  # fmt: skip
    )


def rekey_terminal(uow: UnitOfWork, *, terminal_id: str, public_key: bytes, actor: Actor) -> Terminal:
    """Move a terminal to a new key version, to be delivered sealed to a new public key.

    The old version stops verifying at once (its requests fail with ``MAC_INVALID``): used when a
    terminal lost its key store or its key may be compromised (KEY-9). Terminal keys are diversified
    from the city TMK, so a terminal already on the TMK's current version needs a new TMK version: the
    TMK is rotated (audited), and the city's other terminals keep their version until they re-key (KEY-6).
    """
    try:
        load_public_key(public_key)
    except EnvelopeError as exc:
        raise TerminalPublicKeyInvalid(str(exc)) from None
    terminal = get_terminal_or_raise(uow, terminal_id)
    if terminal.status == TerminalStatus.RETIRED:
        raise TerminalStateConflict(f"terminal {terminal_id} is retired")
    before = terminal.key_version
    terminal.key_version = _next_terminal_key_version(
        uow, region_code=terminal.region_code, current=before, actor=actor
    )
    terminal.public_key_fingerprint = public_key_fingerprint(public_key)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="terminal.rekey",
        subject=subject_of(terminal_id),
        details={
            "from_version": before,
            "to_version": terminal.key_version,
            "public_key_sha256": terminal.public_key_fingerprint,
        },
    )
    return terminal


def _next_terminal_key_version(uow: UnitOfWork, *, region_code: str, current: int, actor: Actor) -> int:
    from sscard.key_register.inventory import rotate_key

    module = get_security_module()
    newest = module.terminal_key_version(region_code=region_code)
    if newest <= current:
        rotate_key(uow, label=terminal_master_label(region_code), actor=actor)
        newest = module.terminal_key_version(region_code=region_code)
    return newest


def _change_status(
    uow: UnitOfWork,
    *,
    terminal_id: str,
    allowed_from: frozenset[TerminalStatus],
    to: TerminalStatus,
    action: str,
    reason: str,
    actor: Actor,
    region_check: RegionCheck | None = None,
) -> Terminal:
    terminal = get_terminal_or_raise(uow, terminal_id)
    if region_check is not None:
        region_check(terminal.region_code)
    if terminal.status not in allowed_from:
        raise TerminalStateConflict(f"terminal {terminal_id} is {terminal.status.value}")
    before = terminal.status
    terminal.status = to
    # Free text typed by staff: masked like any log line (an ID or phone number may slip in).
    terminal.status_reason = mask_text(reason.strip())[:200] or None
    terminal.status_changed_at = utcnow()
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action=action,
        subject=subject_of(terminal_id),
        details={"from": before.value, "to": to.value, "reason": terminal.status_reason or ""},
    )
    return terminal


def block_terminal(
    uow: UnitOfWork, *, terminal_id: str, reason: str, actor: Actor, region_check: RegionCheck | None = None
) -> Terminal:
    """Block an active terminal: its requests are refused from the next one on."""
    return _change_status(
        uow, terminal_id=terminal_id, allowed_from=frozenset({TerminalStatus.ACTIVE}), to=TerminalStatus.BLOCKED,
        action="terminal.block", reason=reason, actor=actor, region_check=region_check,
    )  # fmt: skip


def unblock_terminal(
    uow: UnitOfWork, *, terminal_id: str, reason: str, actor: Actor, region_check: RegionCheck | None = None
) -> Terminal:
    """Return a blocked terminal to service."""
    return _change_status(
        uow, terminal_id=terminal_id, allowed_from=frozenset({TerminalStatus.BLOCKED}), to=TerminalStatus.ACTIVE,
        action="terminal.unblock", reason=reason, actor=actor, region_check=region_check,
    )  # fmt: skip


def retire_terminal(
    uow: UnitOfWork, *, terminal_id: str, reason: str, actor: Actor, region_check: RegionCheck | None = None
) -> Terminal:
    """Take a terminal out of service for good; its id is never reused."""
    return _change_status(
        uow, terminal_id=terminal_id, allowed_from=frozenset({TerminalStatus.ACTIVE, TerminalStatus.BLOCKED}),
        to=TerminalStatus.RETIRED, action="terminal.retire", reason=reason, actor=actor, region_check=region_check,
    )  # fmt: skip
