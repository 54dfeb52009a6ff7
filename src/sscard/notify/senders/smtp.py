"""E-mail through an SMTP relay (smtplib): plain, STARTTLS or SMTPS, with optional authentication; and
the embedded default when no relay is configured: one ``.eml`` file per message under the data dir."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sscard.notify.senders.base import Delivery, SendFailed, write_private
from sscard.notify.senders.config import SenderSettings


def build_message(settings: SenderSettings, delivery: Delivery) -> EmailMessage:
    """The RFC 5322 message for a delivery (UTF-8 body, a Message-ID derived from the outbox id)."""
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = delivery.to
    msg["Subject"] = delivery.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=delivery.message_id or uuid.uuid4().hex, domain="sscard.example")
    msg.set_content(delivery.body, charset="utf-8")
    return msg


class SmtpSender:
    """Send each message in its own SMTP session: a dispatcher retries per message, not per connection."""

    channel = "email"

    def __init__(self, settings: SenderSettings) -> None:
        self.settings = settings

    def build(self, delivery: Delivery) -> EmailMessage:
        return build_message(self.settings, delivery)

    def send(self, delivery: Delivery) -> None:
        s = self.settings
        try:
            if s.smtp_tls == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout_seconds)
            with client:
                if s.smtp_tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if s.smtp_username:
                    client.login(s.smtp_username, s.smtp_password.get_secret_value() if s.smtp_password else "")
                refused = client.send_message(self.build(delivery))
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendFailed("the relay refused the recipient", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            # 5xx is a definitive refusal; 4xx (greylisting, mailbox busy) is worth retrying.
            raise SendFailed(f"SMTP {exc.smtp_code}", permanent=500 <= exc.smtp_code < 600) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"SMTP relay unreachable or failed: {type(exc).__name__}") from exc
        if refused:
            raise SendFailed("the relay refused the recipient", permanent=True)


class FileMailSink:
    """No relay configured (embedded default): each message as ``<outbox id>.eml`` under ``mail_sink_dir``.

    Named by the outbox id, so a retried delivery rewrites the same file instead of adding a copy.
    """

    channel = "email"

    def __init__(self, settings: SenderSettings) -> None:
        self.settings = settings
        self.directory = settings.mail_sink_path

    def send(self, delivery: Delivery) -> None:
        name = "".join(c for c in delivery.message_id if c.isalnum() or c in "-_") or uuid.uuid4().hex
        data = build_message(self.settings, delivery).as_bytes()
        write_private(self.directory / f"{name}.eml", data, append=False, what="e-mail")


def email_sender(settings: SenderSettings) -> SmtpSender | FileMailSink:
    """The SMTP relay when one is configured, else the file sink."""
    return SmtpSender(settings) if settings.smtp_host else FileMailSink(settings)
