"""Cards for PIN tests: a registered person with an issued, and usually activated, card."""

from __future__ import annotations

from sscard.cards import service as card_service
from sscard.cards.models import Card
from tests.people.factories import CLERK, add_test_person


def make_card(
    uow, *, activate: bool = True, card_type: str = "social", bank_code: str | None = None, **person_kwargs
) -> Card:
    """A new person's card: issued (through ``bank_code``, with the financial function, when given), and
    activated unless ``activate`` is false."""
    person = add_test_person(uow, **person_kwargs)
    card = card_service.issue_card(
        uow, person_id=person.id, card_type=card_type, actor=CLERK, financial=bank_code is not None, bank_code=bank_code
    )
    if activate:
        card = card_service.activate_card(uow, card_no=card.card_no, actor=CLERK)
    return card
