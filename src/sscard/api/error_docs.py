"""The error answers of every operation, declared next to the route and written into the OpenAPI document.

Every error is answered as RFC 9457 problem+json with a stable ``code`` (problems.py). What an
operation can answer comes from three places, all read when the document is built:

- the route's own declaration, ``@raises(CardNotFound, OutsideRegion, ...)`` under its decorator:
  the domain errors its service calls raise;
- its dependencies' declarations: an authentication dependency says once what it refuses with
  (``require_staff`` → 401 ``UNAUTHENTICATED``, 403 ``ROLE_FORBIDDEN`` ...) and which security scheme it
  is, and every route that depends on it inherits both;
- the route's shape: any input can be 422 ``VALIDATION_FAILED`` or ``INVALID_CHARACTERS``; a JSON
  body can also be 400 ``MALFORMED_JSON``, 413 ``PAYLOAD_TOO_LARGE``, 415 ``UNSUPPORTED_MEDIA_TYPE``; a form or
  upload body 400 ``MALFORMED_FORM``.

tests/api/test_openapi_errors.py follows each route's calls into the services and fails when one of
them raises a code below 500 that the route's document does not list (docs/api.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import params, routing
from fastapi.dependencies.models import Dependant

from sscard.api.problems import HTTP_CODES, MALFORMED_FORM, PROBLEM_BASE, PROBLEM_JSON
from sscard.errors import DomainError
from sscard.idempotency.errors import IdempotencyKeyInvalid, IdempotencyKeyReused

F = TypeVar("F", bound=Callable[..., Any])

RAISES_ATTR = "__sscard_raises__"
SECURITY_ATTR = "__sscard_security__"


@dataclass(frozen=True, order=True)
class ErrorDoc:
    """One documented error answer: what an integrator matches on (``status`` and ``code``)."""

    status: int
    code: str
    title: str

    @classmethod
    def of(cls, error: type[DomainError]) -> list[ErrorDoc]:
        return [cls(error.status, code, error.title) for code in codes_of(error)]


def codes_of(error: type[DomainError]) -> tuple[str, ...]:
    """The codes an error class answers with: its ``code``, or its ``codes`` when one class carries
    several (``InvalidCitizenId``: ``ID_LENGTH``, ``ID_CHECKSUM`` ...)."""
    return tuple(getattr(error, "codes", None) or (error.code,))


def raises(*errors: type[DomainError], security: str | None = None) -> Callable[[F], F]:
    """Declare the domain errors a route (or a dependency) answers with; ``security`` names the
    security requirement a dependency stands for (``"terminal"`` for the signed-request headers)."""
    for error in errors:
        if not (isinstance(error, type) and issubclass(error, DomainError)):
            raise TypeError(f"raises() takes DomainError classes, not {error!r}")

    def mark(fn: F) -> F:
        setattr(fn, RAISES_ATTR, (*getattr(fn, RAISES_ATTR, ()), *errors))
        if security:
            setattr(fn, SECURITY_ATTR, security)
        return fn

    return mark


def _protocol(status: int, code: str | None = None, title: str | None = None) -> ErrorDoc:
    default_code, default_title = HTTP_CODES[status]
    return ErrorDoc(status, code or default_code, title or default_title)


# Answered by the framework and the input guards whatever the route does (problems.py, middleware.py).
# A NUL character is refused in the path, the query and the body alike (middleware.py).
INPUT_ERRORS = (_protocol(422), _protocol(422, "INVALID_CHARACTERS", "The input is not valid."))
BODY_ERRORS = (
    _protocol(400, "MALFORMED_JSON", "The request body is not valid JSON."),
    _protocol(413),
    _protocol(415),
)
# A form or upload body (File / Form parameters) that cannot be read at all.
FORM_BODY_ERRORS = (_protocol(400, *MALFORMED_FORM),)


# Answered by the error boundary and the router to any request; info.description lists them once.
ANY_OPERATION_CODES = frozenset(
    {"INTERNAL_ERROR", "DATABASE_UNAVAILABLE", "CONCURRENT_CHANGE", "INPUT_NOT_STORABLE", "NOT_FOUND",
     "METHOD_NOT_ALLOWED"}
)  # fmt: skip


def dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every callable FastAPI resolves for a route, depth first (sub-dependencies included)."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from dependency_calls(sub)


def takes_input(dependant: Dependant) -> bool:
    """Whether the route or any of its dependencies reads a path, query or header parameter (each can fail
    validation: a list's ``cursor`` lives in the paging dependency, not on the route)."""
    if dependant.path_params or dependant.query_params or dependant.header_params:
        return True
    return any(takes_input(sub) for sub in dependant.dependencies)


def route_security(route: Any) -> set[str]:
    return {s for call in dependency_calls(route.dependant) if (s := getattr(call, SECURITY_ATTR, None))}


def route_errors(route: Any) -> list[ErrorDoc]:
    """What ``route`` (an APIRoute or FastAPI's route context) documents, sorted by status and code."""
    declared: list[type[DomainError]] = list(getattr(route.endpoint, RAISES_ATTR, ()))
    for call in dependency_calls(route.dependant):
        declared.extend(getattr(call, RAISES_ATTR, ()))
    found = {doc for error in declared for doc in ErrorDoc.of(error)}
    if takes_input(route.dependant) or route.body_field:
        found.update(INPUT_ERRORS)
    if route.body_field is not None:
        found.update(BODY_ERRORS)
        if isinstance(route.body_field.field_info, params.Form):  # File is a Form
            found.update(FORM_BODY_ERRORS)
    if getattr(getattr(route, "original_route", route), "idempotent", False):  # api/idempotency.py
        found.update(doc for error in (IdempotencyKeyInvalid, IdempotencyKeyReused) for doc in ErrorDoc.of(error))
    return sorted(found)


def api_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """The API routes the document lists (FastAPI's route contexts: prefixes applied)."""
    for context in routing.iter_route_contexts(list(routes)):
        if isinstance(context.original_route, routing.APIRoute) and context.include_in_schema:
            yield context


def problem_example(error: ErrorDoc) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + error.code.lower().replace("_", "-"),
        "title": error.title,
        "status": error.status,
        "code": error.code,
    }
    if error.code == "VALIDATION_FAILED":
        body["errors"] = [{"loc": ["body", "reason"], "msg": "Field required", "type": "missing"}]
    return body


