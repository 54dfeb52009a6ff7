"""The ``sscard`` command line (contract.md). Each group lives in its own module."""

from __future__ import annotations

import typer

from sscard.cli import audit_cmd, db_cmd, id_cmd
from sscard.cli.serve import serve

app = typer.Typer(help="sscard — social security card platform.", no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(id_cmd.app, name="id")
app.add_typer(db_cmd.app, name="db")
app.add_typer(audit_cmd.app, name="audit")
app.command("serve")(serve)
# Further groups register here, one line each.


if __name__ == "__main__":
    app()
