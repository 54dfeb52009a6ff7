"""Which sender delivers which channel: a small registry, pluggable per process (and in tests).

The embedded defaults need no outside service for departments (a local inbox file) and for SMS
(the file sink of ``senders.sms`` unless a gateway is configured); e-mail goes to the SMTP relay.
"""

from __future__ import annotations

from typing import Protocol

from sscard.notify.senders.base import Delivery, SendFailed


class Sender(Protocol):
    """Delivers one message or raises ``SendFailed`` (``permanent=True`` when retrying cannot help)."""

    channel: str

    def send(self, delivery: Delivery) -> None: ...


class SenderRegistry:
    def __init__(self, senders: dict[str, Sender] | None = None) -> None:
        self._senders: dict[str, Sender] = dict(senders or {})

    def register(self, channel: str, sender: Sender) -> None:
        """Use ``sender`` for ``channel`` from now on (replacing any previous one)."""
        self._senders[channel] = sender

    def get(self, channel: str) -> Sender | None:
        return self._senders.get(channel)

    def channels(self) -> list[str]:
        return sorted(self._senders)


class RelayNotConfigured:
    """Production without a gateway or relay for a channel: refuse (the message waits, and is retried)
    rather than write it to a local file sink, where temporary passwords and the holder's phone or
    address would lie in clear (QPW-5, ID-5)."""

    def __init__(self, channel: str, setting: str) -> None:
        self.channel = channel
        self.setting = setting

    def send(self, delivery: Delivery) -> None:
        raise SendFailed(f"no {self.channel} relay configured ({self.setting}); file sinks are refused in prod")


def default_registry() -> SenderRegistry:
    """The senders chosen by settings: department inbox file, SMS gateway or file sink, SMTP relay or file sink.

    The SMS and e-mail file sinks are development stand-ins: in ``prod`` a channel without its relay
    refuses to send (``RelayNotConfigured``) instead.
    """
    from sscard.config import get_settings
    from sscard.notify.department import DepartmentFileSink
    from sscard.notify.senders.config import get_sender_settings
    from sscard.notify.senders.sms import sms_sender
    from sscard.notify.senders.smtp import email_sender

    settings, sender_settings = get_settings(), get_sender_settings()
    prod = settings.env == "prod"
    sms: Sender = sms_sender(sender_settings)
    email: Sender = email_sender(sender_settings)
    if prod and not sender_settings.sms_gateway_url:
        sms = RelayNotConfigured("sms", "SSCARD_SMS_GATEWAY_URL")
    if prod and not sender_settings.smtp_host:
        email = RelayNotConfigured("email", "SSCARD_SMTP_HOST")
    return SenderRegistry({"department": DepartmentFileSink(settings.data_dir), "sms": sms, "email": email})


_registry: SenderRegistry | None = None


def get_registry() -> SenderRegistry:
    """The process-wide registry (built from settings on first use)."""
    global _registry
    if _registry is None:
        _registry = default_registry()
    return _registry


def set_registry(registry: SenderRegistry | None) -> None:
    """Install a registry (tests, embedding applications); ``None`` rebuilds from settings."""
    global _registry
    _registry = registry
