"""API fixtures for the card and person channels: the real app on the test database."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from sscard.staff.roles import Role
from tests.conftest import app_client


@pytest.fixture
def client(db_env) -> Iterator[TestClient]:
    with app_client() as c:
        yield c


@pytest.fixture
def staff_headers(db_env) -> Callable[..., dict[str, str]]:
    """``staff_headers(Role.X, "110000")`` → Authorization headers for a fresh account."""
    from sscard.db.session import unit_of_work
    from tests.staff.factories import login_token, make_staff

    def make(
        role: Role = Role.COUNTER_CLERK, region_code: str = "110000", bank_code: str | None = None
    ) -> dict[str, str]:
        with unit_of_work() as uow:
            account = make_staff(uow, role=role, region_code=region_code, bank_code=bank_code)
            return {"Authorization": f"Bearer {login_token(uow, account)}"}

    return make
