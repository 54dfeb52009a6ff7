"""The fast lane of ``POST /api/v1/terminal/pin/verify``: the busiest request, decided in batches.

Every card transaction asks for a PIN check, so this one route carries most of the platform's
traffic. Its common case (the right PIN of an active card with an enabled PIN and no failure on
record) is decided in shared transactions (``credentials/pin/batch_verify.py``) and answered here,
in front of the whole middleware stack: FastAPI's router walks every included router on each
request, and each middleware wraps ``send`` once more; measured, the two cost more CPU than the
check itself.

So the lane does for its own answers what the stack does for every other: the request id
(``X-Request-ID`` echoed when sane, else a new one), the security headers (precomputed bytes), the
metrics under the route's template, a bounded body, and an error boundary (problem+json, never a
traceback). Anything the batch does not decide goes on, with its body, through the whole stack to
the documented FastAPI route (``api/terminal_pin.py``), which knows from the scope whether the
request is already authenticated (its nonce spent): the input guard, the validation and every refusal are theirs.
"""

from __future__ import annotations

import time
from functools import lru_cache

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sscard.api.metrics import record_request
from sscard.api.middleware import error_response, request_id_of
from sscard.api.problems import is_json_content_type
from sscard.api.security_headers import API_HEADERS
from sscard.api.terminal import wire_target
from sscard.credentials.pin.batch_verify import Outcome, PinVerifyAttempt, Verified, pin_verifier
from sscard.credentials.pin.schemas import TerminalPinVerified, TerminalPinVerify
from sscard.terminal.protocol import HEADERS as SIGNED_HEADERS

VERIFY_PATH = "/api/v1/terminal/pin/verify"
# The batch's outcome for a request the lane hands on (an ``Authenticated``, or None: not decided).
OUTCOME_KEY = "sscard.pin_verify_outcome"
# A verify body is about 100 bytes; anything much larger is not one, and the stack's guard answers it.
MAX_LANE_BODY = 4096


class PinVerifyLane:
    """Wraps the whole middleware stack (``create_app``); every other request passes straight through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != VERIFY_PATH:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        chunks, more, fits = await _read_body(receive)
        if not fits:  # too large, or the client went away: the stack answers as for any request
            await self.app(scope, _replaying(chunks, receive, more_body=more), send)
            return
        body = b"".join(chunks)
        try:
            outcome = await _decide(scope, body)
        except Exception as exc:  # noqa: BLE001 - the lane is outside the stack's error boundary
            response = error_response(scope, exc)
            response.headers["X-Request-ID"] = request_id_of(scope)
            response.raw_headers.extend(API_HEADERS)  # what SecurityHeadersMiddleware adds to every answer
            await response(scope, receive, send)
            record_request(scope, VERIFY_PATH, response.status_code, time.perf_counter() - started)
            return
        if isinstance(outcome, Verified):
            # Outside the try: once the answer's headers are sent, no error answer may follow them.
            await _answer(scope, send, outcome.check.tries_left)
            record_request(scope, VERIFY_PATH, 200, time.perf_counter() - started)
            return
        scope[OUTCOME_KEY] = outcome
        await self.app(scope, _replaying([body], receive, more_body=False), send)


async def _read_body(receive: Receive) -> tuple[list[bytes], bool, bool]:
    """The body's chunks as read; whether the server has more of it; whether it fits the lane
    (no more than ``MAX_LANE_BODY`` bytes and no disconnect)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return chunks, True, False  # http.disconnect: the stack's own reading meets it again
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if size > MAX_LANE_BODY or not more:
            return chunks, more, size <= MAX_LANE_BODY


# The headers the lane reads, by their names as ASGI gives them (lower case) and as read (canonical).
_READ_HEADERS = {name.lower().encode("latin-1"): name for name in (*SIGNED_HEADERS, "content-type")}


def lane_headers(scope: Scope) -> dict[str, str]:
    """The headers the lane reads, the first of each as ``Headers.get`` gives it, in one pass over the
    request's headers (``Headers.get`` walks them all once per name asked)."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        read_as = _READ_HEADERS.get(name)
        if read_as is not None and read_as not in found:
            found[read_as] = value.decode("latin-1")
    return found


async def _decide(scope: Scope, body: bytes) -> Outcome:
    headers = lane_headers(scope)
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


async def _answer(scope: Scope, send: Send, tries_left: int) -> None:
    """200 with the answer as JSON and the request id: the headers the stack would have added."""
    body = _verified_body(tries_left)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id_of(scope).encode()),
        *API_HEADERS,  # precomputed bytes: the security headers the stack adds to every /api/v1 answer
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@lru_cache(maxsize=64)  # a threshold's worth of answers: the body of every right PIN, rendered once
def _verified_body(tries_left: int) -> bytes:
    return TerminalPinVerified(pin_enabled=True, tries_left=tries_left).model_dump_json().encode()


def _replaying(chunks: list[bytes], receive: Receive, *, more_body: bool) -> Receive:
    """``receive`` for the stack: the chunks already read, then whatever the server still has."""
    pending = list(chunks)

    async def replay() -> Message:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending) or more_body}
        return await receive()  # the rest of the body, or the disconnect, as the server says

    return replay
