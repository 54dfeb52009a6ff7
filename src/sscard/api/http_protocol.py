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
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._head_timeout_s = settings.http_header_timeout_s
        self._body_timeout_s = settings.http_body_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        self._arm_head_timer(self._body_timeout_s)  # the body's turn (a request without one completes now)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm_head_timer()
        super().on_message_complete()

    def _arm_head_timer(self, seconds: float | None = None) -> None:
        self._head_timer = self.loop.call_later(seconds or self._head_timeout_s, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()
