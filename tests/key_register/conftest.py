"""Fixtures for the key-management tests: a security officer and a key custodian in one district."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from sscard.audit import Actor
from sscard.staff.roles import Role
from tests.conftest import app_client
from tests.key_register.factories import staff_actor


@pytest.fixture
def officer(uow) -> Actor:
    return staff_actor(uow, Role.SECURITY_OFFICER)


@pytest.fixture
def custodian(uow) -> Actor:
    return staff_actor(uow, Role.KEY_CUSTODIAN)


@pytest.fixture
def stranger(uow) -> Actor:
    """A security officer of another province."""
    return staff_actor(uow, Role.SECURITY_OFFICER, region_code="310104")


@dataclass
class Staff:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def client(db_env) -> Iterator[TestClient]:
    with app_client() as c:
        yield c


@pytest.fixture
def login(db_env) -> Callable[..., Staff]:
    """``login(Role.X, "110105")`` → a fresh staff account with that role and region, signed in."""
    from sscard.db.session import unit_of_work
    from tests.staff.factories import login_token, make_staff

    def make(role: Role = Role.SECURITY_OFFICER, region_code: str = "110105") -> Staff:
        with unit_of_work() as uow:
            account = make_staff(uow, role=role, region_code=region_code)
            return Staff(account.username, login_token(uow, account))

    return make
