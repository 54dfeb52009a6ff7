"""How many holders per region still have the initial query password (issue 5 item 7, QPW-1).

The ID-derived initial password is the weakest point of the portal: this report lets a region see
how many holders still run on it (and how many of those initial passwords already expired by
policy), to aim reminders or decide an expiry. Counts only: no person, no ID.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, and_, case, cast, func, select

from sscard.credentials.query_password.models import QueryPassword
from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.people.models import Person, PersonStatus
from sscard.regions.codes import RegionLevel, is_region_code, level_of

_PREFIX_LEN = {RegionLevel.NATIONAL: 0, RegionLevel.PROVINCE: 2, RegionLevel.CITY: 4, RegionLevel.DISTRICT: 6}


@dataclass(frozen=True, slots=True)
class InitialPasswordCount:
    region_code: str
    holders: int
    initial_password: int  # never changed, or re-initialised by the counter since

    @property
    def share(self) -> float:
        return self.initial_password / self.holders if self.holders else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "region_code": self.region_code,
            "holders": self.holders,
            "initial_password": self.initial_password,
            "share": round(self.share, 4),
        }


def count_initial_passwords(
    uow: UnitOfWork, *, within: str = "000000", page: Keyset | None = None
) -> list[InitialPasswordCount]:
    """Living holders and those still on the initial query password, per region inside ``within``."""
    if not is_region_code(within):
        raise ValueError("a region code is six digits")
    prefix = within[: _PREFIX_LEN[level_of(within)]]
    initial = func.sum(cast(case((QueryPassword.password_hash.is_(None), 1), else_=0), Integer))
    stmt = (
        select(Person.region_code, func.count().label("holders"), initial.label("initial"))
        .select_from(Person)
        .outerjoin(QueryPassword, QueryPassword.person_id == Person.id)
        .where(and_(Person.status != PersonStatus.DECEASED, Person.region_code.startswith(prefix)))
        .group_by(Person.region_code)
    )
    rows = taken(uow.session.execute(ordered(stmt, page, Person.region_code)), page)
    return [
        InitialPasswordCount(region_code=r.region_code, holders=int(r.holders), initial_password=int(r.initial or 0))
        for r in rows
    ]
