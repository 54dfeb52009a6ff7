"""What every command shares: one-line errors with stable codes, JSON output, the unit of work."""

from __future__ import annotations

import functools
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

from sscard.errors import DomainError
from sscard.logging import mask_text

if TYPE_CHECKING:
    from sscard.staff.principal import StaffPrincipal

P = ParamSpec("P")
R = TypeVar("R")


def row_id(value: int) -> int:
    """A row id on the command line: outside 1 … BIGINT it names no row (and no driver could bind
    it), so it is refused as a usage error (exit 2), never a traceback."""
    from sscard.db.ids import MAX_ROW_ID  # here: importing the database layer costs every command's start

    if not 1 <= value <= MAX_ROW_ID:
        raise typer.BadParameter(f"an id is a whole number from 1 to {MAX_ROW_ID}")
    return value


RowIdArg = Annotated[int, typer.Argument(callback=row_id)]


def batch_size_option(default: int) -> Any:
    """The imports' ``--batch-size`` (persons, contributions): one option, its help naming ``default``,
    the job's own ``DEFAULT_BATCH_SIZE`` that an unset option (None) falls back to
    (tests/cli/test_import_help.py ties the two)."""
    return typer.Option(
        "--batch-size",
        min=1,
        max=100_000,
        help=f"Rows per batch (default {default}): one transaction and one progress step; over the queue, "
        "the lines of one message. Smaller batches hold locks for less time and lose less on a crash.",
    )


# Piped or redirected, a table keeps its full width (no 80-column wrapping, no "…" cutting a value): the
# reader is a script or a file, not a terminal. On a terminal, Rich fits the terminal.
PIPED_WIDTH = 4096
console = Console(width=None if sys.stdout.isatty() else PIPED_WIDTH)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else PIPED_WIDTH)


def _no_type_on_flags() -> None:
    """Typer's help prints ``<bool>`` beside every on/off flag (``--json <bool>``), as if it took a value:
    a flag shows no type."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag and self.metavar is None:
            return None
        return shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_no_type_on_flags()


# Exit codes of every command (README "Exit codes"): scripts and schedulers tell these apart.
EXIT_OK = 0
EXIT_FAILED = 1  # refused or failed: one line "error CODE: reason" on stderr
EXIT_USAGE = 2  # a bad option, argument or SSCARD_* variable (nothing was done)
EXIT_REJECTED_ROWS = 3  # an import finished, but some rows were rejected (each named in its report)
EXIT_NOT_INITIALISED = 4  # the database has no schema yet: run `sscard db upgrade`
EXIT_INTERNAL = 70  # a bug (EX_SOFTWARE): one line naming the exception; SSCARD_DEBUG=1 shows the traceback


def fail(message: str, code: str = "ERROR", exit_code: int = EXIT_FAILED) -> typer.Exit:
    err_console.print(f"[red]error[/red] {code}: {message}", highlight=False, soft_wrap=True)
    return typer.Exit(exit_code)


def _first_line(exc: BaseException) -> str:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[:1] or [type(exc).__name__]
    return mask_text(reason[0])[:200]


def _missing_schema(exc: BaseException) -> bool:
    """A table the command needs does not exist: the database was never upgraded (SQLite's "no such
    table", PostgreSQL's undefined_table 42P01)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == "42P01" or "no such table" in str(orig or exc)


def operator_error(exc: Exception) -> typer.Exit | None:
    """The one-line answer (and exit code) to an error an operator can meet and fix; None for a bug."""
    from sqlalchemy.exc import OperationalError, ProgrammingError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from sscard.config import get_settings
    from sscard.errors import DatabaseNotInitialised

    if isinstance(exc, DatabaseNotInitialised):
        return fail(exc.detail, exc.code, EXIT_NOT_INITIALISED)
    if isinstance(exc, DomainError):
        return fail(exc.detail, exc.code)
    if isinstance(exc, OperationalError | ProgrammingError) and _missing_schema(exc):
        return fail(DatabaseNotInitialised(get_settings().data_dir).detail, DatabaseNotInitialised.code,
                    EXIT_NOT_INITIALISED)  # fmt: skip
    if isinstance(exc, OperationalError | PoolTimeout):
        # The database is down, frozen or refusing: say so in one line (the first line of the
        # driver's message, masked), never a traceback quoting SQL parameters.
        return fail(f"the database is unavailable: {_first_line(exc)}", "DATABASE_UNAVAILABLE")
    if isinstance(exc, UnicodeDecodeError):
        return fail("the file is not UTF-8; convert it, e.g. iconv -f GBK -t UTF-8 IN > OUT", "FILE_NOT_UTF8")
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return fail(f"{exc.strerror or type(exc).__name__}{where}", "FILE_ERROR")
    return None


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn domain errors into a one-line reason and a non-zero exit, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            answer = operator_error(exc)
            if answer is None:
                raise
            raise answer from None

    return wrapper


# Where the root's help names what the local operator may run without staff credentials: filled in from
# the commands themselves when the help is shown (``OperatorErrors.format_help``).
OPERATOR_COMMANDS = "{operator_commands}"


class OperatorErrors(TyperGroup):
    """The root group: whatever a command did not turn into a one-line reason itself is turned here,
    so no operator ever meets a traceback (exit codes: ``EXIT_*`` above). An unforeseen exception is a
    bug: one line naming it and where it was raised, exit 70 (``SSCARD_DEBUG=1``: the traceback)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        if self.help and OPERATOR_COMMANDS in self.help:
            from sscard.cli.reference import operator_commands

            self.help = self.help.replace(OPERATOR_COMMANDS, operator_commands(self))
        super().format_help(ctx, formatter)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if type(exc).__module__.split(".")[0] in ("typer", "click"):
                raise  # usage errors, Exit, Abort: the command line's own answers
            answer = operator_error(exc)
            if answer is not None:
                raise answer from None
            if os.environ.get("SSCARD_DEBUG"):
                raise
            frames = traceback.extract_tb(exc.__traceback__)
            where = f" at {frames[-1].filename.rsplit('/sscard/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
            raise fail(f"{type(exc).__name__}{where}: {_first_line(exc)} (a bug: SSCARD_DEBUG=1 shows the "
                       "traceback)", "INTERNAL_ERROR", EXIT_INTERNAL) from None  # fmt: skip


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


def staff_only(fn: Callable[P, R]) -> Callable[P, R]:
    """Mark a command that acts only as a named staff member who authenticates (CH-2), refused without
    one: ``sscard --help``'s list of what the local operator may run leaves it out (``acts_as_staff``)."""
    vars(fn)["staff_only"] = True  # kept by functools.wraps (handle_errors) and by Typer's own wrapper
    return fn


def acts_as_staff(command: Any) -> bool:
    """Whether a (Click) command runs only as an authenticated staff member: marked ``staff_only``, or its
    ``--as`` is required."""
    if getattr(command.callback, "staff_only", False):
        return True
    return any(param.required and "--as" in getattr(param, "opts", ()) for param in command.params)


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

    from sscard.db.early_commit import Why, commit_early
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
                commit_early(uow, why=Why.FAILURE_COUNTED)  # the half-done login's count and audit entry
                code = str(typer.prompt(f"One-time code for {username}", hide_input=True))
                login = authenticate_staff(uow, username=username, password=secret, otp=code)
        except DomainError:
            commit_early(uow, why=Why.FAILURE_COUNTED)  # the failure count and its audit entry must survive
            raise
        if login.enrol_only:
            raise SecondFactorEnrolmentRequired()
        logout_staff(uow, token=login.access_token, principal=login.principal)
        return login.principal
