"""Page fixtures: the real app on the test database, each client from its own address (QPW-7 throttles)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import app_client
from tests.credentials.query_password.conftest import fresh_address

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


TOKENS = re.compile(r'(name="(?:csrf_token|form_token)" value=")[^"]*"')


def without_tokens(html: str) -> str:
    """The page without its forms' CSRF and one-time form tokens (fresh at each rendering)."""
    return TOKENS.sub(r'\1"', html)


@pytest.fixture
def browser(db_env) -> Iterator[TestClient]:
    """A client that keeps cookies like a browser (plain http: no Secure flag in test mode)."""
    with app_client(address=fresh_address()) as c:
        c.follow_redirects = False
        yield c
