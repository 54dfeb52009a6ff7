"""``sscard id check``: validate citizen IDs (ID-1..ID-3)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sscard.cli.common import console, print_json
from sscard.identity import InvalidCitizenId, parse_citizen_id

app = typer.Typer(help="Citizen identity numbers (GB 11643).", no_args_is_help=True)


@app.command("check")
def check(
    ids: Annotated[list[str], typer.Argument(help="IDs to check; `-` reads one per line from stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Validate IDs; a 15-digit ID is answered upgraded to 18. Exit 1 if any is invalid."""
    values: list[str] = []
    for item in ids:
        values.extend(line.strip() for line in sys.stdin if line.strip()) if item == "-" else values.append(item)
    any_invalid = False
    for raw in values:
        try:
            cid = parse_citizen_id(raw)
        except InvalidCitizenId as exc:
            any_invalid = True
            if as_json:
                print_json(
                    {
                        "valid": False,
                        "id": raw,
                        "region": None,
                        "birth_date": None,
                        "gender": None,
                        "code": exc.code,
                        "reason": exc.detail,
                    }
                )
            else:
                console.print(f"[red]invalid[/red] {raw}  {exc.code}: {exc.detail}", highlight=False)
            continue
        if as_json:
            print_json(
                {
                    "valid": True,
                    "id": cid.number,
                    "region": cid.region_code,
                    "birth_date": cid.birth_date.isoformat(),
                    "gender": cid.gender,
                    "code": None,
                }
            )
        else:
            note = " (upgraded from 15 digits)" if cid.upgraded_from_15 else ""
            console.print(
                f"[green]valid[/green] {cid.number}  region {cid.region_code}  born {cid.birth_date}  "
                f"gender {cid.gender}{note}",
                highlight=False,
            )
    if any_invalid:
        raise typer.Exit(1)
