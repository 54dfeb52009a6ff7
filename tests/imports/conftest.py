"""Helpers for import tests: disjoint synthetic people per test, CSV writing, counting what landed."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Engine, func, select

from sscard.identity.protected import ID_NUMBER
from sscard.imports.synthetic import synthetic_rows
from sscard.people.models import Person

# Tests that commit share the session's database: each takes its own block of synthetic people.
_BLOCKS = itertools.count(secrets.randbelow(100_000) * 1000, 1000)


def fresh_people(n: int) -> list[tuple[str, str, str, str]]:
    assert n <= 1000
    return list(synthetic_rows(n, start=next(_BLOCKS), seed=n))


def write_csv(path: Path, rows: Iterable[Iterable[str]], *, header: str = "id_number,name,phone,email") -> Path:
    lines = [header] + [",".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def count_present(engine: Engine, ids: Iterable[str], index=ID_NUMBER.index) -> int:
    keys = [index(i) for i in ids]
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Person).where(Person.id_number_bidx.in_(keys))) or 0)
