"""Uvicorn's httptools protocol with bounds on receiving a request.

Uvicorn closes an idle keep-alive connection only after it has answered a request on it; a client
that connects and sends nothing, trickles its header lines (slowloris), or trickles its body after
prompt headers, holds a connection and its buffers for ever. Here every request head (request line
and headers) must arrive within ``SSCARD_HTTP_HEADER_TIMEOUT_S`` of the connection opening or of the
request's first byte, and its whole body within ``SSCARD_HTTP_BODY_TIMEOUT_S`` of its head (nginx's
``client_header_timeout`` and, stricter, a bound on the whole body rather than between reads);
otherwise the connection is closed. ``SSCARD_HTTP_MAX_CONNECTIONS`` (Uvicorn's ``limit_concurrency``)
caps what one worker holds at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sscard.config import get_settings


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """One timer per connection: the request head's bound until its headers are in, then the body's
    until the request is complete; none while the request is served or the connection idles (Uvicorn's
    keep-alive timer covers that)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._head_timeout_s = settings.http_header_timeout_s
        self._body_timeout_s = settings.http_body_timeout_s
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._head_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._timer is None:
            self._arm(self._head_timeout_s)

    def on_headers_complete(self) -> None:
        self._arm(self._body_timeout_s)  # the body's turn (a request without one completes at once)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()
