"""Key-management operations audited when refused (CH-4), for every channel: the console pages, and
the API and the CLI through ``sscard.api.refusals`` (``sscard.web`` may not import ``sscard.api``).

    with refusals_audited(uow, actor=actor, action="carrier.deploy", subject=f"carrier:{cid}"):
        deploy_carrier(uow, carrier_id=cid, ..., actor=actor)

On a ``DomainError`` the block rolls the unit of work back (nothing of the refused operation
remains), writes the refusal (``key_register.refusals.record_refusal``), commits that early
(``Why.REFUSAL_AUDITED``) and re-raises for the channel to answer. No FastAPI here: the CLI uses it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sscard.audit import Actor
from sscard.db.early_commit import Why, commit_early_on
from sscard.db.session import UnitOfWork
from sscard.errors import DomainError
from sscard.key_register.refusals import record_refusal


@contextmanager
def refusals_audited(
    uow: UnitOfWork, *, actor: Actor, action: str, subject: str, details: dict[str, Any] | None = None
) -> Iterator[None]:
    """Run a key-management operation; on a domain error, roll back, audit the refusal, commit, re-raise."""

    def record(error: BaseException) -> None:
        record_refusal(uow, cast(DomainError, error), actor=actor, action=action, subject=subject, details=details)

    with commit_early_on(uow, DomainError, why=Why.REFUSAL_AUDITED, rollback_first=True, then=record):
        yield
