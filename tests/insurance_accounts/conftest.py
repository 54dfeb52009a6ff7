"""Fixtures for the personal-account and discrepancy tests: the app, holder and staff sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from sscard.staff.roles import Role


@pytest.fixture
def client(db_env) -> Iterator[TestClient]:
    from tests.conftest import app_client
    from tests.credentials.query_password.conftest import fresh_address

    with app_client(address=fresh_address()) as c:
        yield c


@pytest.fixture
def staff_headers(db_env) -> Callable[..., dict[str, str]]:
    from sscard.db.session import unit_of_work
    from tests.staff.factories import login_token, make_staff

    def make(role: Role = Role.COUNTER_CLERK, region_code: str = "110000") -> dict[str, str]:
        with unit_of_work() as uow:
            account = make_staff(uow, role=role, region_code=region_code)
            return {"Authorization": f"Bearer {login_token(uow, account)}"}

    return make


def holder_headers(person_id: int) -> dict[str, str]:
    """A portal session whose initial password was already changed (QPW-2 passed)."""
    from sscard.credentials.query_password.sessions import open_session
    from sscard.db.base import utcnow
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        token, _, _ = open_session(uow, person_id=person_id, must_change=False, via_temporary=False, now=utcnow())
    return {"Authorization": f"Bearer {token}"}
