"""What the key-register commands share: acting as a named staff member, the audited run, output."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sscard.cli.common import authenticate_cli_staff, console, print_json
from sscard.key_register.errors import KeysInvalid, StaffNotEligible
from sscard.staff.roles import Role

# The audit and database layers are imported where a command runs, not here: `sscard --help`, `sscard worker`
# and every other command would otherwise pay for them at start-up (the CLI imports every group's module).
if TYPE_CHECKING:
    from sscard.audit import Actor
    from sscard.db.session import UnitOfWork

# Two-person rules (approval, witnessed destruction, supervision) need to know who acts: every change
# here is made by a named staff member who authenticates (``--as`` plus their password), never by an
# anonymous operator: the local operator carries no region, so acting as one would cross regions.
AS_HELP = (
    "Act as this staff member (of the role the command needs: security officer, or for carrier work also "
    "key custodian); required for changes. The password "
    "is asked for (hidden), or read from SSCARD_STAFF_PASSWORD or the first line of stdin; a second "
    "factor from SSCARD_STAFF_OTP."
)
AsOption = Annotated[str | None, typer.Option("--as", help=AS_HELP)]
JsonOption = Annotated[bool, typer.Option("--json", help="Answer in JSON.")]
KEY_ROLES = frozenset({Role.SECURITY_OFFICER, Role.KEY_CUSTODIAN})
OFFICER_ONLY = frozenset({Role.SECURITY_OFFICER})


def acting(as_user: str | None, roles: frozenset[Role] = KEY_ROLES) -> Actor:
    """The audit actor: the named staff member, authenticated (role and region included)."""
    from sscard.audit import Channel

    needed = " or ".join(sorted(r.value for r in roles))
    if as_user is None:
        raise StaffNotEligible(f"this change is made by a named {needed}: pass --as USERNAME", part="actor")
    principal = authenticate_cli_staff(as_user)
    if principal.role not in roles:
        raise StaffNotEligible(f"--as names an active {needed}", part="actor")
    return principal.actor(Channel.CLI)


def run(
    as_user: str | None,
    action: str,
    subject: str,
    work: Callable[[UnitOfWork, Actor], dict[str, Any]],
    *,
    roles: frozenset[Role] = KEY_ROLES,
) -> dict[str, Any]:
    """Authenticate ``--as``, then run one change in its own transaction; a refusal is rolled back,
    audited and re-raised."""
    from sscard.api.refusals import refusals_audited
    from sscard.db.session import unit_of_work

    actor = acting(as_user, roles)
    with unit_of_work() as uow:
        with refusals_audited(uow, actor=actor, action=action, subject=subject):
            return work(uow, actor)


def read(work: Callable[[UnitOfWork], Any]) -> Any:
    """Run a read-only query."""
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        return work(uow)


def emit(result: Any, as_json: bool, message: str) -> None:
    if as_json:
        print_json(result)
    else:
        console.print(message, highlight=False, soft_wrap=True)


def table(rows: list[dict[str, Any]], columns: tuple[str, ...], as_json: bool) -> None:
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    out = Table(*columns)
    for row in rows:
        out.add_row(*(str(row.get(c, "")) if row.get(c) is not None else "" for c in columns))
    console.print(out)


def parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise KeysInvalid(f"{field} is a date YYYY-MM-DD", field=field) from None


def parse_time(value: str, field: str) -> datetime:
    """An ISO 8601 time; without an offset it is read as Beijing time (UTC+8)."""
    from sscard.db.base import CHINA

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise KeysInvalid(f"{field} is an ISO 8601 date or time", field=field) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA)


def columns_of(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """A plain dict of the named attributes (enums by value, dates as ISO text)."""
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        out[name] = getattr(value, "value", value) if not isinstance(value, date | datetime) else value.isoformat()
    return out
