"""Key-management test data: staff actors, carriers, documents and terminals with unique values."""

from __future__ import annotations

import secrets
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sscard.audit import Actor, Channel
from sscard.db.base import china_today, utcnow
from sscard.db.session import UnitOfWork
from sscard.key_register.carriers import receive_carrier
from sscard.key_register.models import KeyCarrier
from sscard.key_register.states import CarrierType
from sscard.staff.principal import StaffPrincipal
from sscard.staff.roles import Role
from tests.staff.factories import ensure_region, make_staff

REGION = "110105"  # a district of Beijing: superior department 110100, then the ministry 000000
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def staff_actor(uow: UnitOfWork, role: Role = Role.SECURITY_OFFICER, region_code: str = REGION) -> Actor:
    """A real, active staff account and the audit actor it acts as."""
    account = make_staff(uow, role=role, region_code=region_code)
    principal = StaffPrincipal(account.id, account.username, account.role, account.region_code)
    return principal.actor(Channel.SECURITY)


def unique(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4).upper()}"


def receive(
    uow: UnitOfWork, actor: Actor, carrier_type: CarrierType = CarrierType.PSAM_CARD, region_code: str = REGION
) -> KeyCarrier:
    ensure_region(uow, region_code)
    return receive_carrier(
        uow,
        carrier_type=carrier_type,
        serial=unique("SN"),
        region_code=region_code,
        receipt_no=unique("RC"),
        received_on=china_today() - timedelta(days=1),
        received_from="人社部信息中心",
        location="机要室保险柜A",
        actor=actor,
    )


def terminal(uow: UnitOfWork, region_code: str = REGION) -> str:
    """A registered terminal in ``region_code``; returns its id."""
    from sscard.terminal_registry.models import InstitutionType
    from sscard.terminal_registry.service import register_terminal

    ensure_region(uow, region_code)
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    t = register_terminal(
        uow,
        institution_name="测试大药房",
        institution_type=InstitutionType.PHARMACY,
        region_code=region_code,
        public_key=point,
        suite="sm",
        actor=Actor.system(),
    )
    return t.terminal_id


def later(days: int = 7):
    return utcnow() + timedelta(days=days)


def inventory_key(uow: UnitOfWork, actor: Actor, region_code: str = REGION, purpose: str = "local") -> str:
    """A real local key (KEY-2) generated in the session's security module; returns its inventory label."""
    from sscard.key_register.inventory import generate_key, sync_inventory

    # The session's module holds the keys earlier tests generated (their rows rolled back): mirrored here in the
    # system's name, not again in ``actor``'s by generate_key, each entry signed (SM2 in Python, ~10 ms each).
    sync_inventory(uow)
    label = unique("LK/T")
    generate_key(uow, label=label, purpose=purpose, region_code=region_code, actor=actor)
    return label
