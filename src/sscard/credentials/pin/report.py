"""How many cards per region still have the initial PIN (issue 5 item 7, PIN-1, PIN-9).

The seed-mandated initial PIN (123456, or derived from the ID) is the weakest point of the card:
this report shows a region how many active cards still run on it, so a campaign (PIN-9) can be
aimed and its effect followed. It reads counts only — no card number, no person.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, and_, case, cast, func, select

from sscard.cards.models import Card
from sscard.cards.states import CardState
from sscard.cards.types import CardType
from sscard.credentials.pin.models import CardPin
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.regions.codes import RegionLevel, is_region_code, level_of

_PREFIX_LEN = {RegionLevel.NATIONAL: 0, RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4, RegionLevel.DISTRICT: 6}


@dataclass(frozen=True, slots=True)
class InitialPinCount:
    region_code: str
    card_type: CardType
    active_cards: int
    initial_pin: int  # PIN never changed, or cancelled / reset back to the initial PIN (not enabled)

    @property
    def share(self) -> float:
        return self.initial_pin / self.active_cards if self.active_cards else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "region_code": self.region_code,
            "card_type": self.card_type.value,
            "active_cards": self.active_cards,
            "initial_pin": self.initial_pin,
            "share": round(self.share, 4),
        }


def count_initial_pins(uow: UnitOfWork, *, within: str = "000000", page: Keyset | None = None) -> list[InitialPinCount]:
    """Active cards and those still on the initial PIN, per card region and type, inside ``within``."""
    if not is_region_code(within):
        raise ValueError("a region code is six digits")
    prefix = within[: _PREFIX_LEN[level_of(within)]]
    initial = func.sum(cast(case((CardPin.pvv.is_(None), 1), else_=0), Integer))
    stmt = (
        select(Card.region_code, Card.card_type, func.count().label("cards"), initial.label("initial"))
        .select_from(Card)
        .outerjoin(CardPin, CardPin.card_id == Card.id)
        .where(and_(Card.state == CardState.ACTIVE, Card.region_code.startswith(prefix)))
        .group_by(Card.region_code, Card.card_type)
    )
    rows = taken(uow.session.execute(ordered(stmt, page, Card.region_code, Card.card_type)), page)
    return [
        InitialPinCount(
            region_code=r.region_code,
            card_type=CardType(r.card_type),
            active_cards=int(r.cards),
            initial_pin=int(r.initial or 0),
        )
        for r in rows
    ]
