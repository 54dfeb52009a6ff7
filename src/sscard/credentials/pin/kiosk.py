"""Card information queries at touch-screen kiosks (PIN-12, seed 004): the card PIN protects them.

A holder puts the card in a kiosk and asks for the card's basic information. The query goes through
the one PIN decision of a card transaction (``service.verify_card_pin``): a card whose PIN is enabled
needs the right PIN — a wrong one counts toward the lock like any other channel (PIN-5) — and a card
whose PIN is not enabled needs none (PIN-2). Only kiosk terminals offer it.

The answer is what the holder may read on a public screen: the masked name, the card's type, state
and dates, the PIN state, and the insurance schemes the holder participates in today (INS-2) — no
ID number, phone or account figure. Every answer is audited as a disclosure (CH-4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sscard.audit import Actor
from sscard.cards.lifecycle import audit_card
from sscard.cards.numbers import mask_card_no
from sscard.cards.service import get_card_or_raise
from sscard.credentials.pin.campaign import CampaignPrompt, local_date
from sscard.credentials.pin.errors import InfoQueryNotHere
from sscard.credentials.pin.populations import participating_types
from sscard.credentials.pin.service import TerminalRef, verify_card_pin
from sscard.db.base import CHINA
from sscard.db.session import UnitOfWork
from sscard.identity.masking import mask_name
from sscard.people.service import get_person_or_raise

INFO_KINDS = frozenset({"kiosk"})


@dataclass(frozen=True, slots=True)
class KioskCardInfo:
    card_no_masked: str
    name_masked: str
    card_type: str
    state: str
    financial: bool
    issued_on: date | None
    activated_on: date | None
    pin_enabled: bool
    insurance: list[str]  # InsuranceType values the holder participates in today
    campaign_prompt: CampaignPrompt | None


def kiosk_card_info(
    uow: UnitOfWork, *, card_no: str, pin_block: bytes | None, terminal: TerminalRef, kind: str, actor: Actor
) -> KioskCardInfo:
    """The card's basic information for its holder at a kiosk, behind the PIN when it is enabled (PIN-12)."""
    if kind not in INFO_KINDS:
        raise InfoQueryNotHere("card information queries are offered at kiosk terminals")
    check = verify_card_pin(uow, card_no=card_no, pin_block=pin_block, terminal=terminal, actor=actor)
    card = get_card_or_raise(uow, card_no)
    person = get_person_or_raise(uow, card.person_id)
    today = local_date()
    insurance = sorted(t.value for t in participating_types(uow, person_id=person.id, on=today))
    audit_card(
        uow,
        card,
        actor=actor,
        action="card.info_query",
        details={"pin_enabled": check.pin_enabled, "disclosed": ["name_masked", "card", "insurance"]},
    )
    return KioskCardInfo(
        card_no_masked=mask_card_no(card.card_no),
        name_masked=mask_name(person.name),
        card_type=card.card_type.value,
        state=card.state.value,
        financial=card.financial,
        issued_on=card.issued_at.astimezone(CHINA).date() if card.issued_at else None,
        activated_on=card.activated_at.astimezone(CHINA).date() if card.activated_at else None,
        pin_enabled=check.pin_enabled,
        insurance=insurance,
        campaign_prompt=check.campaign_prompt,
    )
