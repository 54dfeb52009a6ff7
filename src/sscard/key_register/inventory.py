"""Key inventory service (KEY-1..3, KEY-9): every key operation, mirrored into ``security_key`` and audited.

The module's directory is authoritative (it is what refuses a revoked key); ``sync_inventory``
mirrors it into the database in the caller's unit of work, so a key the module derived on first
use (a new region's terminal master key) appears here with a ``key.registered`` audit entry.
The entrypoint owns the transaction; refusals are audited by the entrypoint (``refusals_audited``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from sscard.audit import Actor, record_event
from sscard.db.session import UnitOfWork
from sscard.key_register.models.module_keys import SecurityKey
from sscard.security_module import get_security_module
from sscard.security_module.directory import KeyEntry, KeyVersion
from sscard.security_module.errors import KeyInputInvalid, KeyNotFound, SecurityModuleError
from sscard.security_module.hsm import HierarchyModule


def key_module() -> HierarchyModule:
    module = get_security_module()
    if not isinstance(module, HierarchyModule):
        raise SecurityModuleError("the installed security module has no key management")
    return module


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _subject(label: str, version: int) -> str:
    return f"key:{label}@{version}"


def _apply(row: SecurityKey, entry: KeyEntry, kv: KeyVersion, state: str, module: HierarchyModule) -> None:
    row.level, row.region_code, row.purpose, row.kcv, row.state = (
        entry.level,
        entry.region,
        entry.purpose,
        kv.kcv,
        state,
    )
    row.current, row.origin, row.parent = kv.version == entry.current, kv.origin, kv.parent
    row.backend, row.suite = module.backend_name, module.suite
    row.rotated_at, row.retired_at, row.revoked_at = _when(kv.rotated), _when(kv.retired), _when(kv.revoked)
    row.revoke_reason = kv.reason


def sync_inventory(uow: UnitOfWork, *, actor: Actor | None = None) -> None:
    """Mirror the module's directory into ``security_key`` (metadata only)."""
    module = key_module()
    rows = {(r.label, r.version): r for r in uow.session.scalars(select(SecurityKey))}
    for entry in module.entries():
        for version, kv in sorted(entry.versions.items()):
            state = module.key_state(entry.label, version)
            row = rows.get((entry.label, version))
            if row is None:
                row = SecurityKey(label=entry.label, version=version, created_at=_when(kv.created))
                uow.session.add(row)
                _apply(row, entry, kv, state, module)
                record_event(
                    uow, actor=actor or Actor.system(), action="key.registered", subject=_subject(entry.label, version),
                    details={"kcv": kv.kcv, "origin": kv.origin, "level": entry.level, "region": entry.region,
                             "purpose": entry.purpose, "parent": kv.parent, "backend": module.backend_name},
                )  # fmt: skip
            else:
                _apply(row, entry, kv, state, module)
    uow.flush()


def list_keys(uow: UnitOfWork, *, region_code: str | None = None, label: str | None = None) -> list[SecurityKey]:
    """Inventory rows (all versions), optionally of one region or label."""
    sync_inventory(uow)
    query = select(SecurityKey).order_by(SecurityKey.label, SecurityKey.version)
    if region_code:
        query = query.where(SecurityKey.region_code == region_code)
    if label:
        query = query.where(SecurityKey.label == label)
    return list(uow.session.scalars(query))


def get_key(uow: UnitOfWork, *, label: str) -> SecurityKey | None:
    """The current version's row of a key, or None."""
    sync_inventory(uow)
    return uow.session.scalar(select(SecurityKey).where(SecurityKey.label == label, SecurityKey.current.is_(True)))


def _custodians(actor: Actor, second: Actor | None) -> tuple[Actor, ...]:
    """Who acts: the actor, and for the root or a province key the second custodian (KEY-6)."""
    return (actor,) if second is None else (actor, second)


