"""Issue 17 item 11: the HTTP surface. Security headers on every answer, no-store on the API, /metrics
and the API docs restricted in prod, X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import secrets
import socket

import pytest
from fastapi.testclient import TestClient

from sscard.api.source import client_address
from sscard.config import reset_settings_cache
from sscard.staff.roles import Role
from tests.api.conftest import bearer

SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _secure(response) -> None:
    for name, value in SECURITY.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src" in csp, response.request.url


# CH-4 / issue 17 item 11: every answer (JSON, problem+json, HTML page, docs, metrics, 404, 405, 413)
# carries the security headers; the API's answers (tokens, personal data) are never cached
def test_every_answer_carries_the_security_headers(client) -> None:
    answers = {
        "health": client.get("/api/v1/health"),
        "unauthenticated": client.get("/api/v1/staff/me"),
        "validation": client.post("/api/v1/staff/login", json={}),
        "not found": client.get("/api/v1/no-such-thing"),
        "method": client.delete("/api/v1/health"),
        "too large": client.post(
            "/api/v1/portal/login", content=b"x" * (1024 * 1024 + 1), headers={"content-type": "application/json"}
        ),  # fmt: skip
        "page": client.get("/"),
        "docs": client.get("/api/docs"),
        "openapi": client.get("/api/openapi.json"),
        "metrics": client.get("/metrics"),
    }
    for name, response in answers.items():
        assert response.status_code < 500, name
        _secure(response)
    for name in ("health", "unauthenticated", "validation", "not found", "method", "too large", "metrics"):
        assert answers[name].headers.get("Cache-Control") == "no-store", name
    page_csp = answers["page"].headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page_csp and "script-src 'self';" in page_csp  # no inline script or style
    assert "script-src 'self'" in answers["docs"].headers["Content-Security-Policy"]  # Swagger UI's own scripts


@pytest.fixture
def prod(monkeypatch, db_env):
    monkeypatch.setenv("SSCARD_ENV", "prod")
    # The suite's keystore holds a development root, which production refuses at start-up
    # (tests/security_module/test_production_start.py); this test is about the HTTP surface.
    monkeypatch.setattr("sscard.api.app.ensure_production_ready", lambda: None)
    reset_settings_cache()
    yield monkeypatch
    reset_settings_cache()


def _app_client(address: str = "203.0.113.9") -> TestClient:
    from sscard.api.app import create_app

    return TestClient(create_app(), raise_server_exceptions=False, client=(address, 40000))


# issue 17 item 11: in prod /metrics needs the configured bearer token, or without one a loopback peer
# (never a forwarded address); docs are off and the OpenAPI document needs a staff session
def test_prod_restricts_metrics_and_docs(prod, staff_token) -> None:
    with _app_client() as remote, _app_client("127.0.0.1") as local:
        assert remote.get("/metrics").status_code == 403
        assert remote.get("/metrics").json()["code"] == "METRICS_FORBIDDEN"
        assert local.get("/metrics").status_code == 200
        assert remote.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 403
        assert remote.get("/api/docs").status_code == 404 and remote.get("/api/redoc").status_code == 404
        assert remote.get("/api/openapi.json").status_code == 401
        document = remote.get("/api/openapi.json", headers=bearer(staff_token(Role.COUNTER_CLERK, "110000")))
        assert document.status_code == 200 and "/api/v1/health" in document.json()["paths"]
        _secure(document)
    token = secrets.token_urlsafe(24)
    prod.setenv("SSCARD_METRICS_TOKEN", token)
    reset_settings_cache()
    with _app_client() as remote, _app_client("127.0.0.1") as local:
        assert remote.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert local.get("/metrics").status_code == 403  # with a token, loopback needs it too


def _scope(peer: str, *forwarded: str) -> dict:
    return {"client": (peer, 5000), "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}


# issue 17 item 11 (QPW-7, CARD-5 per-source limits): X-Forwarded-For counts only from a trusted proxy
def test_source_address_believes_only_trusted_proxies() -> None:
    assert client_address(_scope("127.0.0.1", "198.51.100.7"), "") == "127.0.0.1"  # nothing trusted
    assert client_address(_scope("203.0.113.5", "198.51.100.7"), "10.0.0.0/8") == "203.0.113.5"
    trusted = "10.0.0.0/8, 127.0.0.1"
    assert client_address(_scope("10.1.2.3", "198.51.100.7"), trusted) == "198.51.100.7"
    # The client's own claim (leftmost) is skipped: the hop the trusted proxies saw decides.
    assert client_address(_scope("10.1.2.3", "1.2.3.4, 198.51.100.7, 10.9.9.9"), trusted) == "198.51.100.7"
    assert client_address(_scope("10.1.2.3", "1.2.3.4", "198.51.100.8"), trusted) == "198.51.100.8"
    assert client_address(_scope("10.1.2.3", "not-an-address"), trusted) == "10.1.2.3"
    assert client_address(_scope("10.1.2.3"), trusted) == "10.1.2.3"


# issue 17 item 11: rotating X-Forwarded-For from an untrusted peer (loopback included) does not dodge
# the per-source limit of the 12345 hotline; from a trusted proxy each forwarded client counts apart
def test_rotating_forwarded_for_does_not_dodge_the_source_limit(db_env, monkeypatch, staff_token) -> None:
    from tests.cards.test_hotline_api import URL, _holder

    monkeypatch.setenv("SSCARD_HOTLINE_CALLS_PER_WINDOW", "3")
    reset_settings_cache()
    try:
        operator = bearer(staff_token(Role.HOTLINE_OPERATOR, "000000"))
        peer = f"192.0.2.{secrets.randbelow(250) + 1}"
        number, _ = _holder()
        with _app_client(peer) as client:
            statuses = [
                client.post(URL, json={"id_number": number},
                            headers={**operator, "X-Forwarded-For": f"198.51.100.{i}"}).status_code
                for i in range(1, 6)
            ]  # fmt: skip
        assert statuses == [201, 201, 201, 429, 429]
        monkeypatch.setenv("SSCARD_TRUSTED_PROXIES", peer)
        reset_settings_cache()
        with _app_client(peer) as client:
            statuses = [
                client.post(URL, json={"id_number": number},
                            headers={**operator, "X-Forwarded-For": f"198.51.100.{100 + i}"}).status_code
                for i in range(1, 5)
            ]  # fmt: skip
        assert statuses == [201, 201, 201, 201]  # four clients behind the proxy, one call each
    finally:
        reset_settings_cache()


# issue 17 item 11: Uvicorn's own proxy-header handling (which believed X-Forwarded-For from loopback) is off
def test_serve_leaves_forwarded_for_to_the_app(monkeypatch) -> None:
    import uvicorn

    from sscard.cli import serve

    seen: dict = {}

    def run(server: uvicorn.Server, sockets: list | None = None) -> None:
        seen.update(vars(server.config))
        server.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    with socket.socket() as sock:
        serve._run_uvicorn(sock, 1)
    assert seen["proxy_headers"] is False
