"""The ``sscard`` command line (contract.md). Each group lives in its own module."""

from __future__ import annotations

import typer

from sscard.cli import audit_cmd, db_cmd, demo_cmd, id_cmd, region_cmd, staff_cmd
from sscard.cli import import_cmd
from sscard.cli.serve import serve

app = typer.Typer(help="sscard — social security card platform.", no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(id_cmd.app, name="id")
app.add_typer(db_cmd.app, name="db")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(import_cmd.app, name="import")
app.command("serve")(serve)
app.add_typer(staff_cmd.app, name="staff")
app.add_typer(region_cmd.app, name="region")
app.add_typer(demo_cmd.app, name="demo")
# Further groups register here, one line each.


if __name__ == "__main__":
    app()
