"""The dispatcher: sends after commit, retries with back-off, never drops a message."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from sscard.audit.models import AuditEntry
from sscard.audit.service import verify_chain
from sscard.db.base import utcnow
from sscard.notify import MessageState, OutboxMessage, dispatch_pending, enqueue
from sscard.notify.department import DepartmentFileSink
from sscard.notify.dispatcher import LEASE, _claim, backoff
from sscard.notify.registry import SenderRegistry
from sscard.notify.senders.base import Delivery, SendFailed


class Recorder:
    """A sender that keeps what it was given. ``fail`` maps a message uid to errors to raise on its next
    attempts (per message: other tests' committed messages may be dispatched in the same round)."""

    def __init__(self, channel: str = "department", fail: dict[str, list[Exception]] | None = None) -> None:
        self.channel = channel
        self.sent: list[Delivery] = []
        self.fail = {uid: list(errors) for uid, errors in (fail or {}).items()}
        self.lock = threading.Lock()

    def send(self, delivery: Delivery) -> None:
        with self.lock:
            errors = self.fail.get(delivery.message_id)
            if errors:
                raise errors.pop(0)
            self.sent.append(delivery)


def _dept(uow, topic: str = "test.dispatch"):
    return enqueue(uow, channel="department", topic=topic, subject="主题", body="正文", department_code="110000")


def _reload(uow, msg_id: int) -> OutboxMessage:
    uow.session.expire_all()
    row = uow.session.get(OutboxMessage, msg_id)
    assert row is not None
    return row


def test_backoff_doubles_and_caps() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(30) == timedelta(hours=1)


def test_sends_and_marks_sent_with_audit(uow, uow_factory) -> None:
    msg = _dept(uow)
    rec = Recorder()
    report = dispatch_pending(registry=SenderRegistry({"department": rec}), uow_factory=uow_factory)
    assert report.sent >= 1 and msg.uid in [d.message_id for d in rec.sent]
    delivered = next(d for d in rec.sent if d.message_id == msg.uid)
    assert (delivered.to, delivered.subject, delivered.body) == ("110000", "主题", "正文")
    row = _reload(uow, msg.id)
    assert row.state is MessageState.SENT and row.attempts == 1 and row.sent_at is not None
    entry = uow.session.scalar(select(AuditEntry).where(AuditEntry.subject == f"outbox:{msg.id}"))
    assert entry is not None and entry.result == "sent"
    assert verify_chain(uow).ok


def test_temporary_failure_retries_with_backoff(uow, uow_factory) -> None:
    msg = _dept(uow)
    rec = Recorder(fail={msg.uid: [SendFailed("SMTP 451")]})
    registry = SenderRegistry({"department": rec})
    t0 = utcnow()
    dispatch_pending(registry=registry, uow_factory=uow_factory, now=t0)
    row = _reload(uow, msg.id)
    assert row.state is MessageState.PENDING and row.attempts == 1 and row.last_error == "SMTP 451"
    assert row.next_attempt_at >= t0 + timedelta(seconds=29)
    # Not due yet: not tried again (other tests' committed messages in the shared database may be due).
    dispatch_pending(registry=registry, uow_factory=uow_factory, now=t0 + timedelta(seconds=5))
    assert _reload(uow, msg.id).attempts == 1
    dispatch_pending(registry=registry, uow_factory=uow_factory, now=row.next_attempt_at)
    row = _reload(uow, msg.id)
    assert row.state is MessageState.SENT and row.attempts == 2 and row.last_error is None


def test_permanent_failure_and_exhaustion_keep_the_message(uow, uow_factory) -> None:
    permanent = _dept(uow, "test.permanent")
    rec = Recorder(fail={permanent.uid: [SendFailed("refused", permanent=True)]})
    dispatch_pending(registry=SenderRegistry({"department": rec}), uow_factory=uow_factory)
    row = _reload(uow, permanent.id)
    assert row.state is MessageState.FAILED and row.last_error == "refused"

    exhausted = _dept(uow, "test.exhausted")
    broken = Recorder(fail={exhausted.uid: [RuntimeError("secret body 13812345678")] * 3})
    registry = SenderRegistry({"department": broken})
    now = utcnow()
    for _ in range(3):
        dispatch_pending(registry=registry, uow_factory=uow_factory, now=now, max_attempts=3)
        now += timedelta(hours=2)
    row = _reload(uow, exhausted.id)
    assert row.state is MessageState.FAILED and row.attempts == 3
    assert row.last_error == "sender error: RuntimeError"  # never the exception's text


def test_no_sender_for_channel_keeps_it_pending(uow, uow_factory) -> None:
    msg = enqueue(uow, channel="sms", topic="test.nosender", body="b", recipient="13812345678")
    dispatch_pending(registry=SenderRegistry({}), uow_factory=uow_factory)
    row = _reload(uow, msg.id)
    assert row.state is MessageState.PENDING and "no sender" in (row.last_error or "")


def test_crash_after_send_resends_never_drops(uow, uow_factory) -> None:
    """At-least-once: a lease claimed by a dispatcher that died is sent again after it runs out."""
    msg = _dept(uow, "test.crash")
    t0 = utcnow()
    with uow_factory() as u:
        claims = _claim(u, now=t0, limit=1000)
    assert msg.id in [c.id for c in claims]  # ... and the process dies here, before recording
    rec = Recorder()
    registry = SenderRegistry({"department": rec})
    dispatch_pending(registry=registry, uow_factory=uow_factory, now=t0 + timedelta(seconds=10))
    assert msg.uid not in [d.message_id for d in rec.sent]  # still leased: not doubled
    dispatch_pending(registry=registry, uow_factory=uow_factory, now=t0 + LEASE)
    row = _reload(uow, msg.id)
    assert msg.uid in [d.message_id for d in rec.sent] and row.state is MessageState.SENT and row.attempts == 2


def test_department_file_sink(tmp_path) -> None:
    sink = DepartmentFileSink(tmp_path)
    sink.send(Delivery("u1", "department", "000000", "事件", "正文"))
    [line] = sink.read_all()
    assert line["department"] == "000000" and line["body"] == "正文"
    assert (sink.path.stat().st_mode & 0o777) == 0o600
    assert json.loads(sink.path.read_text(encoding="utf-8").splitlines()[0])["id"] == "u1"


def test_two_dispatchers_send_each_message_once(db_env) -> None:
    """Concurrent dispatchers on a real database: the conditional claim gives each message to one."""
    from sscard.db.session import unit_of_work

    topic = f"test.concurrent.{utcnow().timestamp()}"
    with unit_of_work() as uow:
        ids = [_dept(uow, topic).uid for _ in range(30)]
    rec = Recorder()
    registry = SenderRegistry({"department": rec})
    errors: list[BaseException] = []

    def run() -> None:
        try:
            dispatch_pending(registry=registry, limit=1000)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    sent = [d.message_id for d in rec.sent if d.message_id in ids]
    assert sorted(sent) == sorted(ids)  # each exactly once
    with unit_of_work() as uow:
        states = set(uow.session.scalars(select(OutboxMessage.state).where(OutboxMessage.topic == topic)))
    assert states == {MessageState.SENT}


@pytest.mark.parametrize("channel", ["department"])
def test_default_registry_has_the_embedded_department_sink(channel) -> None:
    from sscard.notify.registry import default_registry

    registry = default_registry()
    assert isinstance(registry.get(channel), DepartmentFileSink)
    assert {"email", "sms", "department"} <= set(registry.channels())
