"""The request's transaction, shared by the API routers (``sscard.api.deps``) and the pages.

Routes take the request's transaction as ``uow: UnitOfWork = TRANSACTION``. Its scope is
``"function"``: FastAPI runs the exit of a yield dependency (the commit) right after the route returns
and before the answer is sent. With the default ``"request"`` scope the exit runs after the answer has
gone out, so a client could be told 200 for a change that a crash or a failed commit then lost
(issue 16). ``tests/reliability/test_answer_after_commit.py`` walks every route to keep it so, and
``AnswerAfterCommitGuard`` refuses to start an answer while a request's transaction is still open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from fastapi import Depends, Request

from sscard.db.replica import read_unit_of_work
from sscard.db.session import UnitOfWork, unit_of_work

#: Where a request's still-open units of work are listed (``AnswerAfterCommitGuard`` reads it).
OPEN_TRANSACTIONS = "sscard.open_transactions"


def get_uow(request: Request) -> Iterator[UnitOfWork]:
    """One transaction per request: committed when the route returns, rolled back on any error.

    A commit that fails raises, so the client gets an error answer (503 when the database is gone),
    never a success for a change that was not kept.
    """
    yield from _listed(request, unit_of_work)


def get_read_uow(request: Request, uow: UnitOfWork = Depends(get_uow, scope="function")) -> Iterator[UnitOfWork]:
    """A read-only transaction for a route marked as a read (db/replica.py): the replica's when one is
    configured and answers, else the request's own transaction (one primary connection per request).

    Only for what someone else wrote or the caller wrote well before; the route's session check and its
    audit entries stay on ``TRANSACTION`` (the primary), as does any read of the caller's own fresh write.
    """
    yield from _listed(request, lambda: read_unit_of_work(primary=uow))


def _listed(request: Request, open_unit: Callable[[], AbstractContextManager[UnitOfWork]]) -> Iterator[UnitOfWork]:
    open_units: list[object] = request.scope.setdefault(OPEN_TRANSACTIONS, [])
    marker = object()
    open_units.append(marker)  # listed from before BEGIN until after COMMIT or ROLLBACK
    try:
        with open_unit() as uow:
            yield uow
    finally:
        open_units.remove(marker)


#: The request's transaction, committed before the answer is sent (see the module docstring).
TRANSACTION = Depends(get_uow, scope="function")
#: The read-only transaction of a route marked as a read (see ``get_read_uow``).
READS = Depends(get_read_uow, scope="function")
