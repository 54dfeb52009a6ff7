"""The ``sscard`` command line (contract.md). Each group lives in its own module."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from sscard.cli import (
    accounts_cmd,
    audit_cmd,
    card_cmd,
    contributions_cmd,
    db_cmd,
    demo_cmd,
    employer_cmd,
    id_cmd,
    import_cmd,
    keyreg_cmd,
    keys_cmd,
    ledger_cmd,
    notify_cmd,
    partitions_cmd,
    person_cmd,
    pin_cmd,
    policy_cmd,
    region_cmd,
    settlement_cmd,
    staff_cmd,
    statements_cmd,
    terminal_cmd,
    terminal_pin_cmd,
    terminal_settle_cmd,
    uscc_cmd,
    worker_cmd,
)
from sscard.cli.common import OPERATOR_COMMANDS, OperatorErrors
from sscard.cli.serve import serve
from sscard.config import get_settings
from sscard.files import restrict_umask
from sscard.logging import configure_logging

HELP = (
    "sscard — social security card platform.\n\n"
    "Acting as staff (CH-2): a command with --as USERNAME acts as that staff member after authenticating them: "
    "the password is asked for (hidden), or read from SSCARD_STAFF_PASSWORD or the first line of stdin, never "
    "from an argument; a second factor from SSCARD_STAFF_OTP where the account has one. Key register changes "
    "(keys devices|carriers|psam|handovers|plans|incidents) need --as; each witness of a carrier destruction "
    "signs with their own authentication, and the one who recorded it cannot witness. A citizen ID correction "
    "(person correct-id) names two staff members: --as asks, --approver (a counter supervisor) approves.\n\n"
    "Without staff credentials the CLI acts as the local system operator (audited as cli:<login>, no region), "
    f"only for: {OPERATOR_COMMANDS}; the national root and province keys (ROOT, PMK/...) take two custodians "
    "even there (--as, --second; KEY-6). Key ceremonies authenticate each custodian (--as, --stdin).\n\n"
    "Exit codes: 0 done; 1 refused or failed (one line 'error CODE: reason' on stderr); 2 a bad option, "
    "argument or SSCARD_* variable; 3 an import done with rejected rows; 4 the database is not initialised "
    "(run sscard db upgrade); 70 a bug (SSCARD_DEBUG=1 shows its traceback)."
)

app = typer.Typer(help=HELP, no_args_is_help=True, pretty_exceptions_enable=False, cls=OperatorErrors)


# Settings are read before any command runs: a bad SSCARD_* variable is named in one line (exit 2), not
# met as a traceback wherever a command first needs it. The value itself is never echoed (it may be a secret).
@app.callback()
def _check_settings() -> None:
    # Whatever a command creates (database, keystore, outbox files, profiles) is owner-only (ID-5).
    restrict_umask()
    try:
        get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            variable = "SSCARD_" + "_".join(str(part) for part in error["loc"]).upper()
            typer.echo(f"sscard: {variable}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    # Log lines go to stderr, masked (scrub_event), at SSCARD_LOG_LEVEL: unconfigured, structlog prints
    # every event to stdout unmasked, into `--json` answers and `$(sscard demo otp ...)` alike.
    configure_logging()


app.add_typer(id_cmd.app, name="id")
app.add_typer(db_cmd.app, name="db")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(import_cmd.app, name="import")
app.add_typer(person_cmd.app, name="person")
app.add_typer(card_cmd.app, name="card")
app.command("serve")(serve)
app.add_typer(staff_cmd.app, name="staff")
app.add_typer(region_cmd.app, name="region")
app.add_typer(demo_cmd.app, name="demo")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(terminal_cmd.app, name="terminal")
terminal_pin_cmd.register(terminal_cmd.app)  # verify-pin, change-pin
terminal_settle_cmd.register(terminal_cmd.app)  # settle, refund, reverse
app.add_typer(notify_cmd.app, name="notify")
app.add_typer(accounts_cmd.app, name="accounts")
app.add_typer(pin_cmd.app, name="pin")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(statements_cmd.app, name="statements")
keyreg_cmd.register(keys_cmd.app)  # devices, carriers, psam, handovers, plans, incidents, report (KEY-4..9)
app.add_typer(ledger_cmd.app, name="ledger")
app.add_typer(partitions_cmd.app, name="partitions")
app.add_typer(uscc_cmd.app, name="uscc")
app.add_typer(employer_cmd.app, name="employer")
app.add_typer(contributions_cmd.app, name="contributions")
app.add_typer(settlement_cmd.app, name="settlement")
app.command("worker")(worker_cmd.worker)
# Further groups register here, one line each.


if __name__ == "__main__":
    app()
