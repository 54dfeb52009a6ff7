"""README's domains table names every package of src/sscard, and only those (as tests/cli/test_reference.py
ties its CLI table to the commands): a new package is described where a reader looks for it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEADING = "## Domains (`src/sscard/`)"


def _table_packages() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(HEADING)
    rows = [line for line in readme[start:].split("\n\n", 1)[0].splitlines() if line.startswith("| `")]
    first_columns = [row.split(" | ", 1)[0] for row in rows]
    return {path.split("/")[0] for column in first_columns for path in re.findall(r"`([a-z_/]+)/`", column)}


def test_the_domains_table_names_every_package() -> None:
    packages = {p.parent.name for p in (ROOT / "src" / "sscard").glob("*/__init__.py")}
    listed = _table_packages()
    assert packages - listed == set(), "packages missing from README's domains table"
    assert listed - packages == set(), "README's domains table names packages that do not exist"
