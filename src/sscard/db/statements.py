"""Prebuilt statements that differ by backend (the hot paths build them once per dialect)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute

from sscard.db.session import UnitOfWork

DIALECTS = ("postgresql", "sqlite")
S = TypeVar("S")


def member_of(column: ColumnElement[Any] | QueryableAttribute[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the list bound as ``name``.

    On PostgreSQL ``= ANY(array)``: one statement text whatever the list's length, so it is prepared
    once and never re-rendered (an expanding ``IN`` is rendered anew for every execution and gives a
    new statement per length). ``IN (…)`` elsewhere.
    """
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def per_dialect(build: Callable[[str], S]) -> dict[str, S]:
    """``build(dialect)`` for every supported backend, keyed by dialect name."""
    return {dialect: build(dialect) for dialect in DIALECTS}


def dialect_of(uow: UnitOfWork) -> str:
    return uow.session.get_bind().dialect.name


def upsert(uow: UnitOfWork, table: Table) -> Any:
    """``INSERT`` into ``table`` with ``ON CONFLICT`` for the session's backend (PostgreSQL, SQLite ≥ 3.35)."""
    name = dialect_of(uow)
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no atomic upsert for {name}")  # pragma: no cover - two backends only
