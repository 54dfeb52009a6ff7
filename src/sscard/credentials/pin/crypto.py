"""The PIN operations this package asks of the security module (PIN-1, PIN-3, PIN-11).

Thin calls only: the PIN block is opened, compared, screened and turned into a verification value
inside the module, so the clear PIN never exists in this process. The initial PIN is not a stored
secret either: the module derives it from the policy rule and the holder's ID / birth date (PIN-1).
The PAN a block is bound to is the SDK's ``pin_block_pan(card_no)``, shared with every terminal.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sscard.credentials.pin.rules.simplicity import SimplicityReason
from sscard.people.models import Person
from sscard.policy.schemas import InitialPinRule
from sscard.security_module import get_security_module
from sscard.terminal.pinblock import pin_block_pan

if TYPE_CHECKING:
    from sscard.credentials.pin.service import TerminalRef


# A card's PAN is a pure function of its number, asked on every PIN check (the Luhn digit costs more
# than the lookup: bench/README.md, "figures moved out of the code"); cached like the security module
# caches a PAN's block field.
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
        "id_number": person.id_number,
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
    """PIN-3 for a proposed PIN: None when acceptable, else the rule it breaks (``rules/simplicity.py``)."""
    module: Any = get_security_module()
    reason = module.screen_new_pin_block(
        **_source(terminal, card_no),
        pin_block=pin_block,
        **_initial(person, rule),
        phone=person.phone,
        current_pvv=current_pvv,
        current_pvk_version=current_pvk_version,
    )
    return None if reason is None else SimplicityReason(code=str(reason.code), message=str(reason.message))
