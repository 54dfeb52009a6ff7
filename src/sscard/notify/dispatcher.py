"""Send committed outbox messages, with retries and back-off, without ever losing one.

Each round has three short transactions and no transaction is open while a sender talks to the
outside world:

1. claim — one conditional ``UPDATE … RETURNING`` leases the due messages (``next_attempt_at`` moves
   one lease ahead, ``attempts`` + 1) and commits, so a second dispatcher skips them;
2. send — outside any transaction;
3. record — ``sent``, or back to ``pending`` with the next attempt after an exponential back-off, or
   ``failed`` after a permanent refusal or the last attempt (kept and re-queueable).

Delivery is at-least-once: if the process dies between a successful send and step 3, the lease runs
out and the message is sent again. It is never dropped. Receivers can deduplicate by the message
``uid`` (sent as the SMS gateway's idempotency key and in the e-mail Message-ID).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork, unit_of_work
from sscard.notify.models import MessageState, OutboxMessage
from sscard.notify.outbox import open_body, open_recipient
from sscard.notify.registry import SenderRegistry, get_registry
from sscard.notify.senders.base import Delivery, SendFailed

log = structlog.get_logger("sscard.notify")

LEASE = timedelta(minutes=5)  # longer than any sender's timeout, so a live attempt is never doubled
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
MAX_ATTEMPTS = 12  # 30 s, 1, 2, 4 … 32 min, then hourly: about six hours before a message is "failed"

UowFactory = Callable[[], AbstractContextManager[UnitOfWork]]


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: doubling from 30 s, capped at one hour."""
    return min(BASE_DELAY * (2 ** max(0, attempts - 1)), MAX_DELAY)


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Claim:
    id: int
    attempts: int
    channel: str
    topic: str
    delivery: Delivery | None  # None when the sealed content could not be opened


def dispatch_pending(
    *,
    registry: SenderRegistry | None = None,
    now: datetime | None = None,
    limit: int = 100,
    max_attempts: int = MAX_ATTEMPTS,
    uow_factory: UowFactory | None = None,
) -> DispatchReport:
    """Send up to ``limit`` due messages; each outcome is recorded and audited in its own transaction."""
    registry = registry or get_registry()
    factory: UowFactory = uow_factory or unit_of_work
    now = now or utcnow()
    report = DispatchReport()
    with factory() as uow:
        claims = _claim(uow, now=now, limit=limit)
    report.claimed = len(claims)
    for claim in claims:
        error = _send(registry, claim)
        with factory() as uow:
            outcome = _record(uow, claim, error, now=utcnow(), max_attempts=max_attempts)
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _claim(uow: UnitOfWork, *, now: datetime, limit: int) -> list[_Claim]:
    due = list(
        uow.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.state == MessageState.PENDING, OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
    )
    if not due:
        return []
    # The WHERE repeats the due condition: a concurrent dispatcher that leased a row first wins it.
    claimed = uow.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(due),
            OutboxMessage.state == MessageState.PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + LEASE, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id, OutboxMessage.attempts)
    ).all()
    attempts = dict(claimed)
    claims = []
    for message in uow.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(list(attempts)))):
        try:
            delivery: Delivery | None = Delivery(
                message_id=message.uid,
                channel=message.channel.value,
                to=open_recipient(message),
                subject=message.subject,
                body=open_body(message),
            )
        except Exception:  # noqa: BLE001 - a row that cannot be opened is failed below, not fatal
            delivery = None
        claims.append(_Claim(message.id, attempts[message.id], message.channel.value, message.topic, delivery))
    claims.sort(key=lambda c: c.id)
    return claims


def _send(registry: SenderRegistry, claim: _Claim) -> SendFailed | None:
    if claim.delivery is None:
        return SendFailed("sealed content could not be opened (wrong key?)", permanent=True)
    sender = registry.get(claim.channel)
    if sender is None:
        return SendFailed(f"no sender registered for channel {claim.channel}")
    try:
        sender.send(claim.delivery)
    except SendFailed as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a faulty sender must not stop the others; retried later
        # Only the type: an exception's text may carry the address or the body.
        return SendFailed(f"sender error: {type(exc).__name__}")
    return None


def _record(uow: UnitOfWork, claim: _Claim, error: SendFailed | None, *, now: datetime, max_attempts: int) -> str:
    row = OutboxMessage.id == claim.id
    if error is None:
        uow.session.execute(
            update(OutboxMessage)
            .where(row, OutboxMessage.state == MessageState.PENDING)
            .values(state=MessageState.SENT, sent_at=now, last_error=None)
        )
        outcome, result = "sent", "sent"
    else:
        final = error.permanent or claim.attempts >= max_attempts
        values: dict[str, object] = {"last_error": error.reason[:200]}
        if final:
            values["state"] = MessageState.FAILED
        else:
            values["next_attempt_at"] = now + backoff(claim.attempts)
        # Only while our lease stands: if it ran out and another dispatcher took over, its outcome rules.
        uow.session.execute(
            update(OutboxMessage)
            .where(row, OutboxMessage.state == MessageState.PENDING, OutboxMessage.attempts == claim.attempts)
            .values(**values)
        )
        outcome, result = ("failed", "failed") if final else ("retried", "retry")
        log.warning("notify.send_failed", message=claim.id, channel=claim.channel, reason=error.reason, final=final)
    record_event(
        uow,
        actor=Actor.system(),
        action="notify.send",
        subject=f"outbox:{claim.id}",
        result=result,
        details={
            "channel": claim.channel,
            "topic": claim.topic,
            "attempt": claim.attempts,
            **({"reason": error.reason[:200]} if error else {}),
        },
    )
    return outcome


# --- the in-process loop ---------------------------------------------------------------------------

_wake = threading.Event()


def wake() -> None:
    """Tell a running loop that new messages were committed (called after every commit that queued one)."""
    _wake.set()


def run_loop(
    *, stop: threading.Event, interval: float = 5.0, registry: SenderRegistry | None = None, limit: int = 100
) -> None:
    """Dispatch until ``stop`` is set: at once when woken, otherwise every ``interval`` seconds."""
    while not stop.is_set():
        try:
            report = dispatch_pending(registry=registry, limit=limit)
        except Exception:  # noqa: BLE001 - the database may be briefly away; try again next round
            log.exception("notify.dispatch_round_failed")
            report = DispatchReport()
        if report.claimed >= limit:
            continue  # a backlog: keep going without waiting
        _wake.wait(interval)
        _wake.clear()


@contextmanager
def background_dispatcher(*, interval: float = 5.0) -> Iterator[threading.Thread]:
    """Run ``run_loop`` in a daemon thread for the lifetime of the block (e.g. the API server's)."""
    stop = threading.Event()
    thread = threading.Thread(target=run_loop, kwargs={"stop": stop, "interval": interval}, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        wake()
        thread.join(timeout=interval + 10)
