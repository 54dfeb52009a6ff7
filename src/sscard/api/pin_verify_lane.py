"""The fast lane of ``POST /api/v1/terminal/pin/verify``: the busiest request, decided in batches.

Every card transaction asks for a PIN check, so this one route carries most of the platform's
traffic. Its common case (the right PIN of an active card with an enabled PIN and no failure on
record, as the PIN rule says: ``credentials/pin/rules/decision.py``) is decided in shared
transactions (``credentials/pin/batch_verify.py``) and answered here, in front of the middleware
stack: FastAPI's router walks every included router on each request, and each middleware wraps
``send`` once more; measured, the two cost more CPU than the check itself.

Where it sits: ``PinVerifyLane`` is an ordinary ASGI middleware, added last in ``api/app.py`` so it is
the outermost of the app's middleware (inside only Starlette's own error middleware).

So the lane does for its own answers what the stack does for every other: the request id
(``X-Request-ID`` echoed when sane, else a new one), the security headers (precomputed bytes), the
metrics under the route's template, a bounded body, and an error boundary (problem+json, never a
traceback). Anything the batch does not decide goes on, with its body, through the whole stack to
the documented FastAPI route (``api/terminal_pin.py``), which knows from the scope whether the
request is already authenticated (its nonce spent): the input guard, the validation and every refusal are theirs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sscard.api.metrics import record_request
from sscard.api.middleware import error_response, request_id_of
from sscard.api.problems import is_json_content_type
from sscard.api.security_headers import API_HEADERS
from sscard.api.terminal import AuthenticatedTerminal, authenticated_terminal, wire_target
from sscard.credentials.pin.batch_verify import Authenticated, Outcome, PinVerifyAttempt, Verified, pin_verifier
from sscard.credentials.pin.schemas import TerminalPinVerified, TerminalPinVerify
from sscard.terminal.protocol import HEADERS as SIGNED_HEADERS

VERIFY_PATH = "/api/v1/terminal/pin/verify"
# The batch's outcome for a request the lane hands on (an ``Authenticated``, or None: not decided).
OUTCOME_KEY = "sscard.pin_verify_outcome"
# A verify body is about 100 bytes; anything much larger is not one, and the stack's guard answers it.
MAX_LANE_BODY = 4096


def _for_stack(scope: Scope) -> bool:
    """A query string (refused there unless declared: api/query_params.py) or an ``Idempotency-Key``
    (api/idempotency.py): the stack's routes answer those, not the lane."""
    return bool(scope.get("query_string")) or any(name == b"idempotency-key" for name, _ in scope["headers"])


class BatchLane:
    """ASGI middleware that answers the requests of one path its batch decides, after the batch's commit;
    every other request passes straight through. A lane names its ``path`` and ``outcome_key`` and says how
    it decides (``decide``) and how it answers what it decided (``answer``); the route finds an outcome it
    handed on under ``outcome_key``."""

    path: str
    outcome_key: str

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def decide(self, scope: Scope, body: bytes) -> Any:
        raise NotImplementedError

    async def answer(self, scope: Scope, send: Send, outcome: Any) -> bool:
        """Answer ``outcome`` if the batch decided it (True); False hands it on to the route."""
        raise NotImplementedError

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path or _for_stack(scope):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        chunks, more, fits = await read_body(receive)
        if not fits:  # too large, or the client went away: the stack answers as for any request
            await self.app(scope, replaying(chunks, receive, more_body=more), send)
            return
        body = b"".join(chunks)
        try:
            outcome = await self.decide(scope, body)
        except Exception as exc:  # noqa: BLE001 - the lane is outside the stack's error boundary
            response = error_response(scope, exc)
            response.headers["X-Request-ID"] = request_id_of(scope)
            response.raw_headers.extend(API_HEADERS)  # what SecurityHeadersMiddleware adds to every answer
            await response(scope, receive, send)
            record_request(scope, self.path, response.status_code, time.perf_counter() - started)
            return
        # Outside the try: once the answer's headers are sent, no error answer may follow them.
        if await self.answer(scope, send, outcome):
            record_request(scope, self.path, 200, time.perf_counter() - started)
            return
        scope[self.outcome_key] = outcome
        await self.app(scope, replaying([body], receive, more_body=False), send)


class PinVerifyLane(BatchLane):
    """The app's outermost middleware (``create_app``): answers the verify requests the batch accepts."""

    path = VERIFY_PATH
    outcome_key = OUTCOME_KEY

    async def decide(self, scope: Scope, body: bytes) -> Any:
        return await _decide(scope, body)

    async def answer(self, scope: Scope, send: Send, outcome: Any) -> bool:
        if not isinstance(outcome, Verified):
            return False
        await _answer(scope, send, outcome.check.tries_left)
        return True


async def read_body(receive: Receive) -> tuple[list[bytes], bool, bool]:
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
    await send_ok(scope, send, _verified_body(tries_left))


async def send_ok(scope: Scope, send: Send, body: bytes) -> None:
    """A lane's answer: 200 with ``body`` (JSON) and the headers the stack would have added."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id_of(scope).encode()),
        *API_HEADERS,  # precomputed bytes: the security headers the stack adds to every /api/v1 answer
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def handed_on_terminal(outcome_key: str) -> Callable[[Request], Awaitable[AuthenticatedTerminal]]:
    """A route's dependency: the terminal the lane's batch authenticated before handing the request on
    (its nonce spent), or else authenticated now, one request at a time (a refusal answers 401 before
    the body is validated, as on every terminal route)."""

    async def terminal(request: Request) -> AuthenticatedTerminal:
        outcome = request.scope.get(outcome_key)
        if isinstance(outcome, Authenticated):
            return outcome.terminal
        return await authenticated_terminal(request)

    return terminal


@lru_cache(maxsize=64)  # a threshold's worth of answers: the body of every right PIN, rendered once
def _verified_body(tries_left: int) -> bytes:
    return TerminalPinVerified(pin_enabled=True, tries_left=tries_left).model_dump_json().encode()


def replaying(chunks: list[bytes], receive: Receive, *, more_body: bool) -> Receive:
    """``receive`` for the stack: the chunks already read, then whatever the server still has."""
    pending = list(chunks)

    async def replay() -> Message:
        if pending:
            chunk = pending.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending) or more_body}
        return await receive()  # the rest of the body, or the disconnect, as the server says

    return replay
