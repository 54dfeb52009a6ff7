"""``sscard keys``: the key hierarchy (KEY-1..3), rotation and revocation, export under a transport
key, data-key rotation, and key ceremonies with dual control (KEY-6). Every change and every
refusal is audited. Key bytes are never printed: only labels, versions and KCVs — and a key
exported under a transport key, wrapped.

The national root and province keys are under dual control (KEY-6): ``init-root``, ``derive`` of a new
province key, and ``rotate``, ``revoke``, ``export``, ``import`` of ``ROOT`` or ``PMK/...`` need ``--as
NAME`` and ``--second NAME``, two different key custodians or security officers, each authenticating
(the first: ``SSCARD_STAFF_PASSWORD`` / ``SSCARD_STAFF_OTP``; the second: ``SSCARD_SECOND_PASSWORD`` /
``SSCARD_SECOND_OTP``; else hidden prompts, or stdin lines in that order). City, terminal and local
keys keep single control (``--as`` optional). The service layer enforces the same rule.

Ceremony custodians authenticate with their staff password; components are read with a hidden
prompt, or from stdin (``--stdin``: the password on the first line, the component on the second).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table  # loaded at start-up anyway (through Typer and Rich, by sscard.cli.common)

from sscard.cli.common import (
    SECOND_OTP_VARIABLE,
    RowIdArg,
    authenticate_cli_staff,
    console,
    err_console,
    fail,
    handle_errors,
    print_json,
    second_password,
    staff_only,
)

# The audit and database layers (and Rich's progress bars) are imported where a command runs: `sscard
# --help`, `sscard worker` and every other command would otherwise pay for them at start-up.
if TYPE_CHECKING:
    from sscard.audit import Actor
    from sscard.db.session import UnitOfWork

app = typer.Typer(
    help="Keys and their register: hierarchy, rotation, export, ceremonies; devices, carriers, PSAM, incidents.",
    no_args_is_help=True,
)
ceremony = typer.Typer(help="Key ceremonies: a key formed from custodians' components (KEY-6).", no_args_is_help=True)
app.add_typer(ceremony, name="ceremony")

JsonOption = Annotated[bool, typer.Option("--json", help="Answer in JSON.")]
AsOption = Annotated[str, typer.Option("--as", help="The key custodian acting (asked for a password).")]
StdinOption = Annotated[bool, typer.Option("--stdin", help="Read the password (and component) from stdin lines.")]
ActingOption = Annotated[
    str | None, typer.Option("--as", help="The staff member acting (a key custodian or security officer for ROOT/PMK).")
]
SecondOption = Annotated[
    str | None,
    typer.Option(
        "--second",
        help="The second custodian (ROOT and province keys, KEY-6): SSCARD_SECOND_PASSWORD / SSCARD_SECOND_OTP "
        "or a hidden prompt.",
    ),
]
COLUMNS = ("label", "version", "level", "region", "purpose", "kcv", "state", "current", "origin", "backend")


def _change(action: str, subject: str, work: Callable[[UnitOfWork, Actor], Any], actor: Actor | None = None) -> Any:
    """One audited change in its own transaction; a refusal is rolled back, audited and re-raised."""
    from sscard.api.refusals import refusals_audited
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        who = actor or Actor.cli_operator()
        with refusals_audited(uow, actor=who, action=action, subject=subject):
            return work(uow, who)


def _acting(as_user: str | None, second: str | None, *, dual: bool, what: str) -> tuple[Actor | None, Actor | None]:
    """The authenticated actor (``--as``) and second custodian (``--second``), each authenticating.

    ``dual`` (the root or a province key, KEY-6): the service layer refuses unless both are two different
    custodians (``DUAL_CONTROL_REQUIRED``, audited as any refusal); here only a usage hint is added."""
    from sscard.audit import Channel

    if second and not as_user:
        raise fail("--second needs --as (the first custodian)", "DUAL_CONTROL_REQUIRED")
    if dual and not second:
        err_console.print(f"{what} needs two custodians: --as NAME --second NAME (KEY-6)", highlight=False)
    first = _custodian(as_user, None) if as_user else None
    other = None
    if second:
        principal = authenticate_cli_staff(second, password=second_password(second), otp_variable=SECOND_OTP_VARIABLE)
        other = principal.actor(Channel.CLI)
    return first, other


def _dual(label: str) -> bool:
    from sscard.security_module.management import needs_dual_control

    return needs_dual_control(label)


def _rows(rows: list[Any], as_json: bool) -> None:
    from sscard.key_register.inventory import key_summary

    data = [key_summary(r) for r in rows]
    if as_json:
        print_json(data)
        return
    out = Table(*COLUMNS)
    for row in data:
        out.add_row(*(str(row[c]) for c in COLUMNS))
    console.print(out)


@app.command("init-root")
@handle_errors
@staff_only  # the root always takes two custodians (KEY-6)
def init_root_cmd(as_user: ActingOption = None, second: SecondOption = None, as_json: JsonOption = False) -> None:
    """Generate the national root key (KEY-1) under two custodians (KEY-6); refused when one exists."""
    from sscard.key_register.inventory import init_root

    first, other = _acting(as_user, second, dual=True, what="creating the national root key")

    def work(uow: UnitOfWork, actor: Actor) -> Any:
        return init_root(uow, actor=actor, second=other)

    _rows([_change("key.root.init", "key:ROOT", work, first)], as_json)


@app.command("derive")
@handle_errors
def derive_cmd(
    region: Annotated[str, typer.Option("--region", help="A province or city code.")],
    as_user: ActingOption = None,
    second: SecondOption = None,
    as_json: JsonOption = False,
) -> None:
    """Derive a province's or a city's keys from the key held above it (KEY-3); a new province key needs
    two custodians (KEY-6)."""
    from sscard.key_register.inventory import derive_region, list_keys

    dual = len(region) == 6 and region.isdigit() and region.endswith("0000") and region != "000000"
    first, other = _acting(as_user, second, dual=dual, what=f"deriving the province key PMK/{region}")

    def work(uow: UnitOfWork, actor: Actor) -> list[Any]:
        derive_region(uow, region_code=region, actor=actor, second=other)
        return [r for r in list_keys(uow) if r.region_code == region or r.label.endswith("/" + region)]

    _rows(_change("key.derive", f"region:{region}", work, first), as_json)


@app.command("generate")
@handle_errors
def generate_cmd(
    label: str,
    purpose: Annotated[str, typer.Option(help="zone_pin, transport or local.")],
    region: Annotated[str, typer.Option(help="The region that uses the key (KEY-2).")],
    as_json: JsonOption = False,
) -> None:
    """Generate a key for local use only (KEY-2)."""
    from sscard.key_register.inventory import generate_key

    def work(uow: UnitOfWork, actor: Actor) -> Any:
        return generate_key(uow, label=label, purpose=purpose, region_code=region, actor=actor)

    _rows([_change("key.generate", f"key:{label}", work)], as_json)


@app.command("list")
@handle_errors
def list_cmd(
    region: Annotated[str | None, typer.Option(help="Only this region.")] = None, as_json: JsonOption = False
) -> None:
    """List the key inventory: metadata and KCVs, never key bytes."""
    from sscard.db.session import unit_of_work
    from sscard.key_register.inventory import list_keys

    with unit_of_work() as uow:
        _rows(list_keys(uow, region_code=region), as_json)


@app.command("rotate")
@handle_errors
def rotate_cmd(
    label: str, as_user: ActingOption = None, second: SecondOption = None, as_json: JsonOption = False
) -> None:
    """Make a new version of a key current; the old version verifies until retired (ROOT / PMK: two
    custodians)."""
    from sscard.key_register.inventory import rotate_key

    first, other = _acting(as_user, second, dual=_dual(label), what=f"rotating {label}")

    def work(uow: UnitOfWork, actor: Actor) -> Any:
        return rotate_key(uow, label=label, actor=actor, second=other)

    _rows([_change("key.rotate", f"key:{label}", work, first)], as_json)


@app.command("retire")
@handle_errors
def retire_cmd(label: str, version: int, as_json: JsonOption = False) -> None:
    """Retire a superseded key version (its terminals re-keyed, its data re-encrypted)."""
    from sscard.key_register.inventory import retire_key

    def work(uow: UnitOfWork, actor: Actor) -> Any:
        return retire_key(uow, label=label, version=version, actor=actor)

    _rows([_change("key.retire", f"key:{label}@{version}", work)], as_json)


@app.command("revoke")
@handle_errors
def revoke_cmd(
    label: str,
    reason: Annotated[str, typer.Option(help="Why (recorded in the inventory and the audit).")],
    version: Annotated[int | None, typer.Option(help="Only this version (default: all).")] = None,
    as_user: ActingOption = None,
    second: SecondOption = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a key: every use is refused with KEY_REVOKED from now on, keys derived from it too (ROOT /
    PMK: two custodians)."""
    from sscard.key_register.inventory import list_keys, revoke_key

    first, other = _acting(as_user, second, dual=_dual(label), what=f"revoking {label}")

    def work(uow: UnitOfWork, actor: Actor) -> list[Any]:
        revoke_key(uow, label=label, reason=reason, version=version, actor=actor, second=other)
        return list_keys(uow, label=label)

    _rows(_change("key.revoke", f"key:{label}", work, first), as_json)


