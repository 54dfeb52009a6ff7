"""The README's description of the demo cardholders counts what the demo loader loads."""

from __future__ import annotations

import re
from pathlib import Path

from sscard.demo.data import PERSONS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_counts_the_demo_persons_and_cards() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    found = re.search(r"\*\*Cardholders\*\*: (\d+) persons, (\d+) of them with a card", text)
    assert found, "the README's Cardholders line no longer says how many persons and how many with a card"
    with_card = sum(1 for p in PERSONS if p.card is not None)
    assert (int(found.group(1)), int(found.group(2))) == (len(PERSONS), with_card)
    assert ("one with none" in text) == (len(PERSONS) - with_card == 1)
