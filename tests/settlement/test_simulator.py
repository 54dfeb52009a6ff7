"""``sscard terminal settle|refund|reverse`` against a real server on 127.0.0.1, as a terminal (FIN-1, contract)."""

from __future__ import annotations

import json

import pytest

from tests.settlement.factories import balance_of
from tests.terminal_registry.test_cli import REGION, _run, env, server  # noqa: F401

pytestmark = pytest.mark.usefixtures("db_env")


def _json(args: list[str]) -> tuple[int, dict]:
    result = _run(args)
    return result.exit_code, json.loads(result.stdout)


# rule FIN-1 (contract: {"ok", "code", "balance_fen"}; the same --txn again moves nothing; TXN_CONFLICT)
def test_settle_refund_reverse_from_the_command_line(env, funded_card) -> None:  # noqa: F811
    tid = json.loads(_run(["terminal", "register", "--institution", "福田仁心药房", "--region", REGION], env).stdout)[
        "terminal_id"
    ]
    card_no, account = funded_card(5_000)
    settle = ["terminal", "settle", "--terminal", tid, "--card", card_no, "--amount-fen", "1200", "--txn", "C1"]
    code, first = _json(settle)
    assert code == 0 and {"ok", "code", "balance_fen"} <= first.keys()
    assert (first["ok"], first["code"], first["balance_fen"]) == (True, None, 3_800)
    assert _json(settle) == (0, first)  # the same --txn again: the first answer, nothing moved
    assert balance_of(account) == 3_800
    code, conflict = _json([*settle[:-3], "1300", "--txn", "C1"])
    assert code == 1 and conflict == {"ok": False, "code": "TXN_CONFLICT", "balance_fen": None}
    code, short = _json([*settle[:-3], "9000", "--txn", "C2"])
    assert code == 1 and (short["code"], short["balance_fen"]) == ("INSUFFICIENT_FUNDS", 3_800)

    code, refunded = _json(["terminal", "refund", "--terminal", tid, "--txn", "C1", "--refund-txn", "C1R",
                            "--amount-fen", "200"])  # fmt: skip
    assert code == 0 and (refunded["ok"], refunded["code"], refunded["balance_fen"]) == (True, None, 4_000)
    code, above = _json(["terminal", "refund", "--terminal", tid, "--txn", "C1", "--refund-txn", "C1S",
                         "--amount-fen", "1001"])  # fmt: skip
    assert code == 1 and above["code"] == "REFUND_EXCEEDS_PAYMENT"

    _json([*settle[:-3], "500", "--txn", "C3"])
    code, reversed_ = _json(["terminal", "reverse", "--terminal", tid, "--txn", "C3", "--reversal-txn", "C3V"])
    assert code == 0 and reversed_["balance_fen"] == 4_000
    assert balance_of(account) == 4_000
