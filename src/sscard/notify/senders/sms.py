"""SMS: an HTTP gateway adapter (httpx), and the local file sink that is the embedded default."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from sscard.notify.senders.base import Delivery, SendFailed, write_private
from sscard.notify.senders.config import SenderSettings


class SmsGatewaySender:
    """POST ``{"id", "to", "text"}`` as JSON to the gateway; the id makes a retried post idempotent there."""

    channel = "sms"

    def __init__(self, settings: SenderSettings, *, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self._client = client

    def send(self, delivery: Delivery) -> None:
        s = self.settings
        headers = {"Idempotency-Key": delivery.message_id}
        if s.sms_gateway_token is not None:
            headers["Authorization"] = f"Bearer {s.sms_gateway_token.get_secret_value()}"
        payload = {"id": delivery.message_id, "to": delivery.to, "text": delivery.body}
        try:
            if self._client is not None:
                response = self._client.post(
                    s.sms_gateway_url, json=payload, headers=headers, timeout=s.sms_timeout_seconds
                )
            else:
                response = httpx.post(s.sms_gateway_url, json=payload, headers=headers, timeout=s.sms_timeout_seconds)
        except httpx.HTTPError as exc:
            raise SendFailed(f"SMS gateway unreachable: {type(exc).__name__}") from exc
        if response.is_success:
            return
        # 4xx means this message will never go through (bad number, bad request), except 408/429.
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
        raise SendFailed(f"SMS gateway answered {response.status_code}", permanent=permanent)


class FileSmsSink:
    """The embedded default: append each SMS as one JSON line to a local file (no gateway configured)."""

    channel = "sms"

    def __init__(self, settings: SenderSettings) -> None:
        self.path = settings.sms_sink_path

    def send(self, delivery: Delivery) -> None:
        line = json.dumps(
            {"id": delivery.message_id, "to": delivery.to, "text": delivery.body, "at": datetime.now(UTC).isoformat()},
            ensure_ascii=False,
        )
        write_private(self.path, (line + "\n").encode(), append=True, what="SMS")


def sms_sender(settings: SenderSettings) -> SmsGatewaySender | FileSmsSink:
    """The gateway when one is configured, else the file sink."""
    return SmsGatewaySender(settings) if settings.sms_gateway_url else FileSmsSink(settings)
