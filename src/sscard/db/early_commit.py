"""Early commits: the one way a unit of work commits before the channel that owns it ends it.

The channel owns the transaction: a route takes ``uow = TRANSACTION`` (``api/deps.py``), a CLI command
or a job step opens ``with unit_of_work() as uow:``; the unit of work commits once, when that ends
without an error, and rolls back when it ends with one. Domain code only flushes: it never commits
and never opens a unit of work of its own (``tests/architecture/test_transactions.py`` checks both).

A few facts must be durable although the request then fails or goes on (its error rolls back
everything else). Only those commit early, only from a channel, and only through this module, with
the reason named:

- ``NONCE_SPENT``: a signed terminal request is single-use whatever its route then does (CH-3);
- ``FAILURE_COUNTED``: a wrong password, PIN or one-time code, or a throttled call, is counted
  (and its lock and audit entry kept) although the answer is an error (QPW-7, PIN lockout);
- ``REFUSAL_AUDITED``: the audit entry of a refused operation outlives the rollback of the
  operation (CH-4);
- ``BEFORE_EFFECT``: what an effect that cannot be undone depends on is durable before the effect
  leaves the process (a terminal key exported only once its registration is committed; a captcha
  guess spent before its answer is given).

``commit_early`` commits now and runs the after-commit hooks; ``commit_early_on`` does it when one of
the listed errors leaves the block, then lets the error through to be answered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum

from sscard.db.session import UnitOfWork


class Why(StrEnum):
    """The reasons a unit of work may commit before its channel ends it (see the module docstring)."""

    NONCE_SPENT = "nonce_spent"
    FAILURE_COUNTED = "failure_counted"
    REFUSAL_AUDITED = "refusal_audited"
    BEFORE_EFFECT = "before_effect"


def commit_early(uow: UnitOfWork, *, why: Why) -> None:
    """Commit what the unit of work holds now (then its after-commit hooks); it stays open for more."""
    if not isinstance(why, Why):  # the reason is the point: no commit without one of the listed reasons
        raise TypeError(f"commit_early needs a Why, not {why!r}")
    uow.commit()


@contextmanager
def commit_early_on(
    uow: UnitOfWork,
    *errors: type[BaseException],
    why: Why,
    rollback_first: bool = False,
    then: Callable[[BaseException], None] | None = None,
) -> Iterator[None]:
    """Commit early when one of ``errors`` leaves the block, then re-raise it.

    ``rollback_first`` drops what the block did before (a refused operation leaves nothing); ``then``
    writes what must remain of the error (its audit entry) before the commit.
    """
    try:
        yield
    except errors as exc:
        if rollback_first:
            uow.rollback()
        if then is not None:
            then(exc)
        commit_early(uow, why=why)
        raise
