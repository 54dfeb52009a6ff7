"""The OpenAPI document integrators build against: FastAPI's, completed once per build.

Completed with: the API description, problem+json error answers (error_docs.py), the terminal
signing headers as security schemes, operationIds named after the channel and the function, an
example on every JSON request body, and integer bounds printed as integers.
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from sscard.api.error_docs import PROBLEM_SCHEMAS, api_routes, error_responses, route_errors, route_security
from sscard.db.ids import MAX_ROW_ID
from sscard.terminal.protocol import H_KEY_VERSION, H_MAC, H_NONCE, H_TERMINAL_ID, H_TIMESTAMP, WINDOW_SECONDS

API_DESCRIPTION = """\
The social security card platform's REST API: cardholders (portal), employers, service counters,
the hotline and call-centre gateway, card terminals (banks, hospitals, kiosks) and key management.

**Authentication.** Staff, cardholders and employers sign in (`POST /api/v1/staff/login`,
`/portal/login`, `/employer/login`) and send the token they get as `Authorization: Bearer <token>`
(security schemes `StaffBearer`, `PortalBearer`, `EmployerBearer`). Terminals do not sign in: every
request carries five `X-Terminal-*` headers and a CMAC over the request (the `Terminal*` schemes,
described under `TerminalMac`). A missing or refused credential is 401; a role or region that may not
do the operation is 403.

**Errors.** Every error is `application/problem+json` (RFC 9457) with a stable `code` member; match
on `code`, not on `title` (which follows `Accept-Language`) or `detail`. Each operation lists the
codes it can answer, per status. Any operation can also answer 500 `INTERNAL_ERROR` or 503
`DATABASE_UNAVAILABLE` (with `Retry-After`), and 409 `CONCURRENT_CHANGE` when a concurrent request
changed the same record: try again; 422 `INPUT_NOT_STORABLE` for text the database cannot store. A
path that matches no operation is 404 `NOT_FOUND`, a method the path does not have 405
`METHOD_NOT_ALLOWED`.

**Consistency.** A 2xx answer means the change is committed: a read right after it sees it. Every
answer carries `X-Request-ID` (send your own to correlate logs).

**Idempotency.** State-changing operations that list the `Idempotency-Key` header honour it: the
same key (per caller) with the same request returns the first answer, marked `Idempotent-Replayed:
true`, and changes nothing more; the same key with another request is refused with 422
`IDEMPOTENCY_KEY_REUSED`. Logins, enrolments and audited disclosures (a revealed ID number, an
insurance record) do not list it: their answers are never stored.

