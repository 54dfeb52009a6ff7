"""``sscard db``: schema migrations."""

from __future__ import annotations

import typer

from sscard.cli.common import console, handle_errors

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
@handle_errors
def upgrade() -> None:
    """Apply all migrations to SSCARD_DATABASE_URL (the embedded SQLite file by default)."""
    from sscard.audit.service import ensure_streams
    from sscard.config import get_settings
    from sscard.db import migrate
    from sscard.db.session import unit_of_work

    migrate.upgrade()
    with unit_of_work() as uow:
        ensure_streams(uow)
    console.print(f"database at head: {get_settings().effective_database_url.split('@')[-1]}")


@app.command("check")
@handle_errors
def check() -> None:
    """Fail if the models have changes that no migration records."""
    from sscard.db import migrate

    migrate.check()
    console.print("models and migrations agree")
