"""The PIN operations this package asks of the security module (PIN-1, PIN-3, PIN-11).

Thin calls only: the PIN block is opened, compared, screened and turned into a verification value
inside the module, so the clear PIN never exists in this process. The initial PIN is not a stored
secret either: the module derives it from the policy rule and the holder's ID / birth date (PIN-1).
The PAN a block is bound to is the SDK's ``pin_block_pan(card_no)``, shared with every terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sscard.identity.protected import ID_NUMBER, PHONE
from sscard.people.models import Person
from sscard.policy.schemas import InitialPinRule
from sscard.security import get_security_module
from sscard.terminal.pinblock import pin_block_pan

if TYPE_CHECKING:
    from sscard.credentials.pin.service import TerminalRef


@dataclass(frozen=True, slots=True)
class SimplicityReason:
    """Why a proposed PIN is refused (PIN-3): a stable code per rule and a message without the PIN."""

    code: str
    message: str


# A card's PAN is a pure function of its number, asked on every PIN check (the Luhn digit is ~10 µs of
# Python); cached like the security module caches a PAN's block field.
_card_pan = lru_cache(maxsize=65536)(pin_block_pan)


def _source(terminal: TerminalRef, card_no: str) -> dict[str, Any]:
    return {
        "terminal_id": terminal.terminal_id,
        "region_code": terminal.region_code,
        "key_version": terminal.key_version,
        "pan": _card_pan(card_no),
    }


def _initial(person: Person, rule: InitialPinRule) -> dict[str, Any]:
    # The derivation inputs, not the PIN: the module derives the initial PIN itself.
    return {
        "initial_rule": rule.value,
        "id_number": ID_NUMBER.open(person.id_number_enc),
        "birth_date": person.birth_date,
    }


def verify_pin_block(terminal: TerminalRef, *, card_no: str, pin_block: bytes, pvv: bytes, pvk_version: int) -> bool:
    """True when the block holds the PIN whose verification value is ``pvv`` (constant time)."""
    module: Any = get_security_module()
    return bool(
        module.verify_pin_block(**_source(terminal, card_no), pin_block=pin_block, pvv=pvv, pvk_version=pvk_version)
    )


def verify_initial_pin_block(
    terminal: TerminalRef, *, card_no: str, pin_block: bytes, person: Person, rule: InitialPinRule
) -> bool:
    """True when the block holds the holder's initial PIN under ``rule`` (PIN-1; never stored)."""
    module: Any = get_security_module()
    return bool(
        module.verify_initial_pin_block(**_source(terminal, card_no), pin_block=pin_block, **_initial(person, rule))
    )


def pin_verification_value(terminal: TerminalRef, *, card_no: str, pin_block: bytes) -> tuple[bytes, int]:
    """(PVV, PVK version) of the PIN in the block: ``truncated MAC(PVK, card ‖ PIN)`` inside the module."""
    module: Any = get_security_module()
    pvv, version = module.pin_verification_value(**_source(terminal, card_no), pin_block=pin_block)
    return bytes(pvv), int(version)


def screen_new_pin_block(
    terminal: TerminalRef,
    *,
    card_no: str,
    pin_block: bytes,
    person: Person,
    rule: InitialPinRule,
    current_pvv: bytes | None,
    current_pvk_version: int | None,
) -> SimplicityReason | None:
    """PIN-3 for a proposed PIN: None when acceptable, else the rule it breaks."""
    module: Any = get_security_module()
    reason = module.screen_new_pin_block(
        **_source(terminal, card_no),
        pin_block=pin_block,
        **_initial(person, rule),
        phone=PHONE.open(person.phone_enc) if person.phone_enc else None,
        current_pvv=current_pvv,
        current_pvk_version=current_pvk_version,
    )
    if reason is None:
        return None
    return SimplicityReason(code=str(reason.code), message=str(reason.message))