**Lists.** A list operation that takes `limit` (1-500, default 50) and `cursor` answers a JSON array in
a stable order; when more rows follow, the answer carries `X-Next-Cursor` (pass it as `cursor`) and a
`Link: <...>; rel="next"` header, and no such header means the last page. A cursor belongs to its list
and filters (another one: 422 `CURSOR_INVALID`). A few holder lists (declarations, account movements)
page by `limit` and `offset` and say so in their answer (`total`). Every operation refuses a query
parameter it does not list with 422 `UNKNOWN_QUERY_PARAMETER`.
"""

TERMINAL_MAC_DESCRIPTION = f"""\
Terminal request signature. The MAC is a CMAC (NIST SP 800-38B, full 16 bytes, 32 hex digits)
under the terminal's key (SM4-CMAC for suite `sm`, AES-CMAC for suite `intl`, announced at
enrolment) over seven lines joined by LF, no trailing LF: the method in upper case; the request
target as sent (path with its percent-encoding, then `?` and the query string if any); the terminal
id; the timestamp; the nonce; the key version; the SHA-256 of the exact body bytes (64 lower-case
hex digits; an empty body too). The timestamp must be within {WINDOW_SECONDS} seconds of the
server's clock and a nonce is accepted once. Refusals are 401 `TERMINAL_UNKNOWN` (not registered or
not active), `MAC_INVALID` or `REPLAY`."""

TERMINAL_SCHEMES: dict[str, dict[str, Any]] = {
    "TerminalId": {"name": H_TERMINAL_ID, "description": "The terminal id given at enrolment."},
    "TerminalTimestamp": {"name": H_TIMESTAMP, "description": "Unix seconds, decimal."},
    "TerminalNonce": {"name": H_NONCE, "description": "32 lower-case hex digits (16 random bytes), once only."},
    "TerminalKeyVersion": {"name": H_KEY_VERSION, "description": "The terminal key's version, decimal."},
    "TerminalMac": {"name": H_MAC, "description": TERMINAL_MAC_DESCRIPTION},
}
SECURITY_REQUIREMENTS: dict[str, dict[str, list[str]]] = {"terminal": {name: [] for name in TERMINAL_SCHEMES}}

_FIRST_SEGMENT = re.compile(r"^/api/v1/([a-z]+)")


def _camel(words: list[str]) -> str:
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _words(route: Any) -> list[str]:
    match = _FIRST_SEGMENT.match(route.path_format)
    words = route.name.split("_")
    channel = match.group(1) if match else ""
    return [channel, *words] if channel and channel != words[0] else words


def _docstring_summary(route: Any) -> str | None:
    """The docstring's first sentence, without parentheses (rule ids) or what follows a colon, when
    it is a short phrase: "Cancel a card for good", "Sign in with the ID number and the query password"."""
    doc = inspect.getdoc(route.endpoint) or ""
    first = re.split(r"(?<=[.!?])\s|\n\n", doc.strip(), maxsplit=1)[0].replace("\n", " ")
    first = re.sub(r"\s*\([^)]*\)", "", first).split(": ")[0].split("; ")[0].rstrip(". ")
    return first if len(first.split()) >= 2 and len(first) <= 60 else None


def summaries(routes: list[Any]) -> list[str]:
    """Every route's summary, unique: its own ``summary=``, else its docstring's first sentence if
    short and no other route's, else ``Channel: function name`` ("Portal: login", "Staff: login")."""
    found = [route.summary or _docstring_summary(route) for route in routes]
    counts = Counter(found)
    for i, (route, text) in enumerate(zip(routes, found, strict=True)):
        if not text or counts[text] > 1:
            channel, *rest = _words(route)
            found[i] = f"{channel.capitalize()}: {' '.join(rest)}" if rest else channel.capitalize()
    return [str(text) for text in found]


def operation_id(route: APIRoute) -> str:
    """``<channel><Function>``: the first path segment after /api/v1 and the route function's name,
    e.g. ``portalLogin``, ``counterCancelCard`` (stable while the function keeps its name)."""
    return _camel(_words(route))


