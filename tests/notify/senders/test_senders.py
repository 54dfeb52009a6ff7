"""The SMTP sender and the SMS gateway adapter against real local servers (CH-5 delivery)."""

from __future__ import annotations

import json

import pytest

from sscard.notify.senders import (
    Delivery,
    FileMailSink,
    FileSmsSink,
    SenderSettings,
    SendFailed,
    SmsGatewaySender,
    SmtpSender,
    email_sender,
)
from sscard.notify.senders.sms import sms_sender

MAIL = Delivery("m-1", "email", "holder@example.com", "【社保查询】密码已修改", "您的网上查询密码已修改。")
SMS = Delivery("s-1", "sms", "13800138000", "", "【社保查询】您的临时密码为 Ab3dEf7hJk2m")


def smtp_settings(server, **extra) -> SenderSettings:
    return SenderSettings(
        smtp_host=server.host, smtp_port=server.port, smtp_from="sscard <no-reply@sscard.example>", **extra
    )


def test_smtp_delivers_utf8(smtp_server) -> None:
    SmtpSender(smtp_settings(smtp_server)).send(MAIL)
    [msg] = smtp_server.mail_to("holder@example.com")
    assert msg["Subject"] == "【社保查询】密码已修改" and msg["From"] == "sscard <no-reply@sscard.example>"
    assert msg.get_content().strip() == "您的网上查询密码已修改。"
    assert "sscard.example" in msg["Message-ID"]


def test_smtp_temporary_failure_is_retryable(smtp_server) -> None:
    smtp_server.fail_next = 1
    with pytest.raises(SendFailed) as info:
        SmtpSender(smtp_settings(smtp_server)).send(MAIL)
    assert not info.value.permanent and "451" in info.value.reason
    SmtpSender(smtp_settings(smtp_server)).send(MAIL)  # the retry gets through
    assert len(smtp_server.messages) == 1


def test_smtp_refused_recipient_is_permanent(smtp_server) -> None:
    smtp_server.refuse.add("gone@example.com")
    with pytest.raises(SendFailed) as info:
        SmtpSender(smtp_settings(smtp_server)).send(Delivery("m-2", "email", "gone@example.com", "s", "b"))
    assert info.value.permanent


def test_smtp_unreachable_is_retryable() -> None:
    from tests.notify.senders.servers import free_port

    settings = SenderSettings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_seconds=2)
    with pytest.raises(SendFailed) as info:
        SmtpSender(settings).send(MAIL)
    assert not info.value.permanent


def test_sms_gateway(sms_gateway) -> None:
    settings = SenderSettings(sms_gateway_url=sms_gateway.url, sms_gateway_token="gw-token")
    sender = sms_sender(settings)
    assert isinstance(sender, SmsGatewaySender)
    sender.send(SMS)
    assert sms_gateway.received == [{"id": "s-1", "to": "13800138000", "text": SMS.body}]
    assert sms_gateway.headers[0]["Authorization"] == "Bearer gw-token"
    assert sms_gateway.headers[0]["Idempotency-Key"] == "s-1"


@pytest.mark.parametrize("status,permanent", [(503, False), (429, False), (400, True)])
def test_sms_gateway_failures(sms_gateway, status: int, permanent: bool) -> None:
    sms_gateway.answers.append(status)
    with pytest.raises(SendFailed) as info:
        SmsGatewaySender(SenderSettings(sms_gateway_url=sms_gateway.url)).send(SMS)
    assert info.value.permanent is permanent


def test_file_sink_is_the_default(tmp_path) -> None:
    settings = SenderSettings(data_dir=tmp_path)
    sender = sms_sender(settings)
    assert isinstance(sender, FileSmsSink)
    sender.send(SMS)
    sender.send(SMS)
    lines = settings.sms_sink_path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["to"] for line in lines] == ["13800138000"] * 2
    assert settings.sms_sink_path.stat().st_mode & 0o777 == 0o600


# rule CH-5: without a relay the holder's e-mail notice is kept as an owner-only .eml, never lost
def test_mail_file_sink_is_the_default_without_a_relay(tmp_path) -> None:
    from email import message_from_bytes, policy

    settings = SenderSettings(data_dir=tmp_path)
    sender = email_sender(settings)
    assert isinstance(sender, FileMailSink)
    sender.send(MAIL)
    sender.send(MAIL)  # a retried delivery rewrites its file, it does not add a second message
    [path] = list(settings.mail_sink_path.iterdir())
    assert path.stat().st_mode & 0o777 == 0o600
    parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert parsed["To"] == MAIL.to and parsed["Subject"] == MAIL.subject
    assert parsed.get_content().strip() == MAIL.body.strip()
    assert isinstance(email_sender(SenderSettings(smtp_host="127.0.0.1")), SmtpSender)


def test_delivery_repr_hides_content() -> None:
    assert "Ab3dEf7hJk2m" not in repr(SMS) and "13800138000" not in repr(SMS)
