"""``sscard pin``: the card PIN report (issue 5 item 7). Terminal PIN commands are under ``sscard terminal``."""

from __future__ import annotations

from typing import Annotated

import typer

from sscard.cli.common import handle_errors, region_report

app = typer.Typer(help="Card PIN: how many cards still use the initial PIN.", no_args_is_help=True)


@app.command("report")
@handle_errors
def report(
    within: Annotated[
        str, typer.Option("--region", "--within", help="Region to report on (default national).")
    ] = "000000",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Count, per region and card type, the active cards still on the initial (not enabled) PIN."""
    from sscard.credentials.pin.report import count_initial_pins

    region_report(
        within,
        as_json,
        count=lambda uow, region: count_initial_pins(uow, within=region),
        header="region  type     active cards  initial PIN  share",
        line=lambda r: (
            f"{r['region_code']}  {r['card_type']:<7} {r['active_cards']:>12}  {r['initial_pin']:>11}  {r['share']:.1%}"
        ),
    )
