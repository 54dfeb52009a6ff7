"""FastAPI dependencies shared by every router.

Routes take the request's transaction as ``uow: UnitOfWork = TRANSACTION``. Its scope is
``"function"``: FastAPI runs the exit of a yield dependency (the commit) right after the route returns
and before the answer is sent. With the default ``"request"`` scope the exit runs after the answer has
gone out, so a client could be told 200 for a change that a crash or a failed commit then lost
(issue 16). ``tests/reliability/test_answer_after_commit.py`` walks every route to keep it so, and
``AnswerAfterCommitGuard`` refuses to start an answer while a request's transaction is still open.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request

from sscard.db.session import UnitOfWork, unit_of_work

#: Where a request's still-open units of work are listed (``AnswerAfterCommitGuard`` reads it).
OPEN_TRANSACTIONS = "sscard.open_transactions"


def get_uow(request: Request) -> Iterator[UnitOfWork]:
    """One transaction per request: committed when the route returns, rolled back on any error.

    A commit that fails raises, so the client gets an error answer (503 when the database is gone),
    never a success for a change that was not kept.
    """
    open_units: list[object] = request.scope.setdefault(OPEN_TRANSACTIONS, [])
    marker = object()
    open_units.append(marker)  # listed from before BEGIN until after COMMIT or ROLLBACK
    try:
        with unit_of_work() as uow:
            yield uow
    finally:
        open_units.remove(marker)


#: The request's transaction, committed before the answer is sent (see the module docstring).
TRANSACTION = Depends(get_uow, scope="function")
