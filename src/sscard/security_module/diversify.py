"""The national key hierarchy and its diversification rule (KEY-1, KEY-3) — pure functions, no keys.

    ROOT (national, generated or formed in a ceremony)
      └─ PMK/<province>            = E(ROOT,  D("PROV", "110000", v))
           └─ CMK/<city>           = E(PMK,   D("CITY", "110100", v))
                ├─ TMK/<city>      = E(CMK,   D("TMK",  "110100", v))   terminal master key
                │    ├─ terminal MAC key = E(TMK@v, D("TMAC", "<region>/<terminal id>", v))
                │    └─ terminal PIN key = E(TMK@v, D("TPIN", "<region>/<terminal id>", v))
                └─ CRD/<city>      = E(CMK,   D("CRD",  "110100", v))   card master key
                     └─ card       = E(CRD@v, D("CARD", "<card number>", v))

    D(tag, id, v) = H("SSCARD-KDF-1" ‖ 0x1F ‖ tag ‖ 0x1F ‖ id ‖ 0x1F ‖ decimal(v))[0:16]

E is one raw block encryption (SM4 in the ``sm`` suite, AES-128 in ``intl``: PKCS#11
CKM_AES_ECB_ENCRYPT_DATA), H is SM3 (``sm``) or SHA-256 (``intl``), ``v`` the version of the key
being derived (for a terminal or card key: the version of its TMK / CRD). Every key of the
hierarchy is 16 bytes. docs/security-module.md states the same rule with test vectors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes

from sscard.security_module.errors import KeyInputInvalid

KDF_DOMAIN = b"SSCARD-KDF-1"
SEP = b"\x1f"
ROOT = "ROOT"
# A terminal has two keys of one usage each (KEY-3): one MACs its requests, one enciphers PIN blocks.
TERMINAL_MAC = "TMAC"
TERMINAL_PIN = "TPIN"
NATIONAL = "000000"
BLOCK = 16

# Purposes of the hierarchy (derived) and of local keys (KEY-2: generated, never derived).
DERIVED_PURPOSES = ("region", "terminal_master", "card_master")
LOCAL_PURPOSES = ("data", "index", "audit", "audit_anchor", "pvk", "zone_pin", "transport", "local")
# What may leave the module wrapped under a transport key: the sub-keys the ministry hands down.
EXPORTABLE_PURPOSES = frozenset({"region", "terminal_master", "card_master", "zone_pin"})


@dataclass(frozen=True, slots=True)
class KeySpec:
    """Where a hierarchy label sits: its parent, diversification tag and id, level, region, purpose."""

    label: str
    parent: str | None
    tag: str
    ident: str
    level: str
    region: str
    purpose: str


def _region(code: str) -> str:
    if not (isinstance(code, str) and len(code) == 6 and code.isdigit()) or code == NATIONAL:
        raise KeyInputInvalid("a region code is six digits (not 000000)")
    return code


def province_of(region_code: str) -> str:
    return _region(region_code)[:2] + "0000"


def city_of(region_code: str) -> str:
    """The city whose keys serve ``region_code`` (a district belongs to its city: 440304 → 440300)."""
    return _region(region_code)[:4] + "00"


def is_province(region_code: str) -> bool:
    return _region(region_code).endswith("0000")


def spec_of(label: str) -> KeySpec:
    """The place of a hierarchy label; ``KeyInputInvalid`` for a label outside the hierarchy."""
    if label == ROOT:
        return KeySpec(ROOT, None, "", "", "national", NATIONAL, "root")
    prefix, _, code = label.partition("/")
    if prefix == "PMK" and code and _region(code) == province_of(code):
        return KeySpec(label, ROOT, "PROV", code, "province", code, "region")
    if prefix == "CMK" and code and _region(code) == city_of(code):
        return KeySpec(label, f"PMK/{province_of(code)}", "CITY", code, "city", code, "region")
    if prefix in ("TMK", "CRD") and code and _region(code) == city_of(code):
        purpose = "terminal_master" if prefix == "TMK" else "card_master"
        return KeySpec(label, f"CMK/{code}", prefix, code, "city", code, purpose)
    raise KeyInputInvalid("not a label of the key hierarchy (ROOT, PMK/, CMK/, TMK/, CRD/ + region code)")


def is_hierarchy_label(label: str) -> bool:
    try:
        spec_of(label)
    except KeyInputInvalid:
        return False
    return True


def chain_to_root(label: str) -> list[str]:
    """``label`` and its ancestors, nearest first: TMK/440300 → CMK/440300 → PMK/440000 → ROOT."""
    chain = [label]
    while (parent := spec_of(chain[-1]).parent) is not None:
        chain.append(parent)
    return chain


def region_labels(region_code: str) -> list[str]:
    """The hierarchy keys a region holds, top down: a province its PMK, a city its CMK, TMK and CRD."""
    province = province_of(region_code)
    if is_province(region_code):
        return [f"PMK/{province}"]
    city = city_of(region_code)
    if city != region_code:
        raise KeyInputInvalid("keys are derived for a province (XX0000) or a city (XXXX00), not a district")
    return [f"PMK/{province}", f"CMK/{city}", f"TMK/{city}", f"CRD/{city}"]


def terminal_master_label(region_code: str) -> str:
    return f"TMK/{city_of(region_code)}"


def card_master_label(region_code: str) -> str:
    return f"CRD/{city_of(region_code)}"


def terminal_ident(region_code: str, terminal_id: str) -> str:
    if not terminal_id or not terminal_id.isascii() or not terminal_id.isprintable() or len(terminal_id) > 64:
        raise KeyInputInvalid("a terminal id is 1-64 printable ASCII characters")
    return f"{_region(region_code)}/{terminal_id}"


def card_ident(card_no: str) -> str:
    if not card_no or not card_no.isascii() or not card_no.isalnum() or len(card_no) > 32:
        raise KeyInputInvalid("a card number is 1-32 letters and digits")
    return card_no.upper()


def diversification_data(suite: str, tag: str, ident: str, version: int) -> bytes:
    """D(tag, id, v): the 16-byte block the parent key encrypts to give the child key."""
    if version < 1:
        raise KeyInputInvalid("a key version is 1 or more")
    message = SEP.join((KDF_DOMAIN, tag.encode("ascii"), ident.encode("ascii"), str(version).encode("ascii")))
    if suite == "sm":
        digest = hashes.Hash(hashes.SM3())
        digest.update(message)
        return digest.finalize()[:BLOCK]
    return hashlib.sha256(message).digest()[:BLOCK]