_EXAMPLE_VALUES: dict[str, Any] = {
    "id_number": "11010519491231002X",
    "new_id_number": "11010519491231002X",
    "region_code": "110000",
    "card_no": "A00000001",
    "ss_number": "110105194912310021",
    "name": "张三",
    "phone": "13800138000",
    "email": "holder@example.cn",
    "password": "correct-horse-42",
    "old_password": "initial-pass-01",
    "new_password": "correct-horse-42",
    "username": "clerk01",
    "reason": "the holder asked at the counter",
    "txn_id": "T20260101-0001",
    "refund_txn_id": "T20260101-0002",
    "reversal_txn_id": "T20260101-0003",
    "pin_block": "0123456789abcdef0123456789abcdef",
    "old_pin_block": "0123456789abcdef0123456789abcdef",
    "new_pin_block": "fedcba9876543210fedcba9876543210",
    "message": "hello",
    "institution": "中国工商银行北京分行",
    "period": "2026-01",
    "year": 2026,
    "captcha_answer": "7b3k",
    "captcha_id": "c-1a2b3c",
    "totp_code": "123456",
    "code": "123456",
    "otp": "123456",
    "uscc": "91110000100000000A",
    "evidence": "resident ID card checked at the window",
    "document_number": "11010519491231002X",
    "note": "checked with the holder present",
    "answer": "the employer corrected the declaration",
    "text": "March 2025 is missing from my pension account",
    "to_card_no": "A00000002",
    "location": "provincial card centre, safe 2",
    "holder": "王五",
    "recipient": "李四",
    "supervisor": "security01",
    "purpose": "card personalisation",
    "description": "the key card was not in the safe at the morning check",
    "public_key": "MCowBQYDK2VuAyEA3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08=",
}
_FORMAT_VALUES = {
    "date": "2026-01-31",
    "date-time": "2026-01-31T09:30:00+08:00",
    "email": "holder@example.cn",
    "uri": "https://example.cn/",
    "binary": "",
}


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example_of(schema: dict[str, Any], components: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A plausible value for ``schema``: the schema's own example or default, else one made up from
    the field's name, format and type (bounds respected)."""
    schema = _resolve(schema, components)
    if "examples" in schema and schema["examples"]:
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if name in _EXAMPLE_VALUES and schema.get("type") in {"string", None} and "enum" not in schema:
        return _EXAMPLE_VALUES[name]
    if "default" in schema and schema["default"] not in (None, ""):
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(s, components).get("type") != "null"]
            if options:
                return example_of(options[0], components, name, depth)
            return None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        props = schema.get("properties", {})
        return {key: example_of(sub, components, key, depth + 1) for key, sub in props.items()}
    if kind == "array":
        item = example_of(schema.get("items", {}), components, name, depth + 1)
        return [item] if item is not None else []
    if kind in {"integer", "number"}:
        value = _EXAMPLE_VALUES.get(name)
        if not isinstance(value, int):
            value = 1 if name.endswith("id") else 100
        low = schema.get("minimum", schema.get("exclusiveMinimum", value))
        high = schema.get("maximum", schema.get("exclusiveMaximum", value))
        value = max(value, low if "exclusiveMinimum" not in schema else low + 1)
        value = min(value, high if "exclusiveMaximum" not in schema else high - 1)
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    if kind == "string":
        if name in _EXAMPLE_VALUES:
            return str(_EXAMPLE_VALUES[name])
        if schema.get("format") in _FORMAT_VALUES:
            return _FORMAT_VALUES[schema["format"]]
        if name.endswith("_at"):
            return _FORMAT_VALUES["date-time"]
        text = name.replace("_", " ") or "text"
        return text[: schema.get("maxLength", len(text))].ljust(schema.get("minLength", 0), "x")
    return None


def _integer_bounds(node: Any) -> None:
    """FastAPI's schema model holds bounds as floats (2**63 - 1 prints as 9.223372036854776e+18):
    give integer schemas their integer bounds back (the row id bound exactly)."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for key in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
                value = node.get(key)
                if isinstance(value, float) and value.is_integer():
                    node[key] = MAX_ROW_ID if value == float(MAX_ROW_ID) else int(value)
        for value in node.values():
            _integer_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _integer_bounds(value)


def complete(document: dict[str, Any], app: FastAPI) -> None:
    """Complete FastAPI's document in place (module docstring)."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)  # FastAPI's 422 body; ours is a Problem with ``errors``
    schemas.update(PROBLEM_SCHEMAS)
    schemes = components.setdefault("securitySchemes", {})
    for name, scheme in TERMINAL_SCHEMES.items():
        schemes[name] = {"type": "apiKey", "in": "header", **scheme}
    routes = list(api_routes(app.routes))
    summary_of = summaries(routes)
    for route, summary in zip(routes, summary_of, strict=True):
        path_item = document["paths"][route.path_format]
        errors = error_responses(route_errors(route))
        security = [SECURITY_REQUIREMENTS[s] for s in sorted(route_security(route))]
        for method in sorted(route.methods):
            operation = path_item[method.lower()]
            operation["summary"] = summary
            responses = operation.setdefault("responses", {})
            for status in [s for s in responses if s.startswith(("4", "5"))]:
                del responses[status]  # FastAPI's validation answer, and hand-written descriptions
            responses.update(errors)
            if security:
                operation["security"] = security
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and "example" not in body and "examples" not in body:
                body["example"] = example_of(body["schema"], schemas)
    _integer_bounds(document)


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document wherever FastAPI's would be (``app.openapi()``)."""
    build = app.openapi
    done: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        document = build()
        if done.get("document") is not document:  # FastAPI rebuilt it (routes changed): complete again
            complete(document, app)
            done["document"] = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
