"""Test data for people and cards: valid, unique citizen IDs and persons (shared by tests/cards)."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta

from sscard.audit import Actor, Channel
from sscard.identity.citizen_id import check_character

CLERK = Actor(kind="staff", id="clerk1", channel=Channel.COUNTER, role="counter_clerk", region="110000")
SUPERVISOR = Actor(kind="staff", id="super1", channel=Channel.COUNTER, role="counter_supervisor", region="110000")
CALLER = Actor(kind="caller", id="hotline", channel=Channel.HOTLINE, role="caller")

# Tests that commit (db_env) share one database per run: every generated ID must differ, so the
# birth date walks a counter (one day per ID) from a random start; the sequence adds variety.
_counter = itertools.count(random.randint(0, 5000))
_REGIONS = ("110101", "110105", "310104", "440305", "510107", "650102")


def new_id_number(*, gender: str | None = None, region: str | None = None, born: date | None = None) -> str:
    """A valid citizen ID (ID-2), never handed out before in this process: with a fixed region and birth date
    only the 3-digit sequence varies, and random picks of it collided across a worker's tests (CI failed on
    PersonDuplicate twice)."""
    for _ in range(2000):
        n = next(_counter)
        birth = born or date(1940, 1, 1) + timedelta(days=n % 25000)
        seq = ((n // 25000) * 2 + random.randint(0, 498) * 2) % 998  # even; the gender bit is set below
        if gender == "M" or (gender is None and n % 2):
            seq += 1
        body = f"{region or _REGIONS[n % len(_REGIONS)]}{birth:%Y%m%d}{seq:03d}"
        number = body + check_character(body)
        if number not in _issued:
            _issued.add(number)
            return number
    raise RuntimeError(f"no unused citizen ID left for region {region} born {born}")


_issued: set[str] = set()


def new_phone() -> str:
    return f"13{random.randint(0, 999_999_999):09d}"


def add_test_person(uow, *, actor: Actor = CLERK, **kwargs):
    """A registered person with unique data; keyword arguments override ``add_person``'s."""
    from sscard.people.service import add_person

    kwargs.setdefault("id_number", new_id_number())
    kwargs.setdefault("name", "张三")
    return add_person(uow, actor=actor, **kwargs)
