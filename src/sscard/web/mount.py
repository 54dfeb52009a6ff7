"""Where the pages join the application: static assets, the landing page, each channel's router.

A channel's pages add one line to ``CHANNEL_ROUTERS`` (docs/pages.md).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from sscard.page_sessions.service import CHANNELS
from sscard.web.errors import PageNotFound
from sscard.web.page import PageRoute

STATIC_DIR = Path(__file__).parent / "static"

#: ``module:attribute`` of each channel's page router, mounted in this order.
CHANNEL_ROUTERS: tuple[str, ...] = (
    "sscard.web.portal.routes:router",
    "sscard.web.portal.records:router",
    "sscard.web.counter.insurance:router",  # before routes: /person/{ref}/insurance, not its /person/{ref}/{form}
    "sscard.web.counter.debit:router",
    "sscard.web.counter.routes:router",
    "sscard.web.employer.routes:router",
    "sscard.web.console.carrier_steps:router",  # before routes: /carriers/receive, not /carriers/{ref}
    "sscard.web.console.oversight:router",  # before handovers: /handovers/overdue, not /handovers/{ref}
    "sscard.web.console.routes:router",
    "sscard.web.console.handovers:router",
    "sscard.web.console.registers:router",
    "sscard.web.console.devices:router",
    "sscard.web.console.reports:router",
)


def mount_pages(app: FastAPI) -> None:
    from sscard.web.pages import router as landing_router

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for target in CHANNEL_ROUTERS:
        module, _, attribute = target.partition(":")
        app.include_router(getattr(import_module(module), attribute))
    app.include_router(landing_router)
    app.include_router(_not_found_pages())  # last: only what no channel route matched


def _not_found_pages() -> APIRouter:
    """An unknown address under a channel's pages answers a 404 page in the user's language, not JSON."""
    router = APIRouter(include_in_schema=False, route_class=PageRoute)
    for channel in CHANNELS:

        def not_found(rest: str) -> None:
            raise PageNotFound(f"no page {rest[:64]!r}")

        router.add_api_route(f"/{channel}/{{rest:path}}", not_found, methods=["GET"], name=f"{channel}_not_found")
    return router
