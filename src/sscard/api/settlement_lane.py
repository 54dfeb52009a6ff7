"""The fast lane of ``POST /api/v1/terminal/settlement``: payments at medical terminals, decided in batches.

The same design as the PIN verify lane (``api/pin_verify_lane.py``): an ordinary ASGI middleware in
front of the middleware stack that reads the body, hands the common case to the settlement batcher
(``settlement/batch.py``: many payments, one transaction) and answers it after the batch's commit
itself, with what the stack would add (the request id, the security headers, the metrics, an error
boundary). Anything the batch does not decide goes on, with its body, through the whole stack to the
documented FastAPI route (``api/terminal_settlement.py``), which knows from the scope whether the
request is already authenticated (its nonce spent): every refusal, replay and conflict is the route's.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError
from starlette.types import Scope, Send

from sscard.api.pin_verify_lane import BatchLane, lane_headers, send_ok
from sscard.api.problems import is_json_content_type
from sscard.api.terminal import wire_target
from sscard.settlement.batch import Outcome, SettleAttempt, Settled, settlement_batcher
from sscard.settlement.schemas import SettlementIn, SettlementOut

SETTLE_PATH = "/api/v1/terminal/settlement"
# The batch's outcome for a request the lane hands on (an ``Authenticated``, or None: not decided).
OUTCOME_KEY = "sscard.settlement_outcome"


class SettlementLane(BatchLane):
    """ASGI middleware (``create_app``): answers the settlements the batch pays; every other request
    passes straight through."""

    path = SETTLE_PATH
    outcome_key = OUTCOME_KEY

    async def decide(self, scope: Scope, body: bytes) -> Any:
        return await _decide(scope, body)

    async def answer(self, scope: Scope, send: Send, outcome: Any) -> bool:
        if not isinstance(outcome, Settled):
            return False
        await _answer(scope, send, outcome.answer)
        return True


async def _decide(scope: Scope, body: bytes) -> Outcome:
    headers = lane_headers(scope)
    if not is_json_content_type(headers.get("content-type", "")):
        return None  # FastAPI's own reading decides (a JSON body without a content type, or 415)
    try:
        fields = SettlementIn.model_validate_json(body)
    except ValidationError:
        return None  # the route authenticates, then answers 422 with FastAPI's validation
    attempt = SettleAttempt(
        method="POST", target=wire_target(scope), headers=headers, body=body, card_no=fields.card_no,
        amount_fen=fields.amount_fen, txn_id=fields.txn_id,
        pin_block=bytes.fromhex(fields.pin_block) if fields.pin_block else None, partial=fields.partial,
        received_at=time.time(),
    )  # fmt: skip
    return await settlement_batcher().submit(attempt)


async def _answer(scope: Scope, send: Send, answer: dict[str, object]) -> None:
    """200 with the answer as the route renders it (``SettlementOut``, compact JSON) and the stack's headers."""
    body = SettlementOut.model_validate(answer).model_dump_json().encode()
    await send_ok(scope, send, body)
