"""FastAPI dependencies shared by every router: the request's transaction.

Routes take it as ``uow: UnitOfWork = TRANSACTION``. It lives in ``sscard.web.transaction`` (the pages,
a layer below the API, open theirs the same way); see there for why its scope is ``"function"``.
Routes marked as reads also take ``reads: UnitOfWork = READS``: read-only, and on the replica
when one is configured (db/replica.py).
"""

from sscard.web.transaction import OPEN_TRANSACTIONS, READS, TRANSACTION, get_read_uow, get_uow

__all__ = ["OPEN_TRANSACTIONS", "READS", "TRANSACTION", "get_read_uow", "get_uow"]
