"""``Idempotency-Key`` on every state-changing /api/v1 route (contract.md, issue 22 item 4), built once.

Every API router is an ``APIRouter(..., route_class=IdempotentRoute)``. For POST, PUT, PATCH and
DELETE with the header:

1. before the route's body runs, once its dependencies have authenticated the caller, the key is
   claimed for (caller, key) in the request's own transaction (``sscard.idempotency.service.begin``):
   a concurrent copy of the request waits there (PostgreSQL: the unique index; SQLite: the write lock)
   until the first commits, then finds its answer;
2. the same key and the same request (method, path with query, body) from the same caller: the stored
   first answer again, status and body, with ``Idempotent-Replayed: true``, and nothing runs;
3. the same key with another request: 422 ``IDEMPOTENCY_KEY_REUSED``;
4. a 2xx answer is stored in the same transaction as the change, just before it commits (a 2xx means
   committed; the answer commits with it, never apart). A refused request stores nothing: asked again,
   it is decided again.

The caller is the route's authenticated principal (staff member, holder, employer, terminal), so a
key is never shared between callers and survives a new login; anonymous routes share one scope and
the body (credentials included) tells requests apart. Answers that carry a secret (session tokens, a
TOTP secret, a PIN, a key envelope) are never stored (``SECRET_ANSWERS``), nor are the answers of
audited disclosures (``DISCLOSURES``: a revealed ID number, an insurance record): those operations run
as without the header, since keeping the answer would put the secret, or an unsealed copy of personal
data replayable without an audit entry, in the database.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from sscard.credentials.query_password.sessions import HolderSession
from sscard.db.session import UnitOfWork
from sscard.employers.accounts import EmployerPrincipal
from sscard.idempotency import service
from sscard.staff.principal import StaffPrincipal
from sscard.terminal_registry.auth import AuthenticatedTerminal

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
#: Operations whose answer carries a secret: never stored, so the header does not apply to them.
SECRET_ANSWERS = frozenset(
    {
        "sscard.api.staff.login",
        "sscard.api.staff.totp_enrol",
        "sscard.api.portal.login",
        "sscard.api.employer.login",
        "sscard.api.counter.activate_with_pin",
        "sscard.api.terminal.enroll_terminal",
    }
)
#: Audited disclosures (POST so that the ID number stays out of URLs and logs): each asking is a read the
#: audit must record, and their answers hold personal data in clear (a revealed ID number and phone, a
#: person's insurance record) that the database keeps only sealed. A stored answer would be a second,
#: unsealed copy, replayed without an audit entry: never stored, so the header does not apply to them.
DISCLOSURES = frozenset(
    {
        "sscard.api.counter.lookup_person",
        "sscard.api.counter.reveal",
        "sscard.api.counter_records.insurance_record",
        "sscard.api.hotline_query.voice_query_post",
        "sscard.api.counter.check_personalisation",
    }
)
NEVER_STORED = SECRET_ANSWERS | DISCLOSURES


_HEADER_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Same key and request again: the first answer (`Idempotent-Replayed: true`), nothing done "
    "twice; another request under the key: 422 `IDEMPOTENCY_KEY_REUSED`. 1-128 visible ASCII, per caller.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}


@dataclass
class _Pending:
    """One request's key, what it asks (digest) and, once claimed, its claim and transaction."""

    key: str
    digest: str
    claim: service.Stored | None = None
    uow: UnitOfWork | None = None


_PENDING: ContextVar[_Pending | None] = ContextVar("sscard_idempotency_pending", default=None)


def caller_scope(values: dict[str, Any]) -> str:
    """Whose key it is: the principal among the route's resolved parameters ("anonymous" if none)."""
    for value in values.values():
        if isinstance(value, StaffPrincipal):
            return f"staff:{value.staff_id}"
        if isinstance(value, HolderSession):
            return f"holder:{value.person_id}"
        if isinstance(value, EmployerPrincipal):
            return f"employer:{value.employer_id}"
        if isinstance(value, AuthenticatedTerminal):
            return f"terminal:{value.terminal_id}"
    return "anonymous"


def _claim(values: dict[str, Any]) -> JSONResponse | Response | None:
    """Claim the key for this caller in the route's transaction; the stored answer when there is one."""
    pending = _PENDING.get()
    if pending is None:
        return None
    uow = next((v for v in values.values() if isinstance(v, UnitOfWork)), None)
    if uow is None:  # no transaction to store the answer in: the route runs as without the header
        return None
    claim = service.begin(uow, scope=caller_scope(values), key=pending.key, digest=pending.digest)
    if claim.replayed:
        return _replay(claim)
    pending.claim, pending.uow = claim, uow
    return None


def _replay(claim: service.Stored) -> JSONResponse | Response:
    headers = {REPLAYED: "true"}
    answer = claim.answer or {}
    if claim.status_code == 204:
        return Response(status_code=204, headers=headers)
    body = answer["__list__"] if set(answer) == {"__list__"} else answer
    return JSONResponse(body, status_code=claim.status_code, headers=headers)


def _claiming(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The endpoint, claiming the key first (its dependencies, authentication included, have run)."""
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def claiming_async(**values: Any) -> Any:
            stored = await run_in_threadpool(_claim, values)
            return stored if stored is not None else await endpoint(**values)

        return claiming_async

    @functools.wraps(endpoint)
    def claiming(**values: Any) -> Any:
        stored = _claim(values)
        return stored if stored is not None else endpoint(**values)

    return claiming


def _store(pending: _Pending, response: Response) -> None:
    """Keep a 2xx answer with the claim, in the transaction that made the change (before its commit)."""
    if pending.claim is None or pending.uow is None or not 200 <= response.status_code < 300:
        return
    body = getattr(response, "body", None)
    if body is None:  # a streamed answer cannot be replayed: the claim stays unanswered (decided again)
        return
    try:
        answer = json.loads(body) if body else {}
    except ValueError:
        return
    if not isinstance(answer, dict):
        answer = {"__list__": answer}
    service.finish(pending.uow, claim=pending.claim, answer=answer, status_code=response.status_code)


class IdempotentRoute(APIRoute):
    """An API route that honours ``Idempotency-Key`` when it changes state (see the module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        qualified = f"{endpoint.__module__}.{endpoint.__name__}"
        self.idempotent = bool(methods & STATE_CHANGING) and qualified not in NEVER_STORED
        if self.idempotent:  # declared in the OpenAPI document of every operation that honours it
            extra = dict(kwargs.get("openapi_extra") or {})
            extra["parameters"] = [*extra.get("parameters", []), _HEADER_PARAMETER]
            kwargs["openapi_extra"] = extra
        super().__init__(path, _claiming(endpoint) if self.idempotent else endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self.idempotent:
            return handler

        async def idempotent_handler(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                return await handler(request)
            service.check_key(key)
            body = await request.body()  # cached: the route reads the same bytes
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            pending = _Pending(key, service.request_digest(method=request.method, path=target, body=body))
            token = _PENDING.set(pending)
            try:
                response = await handler(request)
                # Still inside the request's transaction (it commits when this handler has returned).
                if pending.claim is not None and REPLAYED.lower() not in response.headers:
                    await run_in_threadpool(_store, pending, response)
                return response
            finally:
                _PENDING.reset(token)

        return idempotent_handler
