"""``sscard uscc check``: unified social credit codes (GB 32100), one answer line each."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sscard.cli.common import console, print_json

app = typer.Typer(help="Unified social credit codes (GB 32100).", no_args_is_help=True)


@app.command("check")
def check(
    codes: Annotated[list[str], typer.Argument(help="Codes to check; '-' reads one code a line from stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help='One {"valid", "uscc", "code"} line per code.')] = False,
) -> None:
    """Validate codes: 18 characters of the code alphabet, digits at 3-8, the check character. Exit 1 if any is bad."""
    from sscard.employers.uscc import check_uscc

    expanded: list[str] = []
    for code in codes:
        if code == "-":
            expanded.extend(line.strip() for line in sys.stdin if line.strip())
        else:
            expanded.append(code)
    bad = False
    for code in expanded:
        result = check_uscc(code)
        bad |= not result.valid
        if as_json:
            print_json(result.as_dict())
        elif result.valid:
            console.print(f"{result.uscc} valid", highlight=False)
        else:
            console.print(f"{result.uscc} invalid {result.code}: {result.reason}", highlight=False)
    if bad:
        raise typer.Exit(1)
