"""Pure ASGI middleware: request ids, the error boundary, and the input guard (size, NUL).

Order in ``create_app`` (outermost first): PinVerifyLane (``api/pin_verify_lane.py``) → RequestId →
Metrics → ErrorBoundary → InputGuard → routes, so a 500 still carries ``X-Request-ID`` and is counted
by the metrics.
"""

from __future__ import annotations

import os
import re
import traceback

import psycopg
import structlog
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sscard.api.deps import OPEN_TRANSACTIONS
from sscard.api.problems import http_problem, problem
from sscard.logging import mask_text

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_BODY_BYTES = 1024 * 1024
# Signed documents (agreements, security plans: up to 10 MiB, key_register.documents) travel as multipart.
MAX_UPLOAD_BYTES = 11 * 1024 * 1024
# Uploads with a larger limit of their own: the employer's contributions CSV (``web/employer/routes.py``
# ``MAX_UPLOAD``, 20 MiB) plus room for the form around it, so the page itself refuses a larger file.
UPLOAD_LIMITS = {"/employer/declarations/upload": 21 * 1024 * 1024}
log = structlog.get_logger("sscard.api")


def request_id_of(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is sane, otherwise a new one; chosen once per request
    (kept in the scope's state), so the answer's header and the request's log line carry the same id."""
    state = scope.setdefault("state", {})
    known = state.get("request_id")
    if known:
        return str(known)
    state["request_id"] = request_id = _choose_request_id(scope)
    return request_id


def _choose_request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming = value.decode("latin-1")
            if _SAFE_ID.match(incoming):
                return incoming
            break
    # 128 random bits as 32 hex digits, the shape of ``uuid4().hex`` at a fifth of its cost: every
    # request without an id of its own gets one, the terminal PIN check included.
    return os.urandom(16).hex()


class RequestIdMiddleware:
    """Accept ``X-Request-ID`` when it is sane, otherwise generate one; echo it and bind it to logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")


def _safe_message(exc: BaseException) -> str:
    """First line only, masked: a database error's later lines quote SQL parameters and row values."""
    source = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    lines = str(source).strip().splitlines()
    return mask_text(lines[0])[:300] if lines else ""


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f"{last.filename.rsplit('/site-packages/', 1)[-1]}:{last.lineno} in {last.name}"


def _database_down(exc: BaseException) -> bool:
    """The database cannot serve the request now: pool exhausted, no connection, a connection lost, a
    statement or commit cancelled or not answered in time (db/deadline.py), SQLite busy. The
    transaction was not kept (or its fate is unknown): 503 tells the client to try again, never 2xx."""
    if isinstance(exc, PoolTimeout | OperationalError | psycopg.OperationalError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class ErrorBoundary:
    """Turn any exception that escaped the handlers into problem+json: no traceback ever reaches a client.

    The log line carries the exception type, where it was raised and the first line of its message,
    masked (an exception message can quote personal data), not a full traceback with locals.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            response = error_response(scope, exc)
            if not started:  # once headers are gone, the server closes the connection
                await response(scope, receive, send)


def error_response(scope: Scope, exc: Exception) -> Response:
    """Log an exception that escaped the handlers (type, where, first line masked) and the problem+json
    answer for it: what ``ErrorBoundary`` and the PIN verify lane send instead of a traceback."""
    log.error(
        "unhandled_error",
        path=scope.get("path", ""),
        error_type=type(exc).__name__,
        where=_where(exc),
        message=_safe_message(exc),
    )
    if _database_down(exc):
        return problem(503, "DATABASE_UNAVAILABLE", "The database is unavailable.", retry_after=5)
    if isinstance(exc, DataError):
        # Input the database refuses to store (a value its column cannot hold) that validation
        # let through: still the client's input, so 422, and the log line above flags the gap.
        return problem(422, "INPUT_NOT_STORABLE", "The input cannot be stored.")
    if isinstance(exc, IntegrityError):
        # Two requests raced past a service's existence check (the same serial registered twice
        # at once): the database kept one; the other is told so, and may retry.
        return problem(409, "CONCURRENT_CHANGE", "A concurrent request changed the same record; try again.")
    return http_problem(500)


class AnsweredBeforeCommit(RuntimeError):
    """An answer was about to start while the request's transaction was still open."""


class AnswerAfterCommitGuard:
    """Refuse to start an answer while a unit of work of the request is still open (``api/deps.py``).

    A 2xx means committed (contract): a route whose commit would run after its answer was sent fails
    here instead, before any byte leaves, so its transaction rolls back and the client gets a 500 it
    can retry, never a success that a crash could still undo. Routes take ``TRANSACTION``, which
    commits first, so this only fires on a wiring mistake.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start" and scope.get(OPEN_TRANSACTIONS):
                raise AnsweredBeforeCommit(f"{scope.get('path', '')} answered before its transaction ended")
            await send(message)

        await self.app(scope, receive, guarded_send)


class _BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"The request body exceeds {limit} bytes.")


class _NulInBody(HTTPException):
    problem_code = "INVALID_CHARACTERS"

    def __init__(self) -> None:
        super().__init__(status_code=422, detail=NUL_DETAIL)


NUL_DETAIL = "Text must not contain NUL characters."
# How a NUL character is spelled inside a body of each kind: the JSON escape \u0000 (only when its
# backslash is not itself escaped, i.e. preceded by an even run of backslashes), or URL-encoded %00.
_NUL_SPELLING = {
    b"application/json": re.compile(rb"(?<!\\)(?:\\\\)*\\u0000"),
    b"application/x-www-form-urlencoded": re.compile(rb"%00"),
}
_TAIL = 64  # bytes carried over between chunks so a spelling split across two chunks is still seen


def _media_type(headers: dict[bytes, bytes]) -> bytes:
    media = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
    return b"application/json" if media.endswith(b"+json") else media


class InputGuardMiddleware:
    """Refuse what no route should ever see: bodies over ``max_bytes`` (``max_upload_bytes`` for multipart
    document uploads) with 413, and NUL characters in the URL or a JSON / form body (422
    ``INVALID_CHARACTERS``; PostgreSQL cannot store them in text).

    Sizes are checked by ``Content-Length`` up front and again while streaming (chunked bodies).
    Multipart bodies may carry binary files, so only their size is checked.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, max_upload_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_path = scope.get("raw_path") or scope.get("path", "").encode()
        if b"%00" in raw_path or b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            await problem(422, "INVALID_CHARACTERS", "The input is not valid.", NUL_DETAIL)(scope, receive, send)
            return
        media = _media_type(headers)
        limit = self.max_bytes
        if media == b"multipart/form-data":
            limit = max(self.max_upload_bytes, UPLOAD_LIMITS.get(scope.get("path", ""), 0))
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await http_problem(400, "Content-Length is not a number.")(scope, receive, send)
                return
            if int(declared) > limit:
                await http_problem(413, f"The request body exceeds {limit} bytes.")(scope, receive, send)
                return
        nul = _NUL_SPELLING.get(media)
        received = 0
        tail = b""

        async def guarded_receive() -> Message:
            nonlocal received, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                # FastAPI re-raises HTTPException from body reading, so these become problem responses.
                if received > limit:
                    raise _BodyTooLarge(limit)
                if nul is not None:
                    window = tail + chunk
                    if nul.search(window):
                        raise _NulInBody()
                    tail = window[-_TAIL:]
            return message

        await self.app(scope, guarded_receive, send)