def _witness(uow: UnitOfWork, *, action: str, subject: str, actor: Actor, second: Actor | None) -> None:
    """The second custodian's own audit entry of a dual-control operation (both are audited, KEY-6)."""
    if second is not None:
        details = {"action": action, "with": actor.id, "custodians": sorted({actor.id, second.id})}
        record_event(uow, actor=second, action="key.dual_control", subject=subject, details=details)


def _with(details: dict[str, Any], actor: Actor, second: Actor | None) -> dict[str, Any]:
    return details if second is None else {**details, "custodians": sorted({actor.id, second.id})}


def init_root(uow: UnitOfWork, *, actor: Actor, second: Actor | None = None) -> SecurityKey:
    """Generate the national root key (KEY-1) under two custodians (KEY-6)."""
    kv = key_module().init_root(custodians=_custodians(actor, second))
    row = _done(uow, "ROOT", kv.version, actor, "key.root.init", _with({"kcv": kv.kcv}, actor, second))
    _witness(uow, action="key.root.init", subject=_subject("ROOT", kv.version), actor=actor, second=second)
    return row


def derive_region(uow: UnitOfWork, *, region_code: str, actor: Actor, second: Actor | None = None) -> list[SecurityKey]:
    """Derive a province's or a city's keys from the keys held above it (KEY-3); a new province key
    needs two custodians (KEY-6)."""
    made = key_module().derive_region(region_code, custodians=_custodians(actor, second))
    sync_inventory(uow, actor=actor)
    rows = []
    for label, kv in made:
        rows.append(_done(uow, label, kv.version, actor, "key.derive",
                          _with({"kcv": kv.kcv, "parent": kv.parent}, actor, second)))  # fmt: skip
        _witness(uow, action="key.derive", subject=_subject(label, kv.version), actor=actor, second=second)
    return rows


def generate_key(uow: UnitOfWork, *, label: str, purpose: str, region_code: str, actor: Actor) -> SecurityKey:
    """Generate a local-only key (KEY-2): a zone PIN key, a transport key or a local key."""
    kv = key_module().generate_local(label, purpose=purpose, region=region_code)
    return _done(uow, label, kv.version, actor, "key.generate", {"kcv": kv.kcv, "purpose": purpose})


def rotate_key(uow: UnitOfWork, *, label: str, actor: Actor, second: Actor | None = None) -> SecurityKey:
    """Make a new version current; the old one keeps verifying until retired (root / province: two
    custodians, KEY-6)."""
    kv = key_module().rotate(label, custodians=_custodians(actor, second))
    details = _with({"kcv": kv.kcv, "to_version": kv.version}, actor, second)
    row = _done(uow, label, kv.version, actor, "key.rotate", details)
    _witness(uow, action="key.rotate", subject=_subject(label, kv.version), actor=actor, second=second)
    for other in uow.session.scalars(select(SecurityKey).where(SecurityKey.label == label)):
        other.rotation_due, other.rotation_reason = False, None
    uow.flush()
    return row


def revoke_key(
    uow: UnitOfWork, *, label: str, reason: str, actor: Actor, version: int | None = None,
    second: Actor | None = None,
) -> list[int]:  # fmt: skip
    """Revoke a key (every version, or one): refused from now on with ``KEY_REVOKED`` (KEY-9); the root
    or a province key only under two custodians (KEY-6)."""
    versions = key_module().revoke(label, reason=reason, version=version, custodians=_custodians(actor, second))
    sync_inventory(uow, actor=actor)
    record_event(
        uow, actor=actor, action="key.revoke", subject=f"key:{label}",
        details=_with({"versions": versions, "reason": reason.strip()[:200]}, actor, second),
    )  # fmt: skip
    _witness(uow, action="key.revoke", subject=f"key:{label}", actor=actor, second=second)
    return versions


def retire_key(uow: UnitOfWork, *, label: str, version: int, actor: Actor) -> SecurityKey:
    """Retire a superseded version once nothing needs it any more."""
    key_module().retire(label, version=version)
    return _done(uow, label, version, actor, "key.retire", {})


