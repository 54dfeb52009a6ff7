"""Server-rendered pages. For now the bilingual landing page; channel pages arrive with their issues."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from sscard import __version__

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> HTMLResponse:
    """Say what is running and where the docs are."""
    from sscard.db.session import get_engine

    return templates.TemplateResponse(
        request, "landing.html", {"version": __version__, "database": get_engine().dialect.name}
    )
