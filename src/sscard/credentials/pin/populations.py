"""Which insured populations a cardholder belongs to, for PIN-change campaigns (PIN-9).

Interim source, until the insurance domain records participation by type (INS-2): the record the
platform already holds. The law puts every employee in the employee schemes (Social Insurance Law
arts. 10 and 23: the employer registers them, INS-1), and retirees keep employee medical insurance,
so an employed or retired holder is counted in the urban employee pension and medical populations;
a rural cooperative medical card means the rural cooperative scheme. Anyone else is in no
population this module can assert, so no campaign prompts them — a campaign errs towards silence,
never towards prompting a population that policy excluded (urban residents, seed 004).
"""

from __future__ import annotations

from sscard.cards.types import CardType
from sscard.people.models import Person, PersonStatus
from sscard.policy.schemas import InsurancePopulation

_EMPLOYEE = frozenset(
    {InsurancePopulation.URBAN_EMPLOYEE_PENSION.value, InsurancePopulation.URBAN_EMPLOYEE_MEDICAL.value}
)
_RURAL = frozenset({InsurancePopulation.RURAL_COOPERATIVE_MEDICAL.value})


def holder_populations(*, person: Person, card_type: CardType | str) -> frozenset[str]:
    """The populations (``InsurancePopulation`` values) the holder of this card is known to belong to."""
    if CardType(card_type) is CardType.RURAL:
        return _RURAL
    if person.status in (PersonStatus.EMPLOYED, PersonStatus.RETIRED):
        return _EMPLOYEE
    return frozenset()
