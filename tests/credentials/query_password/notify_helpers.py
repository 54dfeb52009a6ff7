"""Wire the outbox to the local test SMTP server and deliver what is pending, for end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from sscard.notify import dispatch_pending
from sscard.notify.models import OutboxMessage
from sscard.notify.registry import SenderRegistry, set_registry
from sscard.notify.senders import FileSmsSink, SenderSettings, SmtpSender


def use_smtp(monkeypatch: pytest.MonkeyPatch, server, sms_dir: Path | None = None) -> SenderSettings:
    """Send e-mail to ``server`` (aiosmtpd on 127.0.0.1) and SMS to a file sink, until the test ends."""
    settings = SenderSettings(
        smtp_host=server.host, smtp_port=server.port, smtp_timeout_seconds=5, sms_sink_dir=sms_dir
    )
    registry = SenderRegistry({"email": SmtpSender(settings), "sms": FileSmsSink(settings)})
    set_registry(registry)
    monkeypatch.setattr("sscard.notify.registry._registry", registry)  # restored (to None) after the test
    return settings


def deliver_outbox() -> None:
    """Run the dispatcher until nothing is due (what the server's background loop does)."""
    for _ in range(20):
        if dispatch_pending(limit=500).claimed == 0:
            return


def outbox_rows(uow) -> list[tuple[object, ...]]:
    return [
        tuple(vars(m).values())
        for m in uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(500))
    ]
