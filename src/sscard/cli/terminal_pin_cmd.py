"""``sscard terminal verify-pin|change-pin``: the terminal simulator's PIN commands (contract.md).

They act exactly as a real terminal: load the terminal's profile (its key), build ISO 9564 format-4
PIN blocks with the SDK, sign the request and send it over HTTP to ``SSCARD_API_URL``. The answer is
one JSON object on stdout; exit 0 when ``ok``, 1 otherwise.

Registered on the ``sscard terminal`` group by one line in ``cli/main.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sscard.cli.common import print_json

TerminalOpt = Annotated[str, typer.Option("--terminal", help="Terminal id (its profile must be on this machine).")]
CardOpt = Annotated[str, typer.Option("--card", help="Card number, e.g. A00012345.")]


def _client(terminal_id: str) -> Any:
    from sscard.config import get_settings
    from sscard.terminal.client import TerminalClient
    from sscard.terminal.profile import load_profile

    settings = get_settings()
    return TerminalClient(settings.api_url, load_profile(terminal_id, settings.data_dir / "terminals"))


def _run(terminal_id: str, call: Any) -> dict[str, Any]:
    """Run ``call(client)``; every refusal (server, profile, PIN block) becomes ``ok: false`` + its code."""
    from sscard.terminal.client import TerminalError
    from sscard.terminal.pinblock import PinBlockError
    from sscard.terminal.profile import ProfileError

    try:
        with _client(terminal_id) as client:
            answer: dict[str, Any] = call(client)
            return answer
    except TerminalError as exc:
        return {"ok": False, "code": exc.code, "problem": exc.problem}
    except PinBlockError as exc:
        return {"ok": False, "code": exc.code, "problem": {"detail": str(exc)}}
    except ProfileError as exc:
        return {"ok": False, "code": "TERMINAL_PROFILE_MISSING", "problem": {"detail": str(exc)}}


def verify_pin(
    terminal: TerminalOpt,
    card: CardOpt,
    pin: Annotated[str | None, typer.Option("--pin", help="The PIN the holder typed (none: no PIN entered).")] = None,
) -> None:
    """Check a card's PIN as a terminal would: {"ok", "pin_enabled", "code", "tries_left"}."""

    def call(client: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"card_no": card}
        if pin is not None:
            body["pin_block"] = client.pin_block(card, pin)
        answer = client.request("POST", "/terminal/pin/verify", json_body=body)
        out = {
            "ok": True,
            "pin_enabled": answer.get("pin_enabled"),
            "code": None,
            "tries_left": answer.get("tries_left"),
        }
        if answer.get("campaign_prompt"):
            out["campaign_prompt"] = answer["campaign_prompt"]  # PIN-9: change the PIN before continuing
        return out

    result = _run(terminal, call)
    if not result["ok"]:
        problem = result.pop("problem", {})
        result = {"ok": False, "pin_enabled": problem.get("pin_enabled"), "code": result["code"],
                  "tries_left": problem.get("tries_left")}  # fmt: skip
    print_json(result)
    raise typer.Exit(0 if result["ok"] else 1)


def change_pin(
    terminal: TerminalOpt,
    card: CardOpt,
    old: Annotated[str, typer.Option("--old", help="The current PIN (or the initial one, e.g. 123456).")],
    new: Annotated[str, typer.Option("--new", help="The new 6-digit PIN.")],
) -> None:
    """Change a card's PIN as a terminal would: {"ok", "code"} (plus "reason" when too simple)."""

    def call(client: Any) -> dict[str, Any]:
        body = {
            "card_no": card,
            "old_pin_block": client.pin_block(card, old),
            "new_pin_block": client.pin_block(card, new),
        }
        client.request("POST", "/terminal/pin/change", json_body=body)
        return {"ok": True, "code": None}

    result = _run(terminal, call)
    if not result["ok"]:
        problem = result.pop("problem", {})
        result = {"ok": False, "code": result["code"]}
        if problem.get("reason"):
            result["reason"] = problem["reason"]  # PIN-3: which simplicity rule was broken
        if problem.get("tries_left") is not None:
            result["tries_left"] = problem["tries_left"]
    print_json(result)
    raise typer.Exit(0 if result["ok"] else 1)


def register(app: typer.Typer) -> None:
    """Add ``verify-pin`` and ``change-pin`` to the ``sscard terminal`` group."""
    app.command("verify-pin")(verify_pin)
    app.command("change-pin")(change_pin)
