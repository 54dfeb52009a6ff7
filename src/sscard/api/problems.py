"""One place that turns every error into RFC 9457 ``application/problem+json`` with a stable ``code``.

Sources of errors and their codes:
- ``DomainError`` subclasses: their own ``code`` / ``status`` (services raise these).
- request validation: 422 ``VALIDATION_FAILED`` (where and why, never the submitted value), 400
  ``MALFORMED_JSON`` for a body that is not JSON, 400 ``MALFORMED_FORM`` for a form or upload body that
  cannot be read (no boundary, a part cut short), 415 ``UNSUPPORTED_MEDIA_TYPE`` for a JSON route
  called with another content type.
- routing / protocol (``HTTPException``): 404 ``NOT_FOUND``, 405 ``METHOD_NOT_ALLOWED`` (with
  ``Allow``), 413 ``PAYLOAD_TOO_LARGE`` ...
- anything else: 500 ``INTERNAL_ERROR`` or 503 ``DATABASE_UNAVAILABLE`` from ``ErrorBoundary``
  (middleware.py), never a traceback to the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sscard.errors import DomainError
from sscard.logging import mask_text

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://sscard.example/problems/"
log = structlog.get_logger("sscard.api")

HTTP_CODES = {
    400: ("BAD_REQUEST", "The request is malformed."),
    401: ("UNAUTHENTICATED", "Authentication required."),
    403: ("FORBIDDEN", "Not allowed."),
    404: ("NOT_FOUND", "Not found."),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed for this resource."),
    406: ("NOT_ACCEPTABLE", "Cannot produce an acceptable representation."),
    409: ("CONFLICT", "Conflicts with the current state."),
    413: ("PAYLOAD_TOO_LARGE", "The request body is too large."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported content type; send application/json."),
    422: ("VALIDATION_FAILED", "The input is not valid."),
    429: ("TOO_MANY_REQUESTS", "Too many requests."),
    500: ("INTERNAL_ERROR", "An internal error occurred; it has been logged."),
    503: ("SERVICE_UNAVAILABLE", "The service is temporarily unavailable."),
}
# The framework's own refusals for callers who prefer Chinese (a domain error carries its ``title_zh``).
TITLES_ZH = {
    "BAD_REQUEST": "请求格式有误。",
    "UNAUTHENTICATED": "需要身份认证。",
    "FORBIDDEN": "不允许执行此操作。",
    "NOT_FOUND": "未找到。",
    "METHOD_NOT_ALLOWED": "该资源不支持此请求方法。",
    "NOT_ACCEPTABLE": "无法提供可接受的表示形式。",
    "CONFLICT": "与当前状态冲突。",
    "PAYLOAD_TOO_LARGE": "请求体过大。",
    "UNSUPPORTED_MEDIA_TYPE": "不支持的内容类型，请发送 application/json。",
    "VALIDATION_FAILED": "输入无效。",
    "TOO_MANY_REQUESTS": "请求过于频繁。",
    "INTERNAL_ERROR": "服务器内部错误，已记录。",
    "SERVICE_UNAVAILABLE": "服务暂时不可用。",
    "MALFORMED_JSON": "请求体不是有效的 JSON。",
    "MALFORMED_FORM": "无法读取表单请求体（multipart/form-data 或 urlencoded）。",
}
# Starlette's wording when a body cannot even be decoded (e.g. JSON that is not UTF-8).
_BODY_PARSE_DETAIL = "There was an error parsing the body"
MALFORMED_FORM = ("MALFORMED_FORM", "The form body cannot be read.")
_RESERVED = {"type", "title", "status", "code", "detail"}


def _current_request_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("request_id")


def problem_body(status: int, code: str, title: str, detail: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code.lower().replace("_", "-"),
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if k not in _RESERVED})
    request_id = _current_request_id()
    if request_id and "request_id" not in body:
        body["request_id"] = request_id
    return body


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    response_headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response; ``retry_after`` also sets ``Retry-After``, 401 sets ``WWW-Authenticate``."""
    all_headers = dict(response_headers or {})
    if "retry_after" in extra:
        all_headers["Retry-After"] = str(extra["retry_after"])
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", "Bearer")
    # Extra members come from domain errors: encode dates, enums and the like rather than fail.
    body = jsonable_encoder(problem_body(status, code, title, detail, **extra))
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=all_headers or None)