def schedule_rotation(uow: UnitOfWork, *, label: str, reason: str, actor: Actor) -> SecurityKey:
    """Mark a key for rotation (an incident, KEY-9); ``is_rotated`` turns true once it is rotated."""
    row = get_key(uow, label=label)
    if row is None:
        raise KeyNotFound(f"no key {label} in the inventory")
    row.rotation_due, row.rotation_reason = True, reason.strip()[:200]
    uow.flush()
    record_event(uow, actor=actor, action="key.rotation_scheduled", subject=_subject(label, row.version),
                 details={"reason": row.rotation_reason})  # fmt: skip
    return row


def is_rotated(uow: UnitOfWork, *, label: str) -> bool:
    """True when no version of the key still waits for a scheduled rotation."""
    rows = list_keys(uow, label=label)
    return bool(rows) and not any(r.rotation_due for r in rows)


def export_key(
    uow: UnitOfWork, *, label: str, transport: str, actor: Actor, version: int | None = None,
    second: Actor | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The key wrapped under a transport key (never in clear), audited without the wrapped bytes; the
    root or a province key only under two custodians (KEY-6)."""
    out = key_module().export_wrapped(label, transport=transport, version=version,
                                      custodians=_custodians(actor, second))  # fmt: skip
    sync_inventory(uow, actor=actor)
    details = _with({k: v for k, v in out.items() if k != "wrapped"}, actor, second)
    subject = _subject(label, out["version"])
    record_event(uow, actor=actor, action="key.export", subject=subject, details=details)
    _witness(uow, action="key.export", subject=subject, actor=actor, second=second)
    return out


def import_key(
    uow: UnitOfWork, *, label: str, version: int, wrapped_hex: str, transport: str, kcv: str, actor: Actor,
    purpose: str = "zone_pin", second: Actor | None = None,
) -> SecurityKey:  # fmt: skip
    """Load a key handed down wrapped under a transport key; its KCV must match (the root or a province
    key: two custodians, KEY-6)."""
    try:
        wrapped = bytes.fromhex(wrapped_hex)
    except ValueError:
        raise KeyInputInvalid("the wrapped key is hexadecimal") from None
    kv = key_module().import_wrapped(label, version=version, wrapped=wrapped, transport=transport, kcv=kcv,
                                     purpose=purpose, custodians=_custodians(actor, second))  # fmt: skip
    details = _with({"kcv": kv.kcv, "transport": transport}, actor, second)
    row = _done(uow, label, kv.version, actor, "key.import", details)
    _witness(uow, action="key.import", subject=_subject(label, kv.version), actor=actor, second=second)
    return row


def _done(uow: UnitOfWork, label: str, version: int, actor: Actor, action: str, details: dict[str, Any]) -> SecurityKey:
    sync_inventory(uow, actor=actor)
    row = uow.session.scalar(select(SecurityKey).where(SecurityKey.label == label, SecurityKey.version == version))
    assert row is not None  # noqa: S101 - sync just mirrored it
    record_event(uow, actor=actor, action=action, subject=_subject(label, version), details=details)
    return row


def key_summary(row: SecurityKey) -> dict[str, Any]:
    """A row as plain data (metadata only) for the CLI and the API."""
    return {
        "label": row.label, "version": row.version, "level": row.level, "region": row.region_code,
        "purpose": row.purpose, "kcv": row.kcv, "state": row.state, "current": row.current, "origin": row.origin,
        "parent": row.parent, "backend": row.backend, "suite": row.suite,
        "created": row.created_at.isoformat() if row.created_at else None,
        "rotated": row.rotated_at.isoformat() if row.rotated_at else None,
        "retired": row.retired_at.isoformat() if row.retired_at else None,
        "revoked": row.revoked_at.isoformat() if row.revoked_at else None,
        "rotation_due": row.rotation_due,
    }  # fmt: skip
