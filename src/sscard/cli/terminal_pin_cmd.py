"""``sscard terminal verify-pin|change-pin|card-info``: the terminal simulator's PIN commands (contract.md).

With the profile of a terminal registered as ``--type ivr`` the simulator is the telephone service's
keypad (PIN-4: ``change-pin`` by phone); with a ``--type kiosk`` profile, ``card-info`` is the kiosk's
information query (PIN-12).

They act exactly as a real terminal: load the terminal's profile (its key), build ISO 9564 format-4
PIN blocks with the SDK, sign the request and send it over HTTP to the profile's ``api_url`` (or
``SSCARD_API_URL`` when set). A card number that is none is ``CARD_NO_INVALID``. The answer is
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
    from sscard.cli.terminal_cmd import terminal_api_url
    from sscard.config import get_settings
    from sscard.terminal.client import TerminalClient
    from sscard.terminal.profile import load_profile

    profile = load_profile(terminal_id, get_settings().data_dir / "terminals")
    return TerminalClient(terminal_api_url(profile), profile)


CARD_NO_INVALID = "CARD_NO_INVALID"


def card_number_problem(card: str) -> str | None:
    """Why ``card`` is no card number a terminal can use (a letter and 8 digits, or a 12–19 digit
    number issued elsewhere), or None: said before anything is sent, with its own code."""
    from sscard.terminal.pinblock import PinBlockError, pin_block_pan

    try:
        pin_block_pan(card)
    except PinBlockError as exc:
        return str(exc)
    return None


def _run(terminal_id: str, call: Any, *, card: str | None = None) -> dict[str, Any]:
    """Run ``call(client)``; every refusal (server, profile, PIN block) becomes ``ok: false`` + its code.
    What the server did not answer (unreachable, no profile here) is also one line on stderr naming why."""
    from sscard.terminal.client import TerminalError
    from sscard.terminal.pinblock import PinBlockError
    from sscard.terminal.profile import ProfileError

    if card is not None and (problem := card_number_problem(card)):
        _say(CARD_NO_INVALID, f"{problem}: {card!r}")
        return {"ok": False, "code": CARD_NO_INVALID, "problem": {"detail": problem}}
    try:
        with _client(terminal_id) as client:
            answer: dict[str, Any] = call(client)
            return answer
    except TerminalError as exc:
        if not exc.status:  # no answer from the server: the detail names the URL it tried
            _say(exc.code, exc.detail)
        return {"ok": False, "code": exc.code, "problem": exc.problem}
    except PinBlockError as exc:
        return {"ok": False, "code": exc.code, "problem": {"detail": str(exc)}}
    except ProfileError as exc:
        _say("TERMINAL_PROFILE_MISSING", str(exc))
        return {"ok": False, "code": "TERMINAL_PROFILE_MISSING", "problem": {"detail": str(exc)}}


def _say(code: str, detail: str) -> None:
    from sscard.cli.common import err_console

    err_console.print(f"error {code}: {detail}", highlight=False, soft_wrap=True, markup=False)


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

    result = _run(terminal, call, card=card)
    if not result["ok"]:
        problem = result.pop("problem", {})
        result = {"ok": False, "pin_enabled": problem.get("pin_enabled"), "code": result["code"],
                  "tries_left": problem.get("tries_left")}  # fmt: skip
    print_json(result)
    raise typer.Exit(0 if result["ok"] else 1)


def change_pin(
    terminal: TerminalOpt,
    card: CardOpt,
    old: Annotated[
        str,
        typer.Option("--old", "--pin", help="The current PIN (or the initial one, 123456); --pin as in verify-pin."),
    ],
    new: Annotated[str, typer.Option("--new", "--new-pin", help="The new 6-digit PIN.")],
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

    result = _run(terminal, call, card=card)
    if not result["ok"]:
        problem = result.pop("problem", {})
        result = {"ok": False, "code": result["code"]}
        if problem.get("reason"):
            result["reason"] = problem["reason"]  # PIN-3: which simplicity rule was broken
        if problem.get("tries_left") is not None:
            result["tries_left"] = problem["tries_left"]
    print_json(result)
    raise typer.Exit(0 if result["ok"] else 1)


def card_info(
    terminal: TerminalOpt,
    card: CardOpt,
    pin: Annotated[str | None, typer.Option("--pin", help="The PIN (needed when the card's PIN is enabled).")] = None,
) -> None:
    """A kiosk's card information query (PIN-12): {"ok", "code", "pin_enabled", "card", "insurance", ...}."""

    def call(client: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"card_no": card}
        if pin is not None:
            body["pin_block"] = client.pin_block(card, pin)
        answer: dict[str, Any] = client.request("POST", "/terminal/card/info", json_body=body)
        return answer

    result = _run(terminal, call)
    if not result["ok"]:
        problem = result.pop("problem", {})
        result = {"ok": False, "code": result["code"], "pin_enabled": problem.get("pin_enabled"),
                  "tries_left": problem.get("tries_left")}  # fmt: skip
    print_json(result)
    raise typer.Exit(0 if result["ok"] else 1)


def register(app: typer.Typer) -> None:
    """Add ``verify-pin``, ``change-pin`` and ``card-info`` to the ``sscard terminal`` group."""
    app.command("verify-pin")(verify_pin)
    app.command("change-pin")(change_pin)
    app.command("card-info")(card_info)
