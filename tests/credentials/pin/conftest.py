"""API fixtures for PIN tests: the real app on the test database, staff tokens, enrolled terminals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sscard.staff.roles import Role
from tests.conftest import app_client
from tests.credentials.query_password.conftest import fresh_address


@pytest.fixture
def client(db_env) -> Iterator[TestClient]:
    # An address of its own per test: refused terminal requests are limited per source address.
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


@pytest.fixture
def terminal(client, staff_headers) -> Callable[..., Any]:
    """``terminal("pharmacy", "110105")`` → a ``TerminalClient`` for a freshly enrolled terminal."""
    from sscard.db.session import unit_of_work
    from sscard.terminal.client import TerminalClient, enroll
    from tests.staff.factories import ensure_region

    def make(institution_type: str = "pharmacy", region_code: str = "110105") -> TerminalClient:
        with unit_of_work() as uow:
            ensure_region(uow, region_code)
        token = staff_headers(Role.SECURITY_OFFICER, region_code[:2] + "0000")["Authorization"].split()[1]
        profile = enroll(
            "http://testserver", staff_token=token, institution="仁和大药房", institution_type=institution_type,
            region_code=region_code, http=client,
        )  # fmt: skip
        return TerminalClient("http://testserver", profile, http=client)

    return make
