"""Refusals are audited too (CH-4), in their own transaction so that they survive the rollback.

    with refusals_audited(uow, actor=actor, action="carrier.deploy", subject=f"carrier:{cid}"):
        deploy_carrier(uow, carrier_id=cid, ..., actor=actor)

On a ``DomainError`` the block rolls the unit of work back (nothing of the refused operation
remains), writes one audit entry with ``result="refused"`` and the error's code, commits that, and
re-raises for the API or CLI to answer. An error may also leave a trace of its own after the
rollback through an ``after_rollback(uow)`` method: a device refused for a lapsed certificate is
blocked and alerted that way (KEY-4), whatever the refused operation was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sscard.audit import Actor, record_event
from sscard.db.session import UnitOfWork
from sscard.errors import DomainError


@contextmanager
def refusals_audited(
    uow: UnitOfWork, *, actor: Actor, action: str, subject: str, details: dict[str, Any] | None = None
) -> Iterator[None]:
    """Run a key-management operation; on a domain error, roll back, audit the refusal, commit, re-raise."""
    try:
        yield
    except DomainError as exc:
        uow.rollback()
        hook = getattr(exc, "after_rollback", None)
        if callable(hook):
            hook(uow)
        record_event(
            uow,
            actor=actor,
            action=action,
            subject=subject,
            result="refused",
            details={**(details or {}), "code": exc.code, "reason": exc.detail[:200]},
        )
        uow.commit()
        raise
