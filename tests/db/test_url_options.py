"""Server options an operator writes into the PostgreSQL URL reach the server beside the schema and timeouts.

``SSCARD_DATABASE_URL=postgresql://…?options=-c%20lock_timeout%3D2s`` is how libpq URLs carry server
settings; the engine adds its own ``options`` (the schema's search path, the statement timeout), and
before this was fixed those replaced the URL's without a word.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text

from sscard.config import DatabaseTimeouts
from sscard.db.session import build_engine

postgresql_only = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


def _shown(url: str, schema: str, timeouts: DatabaseTimeouts | None, *names: str) -> dict[str, Any]:
    engine = build_engine(url, schema=schema, timeouts=timeouts)
    try:
        with engine.connect() as conn:
            return {name: conn.execute(text(f"SHOW {name}")).scalar_one() for name in names}
    finally:
        engine.dispose()


@postgresql_only
def test_the_urls_options_are_kept_with_the_schema_and_timeouts(db: Any) -> None:
    options = quote("-c lock_timeout=1234 -c application_name=sscard-ops", safe="")
    url = f"{db.url}?options={options}"
    shown = _shown(
        url, db.schema, DatabaseTimeouts(connect_s=3, statement_s=4.5),
        "lock_timeout", "application_name", "search_path", "statement_timeout",
    )  # fmt: skip
    assert shown == {
        "lock_timeout": "1234ms",
        "application_name": "sscard-ops",
        "search_path": db.schema,
        "statement_timeout": "4500ms",
    }


@postgresql_only
def test_on_the_same_parameter_the_configured_schema_and_timeout_win(db: Any) -> None:
    options = quote("-c search_path=public -c statement_timeout=1", safe="")
    shown = _shown(
        f"{db.url}?options={options}", db.schema, DatabaseTimeouts(connect_s=3, statement_s=2),
        "search_path", "statement_timeout",
    )  # fmt: skip
    assert shown == {"search_path": db.schema, "statement_timeout": "2s"}


@postgresql_only
def test_other_query_parameters_stay_in_the_url(db: Any) -> None:
    shown = _shown(f"{db.url}?application_name=from-query&options=-cwork_mem%3D5MB", db.schema, None,
                   "application_name", "work_mem")  # fmt: skip
    assert shown == {"application_name": "from-query", "work_mem": "5MB"}


@postgresql_only
def test_an_unbounded_engine_is_not_cut_short_by_the_urls_statement_timeout(db: Any) -> None:
    """Migrations build their engine without timeouts: a long DDL statement may run as long as it needs."""
    options = quote("-c statement_timeout=1 -c lock_timeout=2500", safe="")
    shown = _shown(f"{db.url}?options={options}", db.schema, None, "statement_timeout", "lock_timeout")
    assert shown == {"statement_timeout": "0", "lock_timeout": "2500ms"}


@pytest.mark.parametrize("options", ["-cwork_mem%3D5MB%5C", "-capplication_name%3Dx%5C%5C%5C"])
def test_options_ending_in_a_lone_backslash_are_refused(options: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """libpq would read it as escaping the space before the search path and timeouts added after it."""
    from pydantic import ValidationError

    from sscard.config import Settings

    monkeypatch.setenv("SSCARD_DATABASE_URL", f"postgresql://u@127.0.0.1/db?options={options}")
    with pytest.raises(ValidationError, match="lone backslash"):
        Settings()
    monkeypatch.setenv("SSCARD_DATABASE_URL", f"postgresql://u@127.0.0.1/db?options={options}%5C")  # escaped: fine
    assert Settings().database_url.endswith("%5C")
