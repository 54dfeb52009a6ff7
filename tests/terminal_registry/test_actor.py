"""The audit actor of an authenticated terminal (CH-4): what every entry of a terminal's work says of who
did it. Issue 26: its routes' tests live with the PIN, debit and settlement domains, so no test of the
registry pinned it down."""

from __future__ import annotations

from sscard.audit import Channel
from sscard.terminal_registry.auth import AuthenticatedTerminal
from sscard.terminal_registry.models import InstitutionType


# rule CH-4: a terminal's entries name the terminal, the terminal channel, its institution type and region
def test_the_actor_of_an_authenticated_terminal() -> None:
    terminal = AuthenticatedTerminal(
        terminal_id="T-1101050001", institution_name="仁和大药房", institution_type=InstitutionType.HOSPITAL,
        region_code="110105", key_version=3, suite="sm",
    )  # fmt: skip
    actor = terminal.actor()
    assert actor.kind == "terminal" and actor.id == "T-1101050001"
    assert actor.channel is Channel.TERMINAL
    assert actor.role == "hospital" == terminal.kind
    assert actor.region == "110105"
