"""Test employers: valid, unique credit codes (GB 32100)."""

from __future__ import annotations

import itertools
import random

from sscard.audit import Actor, Channel
from sscard.employers.uscc import ALPHABET, check_character

AGENCY = Actor(kind="staff", id="agency1", channel=Channel.COUNTER, role="counter_clerk", region="110000")
_counter = itertools.count(random.randint(0, 10**6))


def new_uscc(region: str = "110105") -> str:
    """A valid, unique credit code (registration authority 9 = market regulator, category 1 = company)."""
    n = next(_counter)
    body = "91" + region + "".join(ALPHABET[(n // 31**i) % 31] for i in range(8)) + "0"
    return body + check_character(body)


def add_test_employer(uow, *, region: str = "110000", **kwargs):
    from sscard.employers.service import add_employer
    from tests.staff.factories import ensure_region

    ensure_region(uow, region)
    kwargs.setdefault("uscc", new_uscc())
    kwargs.setdefault("name", "测试有限公司")
    return add_employer(uow, region_code=region, actor=AGENCY, **kwargs)
