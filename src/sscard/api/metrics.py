"""Prometheus metrics: request counts and latency by route template (never the raw path).

Labelling by template (``/api/v1/cards/{card_no}``) keeps the series bounded and keeps card numbers
and IDs out of the metrics; a mounted app's files share their mount's (``/static/{path}``), and requests
that match nothing share the label ``unmatched``. With several worker processes set
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` aggregates them.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from typing import Any

import structlog
from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sscard.config import get_settings

REQUESTS = Counter(
    "sscard_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "sscard_http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
_KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
log = structlog.get_logger("sscard.http")


def route_label(scope: Scope) -> str:
    """The matched route's full template, e.g. ``/api/v1/regions/{code}``, or its mount's (``/static/{path}``);
    ``unmatched`` if none."""
    # FastAPI >= 0.16x keeps nested routers unflattened: the full template (with every prefix) is in
    # its effective route context; ``scope["route"]`` holds the template relative to its router.
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(context, "path_format", None)
    if not path:
        route = scope.get("route")
        path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not path:
        path = _mount_template(scope)
    return str(path) if path else "unmatched"


def _mount_template(scope: Scope) -> str | None:
    """``/static/{path}`` for a request a mounted app answered (the pages' files, the API docs' assets):
    Starlette's Mount names no route in the scope, only the app it handed the request to, so the mount is
    found among the app's routes by that app; its template, never the request's path, is the label."""
    endpoint = scope.get("endpoint")
    if endpoint is None or "app_root_path" not in scope:  # only a Mount sets app_root_path
        return None
    for route in getattr(scope.get("app"), "routes", ()):
        if isinstance(route, Mount) and route.app is endpoint:
            return route.path_format  # "/static/{path}"
    return None


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # if nothing is ever sent, the server answered with an error
        start = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            # The router writes the matched route into the shared scope dict on its way down.
            record_request(scope, route_label(scope), status, time.perf_counter() - start)


def record_request(scope: Scope, route: str, status: int, elapsed: float) -> None:
    """Count one answered request and its latency under its route template."""
    method = scope.get("method", "GET")
    method = method if method in _KNOWN_METHODS else "OTHER"
    count, latency = _series(method, route, status)
    count.inc()
    latency.observe(elapsed)
    if get_settings().log_requests:
        # One JSON line per answer (SSCARD_LOG_REQUESTS), findable by the X-Request-ID the client got:
        # the route template, never the raw path or its query (card numbers, ID numbers).
        state = scope.get("state") or {}
        log.info("request", request_id=state.get("request_id"), method=method, route=route, status=status,
                 duration_ms=round(elapsed * 1000, 2))  # fmt: skip


@lru_cache(maxsize=4096)  # bounded like the series: methods × route templates × statuses
def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The labelled counter and histogram of one (method, route, status): ``labels()`` takes a lock and
    builds its key on every call, about a third of recording a request."""
    return REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route)


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics() -> Response:
    """Expose Prometheus metrics."""
    return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)
