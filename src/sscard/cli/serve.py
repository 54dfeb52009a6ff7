"""``sscard serve``: the API and pages on Uvicorn (uvloop + httptools)."""

from __future__ import annotations

from typing import Annotated

import typer

from sscard.config import get_settings


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
) -> None:
    """Run the API and pages."""
    import uvicorn

    settings = get_settings()
    h, p = host or settings.host, port or settings.port
    typer.echo(f"sscard serving on http://{h}:{p}/  (API docs: http://{h}:{p}/api/docs)")
    uvicorn.run(
        "sscard.api.app:create_app",
        factory=True,
        host=h,
        port=p,
        workers=workers or settings.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
