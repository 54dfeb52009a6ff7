"""API fixtures for the policy admin routes: the real app on the test database, fresh source addresses."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from sscard.staff.roles import Role
from tests.conftest import app_client

_addresses = itertools.count(random.randint(1, 50_000))


def fresh_address() -> str:
    n = next(_addresses)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@pytest.fixture
def client(db_env) -> Iterator[TestClient]:
    with app_client(address=fresh_address()) as c:
        yield c


@pytest.fixture
def staff_headers(db_env) -> Callable[..., dict[str, str]]:
    """``staff_headers(Role.X, "110000")`` → Authorization headers for a fresh account."""
    from sscard.db.session import unit_of_work
    from tests.staff.factories import login_token, make_staff

    def make(role: Role = Role.COUNTER_CLERK, region_code: str = "110000") -> dict[str, str]:
        with unit_of_work() as uow:
            account = make_staff(uow, role=role, region_code=region_code)
            return {"Authorization": f"Bearer {login_token(uow, account)}"}

    return make
