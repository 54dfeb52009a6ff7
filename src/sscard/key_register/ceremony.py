"""Key ceremonies with dual control and split knowledge (KEY-6).

A key is formed as the XOR of at least two 16-byte components, each entered by a different
authenticated key custodian and checked against the KCV on that custodian's component sheet. While
the ceremony is open each component exists only sealed by the module; at completion they are
combined inside the module, loaded as a key, and their rows deleted. Until then the key does not
exist anywhere, so no single custodian can complete, export or use it.

Custodians are authenticated by the entrypoint (``sscard.staff.sessions.authenticate_staff``); the
services here take the resulting ``Actor`` and check its role.
"""

from __future__ import annotations

import re

from sqlalchemy import delete, select

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.key_register.inventory import key_module, sync_inventory
from sscard.key_register.models.module_keys import KeyCeremony, KeyCeremonyComponent
from sscard.security_module.diversify import is_hierarchy_label, spec_of
from sscard.security_module.errors import (
    CeremonyError,
    CeremonyIncomplete,
    CeremonyNotFound,
    CeremonyNotOpen,
    CeremonySameCustodian,
    KcvMismatch,
    KeyInputInvalid,
    NotCustodian,
)

CUSTODIAN = "key_custodian"
STARTERS = frozenset({CUSTODIAN, "security_officer"})
# The AEAD context of a sealed component (also listed in ``protected_columns`` for data-key rotation).
COMPONENT_CONTEXT = b"sscard/field/ceremony_component"
CEREMONY_PURPOSES = ("root", "transport", "zone_pin")
_HEX = re.compile(r"^[0-9A-Fa-f]{32}$")


def _subject(ceremony: KeyCeremony) -> str:
    return f"ceremony:{ceremony.id}"


def _require_custodian(actor: Actor) -> None:
    if actor.kind != "staff" or actor.role != CUSTODIAN:
        raise NotCustodian()


def get_ceremony_or_raise(uow: UnitOfWork, ceremony_id: int) -> KeyCeremony:
    ceremony = uow.session.get(KeyCeremony, ceremony_id)
    if ceremony is None:
        raise CeremonyNotFound(f"no key ceremony {ceremony_id}")
    return ceremony


def _open(uow: UnitOfWork, ceremony_id: int) -> KeyCeremony:
    ceremony = get_ceremony_or_raise(uow, ceremony_id)
    if ceremony.state != "open":
        raise CeremonyNotOpen(f"ceremony {ceremony_id} is {ceremony.state}")
    return ceremony


def start_ceremony(
    uow: UnitOfWork, *, label: str, purpose: str, region_code: str = "000000", components: int = 2, actor: Actor
) -> KeyCeremony:
    """Open a ceremony that will form key ``label`` from ``components`` custodians' components."""
    if actor.kind != "staff" or actor.role not in STARTERS:
        raise NotCustodian("a key custodian or security officer starts a ceremony")
    if components < 2 or components > 9:
        raise KeyInputInvalid("a ceremony has 2 to 9 components (dual control)")
    if is_hierarchy_label(label):
        spec = spec_of(label)
        if spec.label != "ROOT":
            raise KeyInputInvalid("region keys are derived or imported, not formed in a ceremony")
        purpose, level, region_code = spec.purpose, spec.level, spec.region
    elif purpose in ("transport", "zone_pin") and re.fullmatch(r"[A-Z][A-Z0-9_-]{0,15}(/[A-Z0-9_-]{1,24})?", label):
        level = "local"
    else:
        raise KeyInputInvalid("a ceremony forms ROOT, or a transport / zone PIN key labelled like KTK/CITY01")
    busy = uow.session.scalar(select(KeyCeremony).where(KeyCeremony.label == label, KeyCeremony.state == "open"))
    if busy is not None:
        raise CeremonyError(f"ceremony {busy.id} for {label} is still open")
    ceremony = KeyCeremony(
        label=label, purpose=purpose, level=level, region_code=region_code, components_required=components,
        state="open", started_by=actor.id,
    )  # fmt: skip
    uow.session.add(ceremony)
    uow.flush()
    record_event(uow, actor=actor, action="key.ceremony.start", subject=_subject(ceremony),
                 details={"label": label, "purpose": purpose, "components": components})  # fmt: skip
    return ceremony


