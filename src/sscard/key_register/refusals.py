"""Refusals are audited too (CH-4): what a refused operation leaves behind.

``record_refusal`` writes, after the refused operation was rolled back, one audit entry with
``result="refused"`` and the error's code. An error may also leave a trace of its own after the
rollback through an ``after_rollback(uow)`` method: a device refused for a lapsed certificate is
blocked and alerted that way (KEY-4), whatever the refused operation was.

Every channel (the API, the console pages, the CLI) runs the operation inside
``sscard.web.refusals.refusals_audited``, which rolls back, calls this and commits early
(``Why.REFUSAL_AUDITED``) before the error is answered.
"""

from __future__ import annotations

from typing import Any

from sscard.audit import Actor, record_event
from sscard.db.session import UnitOfWork
from sscard.errors import DomainError


def record_refusal(
    uow: UnitOfWork,
    error: DomainError,
    *,
    actor: Actor,
    action: str,
    subject: str,
    details: dict[str, Any] | None = None,
) -> None:
    """The refused operation's own trace (``after_rollback``) and its audit entry; no commit."""
    hook = getattr(error, "after_rollback", None)
    if callable(hook):
        hook(uow)
    record_event(
        uow,
        actor=actor,
        action=action,
        subject=subject,
        result="refused",
        details={**(details or {}), "code": error.code, "reason": error.detail[:200]},
    )
