"""FastAPI dependencies shared by every router."""

from __future__ import annotations

from collections.abc import Iterator

from sscard.db.session import UnitOfWork, unit_of_work


def get_uow() -> Iterator[UnitOfWork]:
    """One transaction per request: committed when the route returns, rolled back on any error."""
    with unit_of_work() as uow:
        yield uow
