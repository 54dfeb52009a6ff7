"""Terminal fixtures: the real app on the test database and terminals enrolled through the SDK.

Data is committed (the app opens its own transactions), so every test uses fresh terminals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.staff.roles import Role
from sscard.terminal import TerminalProfile, enroll
from tests.conftest import app_client
from tests.credentials.query_password.conftest import fresh_address

BASE = "http://testserver"
REGION = "440304"


@pytest.fixture
def client(db_env) -> Iterator[TestClient]:
    # An address of its own per test: refused requests are limited and summarised per source address.
    with app_client(address=fresh_address()) as c:
        yield c


@pytest.fixture
def staff_token(db_env) -> Callable[..., str]:
    """``staff_token(Role.X, "440000")`` → a bearer token for a fresh account (regions created as needed)."""
    from sscard.db.session import unit_of_work
    from tests.staff.factories import ensure_region, login_token, make_staff

    def make(role: Role = Role.SECURITY_OFFICER, region_code: str = "440000") -> str:
        with unit_of_work() as uow:
            ensure_region(uow, REGION)
            account = make_staff(uow, role=role, region_code=region_code)
            return login_token(uow, account)

    return make


@pytest.fixture
def enroll_terminal(client: TestClient, staff_token: Callable[..., str]) -> Callable[..., TerminalProfile]:
    """Enroll a fresh terminal through the SDK, over the app, exactly as a terminal would."""

    def make(institution: str = "测试大药房", institution_type: str = "pharmacy") -> TerminalProfile:
        return enroll(
            BASE, staff_token=staff_token(), institution=institution, institution_type=institution_type,
            region_code=REGION, http=client,
        )  # fmt: skip

    return make


def refusals(terminal_id: str) -> list[AuditEntry]:
    """The audited refusals of requests claiming to come from ``terminal_id``."""
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        return list(
            uow.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject == f"terminal:{terminal_id}", AuditEntry.action == "terminal.request.refused")
                .order_by(AuditEntry.id)
            )
        )


def assert_chain_ok() -> None:
    """rule CH-4: the hash chain still verifies after everything the test did."""
    from sscard.audit.service import verify_chain
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        report = verify_chain(uow)
    assert report.ok, report.problem
