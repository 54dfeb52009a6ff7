"""The ASGI application: REST API under /api/v1, docs, metrics, pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, Depends, FastAPI
from fastapi_offline import FastAPIOffline

from sscard import __version__
from sscard.api import (
    admin,
    admin_pin,
    counter,
    counter_corrections,
    counter_debit,
    counter_insurance,
    counter_pin,
    counter_query_password,
    counter_records,
    employer,
    health,
    hotline,
    hotline_query,
    metrics,
    portal,
    portal_debit,
    portal_insurance,
    portal_records,
    portal_statements,
    regions,
    staff,
    statements,
    terminal,
    terminal_card,
    terminal_debit,
    terminal_pin,
    terminal_settlement,
)
from sscard.api.debit_lane import DebitLane
from sscard.api.key_register import routes as security
from sscard.api.metrics import MetricsMiddleware
from sscard.api.middleware import AnswerAfterCommitGuard, ErrorBoundary, InputGuardMiddleware, RequestIdMiddleware
from sscard.api.openapi import API_DESCRIPTION, install_openapi, operation_id
from sscard.api.pin_verify_lane import PinVerifyLane
from sscard.api.problems import install_problem_handlers
from sscard.api.query_params import reject_unknown_query
from sscard.api.route_prefix import install as install_route_prefix_skip
from sscard.api.security_headers import SecurityHeadersMiddleware
from sscard.api.settlement_lane import SettlementLane
from sscard.config import get_settings
from sscard.credentials.pin.batch_verify import pin_verifier
from sscard.debit.batch import debit_batcher
from sscard.logging import configure_logging
from sscard.settlement.batch import settlement_batcher
from sscard.startup import device_warning, ensure_production_ready


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    await pin_verifier().close()  # the connections its batches kept open in this event loop
    await settlement_batcher().close()
    await debit_batcher().close()


def create_app() -> FastAPI:
    configure_logging()
    # SSCARD_ENV=prod: refuse to start on development material, naming every problem (startup.py).
    ensure_production_ready()
    if get_settings().env == "dev":
        # KEY-4: a development installation's guard keeps quiet per command; a server process says it once
        # however it was started: uvicorn/gunicorn on create_app here, or `sscard serve`'s banner, after
        # which device_warning is None in this process (the module's guard records what was announced).
        warning = device_warning()
        if warning:
            structlog.get_logger("sscard.security").warning("security.device.not_certified", detail=warning)
    title = "sscard — social security card platform"
    prod = get_settings().env == "prod"
    if prod:
        # Production (issue 17 item 11): no interactive docs; the OpenAPI document only to a signed-in
        # staff member (registered below), so the API's map is not handed to anonymous clients.
        app = FastAPI(title=title, version=__version__, openapi_url=None, docs_url=None, redoc_url=None,
                      lifespan=_lifespan, description=API_DESCRIPTION,
                      generate_unique_id_function=operation_id)  # fmt: skip
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
            description=API_DESCRIPTION,
            generate_unique_id_function=operation_id,
        )
    install_problem_handlers(app)
    install_openapi(app)  # problem+json answers, terminal signing, examples (api/openapi.py)
    # add_middleware wraps: the last added is the outermost. Outermost first: PinVerifyLane →
    # RequestId → Metrics → ErrorBoundary → InputGuard → AnswerAfterCommitGuard, so even a 500 carries
    # X-Request-ID and is counted, and no answer starts while the request's transaction is open.
    app.add_middleware(AnswerAfterCommitGuard)
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(ErrorBoundary)
    app.add_middleware(MetricsMiddleware)
    # Security headers on every answer the stack gives, errors included; /metrics guarded in prod.
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    # The PIN verify lane, outermost: it answers the batched path's verifications itself, doing for
    # them what the middleware inside it does for every other answer, and passes everything else on
    # (api/pin_verify_lane.py). Only Starlette's own error middleware is outside it.
    app.add_middleware(DebitLane)  # the same for bank POS consumption (api/debit_lane.py)
    app.add_middleware(SettlementLane)  # the same for settlements (api/settlement_lane.py)
    app.add_middleware(PinVerifyLane)

    # Included routers skip a path outside their routes' common prefix (api/route_prefix.py).
    install_route_prefix_skip()
    # Every /api/v1 route refuses query parameters it does not declare (api/query_params.py).
    v1 = APIRouter(prefix="/api/v1", dependencies=[Depends(reject_unknown_query)])
    # Routes match in order, router by router: the terminal channel carries most of the traffic
    # (a PIN check per card transaction), so it is matched first. No other path overlaps it.
    v1.include_router(terminal_pin.router)
    v1.include_router(terminal_card.router)
    v1.include_router(terminal.router)
    v1.include_router(terminal_settlement.router)
    v1.include_router(terminal_debit.router)
    v1.include_router(health.router)
    v1.include_router(staff.router)
    v1.include_router(regions.router)
    v1.include_router(counter.router)
    v1.include_router(counter_records.router)
    v1.include_router(counter_corrections.router)
    v1.include_router(hotline.router)
    v1.include_router(portal.router)
    v1.include_router(portal_records.router)
    v1.include_router(portal_statements.router)
    v1.include_router(statements.router)
    v1.include_router(admin.router)
    v1.include_router(hotline_query.router)
    v1.include_router(counter_query_password.router)
    v1.include_router(counter_pin.router)
    v1.include_router(counter_debit.router)
    v1.include_router(portal_debit.router)
    v1.include_router(admin_pin.router)
    v1.include_router(security.router)
    v1.include_router(employer.router)
    v1.include_router(portal_insurance.router)
    v1.include_router(counter_insurance.router)
    # Channel routers register here, one line each.
    app.include_router(v1)
    app.include_router(metrics.router)
    app.include_router(health.probes)  # /livez, /readyz
    if prod:
        _staff_only_openapi(app)

    from sscard.web.mount import mount_pages

    mount_pages(app)  # static assets, the landing page and the channels' pages (web/mount.py)
    return app


def _staff_only_openapi(app: FastAPI) -> None:
    """``GET /api/openapi.json`` for any signed-in staff member (prod): 401 without a session."""
    from sscard.api.staff_auth import require_staff

    @app.get("/api/openapi.json", include_in_schema=False, dependencies=[Depends(require_staff())])
    def openapi_document() -> dict[str, object]:
        return app.openapi()
