"""Which insured populations a cardholder belongs to, for PIN-change campaigns (PIN-9).

From the insurance records (INS-2, ``sscard.insurance.populations``): the schemes the holder actually
participates in on the day of the transaction, never a guess from the person's employment status. A
rural cooperative medical card is itself the rural cooperative scheme. A holder with no recorded
participation is in no population, so no campaign prompts them — a campaign errs towards silence,
never towards prompting a population that policy excluded (urban residents, seed 004).
"""

from __future__ import annotations

from datetime import date

from sscard.cards.types import CardType
from sscard.db.session import UnitOfWork
from sscard.insurance.populations import participating_types, populations_on
from sscard.people.models import Person
from sscard.policy.schemas import InsurancePopulation

_RURAL = frozenset({InsurancePopulation.RURAL_COOPERATIVE_MEDICAL.value})


__all__ = ["holder_populations", "participating_types"]


def holder_populations(uow: UnitOfWork, *, person: Person, card_type: CardType | str, on: date) -> frozenset[str]:
    """The populations (``InsurancePopulation`` values) the holder of this card belongs to on ``on``."""
    recorded = populations_on(uow, person_id=person.id, on=on)
    if CardType(card_type) is CardType.RURAL:
        return recorded | _RURAL
    return recorded
