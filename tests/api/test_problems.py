"""Every error is RFC 9457 problem+json with a stable code, never a traceback (issue 3, item 8)."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi import APIRouter, FastAPI, File, Form, UploadFile
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from sscard.errors import Conflict

PROBLEM = "application/problem+json"
FULL_ID = "11010519880318101X"


class Thing(BaseModel):
    name: str
    id_number: str


def _app() -> FastAPI:
    """The real app plus routes that fail in each way a route can fail."""
    from sscard.api.app import create_app

    app = create_app()
    router = APIRouter(prefix="/api/v1/_test")

    @router.post("/things")
    def make_thing(thing: Thing) -> dict[str, str]:
        return {"name": thing.name}

    @router.post("/uploads")
    def upload(file: UploadFile = File(), note: str = Form()) -> dict[str, str]:
        return {"note": note}

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError(f"bug while handling {FULL_ID}")  # a message that quotes personal data

    @router.get("/db-down")
    def db_down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"), connection_invalidated=True)

    @router.get("/integrity")
    def integrity() -> None:
        orig = Exception('duplicate key value violates unique constraint "uq_x"\nDETAIL: Key (email)=(li@example.com)')
        raise IntegrityError("INSERT INTO person (email) VALUES (%(email)s)", {"email": "li@example.com"}, orig)

    @router.get("/data-error")
    def data_error() -> None:
        raise DataError("INSERT", {}, Exception("value too long for type character varying(64)"))

    @router.get("/conflict")
    def conflict() -> None:
        # Extra members that are not JSON-native, or that collide with reserved ones, must not break the answer.
        raise Conflict("already done", state="active", since=date(2024, 5, 1), code="HIJACK", response_headers="x")

    app.include_router(router)
    return app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(_app(), raise_server_exceptions=False)


def _assert_problem(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"].endswith(code.lower().replace("_", "-")) and body["title"]
    assert body["request_id"] == r.headers["x-request-id"]
    assert "Traceback" not in r.text
    return body


def test_unknown_route_404(client) -> None:
    _assert_problem(client.get("/api/v1/no/such/thing"), 404, "NOT_FOUND")
    _assert_problem(client.get("/no-such-page"), 404, "NOT_FOUND")


def test_wrong_method_405_with_allow(client) -> None:
    r = client.delete("/api/v1/health")
    _assert_problem(r, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in r.headers["allow"]


# rule ID-5: a validation error says where and why, never echoes the submitted value
def test_validation_422_does_not_echo_input(client) -> None:
    r = client.post("/api/v1/_test/things", json={"name": ["list", FULL_ID], "id_number": {"x": FULL_ID}})
    body = _assert_problem(r, 422, "VALIDATION_FAILED")
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "name"), ("body", "id_number")}
    assert FULL_ID not in r.text and "1101" not in r.text
    assert all(set(e) == {"loc", "msg", "type"} for e in body["errors"])


# rule ID-5: a client-chosen key in an error location is masked like any text
def test_validation_masks_client_keys(client) -> None:
    r = client.get("/api/v1/regions", params={"within": FULL_ID})
    _assert_problem(r, 422, "VALIDATION_FAILED")
    assert FULL_ID not in r.text


def test_malformed_json_400(client) -> None:
    for raw in (b'{"name": "a",', b"\xff\xfe\x00", b"[1, 2"):
        r = client.post("/api/v1/_test/things", content=raw, headers={"content-type": "application/json"})
        _assert_problem(r, 400, "MALFORMED_JSON")


def test_malformed_form_400(client) -> None:
    # A multipart body that cannot be read (no boundary, an empty one, a part header without a colon) is refused
    # with its own documented code, not the undocumented BAD_REQUEST the fuzzer met on an upload route.
    bodies = (
        ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=note\r\n\r\nhi\r\n--x--\r\n"),
        ("multipart/form-data; boundary=", b"--x--"),
        ("multipart/form-data; boundary=x", b"--x\r\nno-colon-header\r\n\r\nhi\r\n--x--\r\n"),
    )
    for ctype, raw in bodies:
        r = client.post("/api/v1/_test/uploads", content=raw, headers={"content-type": ctype})
        body = _assert_problem(r, 400, "MALFORMED_FORM")
        assert body["detail"]  # the parser's reason, e.g. "Missing boundary in multipart."


def test_an_upload_route_documents_malformed_form(client) -> None:
    operation = client.get("/api/openapi.json").json()["paths"]["/api/v1/security/handovers/{handover_id}/agreement"]
    assert "MALFORMED_FORM" in str(operation["post"]["responses"]["400"])
    json_route = client.get("/api/openapi.json").json()["paths"]["/api/v1/security/handovers/{handover_id}/record"]
    assert "MALFORMED_FORM" not in str(json_route["post"]["responses"])


def test_wrong_content_type_415(client) -> None:
    for ctype, raw in (("text/plain", b"name=a"), ("application/xml", b"<a/>"), ("multipart/form-data", b"x")):
        r = client.post("/api/v1/_test/things", content=raw, headers={"content-type": ctype})
        _assert_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_oversized_body_413(client) -> None:
    big = b'{"name": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    r = client.post("/api/v1/_test/things", content=big, headers={"content-type": "application/json"})
    _assert_problem(r, 413, "PAYLOAD_TOO_LARGE")

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(40):
            yield b"a" * 65536

    r = client.post("/api/v1/_test/things", content=chunks(), headers={"content-type": "application/json"})
    _assert_problem(r, 413, "PAYLOAD_TOO_LARGE")


def test_domain_error_keeps_code_and_extra_members(client) -> None:
    body = _assert_problem(client.get("/api/v1/_test/conflict"), 409, "CONFLICT")
    assert body["detail"] == "already done" and body["state"] == "active" and body["since"] == "2024-05-01"


# rule ID-5: an unexpected bug is a 500 problem without a traceback; the log line is masked
def test_unhandled_error_500_without_traceback(client, capsys) -> None:
    body = _assert_problem(client.get("/api/v1/_test/boom"), 500, "INTERNAL_ERROR")
    assert FULL_ID not in str(body) and "RuntimeError" not in str(body)
    logged = capsys.readouterr().err
    assert "unhandled_error" in logged and "RuntimeError" in logged
    assert FULL_ID not in logged and "1101**********101X" in logged
    assert f'"request_id": "{body["request_id"]}"' in logged  # the log line carries the request id


def test_database_down_503(client) -> None:
    r = client.get("/api/v1/_test/db-down")
    _assert_problem(r, 503, "DATABASE_UNAVAILABLE")
    assert r.headers["retry-after"] == "5"


def test_unreachable_database_503(monkeypatch) -> None:
    """A server whose database refuses connections answers 503, health included, not 500."""
    from sscard.api.app import create_app
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache

    monkeypatch.setenv("SSCARD_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    reset_settings_cache()
    reset_engine_cache()
    try:
        r = TestClient(create_app(), raise_server_exceptions=False).get("/api/v1/health")
        _assert_problem(r, 503, "DATABASE_UNAVAILABLE")
    finally:
        monkeypatch.delenv("SSCARD_DATABASE_URL")
        reset_settings_cache()
        reset_engine_cache()


# rule ID-5: a database error is logged by its first line only; SQL parameters and row values stay out
# A unique constraint that a concurrent request won: 409, never a 500, and no value in the log
def test_database_error_log_keeps_values_out(client, capsys) -> None:
    body = _assert_problem(client.get("/api/v1/_test/integrity"), 409, "CONCURRENT_CHANGE")
    assert "li@example.com" not in str(body)
    logged = capsys.readouterr().err
    assert "IntegrityError" in logged and "uq_x" in logged
    assert "li@example.com" not in logged and "INSERT" not in logged


def test_value_the_database_cannot_store_is_422(client) -> None:
    _assert_problem(client.get("/api/v1/_test/data-error"), 422, "INPUT_NOT_STORABLE")


# PostgreSQL refuses NUL in text: refused up front, in a body, a query string or a path
def test_nul_characters_refused(client) -> None:
    r = client.post(
        "/api/v1/_test/things",
        content=b'{"name": "a\\u0000b", "id_number": "x"}',
        headers={"content-type": "application/json"},
    )
    _assert_problem(r, 422, "INVALID_CHARACTERS")
    _assert_problem(client.get("/api/v1/regions?within=11%0000"), 422, "INVALID_CHARACTERS")
    _assert_problem(client.get("/api/v1/regions/11%0000"), 422, "INVALID_CHARACTERS")
    ok = client.post("/api/v1/_test/things", json={"name": "a\\u0000 is fine as text", "id_number": "x"})
    assert ok.status_code == 200
