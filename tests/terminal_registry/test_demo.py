"""The demo pharmacy terminal: registered once, usable at once through its profile (rule CH-3)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from sscard.audit import Actor
from sscard.terminal import TerminalClient, load_profile
from sscard.terminal_registry.demo import DEMO_REGION, DEMO_TERMINAL_ID, load_demo_terminals
from tests.staff.factories import ensure_region
from tests.terminal_registry.conftest import BASE


def _load(profiles: Path) -> list[str]:
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        ensure_region(uow, DEMO_REGION)
        return load_demo_terminals(uow, actor=Actor.system(), profiles=profiles)


def test_demo_terminal_is_idempotent_and_signs(client: TestClient, tmp_path: Path) -> None:
    lines = _load(tmp_path)
    assert lines[0].startswith(DEMO_TERMINAL_ID)
    profile = load_profile(DEMO_TERMINAL_ID, tmp_path)
    assert _load(tmp_path) == lines  # a second run changes nothing
    assert load_profile(DEMO_TERMINAL_ID, tmp_path) == profile
    assert TerminalClient(BASE, profile, http=client).echo()["terminal_id"] == DEMO_TERMINAL_ID

    # A lost profile is not re-sent the old key: the terminal moves to a new key version.
    (tmp_path / f"{DEMO_TERMINAL_ID}.json").unlink()
    _load(tmp_path)
    renewed = load_profile(DEMO_TERMINAL_ID, tmp_path)
    assert renewed.key_version == profile.key_version + 1 and renewed.mac_key != profile.mac_key
    assert TerminalClient(BASE, renewed, http=client).echo()["ok"] is True
