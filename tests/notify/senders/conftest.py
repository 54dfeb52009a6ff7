"""Sender test fixtures: the local SMTP server and SMS gateway (servers.py)."""

from tests.notify.senders.servers import sms_gateway, smtp_server  # noqa: F401
