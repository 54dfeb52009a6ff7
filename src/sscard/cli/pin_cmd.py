"""``sscard pin``: the card PIN report (issue 5 item 7). Terminal PIN commands are under ``sscard terminal``."""

from __future__ import annotations

from typing import Annotated

import typer

from sscard.cli.common import console, fail, handle_errors, print_json

app = typer.Typer(help="Card PIN: how many cards still use the initial PIN.", no_args_is_help=True)


@app.command("report")
@handle_errors
def report(
    within: Annotated[str, typer.Option(help="Region to report on (default national).")] = "000000",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Count, per region and card type, the active cards still on the initial (not enabled) PIN."""
    from sscard.credentials.pin.report import count_initial_pins
    from sscard.db.session import unit_of_work
    from sscard.regions.codes import is_region_code

    if not is_region_code(within):
        raise fail("a region code is six digits", "REGION_INVALID")
    with unit_of_work() as uow:
        rows = [c.as_dict() for c in count_initial_pins(uow, within=within)]
    if as_json:
        print_json(rows)
        return
    console.print("region  type     active cards  initial PIN  share")
    for r in rows:
        counts = f"{r['active_cards']:>12}  {r['initial_pin']:>11}  {r['share']:.1%}"
        console.print(f"{r['region_code']}  {r['card_type']:<7} {counts}", highlight=False)
