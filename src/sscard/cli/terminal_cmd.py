"""``sscard terminal``: the terminal simulator, built on the terminal SDK (contract.md).

It talks HTTP exactly as a real terminal does, to the ``api_url`` of the terminal's profile (the server
it was enrolled against); ``SSCARD_API_URL`` overrides it, and enrollment goes to ``SSCARD_API_URL``
(default: the server of SSCARD_HOST / SSCARD_PORT, http://127.0.0.1:8000);
it never touches the database or the security module. Enrollment is done on site by an administrator
or security officer of the region, whose credentials come from ``--staff-user`` / ``--staff-password``
or the environment variables ``SSCARD_STAFF_USER`` / ``SSCARD_STAFF_PASSWORD``. The terminal key ends
up in ``$SSCARD_DATA_DIR/terminals/<terminal_id>.json`` (0600), the simulator's stand-in for a secure
element.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import typer

# The SDK by its package, used at call time: importing it loads httpx (~0.2 s of CPU), which the CLI's
# other commands (statements, imports: every `sscard` start) never need.
from sscard import terminal as sdk
from sscard.cli.common import fail, print_json, staff_only
from sscard.config import get_settings

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(help="Terminal simulator: a terminal talking to the platform over HTTP.", no_args_is_help=True)


def _terminal_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Refusals and local problems as a one-line reason with the code, and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except sdk.TerminalError as exc:
            raise fail(exc.detail, exc.code) from None
        except (sdk.ProfileError, sdk.PinBlockError) as exc:
            raise fail(str(exc), getattr(exc, "code", "TERMINAL_PROFILE")) from None

    return wrapper


def _api_url() -> str:
    return get_settings().api_url


def terminal_api_url(profile: sdk.TerminalProfile) -> str:
    """Where a terminal reaches the server: SSCARD_API_URL when set, else the URL its profile was
    enrolled against (``api_url``), else the server these settings run (SSCARD_HOST / SSCARD_PORT)."""
    settings = get_settings()
    if settings.api_url_explicit or not profile.api_url:
        return settings.api_url
    return profile.api_url


def _profiles() -> Path:
    return get_settings().data_dir / "terminals"


@app.command("register")
@_terminal_errors
@staff_only  # an administrator or security officer (--staff-user)
def register(
    institution: str = typer.Option(..., "--institution", help="Name of the institution the terminal stands in."),
    region: str | None = typer.Option(None, "--region", help="Six-digit region code; default: the staff member's."),
    institution_type: str = typer.Option(
        "pharmacy",
        "--type",
        help="hospital, pharmacy, clinic, community_health_station, kiosk, bank_outlet, service_outlet or ivr "
        "(the telephone service's keypad: PIN changes by phone, PIN-4).",
    ),
    staff_user: str | None = typer.Option(None, "--staff-user", envvar="SSCARD_STAFF_USER", show_envvar=True),
    staff_password: str | None = typer.Option(
        None, "--staff-password", envvar="SSCARD_STAFF_PASSWORD", show_envvar=True, show_default=False
    ),
    staff_otp: str | None = typer.Option(
        None,
        "--staff-otp",
        envvar="SSCARD_STAFF_OTP",
        show_envvar=True,
        show_default=False,
        help="The staff member's TOTP code (security officers and administrators).",
    ),
) -> None:
    """Enroll a new terminal and keep its key in a local profile; prints {"terminal_id"}."""
    if not staff_user or not staff_password:
        raise fail(
            "enrollment needs an administrator or security officer: --staff-user/--staff-password "
            "or SSCARD_STAFF_USER/SSCARD_STAFF_PASSWORD",
            "STAFF_CREDENTIALS_REQUIRED",
        )
    api_url = _api_url()
    token = sdk.staff_login(api_url, staff_user, staff_password, otp=staff_otp)
    try:
        profile = sdk.enroll(
            api_url, staff_token=token, institution=institution, institution_type=institution_type, region_code=region
        )
    finally:
        sdk.staff_logout(api_url, token)
    sdk.save_profile(profile, _profiles())
    print_json({"terminal_id": profile.terminal_id})


@app.command("echo")
@_terminal_errors
def echo(
    terminal: str = typer.Option(..., "--terminal", help="Terminal id (its profile must exist locally)."),
    message: str = typer.Option("hello", "--message"),
) -> None:
    """Send one signed request and print what the server saw."""
    profile = sdk.load_profile(terminal, _profiles())
    with sdk.TerminalClient(terminal_api_url(profile), profile) as client:
        print_json(client.echo(message))
