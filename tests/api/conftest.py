"""API test fixtures: the real app on the test database (data is committed, so it is unique per test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from sscard.staff.roles import Role
from tests.conftest import app_client
from tests.credentials.query_password.conftest import fresh_address


@pytest.fixture
def client(db_env) -> Iterator[TestClient]:
    # An address of its own per test: failed logins are limited per source address.
    with app_client(address=fresh_address()) as c:
        yield c


@pytest.fixture
def staff_token(db_env) -> Callable[..., str]:
    """``staff_token(Role.X, "440300")`` → a bearer token for a fresh account with that role and region."""
    from sscard.db.session import unit_of_work
    from tests.staff.factories import login_token, make_staff

    def make(role: Role = Role.COUNTER_CLERK, region_code: str = "110000") -> str:
        with unit_of_work() as uow:
            account = make_staff(uow, role=role, region_code=region_code)
            return login_token(uow, account)

    return make


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
