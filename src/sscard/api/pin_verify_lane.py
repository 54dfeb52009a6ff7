"""The fast lane of ``POST /api/v1/terminal/pin/verify``: the busiest request, decided in batches.

Every card transaction asks for a PIN check, so this one route carries most of the platform's
traffic. Its common case (the right PIN of an active card with an enabled PIN and no failure on
record) is decided in shared transactions (``credentials/pin/batch_verify.py``) and answered here,
without going through FastAPI's router and dependency machinery, which on this route cost more CPU
than the check itself (the router walks every included router on each request).

The lane sits inside the other middlewares (request id, metrics, error boundary, input guard), so
the answer carries the same headers, is counted and size-checked like any other. Anything the batch
does not decide goes on, with its body, to the documented FastAPI route (``api/terminal_pin.py``),
which then knows from the scope whether the request is already authenticated (its nonce spent).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sscard.api.metrics import ROUTE_KEY
from sscard.api.problems import is_json_content_type
from sscard.api.terminal import wire_target
from sscard.credentials.pin.batch_verify import Outcome, PinVerifyAttempt, Verified, pin_verifier
from sscard.credentials.pin.schemas import TerminalPinVerified, TerminalPinVerify

VERIFY_PATH = "/api/v1/terminal/pin/verify"
# The batch's outcome for a request the lane hands on (an ``Authenticated``, or None: not decided).
OUTCOME_KEY = "sscard.pin_verify_outcome"


class PinVerifyLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != VERIFY_PATH:
            await self.app(scope, receive, send)
            return
        try:
            body = await Request(scope, receive).body()
        except HTTPException as exc:  # too large, NUL (input guard): the route answers as for any other
            await self.app(scope, _raising(exc), send)
            return
        except ClientDisconnect:
            return  # nobody left to answer
        outcome = await _decide(scope, body)
        if isinstance(outcome, Verified):
            scope[ROUTE_KEY] = VERIFY_PATH
            answer = TerminalPinVerified(pin_enabled=True, tries_left=outcome.check.tries_left)
            await Response(answer.model_dump_json(), media_type="application/json")(scope, receive, send)
            return
        scope[OUTCOME_KEY] = outcome
        await self.app(scope, _replaying(body, receive), send)


async def _decide(scope: Scope, body: bytes) -> Outcome:
    headers = Headers(scope=scope)
    if not is_json_content_type(headers.get("content-type", "")):
        return None  # FastAPI's own reading decides (a JSON body without a content type, or 415)
    try:
        fields = TerminalPinVerify.model_validate_json(body)
    except ValidationError:
        return None  # the route authenticates, then answers 422 with FastAPI's validation
    attempt = PinVerifyAttempt(
        method="POST", target=wire_target(scope), headers=headers, body=body, card_no=fields.card_no,
        pin_block=bytes.fromhex(fields.pin_block) if fields.pin_block else None, received_at=time.time(),
    )  # fmt: skip
    return await pin_verifier().submit(attempt)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: disconnect, as the server would say

    return replay


def _raising(exc: HTTPException) -> Receive:
    async def receive() -> Any:
        raise exc

    return receive
