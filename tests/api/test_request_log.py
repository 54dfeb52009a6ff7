"""Issue 22 item 6: one JSON line per request (findable by the X-Request-ID the client got, never
personal data), and separate liveness and readiness probes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sscard.config import reset_settings_cache
from sscard.logging import configure_logging

FULL_ID = "11010519880318101X"


@pytest.fixture
def client(db_env) -> Iterator[TestClient]:
    from sscard.api.app import create_app

    reset_settings_cache()
    configure_logging(force=True)
    yield TestClient(create_app(), raise_server_exceptions=False)
    reset_settings_cache()
    configure_logging(force=True)


def _request_lines(stderr: str) -> list[dict]:
    lines = []
    for line in stderr.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "request":
            lines.append(event)
    return lines


# rule ID-5: the request log names the route template, never the path or query with personal data
def test_every_request_is_one_json_line_with_the_clients_request_id(client, capsys) -> None:
    capsys.readouterr()
    r = client.get(f"/api/v1/regions/440300?id_number={FULL_ID}", headers={"X-Request-ID": "trace-42"})
    logged = [e for e in _request_lines(capsys.readouterr().err) if e.get("request_id") == "trace-42"]
    assert len(logged) == 1, logged
    line = logged[0]
    assert line["level"] == "info" and line["method"] == "GET" and line["status"] == r.status_code
    assert line["route"] == "/api/v1/regions/{code}"
    assert isinstance(line["duration_ms"], float | int) and line["duration_ms"] >= 0
    text = json.dumps(line)
    assert "440300" not in text and FULL_ID not in text and "id_number" not in text


def test_a_generated_request_id_is_the_one_logged(client, capsys) -> None:
    capsys.readouterr()
    first = client.get("/livez").headers["x-request-id"]
    second = client.get("/livez").headers["x-request-id"]
    assert first != second  # one id per request, never carried over
    logged = {e["request_id"] for e in _request_lines(capsys.readouterr().err)}
    assert {first, second} <= logged


def test_request_lines_can_be_turned_off(client, capsys, monkeypatch) -> None:
    monkeypatch.setenv("SSCARD_LOG_REQUESTS", "false")
    reset_settings_cache()
    capsys.readouterr()
    client.get("/livez", headers={"X-Request-ID": "quiet-1"})
    assert not [e for e in _request_lines(capsys.readouterr().err) if e.get("request_id") == "quiet-1"]


def test_liveness_asks_nothing_and_readiness_checks_database_and_security_module(client) -> None:
    live = client.get("/livez")
    assert live.status_code == 200 and live.json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "security_module": "ok"}
    assert client.get("/api/v1/health").status_code == 200  # the contract's endpoint still answers


def test_readiness_fails_on_a_database_never_upgraded(client, monkeypatch, tmp_path) -> None:
    from sscard.db.session import reset_engine_cache

    monkeypatch.setenv("SSCARD_DATABASE_URL", f"sqlite:///{tmp_path / 'never-upgraded.db'}")
    monkeypatch.setenv("SSCARD_DATABASE_SCHEMA", "")
    reset_settings_cache()
    reset_engine_cache()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["retry-after"]
        assert ready.json()["checks"]["database"] == "not_initialised"
        assert client.get("/livez").status_code == 200  # alive all the same: no restart for a database
        assert not (tmp_path / "never-upgraded.db").exists()
    finally:
        reset_engine_cache()


def test_readiness_fails_when_the_security_module_does_not_work(client, monkeypatch) -> None:
    import sscard.security_module as sm
    from sscard.security_module.errors import SecurityModuleError

    class Broken:
        def encrypt_field(self, plaintext: bytes, *, context: bytes) -> bytes:
            raise SecurityModuleError("the device does not answer")

    monkeypatch.setattr(sm, "_module", Broken())
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "security_module": "unavailable"}
    assert "device" not in ready.text  # the reason is logged, not handed to anonymous callers
