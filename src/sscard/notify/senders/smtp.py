"""E-mail through an SMTP relay (smtplib): plain, STARTTLS or SMTPS, with optional authentication."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sscard.notify.senders.base import Delivery, SendFailed
from sscard.notify.senders.config import SenderSettings


class SmtpSender:
    """Send each message in its own SMTP session: a dispatcher retries per message, not per connection."""

    channel = "email"

    def __init__(self, settings: SenderSettings) -> None:
        self.settings = settings

    def build(self, delivery: Delivery) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.smtp_from
        msg["To"] = delivery.to
        msg["Subject"] = delivery.subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(idstring=delivery.message_id or uuid.uuid4().hex, domain="sscard.example")
        msg.set_content(delivery.body, charset="utf-8")
        return msg

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
