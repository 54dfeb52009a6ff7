"""``sscard accounts``: yearly interest into the pension and medical personal accounts (INS-3, INS-4)."""

from __future__ import annotations

from typing import Annotated

import typer

from sscard.cli.common import console, handle_errors, print_json

app = typer.Typer(help="Personal accounts: yearly credited interest.", no_args_is_help=True)


@app.command("credit-interest")
@handle_errors
def credit_interest_cmd(
    year: Annotated[int, typer.Option("--year", min=1990, max=2100, help="The calendar year, once it has ended.")],
    region: Annotated[str | None, typer.Option("--region", help="Only the accounts of this region.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Credit the year's interest at the policy's rate: one posting per account, idempotent per account + year."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.insurance.accounts.interest import credit_interest
    from sscard.regions.service import get_region_or_raise

    with unit_of_work() as uow:
        if region is not None:
            get_region_or_raise(uow, region)  # a typo is REGION_NOT_FOUND, not "0 accounts credited"
        run = credit_interest(uow, year=year, region_code=region, actor=Actor.cli_operator())
    result = {
        "year": run.year,
        "credited": run.credited,
        "already": run.already,
        "nothing_due": run.nothing_due,
        "total_fen": run.total_fen,
        "by_kind_fen": run.by_kind,
    }
    if as_json:
        print_json(result)
        return
    console.print(
        f"interest {year}: {run.credited} accounts credited ({run.total_fen / 100:.2f} yuan), "
        f"{run.already} already credited, {run.nothing_due} with nothing due",
        soft_wrap=True,
    )