def http_problem(
    status: int, detail: str | None = None, headers: Mapping[str, str] | None = None, request: Request | None = None
) -> JSONResponse:
    code, title = HTTP_CODES.get(status, (f"HTTP_{status}", "The request could not be processed."))
    # Starlette's default detail is the bare reason phrase ("Not Found"): it adds nothing to the title.
    if detail and detail.lower().rstrip(".") in {title.lower().rstrip("."), _reason_phrase(status)}:
        detail = None
    if request is not None:
        return framework_problem(request, status, code, title, detail, response_headers=headers)
    return problem(status, code, title, detail, response_headers=headers)


def titled_problem(request: Request, status: int, code: str, title: str, title_zh: str | None,
                   detail: str | None = None, **extra: Any) -> JSONResponse:  # fmt: skip
    """A problem titled in the caller's language: Chinese when ``Accept-Language`` prefers it and a Chinese
    title exists (then a detail that only repeated the English title goes), English otherwise."""
    if title_zh is not None and prefers_chinese(request.headers.get("accept-language", "")):
        response = problem(status, code, title_zh, None if detail == title else detail, **extra)
        response.headers["Content-Language"] = "zh-CN"
        return response
    return problem(status, code, title, detail, **extra)


def framework_problem(request: Request, status: int, code: str, title: str, detail: str | None = None,
                      **extra: Any) -> JSONResponse:  # fmt: skip
    """A refusal of the framework's (no domain error behind it), titled in the caller's language."""
    return titled_problem(request, status, code, title, TITLES_ZH.get(code), detail, **extra)


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return ""


def _safe_loc(loc: Any) -> list[str | int]:
    # A location part can be a key the client chose (a dict key): bound and mask it like any text.
    return [part if isinstance(part, int) else mask_text(str(part))[:64] for part in loc]


def _safe_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Echo where and why, never the submitted value (it may be a password or a full ID): ``input``
    # and ``ctx`` are dropped, and ``msg`` comes from pydantic's templates, not from the input.
    return [
        {"loc": _safe_loc(e.get("loc", ())), "msg": mask_text(str(e.get("msg", ""))), "type": e.get("type", "")}
        for e in exc.errors()
    ]


def is_json_content_type(value: str) -> bool:
    """``application/json`` or an ``application/…+json`` type: what FastAPI reads as a JSON body."""
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def is_form_content_type(value: str) -> bool:
    """A form body: what an upload or page route reads with ``request.form()``."""
    return value.split(";", 1)[0].strip().lower() in {"multipart/form-data", "application/x-www-form-urlencoded"}


def _wrong_media_type(request: Request, exc: RequestValidationError) -> bool:
    """A JSON-body route that got a non-JSON content type: FastAPI saw the body as raw bytes."""
    content_type = request.headers.get("content-type")
    if not content_type or is_json_content_type(content_type):
        return False
    if is_form_content_type(content_type):
        # Form routes exist (pages, uploads); a form sent to one is validated normally.
        return any(tuple(e.get("loc", ()))[:1] == ("body",) and len(e.get("loc", ())) == 1 for e in exc.errors())
    return any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors())


def prefers_chinese(accept_language: str) -> bool:
    """Whether the caller's ``Accept-Language`` (RFC 9110) ranks Chinese above English. The ``code``
    member is the stable part of an error; the title is for people, so it follows their language
    (English when the header is absent, as integrators' clients expect)."""
    best_q, best = -1.0, ""
    for part in accept_language.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        tag = tag.strip().lower()
        if (tag.startswith("zh") or tag.startswith("en")) and q > best_q:
            best_q, best = q, tag
    return best.startswith("zh")


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        extra = {k: v for k, v in exc.extra.items() if k not in _RESERVED and k != "response_headers"}
        return titled_problem(request, exc.status, exc.code, exc.title, exc.title_zh, exc.detail, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return framework_problem(request, 400, "MALFORMED_JSON", "The request body is not valid JSON.")
        if _wrong_media_type(request, exc):
            code, title = HTTP_CODES[415]
            return framework_problem(request, 415, code, title)
        errors = _safe_validation_errors(exc)
        return framework_problem(request, 422, "VALIDATION_FAILED", "The input is not valid.", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and is_form_content_type(request.headers.get("content-type", "")):
            # Starlette's multipart parser refuses with its own words (no boundary, a part cut short).
            return framework_problem(request, 400, *MALFORMED_FORM, mask_text(str(exc.detail)))
        if exc.status_code == 400 and exc.detail == _BODY_PARSE_DETAIL:
            return framework_problem(request, 400, "MALFORMED_JSON", "The request body is not valid JSON.")
        problem_code = getattr(exc, "problem_code", None)
        if problem_code:
            return problem(exc.status_code, problem_code, "The input is not valid.", str(exc.detail))
        return http_problem(exc.status_code, str(exc.detail), headers=exc.headers, request=request)
