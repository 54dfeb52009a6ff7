"""Outbox test helpers: run the dispatcher inside the test's rolled-back unit of work."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from sscard.db.session import UnitOfWork


def same_uow(uow: UnitOfWork) -> Callable[[], AbstractContextManager[UnitOfWork]]:
    """A unit-of-work factory that reuses the test's uow; each block ends with a (savepoint) commit."""

    @contextmanager
    def factory() -> Iterator[UnitOfWork]:
        yield uow
        uow.commit()

    return factory


@pytest.fixture
def uow_factory(uow) -> Callable[[], AbstractContextManager[UnitOfWork]]:
    return same_uow(uow)
