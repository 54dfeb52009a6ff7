"""The fast lane of ``POST /api/v1/terminal/debit/consumption``: bank POS payments, decided in batches.

The same design as the settlement lane (``api/settlement_lane.py``): in front of the middleware stack it
reads the body, hands the common case to the debit batcher (``debit/batch.py``: many payments, one
transaction) and answers it after the batch's commit itself. Anything the batch does not decide goes on,
with its body, through the whole stack to the documented route (``api/terminal_debit.py``), which knows
from the scope whether the request is already authenticated (its nonce spent). A request that carries an
``Idempotency-Key`` goes to the route undecided: the key's record is the route's to keep.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError
from starlette.types import Scope, Send

from sscard.api.pin_verify_lane import BatchLane, lane_headers, send_ok
from sscard.api.problems import is_json_content_type
from sscard.api.terminal import wire_target
from sscard.debit.batch import ConsumeAttempt, Consumed, Outcome, debit_batcher
from sscard.debit.schemas import ConsumptionIn, ConsumptionOut

CONSUME_PATH = "/api/v1/terminal/debit/consumption"
# The batch's outcome for a request the lane hands on (an ``Authenticated``, or None: not decided).
OUTCOME_KEY = "sscard.debit_outcome"
_IDEMPOTENCY_KEY = b"idempotency-key"


class DebitLane(BatchLane):
    """ASGI middleware (``create_app``): answers the consumptions the batch pays; every other request
    passes straight through."""

    path = CONSUME_PATH
    outcome_key = OUTCOME_KEY

    async def decide(self, scope: Scope, body: bytes) -> Any:
        return await _decide(scope, body)

    async def answer(self, scope: Scope, send: Send, outcome: Any) -> bool:
        if not isinstance(outcome, Consumed):
            return False
        await send_ok(scope, send, ConsumptionOut.model_validate(outcome.answer).model_dump_json().encode())
        return True


async def _decide(scope: Scope, body: bytes) -> Outcome:
    if any(name == _IDEMPOTENCY_KEY for name, _ in scope["headers"]):
        return None  # the route authenticates it and keeps the key's record (api/idempotency.py)
    headers = lane_headers(scope)
    if not is_json_content_type(headers.get("content-type", "")):
        return None  # FastAPI's own reading decides (a JSON body without a content type, or 415)
    try:
        fields = ConsumptionIn.model_validate_json(body)
    except ValidationError:
        return None  # the route authenticates, then answers 422 with FastAPI's validation
    attempt = ConsumeAttempt(
        method="POST", target=wire_target(scope), headers=headers, body=body, card_no=fields.card_no,
        amount_fen=fields.amount_fen, txn_id=fields.txn_id,
        pin_block=bytes.fromhex(fields.pin_block) if fields.pin_block else None, received_at=time.time(),
    )  # fmt: skip
    return await debit_batcher().submit(attempt)
