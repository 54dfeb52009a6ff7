"""Card types (CARD-3) and card media (CARD-6): which combinations can be issued."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sscard.cards.errors import CardSpecInvalid, CardTypeInvalid


class CardType(StrEnum):
    SOCIAL = "social"  # 社会保障卡, generations 1/2/3
    MEDICAL = "medical"  # legacy medical-insurance card (医保卡)
    RURAL = "rural"  # rural cooperative medical card (新农合卡)


class CardMedium(StrEnum):
    CONTACT = "contact"  # contact chip
    DUAL_INTERFACE = "dual_interface"  # contact + contactless


class CardApplication(StrEnum):
    HRSS = "hrss"  # the human-resources / social-security application, on every card
    FINANCIAL = "financial"  # RMB debit application of the issuing bank (FIN-2)


SOCIAL_GENERATIONS = (1, 2, 3)
DEFAULT_SOCIAL_GENERATION = 3


@dataclass(frozen=True, slots=True)
class CardSpec:
    card_type: CardType
    generation: int | None
    financial: bool
    medium: CardMedium
    magstripe: bool  # hidden magnetic stripe of the transition period (CARD-6), only for the bank side
    bank_code: str | None

    @property
    def applications(self) -> tuple[CardApplication, ...]:
        return (CardApplication.HRSS, CardApplication.FINANCIAL) if self.financial else (CardApplication.HRSS,)


def parse_card_type(raw: CardType | str) -> CardType:
    """A ``CardType`` from its value; ``CARD_TYPE_INVALID`` naming the accepted values otherwise."""
    try:
        return CardType(str(raw).strip().lower())
    except ValueError:
        raise CardTypeInvalid(f"card type is one of: {', '.join(t.value for t in CardType)}") from None


def card_spec(
    card_type: CardType | str,
    *,
    generation: int | None = None,
    financial: bool = False,
    medium: CardMedium | str | None = None,
    magstripe: bool | None = None,
    bank_code: str | None = None,
) -> CardSpec:
    """Validate and complete what a new card will be (CARD-3, CARD-6); defaults follow the type."""
    ctype = parse_card_type(card_type)
    try:
        chosen_medium = CardMedium(medium) if medium is not None else None
    except ValueError:
        raise CardSpecInvalid(f"medium is one of: {', '.join(m.value for m in CardMedium)}") from None
    bank = (bank_code or "").strip().upper() or None
    if bank is not None and not (bank.isascii() and bank.isalnum() and len(bank) <= 16):
        raise CardSpecInvalid("a bank code is up to 16 letters and digits")

    if ctype is not CardType.SOCIAL:
        # Legacy medical and rural cooperative cards: contact chip, no generations, no bank side.
        if generation is not None or financial or magstripe or bank:
            raise CardSpecInvalid(f"a {ctype.value} card has no generation, financial function or magnetic stripe")
        if chosen_medium not in (None, CardMedium.CONTACT):
            raise CardSpecInvalid(f"a {ctype.value} card is a contact chip card")
        return CardSpec(ctype, None, False, CardMedium.CONTACT, False, None)

    gen = DEFAULT_SOCIAL_GENERATION if generation is None else generation
    if gen not in SOCIAL_GENERATIONS:
        raise CardSpecInvalid("a social security card is generation 1, 2 or 3")
    if gen == 1 and financial:
        raise CardSpecInvalid("first-generation cards have no financial function")
    if financial and bank is None:
        raise CardSpecInvalid("a card with the financial function needs its issuing bank")
    if not financial and bank is not None:
        raise CardSpecInvalid("an issuing bank only applies to a card with the financial function")
    # The third generation added the contactless interface; earlier ones are contact only.
    default_medium = CardMedium.DUAL_INTERFACE if gen == 3 else CardMedium.CONTACT
    med = chosen_medium or default_medium
    if med is not default_medium:
        raise CardSpecInvalid(f"a generation-{gen} card is {default_medium.value}")
    stripe = financial if magstripe is None else magstripe
    if stripe and not financial:
        raise CardSpecInvalid("the hidden magnetic stripe only serves the financial function")
    return CardSpec(CardType.SOCIAL, gen, financial, med, stripe, bank)
