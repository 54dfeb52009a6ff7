"""Statement test fixtures: the real app on the test database (data is committed, unique per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(db_env) -> Iterator[TestClient]:
    from tests.conftest import app_client
    from tests.credentials.query_password.conftest import fresh_address

    with app_client(address=fresh_address()) as c:
        yield c


@pytest.fixture(autouse=True)
def _notices_leave_the_outbox(request) -> Iterator[None]:
    """Committed statement notices are marked sent after each test: the outbox dispatcher tests of the
    shared database expect to find only their own messages pending."""
    if "db_env" not in request.fixturenames and "client" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("db_env")  # set up before this fixture, so torn down after it
    yield
    from sqlalchemy import update

    from sscard.db.session import unit_of_work
    from sscard.notify.models import MessageState, OutboxMessage
    from sscard.statements.service import NOTICE_TOPIC

    with unit_of_work() as uow:
        uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.topic == NOTICE_TOPIC, OutboxMessage.state == MessageState.PENDING)
            .values(state=MessageState.SENT)
        )
