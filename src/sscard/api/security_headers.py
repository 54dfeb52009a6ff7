"""Security headers on every answer (issue 17 item 11), and ``/metrics`` guarded in production.

Every answer carries a Content-Security-Policy (``frame-ancestors 'none'``), ``X-Frame-Options: DENY``,
``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``. Answers under ``/api/v1``
(tokens, personal data) and ``/metrics`` also carry ``Cache-Control: no-store`` unless the route set
a Cache-Control of its own. The interactive API docs get a policy that lets their vendored scripts
run; the API one that loads nothing but same-origin images. The pages (everything outside ``/api`` and
``/metrics``) get ``PAGES_CSP``: scripts, styles and fonts from this origin only (no inline script or
style, no ``unsafe-*``), forms posting only here, plus ``Cache-Control: no-store`` (their answers carry
personal data; ``/static`` excepted), a Permissions-Policy, Cross-Origin-Opener/Resource-Policy and, in
production, Strict-Transport-Security.

The headers are precomputed bytes: the PIN verify lane (``api/pin_verify_lane.py``), which answers in
front of this middleware, appends the same ones.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sscard.api.problems import problem
from sscard.api.source import peer_address
from sscard.config import get_settings

STRICT_CSP = (
    b"default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGES_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_PAGE_EXTRA: tuple[tuple[bytes, bytes], ...] = (
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_COMMON: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
NO_STORE = (b"cache-control", b"no-store")
# What every /api/v1 answer gets (the PIN verify lane appends exactly these).
API_HEADERS: tuple[tuple[bytes, bytes], ...] = ((b"content-security-policy", STRICT_CSP), *_COMMON, NO_STORE)
_DOCS_PREFIXES = ("/api/docs", "/api/redoc")
_NO_STORE_PREFIXES = ("/api/v1", "/metrics", "/api/openapi.json")
_API_PREFIXES = ("/api", "/metrics")
_OURS = frozenset(
    {b"content-security-policy", HSTS[0], *(name for name, _ in (*_COMMON, *_PAGE_EXTRA))}
)  # replaced, never doubled


def is_page(path: str) -> bool:
    """A server-rendered page or its static assets (not the API, its docs or the metrics)."""
    return not path.startswith(_API_PREFIXES)


def headers_for(path: str) -> tuple[tuple[bytes, bytes], ...]:
    """The security headers of an answer to ``path`` (Cache-Control decided by the caller)."""
    if is_page(path):
        extra = (HSTS,) if get_settings().env == "prod" else ()
        return ((b"content-security-policy", PAGES_CSP), *_COMMON, *_PAGE_EXTRA, *extra)
    csp = DOCS_CSP if path.startswith(_DOCS_PREFIXES) else STRICT_CSP
    return ((b"content-security-policy", csp), *_COMMON)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        extra = headers_for(path)
        no_store = path.startswith(_NO_STORE_PREFIXES) or (is_page(path) and not path.startswith("/static/"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OURS]
                has_cache = any(k.lower() == b"cache-control" for k, _ in headers)
                headers.extend(extra)
                if no_store and not has_cache:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        if path == "/metrics" and not metrics_allowed(scope):
            await problem(403, "METRICS_FORBIDDEN", "Metrics are not served to this client.")(
                scope, receive, with_headers
            )
            return
        await self.app(scope, receive, with_headers)


def metrics_allowed(scope: Scope) -> bool:
    """In prod, ``/metrics`` needs the configured bearer token, or (without one) a loopback connection.

    The connection's own address, never ``X-Forwarded-For``: a proxy in front would make every
    forwarded request look local. Elsewhere (dev, test) the metrics stay open, as ``make run`` shows them.
    """
    settings = get_settings()
    if settings.env != "prod":
        return True
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if token:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value.decode("latin-1")
                return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
        return False
    return peer_address(scope) in ("127.0.0.1", "::1")
