"""A per-source limit on the 12345 hotline endpoints (CARD-5 loss reports, INS-5 voice queries).

Both need no password by rule, so the channel itself must stop one source from blocking cards (or
reading card states) by the thousand: every call from a source address is counted in a sliding window
(``SSCARD_HOTLINE_CALLS_PER_WINDOW`` per ``SSCARD_HOTLINE_WINDOW_SECONDS``); past it the source waits,
one minute at first, doubling up to an hour. Counted with the same atomic SQL counters as the portal's
per-source login throttle (QPW-7), in a unit of work the channel opens for it alone (``api/hotline.py``)
and commits even when the call is refused, so a call is counted even when the request then fails.
Addresses are personal data: only their keyed index is stored.
"""

from __future__ import annotations

from datetime import datetime

from sscard.audit import Actor, Channel, record_event
from sscard.cards.errors import HotlineThrottled
from sscard.config import get_settings
from sscard.credentials.query_password import throttle
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork

KIND = "hotline"  # the counter kind in the throttle table (next to "account" and "source")
WAIT_BASE_SECONDS = 60
WAIT_MAX_SECONDS = 3600
# The audit actor of everything that arrives through the 12345 hotline (callers are not identified).
HOTLINE_CALLER = Actor(kind="caller", id="hotline-12345", channel=Channel.HOTLINE, role="caller")


def admit_hotline_call(uow: UnitOfWork, *, source: str, action: str, now: datetime | None = None) -> None:
    """Count one hotline call from ``source``; ``HotlineThrottled`` (429) while the source must wait
    (the count and the audit entry are in ``uow``: the channel keeps them when it answers 429)."""
    now = now or utcnow()
    settings = get_settings()
    limits = throttle.Limits(
        free=settings.hotline_calls_per_window,
        base_seconds=WAIT_BASE_SECONDS,
        max_seconds=WAIT_MAX_SECONDS,
        window_seconds=settings.hotline_window_seconds,
    )
    key = throttle.source_key(source)
    # While the source waits its calls are refused, and not counted again (the wait would only grow).
    wait = throttle.wait_left(throttle.counter_row(uow, kind=KIND, key=key), now)
    if not wait:
        counted = throttle.count_failure(uow, kind=KIND, key=key, limits=limits, now=now)
        wait = counted.wait_seconds if counted is not None else 0
    if wait:
        record_event(uow, actor=HOTLINE_CALLER, action=action, subject="hotline", result="throttled",
                     details={"retry_after": wait})  # fmt: skip
        raise HotlineThrottled(retry_after=wait)
