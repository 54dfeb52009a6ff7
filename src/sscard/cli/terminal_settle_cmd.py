"""``sscard terminal settle|refund|reverse``: the terminal simulator's medical settlement (FIN-1, contract.md).

Like a real terminal: the profile's keys, the PIN block built with the SDK, one signed request over HTTP
to ``SSCARD_API_URL``. One JSON object on stdout, ``{"ok", "code", "balance_fen", ...}``; exit 0 when ``ok``.

Registered on the ``sscard terminal`` group by one line in ``cli/main.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sscard.cli.common import print_json
from sscard.cli.terminal_pin_cmd import CardOpt, TerminalOpt, _run

TxnOpt = Annotated[str, typer.Option("--txn", help="The terminal's transaction id of the settlement.")]


def _print(result: dict[str, Any]) -> None:
    if not result["ok"]:
        problem = result.pop("problem", {}) or {}
        result = {"ok": False, "code": result["code"], "balance_fen": problem.get("balance_fen")}
        for extra in ("tries_left", "paid_fen", "refunded_fen"):
            if problem.get(extra) is not None:
                result[extra] = problem[extra]
    print_json(result)
    raise typer.Exit(0 if result["ok"] else 1)


def settle(
    terminal: TerminalOpt,
    card: CardOpt,
    amount_fen: Annotated[int, typer.Option("--amount-fen", help="Amount in integer fen.")],
    txn: TxnOpt,
    pin: Annotated[str | None, typer.Option("--pin", help="The PIN the holder typed (none: no PIN entered).")] = None,
    partial: Annotated[bool, typer.Option("--partial", help="Pay what the account holds if it is less.")] = False,
) -> None:
    """Pay from the medical personal account (FIN-1): {"ok", "code", "balance_fen", "paid_fen", "remainder_fen"}."""
    _print(_run(terminal, lambda client: client.settle(card, amount_fen, txn, pin=pin, partial=partial), card=card))


def refund(
    terminal: TerminalOpt,
    txn: TxnOpt,
    refund_txn: Annotated[str, typer.Option("--refund-txn", help="The refund's own transaction id.")],
    amount_fen: Annotated[
        int | None, typer.Option("--amount-fen", help="Amount to refund in fen (default: all that is left).")
    ] = None,
) -> None:
    """Refund a settlement, whole or part: {"ok", "code", "balance_fen", "refunded_fen", "refundable_fen"}."""
    _print(_run(terminal, lambda client: client.refund(txn, refund_txn, amount_fen=amount_fen)))


def reverse(
    terminal: TerminalOpt,
    txn: TxnOpt,
    reversal_txn: Annotated[str, typer.Option("--reversal-txn", help="The reversal's own transaction id.")],
) -> None:
    """Reverse a settlement of today in full: {"ok", "code", "balance_fen", "reversed_fen"}."""
    _print(_run(terminal, lambda client: client.reverse(txn, reversal_txn)))


def register(app: typer.Typer) -> None:
    """Add ``settle``, ``refund`` and ``reverse`` to the ``sscard terminal`` group."""
    app.command("settle")(settle)
    app.command("refund")(refund)
    app.command("reverse")(reverse)
