"""Prebuilt statements run on psycopg itself, for the one batch that runs on every terminal PIN check.

Why: a group-commit batch (``credentials/pin/batch_verify.py``) runs a handful of prebuilt statements
whatever its size, so what it costs is per statement, not per row, and SQLAlchemy's execution and
result machinery (plus the greenlet bridge to the asyncio driver) measured about 1 ms of CPU a batch,
as much as the statements themselves. On the driver the batch can also use psycopg's pipeline mode:
statements that do not depend on each other's results travel in one round trip.

The SQL is still the Core statement's own, compiled once for the engine's dialect, so the tables'
definitions stay in one place; the rows come back as named tuples with each column processed by its
SQLAlchemy type (an enum column gives the enum, a UTC timestamp the aware datetime), as a SQLAlchemy
``Row`` would give them.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.sql import ClauseElement


class DriverStatement:
    """A Core ``select`` compiled for ``dialect`` (a psycopg dialect): its SQL with ``%(name)s``
    parameters, and its rows as named tuples processed by the columns' types. Statements whose rows
    need no processing (``text``) only need ``.sql``."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        self.sql = statement.compile(dialect=dialect).string
        columns = list(getattr(statement, "selected_columns", ()))
        self._row_type: Callable[..., Any] = namedtuple("Row", [c.key for c in columns], rename=True)  # type: ignore[misc]
        self._processors = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        self._plain = not any(self._processors)

    def rows(self, raw: Iterable[tuple[Any, ...]]) -> list[Any]:
        """The driver's rows as named tuples, each column processed by its type."""
        row_type = self._row_type
        if self._plain:
            return [row_type(*values) for values in raw]
        processors = self._processors
        return [
            row_type(*(p(v) if p is not None else v for p, v in zip(processors, values, strict=True))) for values in raw
        ]


def compiled(statements: Mapping[str, ClauseElement], dialect: Dialect) -> dict[str, DriverStatement]:
    """Each of ``statements`` compiled for ``dialect``, by name."""
    return {name: DriverStatement(statement, dialect) for name, statement in statements.items()}
