"""``sscard policy``: show, change and trace regional policy (POL); the initial-password report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from sscard.cli.common import EXIT_USAGE, console, fail, handle_errors, print_json, region_report

app = typer.Typer(help="Regional policy: initial credentials, lockouts, expiries, PIN campaigns.", no_args_is_help=True)

CardTypeOpt = Annotated[str | None, typer.Option("--card-type", help="social | medical | rural (default: all types).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
# `--region CODE`, as everywhere else; the region as the first argument (`policy show 110000`) still works.
RegionOpt = Annotated[str | None, typer.Option("--region", help="Six-digit region code (000000 = national).")]
RegionArg = Annotated[str | None, typer.Argument(hidden=True, show_default=False)]


def _region(option: str | None, positional: str | None) -> str:
    if option is not None and positional is not None and option != positional:
        raise fail(f"two regions given: --region {option} and {positional}", "REGION_INVALID", EXIT_USAGE)
    region = option if option is not None else positional
    if region is None:
        raise fail("name the region: --region CODE (000000 = national)", "REGION_INVALID", EXIT_USAGE)
    return region


def _known_region(uow: Any, region: str) -> None:
    """An unknown region is an error, not the national defaults shown under its code (a malformed
    code is the policy service's POLICY_INVALID)."""
    from sscard.regions.codes import NATIONAL, is_region_code
    from sscard.regions.service import get_region_or_raise

    if region != NATIONAL and is_region_code(region):
        get_region_or_raise(uow, region)


def _policy_keys() -> str:
    from sscard.policy.schemas import POLICY_KEYS

    return ", ".join(POLICY_KEYS)


def _parse_moment(raw: str | None, option: str) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise fail(
            f"{option} is an ISO date or date-time, e.g. 2026-04-13 or 2026-04-13T08:00+08:00", "POLICY_INVALID"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _parse_assignments(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise fail(f"expected KEY=VALUE, got {pair!r}", "POLICY_INVALID")
        try:
            values[key.strip()] = json.loads(raw)  # numbers, null, lists and objects (campaigns)
        except json.JSONDecodeError:
            values[key.strip()] = raw  # plain words: fixed_123456, either ...
    return values


@app.command("show")
@handle_errors
def show(
    region_arg: RegionArg = None,
    region_opt: RegionOpt = None,
    card_type: CardTypeOpt = None,
    at: Annotated[str | None, typer.Option(help="Evaluate at this moment (default now).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the policy in force for a region (and card type), and where each value comes from."""
    from sscard.db.session import unit_of_work
    from sscard.policy.service import get_effective_policy

    region = _region(region_opt, region_arg)
    with unit_of_work() as uow:
        _known_region(uow, region)
        policy = get_effective_policy(uow, region_code=region, card_type=card_type, at=_parse_moment(at, "--at"))
    values = policy.values()
    if as_json:
        print_json(
            {
                "region_code": region,
                "card_type": policy.card_type,
                "as_of": policy.as_of.isoformat(),
                "values": values,
                "sources": policy.sources,
            }
        )
        return
    console.print(f"policy for {region}/{policy.card_type or 'any'} as of {policy.as_of.isoformat(timespec='seconds')}")
    for key, value in values.items():
        source = policy.sources.get(key, "default")
        console.print(f"  {key:<40} {json.dumps(value, ensure_ascii=False)}  [dim]({source})[/dim]", highlight=False)


@app.command("set")
@handle_errors
def set_(
    assignments: Annotated[
        list[str] | None,
        typer.Argument(help="KEY=VALUE pairs (VALUE as JSON or a word); `sscard policy set --help` lists the keys."),
    ] = None,
    region_opt: RegionOpt = None,
    unset: Annotated[list[str] | None, typer.Option("--unset", help="Inherit KEY again (repeatable).")] = None,
    card_type: CardTypeOpt = None,
    effective_from: Annotated[str | None, typer.Option(help="When it takes effect (default now).")] = None,
    reason: Annotated[str, typer.Option(help="Why (3 to 200 characters, recorded with the version). Required.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Record a new policy version for a region (audited): --region CODE KEY=VALUE ... --reason TEXT."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.policy.schemas import POLICY_KEYS
    from sscard.policy.service import set_policy

    pairs = list(assignments or [])
    positional = pairs.pop(0) if pairs and "=" not in pairs[0] and region_opt is None else None
    region = _region(region_opt, positional)
    values = _parse_assignments(pairs)
    unknown = sorted((set(values) | set(unset or [])) - set(POLICY_KEYS))
    if unknown:
        raise fail(f"unknown policy key(s) {', '.join(unknown)}; the keys are: {_policy_keys()}", "POLICY_INVALID")
    if not reason.strip():
        raise fail("say why with --reason TEXT (3 to 200 characters, recorded with the version)",
                   "POLICY_REASON_REQUIRED", EXIT_USAGE)  # fmt: skip
    with unit_of_work() as uow:
        version = set_policy(
            uow,
            region_code=region,
            card_type=card_type,
            values=values,
            unset=unset or [],
            effective_from=_parse_moment(effective_from, "--effective-from"),
            reason=reason,
            actor=Actor.cli_operator(),
        )
        result = {
            "region_code": version.region_code,
            "card_type": version.card_type,
            "version": version.version,
            "effective_from": version.effective_from.isoformat(),
        }
    if as_json:
        print_json(result)
    else:
        console.print(
            f"policy {result['region_code']}/{result['card_type']} version {result['version']}, "
            f"effective {result['effective_from']}"
        )


@app.command("history")
@handle_errors
def history(
    region_arg: RegionArg = None,
    region_opt: RegionOpt = None,
    card_type: CardTypeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the stored versions of a region's policy: who, when, why, what."""
    from sscard.db.session import unit_of_work
    from sscard.policy.service import list_policy_versions

    region = _region(region_opt, region_arg)
    with unit_of_work() as uow:
        _known_region(uow, region)
        rows = [
            {
                "card_type": v.card_type,
                "version": v.version,
                "effective_from": v.effective_from.isoformat(),
                "changed_by": v.changed_by,
                "reason": v.reason,
                "settings": v.settings,
            }
            for v in list_policy_versions(uow, region_code=region, card_type=card_type)
        ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        console.print(
            f"{r['card_type']:<7} v{r['version']:<3} {r['effective_from']}  {r['changed_by']}: {r['reason']}",
            highlight=False,
        )
        console.print(f"        {json.dumps(r['settings'], ensure_ascii=False)}", highlight=False)


@app.command("report")
@handle_errors
def report(
    within: Annotated[
        str, typer.Option("--region", "--within", help="Region to report on (default national).")
    ] = "000000",
    as_json: JsonOpt = False,
) -> None:
    """Count, per region, the holders still on the initial query password (QPW-1, QPW-2)."""
    from sscard.credentials.query_password.report import count_initial_passwords

    region_report(
        within,
        as_json,
        count=lambda uow, region: count_initial_passwords(uow, within=region),
        header="region   holders  initial-password  share",
        line=lambda r: f"{r['region_code']}  {r['holders']:>8}  {r['initial_password']:>16}  {r['share']:.1%}",
    )
