"""Real senders for the notification outbox: SMTP e-mail and an HTTP SMS gateway (with a file sink).

A sender delivers one message or raises ``SendFailed``; ``SendFailed.permanent`` tells the dispatcher
not to retry (a rejected address), anything else is retried with back-off and the message is kept.
"""

from sscard.notify.senders.base import Delivery, SendFailed
from sscard.notify.senders.config import SenderSettings, get_sender_settings
from sscard.notify.senders.sms import FileSmsSink, SmsGatewaySender
from sscard.notify.senders.smtp import FileMailSink, SmtpSender, email_sender

__all__ = [
    "Delivery",
    "FileMailSink",
    "FileSmsSink",
    "SendFailed",
    "SenderSettings",
    "SmsGatewaySender",
    "SmtpSender",
    "email_sender",
    "get_sender_settings",
]
