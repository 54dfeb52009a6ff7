"""The ASGI application: REST API under /api/v1, docs, metrics, pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline

from sscard import __version__
from sscard.api import (
    admin,
    admin_pin,
    counter,
    counter_pin,
    counter_query_password,
    health,
    hotline,
    hotline_query,
    metrics,
    portal,
    regions,
    security,
    staff,
    terminal,
    terminal_pin,
)
from sscard.api.metrics import MetricsMiddleware
from sscard.api.middleware import AnswerAfterCommitGuard, ErrorBoundary, InputGuardMiddleware, RequestIdMiddleware
from sscard.api.pin_verify_lane import PinVerifyLane
from sscard.api.problems import install_problem_handlers
from sscard.api.security_headers import SecurityHeadersMiddleware
from sscard.config import get_settings
from sscard.credentials.pin.batch_verify import pin_verifier
from sscard.logging import configure_logging
from sscard.startup import ensure_production_ready


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    await pin_verifier().close()  # the connections its batches kept open in this event loop


def create_app() -> FastAPI:
    configure_logging()
    # SSCARD_ENV=prod: refuse to start on development material, naming every problem (startup.py).
    ensure_production_ready()
    title = "sscard — social security card platform"
    prod = get_settings().env == "prod"
    if prod:
        # Production (issue 17 item 11): no interactive docs; the OpenAPI document only to a signed-in
        # staff member (registered below), so the API's map is not handed to anonymous clients.
        app = FastAPI(title=title, version=__version__, openapi_url=None, docs_url=None, redoc_url=None,
                      lifespan=_lifespan)  # fmt: skip
    else:
        # Swagger UI and ReDoc served from vendored assets (fastapi-offline), never from a CDN.
        app = FastAPIOffline(
            title=title,
            version=__version__,
            openapi_url="/api/openapi.json",
            docs_url="/api/docs",
            redoc_url="/api/redoc",
            static_url="/api/docs-static",
            lifespan=_lifespan,
        )
    install_problem_handlers(app)
    # The PIN verify lane goes in front of the whole stack, FastAPI's own error middleware included
    # (it does the stack's work for its own answers; see api/pin_verify_lane.py). Starlette builds the
    # stack on the first request through this method, so wrapping it keeps the app a FastAPI app.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: PinVerifyLane(build_stack())  # type: ignore[method-assign]
    # add_middleware wraps: the last added is the outermost. Outermost first: RequestId → Metrics →
    # ErrorBoundary → InputGuard → AnswerAfterCommitGuard, so even a 500 carries X-Request-ID and is
    # counted, and no answer starts while the request's transaction is open.
    app.add_middleware(AnswerAfterCommitGuard)
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(ErrorBoundary)
    app.add_middleware(MetricsMiddleware)
    # Security headers on every answer the stack gives, errors included; /metrics guarded in prod.
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)

    v1 = APIRouter(prefix="/api/v1")
    # Routes match in order, router by router: the terminal channel carries most of the traffic
    # (a PIN check per card transaction), so it is matched first. No other path overlaps it.
    v1.include_router(terminal_pin.router)
    v1.include_router(terminal.router)
    v1.include_router(health.router)
    v1.include_router(staff.router)
    v1.include_router(regions.router)
    v1.include_router(counter.router)
    v1.include_router(hotline.router)
    v1.include_router(portal.router)
    v1.include_router(admin.router)
    v1.include_router(hotline_query.router)
    v1.include_router(counter_query_password.router)
    v1.include_router(counter_pin.router)
    v1.include_router(admin_pin.router)
    v1.include_router(security.router)
    # Channel routers register here, one line each.
    app.include_router(v1)
    app.include_router(metrics.router)
    if prod:
        _staff_only_openapi(app)

    from sscard.web.pages import router as pages_router

    app.include_router(pages_router)
    return app


def _staff_only_openapi(app: FastAPI) -> None:
    """``GET /api/openapi.json`` for any signed-in staff member (prod): 401 without a session."""
    from fastapi import Depends

    from sscard.staff.deps import require_staff

    @app.get("/api/openapi.json", include_in_schema=False, dependencies=[Depends(require_staff())])
    def openapi_document() -> dict[str, object]:
        return app.openapi()
