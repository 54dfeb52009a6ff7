"""What every command shares: one-line errors with stable codes, JSON output, the unit of work."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from sscard.db.ids import MAX_ROW_ID
from sscard.errors import DomainError
from sscard.logging import mask_text

if TYPE_CHECKING:
    from sscard.staff.principal import StaffPrincipal

P = ParamSpec("P")
R = TypeVar("R")


def row_id(value: int) -> int:
    """A row id on the command line: outside 1 … BIGINT it names no row (and no driver could bind
    it), so it is refused as a usage error (exit 2), never a traceback."""
    if not 1 <= value <= MAX_ROW_ID:
        raise typer.BadParameter(f"an id is a whole number from 1 to {MAX_ROW_ID}")
    return value


RowIdArg = Annotated[int, typer.Argument(callback=row_id)]

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: str = "ERROR", exit_code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error[/red] {code}: {message}", highlight=False, soft_wrap=True)
    return typer.Exit(exit_code)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn domain errors into a one-line reason and a non-zero exit, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from sqlalchemy.exc import OperationalError
        from sqlalchemy.exc import TimeoutError as PoolTimeout

        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            raise fail(exc.detail, exc.code) from None
        except (OperationalError, PoolTimeout) as exc:
            # The database is down, frozen or refusing: say so in one line (the first line of the
            # driver's message, masked), never a traceback quoting SQL parameters.
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[:1] or ["no answer"]
            raise fail(f"the database is unavailable: {mask_text(reason[0])[:200]}", "DATABASE_UNAVAILABLE") from None

    return wrapper


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")


def region_report(
    within: str,
    as_json: bool,
    *,
    count: Callable[[Any, str], list[Any]],
    header: str,
    line: Callable[[dict[str, Any]], str],
) -> None:
    """Print a per-region count (``count(uow, within)`` → rows with ``as_dict()``): a table or JSON."""
    from sscard.db.session import unit_of_work
    from sscard.regions.codes import is_region_code

    if not is_region_code(within):
        raise fail("a region code is six digits (000000 = national)", "REGION_INVALID")
    with unit_of_work() as uow:
        rows = [c.as_dict() for c in count(uow, within)]
    if as_json:
        print_json(rows)
        return
    console.print(header)
    for row in rows:
        console.print(line(row), highlight=False)


# Where a staff member's credentials come from on the command line: never a plain argument (it would
# stay in the shell history and in the process list).
PASSWORD_VARIABLE = "SSCARD_STAFF_PASSWORD"  # noqa: S105 - the variable's name, not a password
OTP_VARIABLE = "SSCARD_STAFF_OTP"
# The second custodian of a dual-control key operation (KEY-6): their own credentials.
SECOND_PASSWORD_VARIABLE = "SSCARD_SECOND_PASSWORD"  # noqa: S105 - the variable's name, not a password
SECOND_OTP_VARIABLE = "SSCARD_SECOND_OTP"


def staff_password(username: str) -> str:
    """The staff member's password: ``SSCARD_STAFF_PASSWORD``, else the first line of a piped stdin,
    else a hidden prompt."""
    password = os.environ.get(PASSWORD_VARIABLE)
    if password:
        return password
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise fail(f"no password for {username} on stdin (or set {PASSWORD_VARIABLE})", "INVALID_CREDENTIALS")
        return line
    return str(typer.prompt(f"Password for {username}", hide_input=True))


def second_password(username: str) -> str:
    """The second custodian's password: ``SSCARD_SECOND_PASSWORD``, else a hidden prompt on a terminal,
    else the next line of a piped stdin (after the first custodian's)."""
    password = os.environ.get(SECOND_PASSWORD_VARIABLE)
    if password:
        return password
    if sys.stdin.isatty():
        return str(typer.prompt(f"Password for {username} (second custodian)", hide_input=True))
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise fail(f"no password for {username} (set {SECOND_PASSWORD_VARIABLE})", "INVALID_CREDENTIALS")
    return line


def authenticate_cli_staff(
    username: str, *, password: str | None = None, otp: str | None = None, otp_variable: str = OTP_VARIABLE
) -> StaffPrincipal:
    """Authenticate a staff member acting through the CLI (CH-2) and return who they are.

    The login is checked and audited as any other (failures count towards throttling and are committed
    before the error is raised); the session it opens is closed at once. ``otp`` (default
    ``SSCARD_STAFF_OTP``) is the second factor of the roles that need one (security officers, key
    custodians, auditors, administrators); on a terminal it is asked for, hidden, when the password was
    right and a code is needed. An account that has not enrolled its second factor cannot act here.
    """
    import sys

    import typer

    from sscard.db.session import unit_of_work
    from sscard.staff.errors import OtpRequired, SecondFactorEnrolmentRequired
    from sscard.staff.sessions import authenticate_staff, logout_staff

    secret = password if password is not None else staff_password(username)
    code = otp if otp is not None else (os.environ.get(otp_variable) or None)
    with unit_of_work() as uow:
        try:
            try:
                login = authenticate_staff(uow, username=username, password=secret, otp=code)
            except OtpRequired:
                if not sys.stdin.isatty():
                    raise
                uow.commit()
                code = str(typer.prompt(f"One-time code for {username}", hide_input=True))
                login = authenticate_staff(uow, username=username, password=secret, otp=code)
        except DomainError:
            uow.commit()  # the failure count and its audit entry must survive (throttling)
            raise
        if login.enrol_only:
            raise SecondFactorEnrolmentRequired()
        logout_staff(uow, token=login.access_token, principal=login.principal)
        return login.principal