@app.command("export")
@handle_errors
def export_cmd(
    label: str,
    transport: Annotated[str, typer.Option(help="Label of the transport key to wrap it under.")],
    version: Annotated[int | None, typer.Option()] = None,
    as_user: ActingOption = None,
    second: SecondOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export a key wrapped under a transport key (never in clear; ROOT / PMK: two custodians)."""
    from sscard.key_register.inventory import export_key

    first, other = _acting(as_user, second, dual=_dual(label), what=f"exporting {label}")

    def work(uow: UnitOfWork, actor: Actor) -> dict[str, Any]:
        return export_key(uow, label=label, transport=transport, version=version, actor=actor, second=other)

    out = _change("key.export", f"key:{label}", work, first)
    if as_json:
        print_json(out)
    else:
        for name, value in out.items():
            console.print(f"{name}: {value}", highlight=False)


@app.command("import")
@handle_errors
def import_cmd(
    label: str,
    version: Annotated[int, typer.Option()],
    transport: Annotated[str, typer.Option()],
    kcv: Annotated[str, typer.Option(help="The KCV stated by the exporter.")],
    wrapped: Annotated[str, typer.Option(help="The wrapped key, hexadecimal.")],
    purpose: Annotated[str, typer.Option(help="For a key outside the hierarchy: zone_pin.")] = "zone_pin",
    as_user: ActingOption = None,
    second: SecondOption = None,
    as_json: JsonOption = False,
) -> None:
    """Load a key handed down wrapped under a transport key; its KCV must match (ROOT / PMK: two
    custodians)."""
    from sscard.key_register.inventory import import_key

    first, other = _acting(as_user, second, dual=_dual(label), what=f"importing {label}")

    def work(uow: UnitOfWork, actor: Actor) -> Any:
        return import_key(uow, label=label, version=version, wrapped_hex=wrapped, transport=transport, kcv=kcv,
                          purpose=purpose, actor=actor, second=other)  # fmt: skip

    _rows([_change("key.import", f"key:{label}@{version}", work, first)], as_json)


@app.command("rotate-data-key")
@handle_errors
def rotate_data_key_cmd(
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 500, as_json: JsonOption = False
) -> None:
    """Re-encrypt every protected field under a new data key, in batches; rerun to resume after a kill."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from sscard.db.session import unit_of_work
    from sscard.key_register import rotation

    start = _change("key.data.rotation.start", "key:DATA", lambda uow, actor: rotation.begin_rotation(uow, actor=actor))
    rid, totals = start.id, {"rows": 0, "resealed": 0}
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console, disable=as_json) as bar:
        for name in rotation.tables():
            with unit_of_work() as uow:
                task = bar.add_task(name, total=rotation.remaining(uow, rotation_id=rid, table_name=name))
            done = False
            while not done:
                with unit_of_work() as uow:  # one batch and its progress row: one transaction
                    result = rotation.rotate_batch(uow, rotation_id=rid, table_name=name, batch_size=batch_size)
                bar.advance(task, result.rows)
                totals["rows"] += result.rows
                totals["resealed"] += result.resealed
                done = result.done
    end = _change(
        "key.data.rotation.finish", f"data_key_rotation:{rid}",
        lambda uow, actor: rotation.finish_rotation(uow, rotation_id=rid, actor=actor),
    )  # fmt: skip
    out = {"rotation": rid, "data_key_version": end.to_version, **totals}
    if as_json:
        print_json(out)
    else:
        console.print(
            f"data key now version {end.to_version}; {totals['resealed']} values re-encrypted", highlight=False
        )


