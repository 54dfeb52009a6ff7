"""The real senders behind the outbox: a failed SMTP send is retried and the message is never lost."""

from __future__ import annotations

from datetime import timedelta

from sscard.db.base import utcnow
from sscard.db.session import unit_of_work
from sscard.notify import dispatch_pending, enqueue
from sscard.notify.models import MessageState, OutboxMessage
from sscard.notify.registry import SenderRegistry
from sscard.notify.senders import FileSmsSink, SenderSettings, SmtpSender


def _registry(smtp_server, tmp_path) -> SenderRegistry:
    settings = SenderSettings(smtp_host=smtp_server.host, smtp_port=smtp_server.port, sms_sink_dir=tmp_path)
    return SenderRegistry({"email": SmtpSender(settings), "sms": FileSmsSink(settings)})


# rule CH-5: a refused attempt (451) stays pending with a back-off and is delivered on the next round
def test_retry_until_delivered(db_env, smtp_server, tmp_path) -> None:
    registry = _registry(smtp_server, tmp_path)
    address = f"retry-{tmp_path.name}@example.com"
    with unit_of_work() as uow:
        message_id = enqueue(uow, channel="email", topic="test.retry", body="【社保查询】测试", recipient=address).id
    smtp_server.fail_next_for[address] = 1  # only this message: others pending in the database go through
    now = utcnow()
    dispatch_pending(registry=registry, now=now)
    with unit_of_work() as uow:
        row = uow.session.get(OutboxMessage, message_id)
        assert row.state is MessageState.PENDING and row.attempts == 1 and "451" in (row.last_error or "")
        assert row.next_attempt_at > now
    assert smtp_server.mail_to(address) == []
    dispatch_pending(registry=registry, now=now + timedelta(minutes=1))
    with unit_of_work() as uow:
        row = uow.session.get(OutboxMessage, message_id)
        assert row.state is MessageState.SENT and row.attempts == 2
    [mail] = smtp_server.mail_to(address)
    assert mail.get_content().strip() == "【社保查询】测试"


# rule CH-5: SMS without a gateway lands in the local file sink (the embedded default)
def test_sms_to_file_sink(db_env, smtp_server, tmp_path) -> None:
    registry = _registry(smtp_server, tmp_path)
    with unit_of_work() as uow:
        enqueue(uow, channel="sms", topic="test.sms", body="【社保查询】短信", recipient="13700001111")
    dispatch_pending(registry=registry, now=utcnow())
    assert "13700001111" in (tmp_path / "sms.jsonl").read_text(encoding="utf-8")
