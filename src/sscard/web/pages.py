"""Server-rendered pages. For now the bilingual landing page; channel pages arrive with their issues."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from sscard import __version__
from sscard.web.landing_text import LANGUAGES, role_names, text_for

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


def _api_channels(request: Request) -> list[str]:
    """The API groups (OpenAPI tags) this process serves, so the page says what is running."""
    # The OpenAPI document (built once, then cached by FastAPI) sees through nested routers.
    tags: set[str] = set()
    for operations in request.app.openapi().get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict):
                tags.update(str(t) for t in operation.get("tags", []))
    return sorted(tags)


def _demo_context() -> dict[str, Any]:
    """Demo logins for the page, read from the demo data set; whether they are loaded, from the database."""
    from sqlalchemy.exc import SQLAlchemyError

    from sscard.db.session import unit_of_work
    from sscard.demo.data import DEMO_STAFF_PASSWORD, PERSONS, STAFF
    from sscard.demo.insurance import EMPLOYERS, uscc_of
    from sscard.staff.service import get_staff
    from sscard.staff.totp import requires_second_factor

    try:
        with unit_of_work() as uow:
            loaded = get_staff(uow, STAFF[0].username) is not None
    except SQLAlchemyError:
        loaded = False
    persons = [
        {"name": p.name, "id_number": p.id_number, "initial_password": p.id_number[-8:].replace("X", "0")}
        for p in PERSONS[:4]
    ]
    staff = [
        {
            "username": s.username,
            "role": s.role.value,
            "region_code": s.region_code,
            "otp": requires_second_factor(s.role),
        }
        for s in STAFF
    ]
    employers = [{"name": e.name, "uscc": uscc_of(e), "region_code": e.region_code} for e in EMPLOYERS]
    return {
        "loaded": loaded,
        "staff": staff,
        "password": DEMO_STAFF_PASSWORD,
        "persons": persons,
        "employers": employers,
    }


@router.get("/", response_class=HTMLResponse)
def landing(request: Request, lang: Annotated[str | None, Query(max_length=8)] = None) -> HTMLResponse:
    """Say what is running and where the docs are (zh_CN by default, ``?lang=en`` for English)."""
    from sscard.config import get_settings
    from sscard.db.session import get_engine

    settings = get_settings()
    language = lang if lang in LANGUAGES else "zh_CN"
    context = {
        "t": text_for(language),
        "roles": role_names(language),
        "lang": language,
        "html_lang": "zh-CN" if language == "zh_CN" else "en",
        "other_lang": "en" if language == "zh_CN" else "zh_CN",
        "version": __version__,
        "database": get_engine().dialect.name,
        "env": settings.env,
        "security": f"{settings.hsm} / {settings.crypto_suite}",
        "channels": _api_channels(request),
        # Demo credentials are published data, but only a development installation shows them.
        "demo": _demo_context() if settings.env == "dev" else None,
    }
    return templates.TemplateResponse(request, "landing.html", context)