# --- ceremonies ----------------------------------------------------------------------------------


def _read_secret(prompt: str, stdin: bool) -> str:
    if stdin:
        line = sys.stdin.readline()
        if not line:
            raise typer.BadParameter(f"stdin ended before the {prompt.lower()}")
        return line.strip()
    return str(typer.prompt(prompt, hide_input=True))


def _custodian(username: str, password: str | None) -> Actor:
    """Authenticate a staff member (their login is audited; a failure is committed before raising); a
    second factor comes from SSCARD_STAFF_OTP (``cli.common.authenticate_cli_staff``)."""
    from sscard.audit import Channel

    return authenticate_cli_staff(username, password=password).actor(Channel.CLI)


@ceremony.command("start")
@handle_errors
def ceremony_start(
    label: Annotated[str, typer.Option(help="ROOT, or a transport / zone PIN key label.")],
    as_user: AsOption,
    purpose: Annotated[str, typer.Option(help="root, transport or zone_pin.")] = "root",
    components: Annotated[int, typer.Option(help="Custodians needed (at least 2).")] = 2,
    region: Annotated[str, typer.Option()] = "000000",
    stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Open a ceremony (a key custodian or security officer)."""
    from sscard.key_register.ceremony import start_ceremony

    actor = _custodian(as_user, _read_secret("Password", stdin))

    def work(uow: UnitOfWork, who: Actor) -> int:
        return start_ceremony(
            uow, label=label, purpose=purpose, region_code=region, components=components, actor=who
        ).id

    cid = _change("key.ceremony.start", f"key:{label}", work, actor)
    if as_json:
        print_json({"ceremony": cid})
    else:
        console.print(f"ceremony {cid} open for {label}", highlight=False)


@ceremony.command("add-component")
@handle_errors
def ceremony_add(
    ceremony_id: RowIdArg,
    as_user: AsOption,
    kcv: Annotated[str, typer.Option(help="The KCV printed on this component's sheet.")],
    stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Enter one custodian's component (hidden); it is checked against its KCV and kept only sealed."""
    from sscard.key_register.ceremony import add_component

    actor = _custodian(as_user, _read_secret("Password", stdin))
    component = _read_secret("Component (32 hex digits)", stdin)

    def work(uow: UnitOfWork, who: Actor) -> int:
        return add_component(uow, ceremony_id=ceremony_id, component_hex=component, kcv=kcv, actor=who)

    count = _change("key.ceremony.component", f"ceremony:{ceremony_id}", work, actor)
    if as_json:
        print_json({"ceremony": ceremony_id, "components": count})
    else:
        console.print(f"component accepted ({count} entered)", highlight=False)


@ceremony.command("complete")
@handle_errors
def ceremony_complete(
    ceremony_id: RowIdArg,
    as_user: AsOption,
    kcv: Annotated[str | None, typer.Option(help="The expected KCV of the formed key.")] = None,
    stdin: StdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """Form the key from the components of different custodians and load it (KEY-6)."""
    from sscard.key_register.ceremony import complete_ceremony

    actor = _custodian(as_user, _read_secret("Password", stdin))

    def work(uow: UnitOfWork, who: Actor) -> dict[str, Any]:
        done = complete_ceremony(uow, ceremony_id=ceremony_id, kcv=kcv, actor=who)
        return {"ceremony": done.id, "label": done.label, "version": done.key_version, "kcv": done.kcv}

    out = _change("key.ceremony.complete", f"ceremony:{ceremony_id}", work, actor)
    if as_json:
        print_json(out)
    else:
        console.print(f"{out['label']} version {out['version']} loaded, KCV {out['kcv']}", highlight=False)
