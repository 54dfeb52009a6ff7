"""The options every PostgreSQL connection of the product sends (db/session.py)."""

from __future__ import annotations

import pytest

from sscard.config import DatabaseTimeouts
from sscard.db.session import _postgres_args


def test_the_operators_pgoptions_are_kept_beside_the_schema_and_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    # libpq ignores PGOPTIONS when a connection names options, and ours always do: they are carried over.
    monkeypatch.setenv("PGOPTIONS", "-c work_mem=64MB")
    url, args = _postgres_args("postgresql://u@h/db", "s1", DatabaseTimeouts(connect_s=3, statement_s=2.5))
    assert url == "postgresql+psycopg://u@h/db"
    assert args == {"options": "-c work_mem=64MB -csearch_path=s1 -cstatement_timeout=2500", "connect_timeout": 3}


def test_without_pgoptions_only_the_schema_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGOPTIONS", raising=False)
    assert _postgres_args("postgresql://u@h/db", "s1") == ("postgresql+psycopg://u@h/db", {"options": "-csearch_path=s1"})
    monkeypatch.setenv("PGOPTIONS", "  ")
    assert _postgres_args("postgresql://u@h/db", "") == ("postgresql+psycopg://u@h/db", {})