def error_responses(errors: Iterable[ErrorDoc]) -> dict[str, dict[str, Any]]:
    """OpenAPI ``responses`` entries: one per status, its codes as an enum with one example each."""
    by_status: dict[int, list[ErrorDoc]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    responses: dict[str, dict[str, Any]] = {}
    for status, group in sorted(by_status.items()):
        codes = [e.code for e in group]
        schema = {"allOf": [{"$ref": "#/components/schemas/Problem"}, {"properties": {"code": {"enum": codes}}}]}
        responses[str(status)] = {
            "description": "\n".join(f"- `{e.code}`: {e.title}" for e in group),
            "content": {
                PROBLEM_JSON: {
                    "schema": schema,
                    "examples": {e.code: {"summary": e.title, "value": problem_example(e)} for e in group},
                }
            },
        }
    return responses


PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "title": "Problem",
        "description": "RFC 9457 problem details. Match on `code` (stable); `title` follows Accept-Language.",
        "required": ["type", "title", "status", "code"],
        "properties": {
            "type": {"type": "string", "format": "uri", "description": "Identifies the problem type."},
            "title": {"type": "string", "description": "Short human summary (Chinese with Accept-Language: zh)."},
            "status": {"type": "integer", "description": "The HTTP status, repeated."},
            "code": {"type": "string", "description": "Stable machine-readable error code."},
            "detail": {"type": "string", "description": "What went wrong in this occurrence."},
            "request_id": {"type": "string", "description": "The X-Request-ID of the request, for support."},
            "retry_after": {"type": "integer", "description": "Seconds to wait (429 and 503; also Retry-After)."},
            "errors": {
                "type": "array",
                "description": "With `VALIDATION_FAILED`: where and why each field failed (never its value).",
                "items": {"$ref": "#/components/schemas/ProblemFieldError"},
            },
        },
        "additionalProperties": True,
    },
    "ProblemFieldError": {
        "type": "object",
        "title": "ProblemFieldError",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        },
    },
}
