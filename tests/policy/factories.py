"""Policy test helpers: a fresh district (with its parents) per test, so committed tests never share policy."""

from __future__ import annotations

import itertools
import random

from sscard.db.session import UnitOfWork
from tests.staff.factories import ensure_region

# Provinces no other test package commits a policy for (credentials/pin commits 120000 and 130000).
_PROVINCES = ("14", "21", "22", "23", "32", "33", "34", "35", "36", "37", "41", "42", "43", "45", "46")
_seen: set[str] = set()
_counter = itertools.count()


def fresh_district() -> str:
    """A six-digit district code not used before in this run (random, so parallel runs differ too)."""
    while True:
        code = f"{random.choice(_PROVINCES)}{random.randint(1, 99):02d}{random.randint(1, 99):02d}"
        if code not in _seen:
            _seen.add(code)
            next(_counter)
            return code


def registered_district(uow: UnitOfWork) -> str:
    code = fresh_district()
    ensure_region(uow, code)
    return code
