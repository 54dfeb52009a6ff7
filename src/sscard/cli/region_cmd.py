"""``sscard region``: the administrative region table."""

from __future__ import annotations

from typing import Annotated

import typer

from sscard.cli.common import console, handle_errors, print_json

app = typer.Typer(help="Administrative regions (six-digit codes).", no_args_is_help=True)


@app.command("add")
@handle_errors
def add(
    code: Annotated[str, typer.Argument(help="Six-digit administrative code.")],
    name_zh: Annotated[str, typer.Option("--name-zh", help="Chinese name.")],
    name_en: Annotated[str, typer.Option("--name-en", help="English name.")],
    parent: Annotated[str | None, typer.Option(help="Parent code (default: implied by the code).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Register a region under its (already registered) parent; re-adding the same region is a no-op."""
    from sscard.audit import Actor
    from sscard.db.session import unit_of_work
    from sscard.regions.service import add_region

    with unit_of_work() as uow:
        region = add_region(
            uow, code=code, name_zh=name_zh, name_en=name_en, parent_code=parent, actor=Actor.cli_operator()
        )
        row = {"code": region.code, "name_zh": region.name_zh, "name_en": region.name_en,
               "level": region.level.value, "parent": region.parent_code}  # fmt: skip
    if as_json:
        print_json(row)
        return
    console.print(f"region {row['code']} {row['name_zh']} ({row['name_en']}), {row['level']}")


@app.command("list")
@handle_errors
def list_(
    within: Annotated[str | None, typer.Option("--region", "--within", help="Only regions inside this one.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List registered regions."""
    from sscard.db.session import unit_of_work
    from sscard.regions.service import list_regions

    with unit_of_work() as uow:
        rows = [
            {
                "code": r.code,
                "name_zh": r.name_zh,
                "name_en": r.name_en,
                "level": r.level.value,
                "parent": r.parent_code,
            }
            for r in list_regions(uow, within=within)
        ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        console.print(f"{r['code']}  {r['level']:<9} {r['name_zh']}  {r['name_en']}")