def add_component(uow: UnitOfWork, *, ceremony_id: int, component_hex: str, kcv: str, actor: Actor) -> int:
    """Enter one custodian's component after checking its KCV; returns how many are entered."""
    _require_custodian(actor)
    ceremony = _open(uow, ceremony_id)
    entered = list(
        uow.session.scalars(select(KeyCeremonyComponent).where(KeyCeremonyComponent.ceremony_id == ceremony.id))
    )
    if any(c.custodian == actor.id for c in entered):
        raise CeremonySameCustodian()
    if not _HEX.match((component_hex or "").strip()):
        raise KeyInputInvalid("a component is 32 hexadecimal digits")
    component = bytes.fromhex(component_hex.strip())
    module = key_module()
    actual = module.component_check_value(component)
    if (kcv or "").strip().upper() != actual:
        raise KcvMismatch("the component does not match its key check value")
    uow.session.add(
        KeyCeremonyComponent(
            ceremony_id=ceremony.id, custodian=actor.id, kcv=actual,
            component_enc=module.encrypt_field(component, context=COMPONENT_CONTEXT),
        )
    )  # fmt: skip
    uow.flush()
    record_event(uow, actor=actor, action="key.ceremony.component", subject=_subject(ceremony),
                 details={"custodian": actor.id, "component_kcv": actual, "entered": len(entered) + 1})  # fmt: skip
    return len(entered) + 1


def complete_ceremony(uow: UnitOfWork, *, ceremony_id: int, kcv: str | None, actor: Actor) -> KeyCeremony:
    """Form and load the key once enough different custodians entered components; wipe the components."""
    _require_custodian(actor)
    ceremony = _open(uow, ceremony_id)
    entered = list(
        uow.session.scalars(select(KeyCeremonyComponent).where(KeyCeremonyComponent.ceremony_id == ceremony.id))
    )
    custodians = sorted({c.custodian for c in entered})
    needed = max(2, ceremony.components_required)
    if len(custodians) < needed:
        raise CeremonyIncomplete(f"{len(custodians)} of {needed} custodians have entered a component")
    module = key_module()
    parts = [module.decrypt_field(c.component_enc, context=COMPONENT_CONTEXT) for c in entered]
    kv = module.import_components(
        ceremony.label, purpose=ceremony.purpose, level=ceremony.level, region=ceremony.region_code,
        components=parts, kcv=kcv.strip() if kcv else None,
    )  # fmt: skip
    uow.session.execute(delete(KeyCeremonyComponent).where(KeyCeremonyComponent.ceremony_id == ceremony.id))
    ceremony.state, ceremony.completed_by, ceremony.completed_at = "completed", actor.id, utcnow()
    ceremony.key_version, ceremony.kcv = kv.version, kv.kcv
    uow.flush()
    sync_inventory(uow, actor=actor)
    details = {"label": ceremony.label, "version": kv.version, "kcv": kv.kcv, "custodians": custodians}
    record_event(uow, actor=actor, action="key.ceremony.complete", subject=_subject(ceremony), details=details)
    return ceremony


def cancel_ceremony(uow: UnitOfWork, *, ceremony_id: int, actor: Actor) -> KeyCeremony:
    """Abandon an open ceremony and wipe its sealed components."""
    if actor.kind != "staff" or actor.role not in STARTERS:
        raise NotCustodian("a key custodian or security officer cancels a ceremony")
    ceremony = _open(uow, ceremony_id)
    uow.session.execute(delete(KeyCeremonyComponent).where(KeyCeremonyComponent.ceremony_id == ceremony.id))
    ceremony.state = "cancelled"
    uow.flush()
    record_event(uow, actor=actor, action="key.ceremony.cancel", subject=_subject(ceremony))
    return ceremony
