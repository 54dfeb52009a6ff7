"""Request ids, masked JSON logs (ID-5) and Prometheus metrics by route template."""

from __future__ import annotations

import io
import json

import pytest
import structlog
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sscard.logging import configure_logging, mask_text, scrub_event

FULL_ID = "11010519880318101X"
PHONE = "13800138011"


@pytest.fixture(scope="module")
def client() -> TestClient:
    from sscard.api.app import create_app

    return TestClient(create_app(), raise_server_exceptions=False)


def test_request_id_echoed_when_sane(client) -> None:
    r = client.get("/api/v1/no-such", headers={"X-Request-ID": "abc-123.XYZ_9"})
    assert r.headers["x-request-id"] == "abc-123.XYZ_9"
    assert r.json()["request_id"] == "abc-123.XYZ_9"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "../../etc", "é"])
def test_request_id_generated_when_missing_or_unsafe(client, bad: str) -> None:
    headers = {"X-Request-ID": bad} if bad.isascii() else {}
    r = client.get("/api/v1/no-such", headers=headers)
    generated = r.headers["x-request-id"]
    assert generated != bad and len(generated) == 32 and generated.isalnum()
    assert len(r.headers.get_list("x-request-id")) == 1


def _pipeline_output(**event) -> dict:
    """Run one event through the processors ``configure_logging`` installs, into a buffer."""
    configure_logging()
    processors = structlog.get_config()["processors"]
    buf = io.StringIO()
    logger = structlog.wrap_logger(structlog.PrintLogger(file=buf), processors=processors)
    logger.info(event.pop("event"), **event)
    return json.loads(buf.getvalue())


# rule ID-5: a log line carrying a full ID or a phone number is masked wherever it appears
def test_log_line_masks_id_and_phone() -> None:
    out = _pipeline_output(
        event=f"looked up {FULL_ID} calling {PHONE}",
        note=f"id={FULL_ID.lower()}",
        nested={"ids": [FULL_ID], "phone": PHONE},
    )
    text = json.dumps(out, ensure_ascii=False)
    assert FULL_ID not in text and FULL_ID.lower() not in text and PHONE not in text
    assert "1101**********101X" in out["event"] and "138****8011" in out["event"]
    assert out["nested"]["phone"] == "138****8011"


# rule ID-5 / PIN-11: values under secret-looking keys are dropped, even nested
def test_log_line_redacts_secret_keys() -> None:
    out = _pipeline_output(
        event="login",
        password="hunter2-hunter2",
        pin="135790",
        new_pin="246802",
        access_token="sst_abc",
        body={"Password": "x", "user": "bob"},
        request_id="r1",
    )
    for key in ("password", "pin", "new_pin", "access_token"):
        assert out[key] == "[redacted]"
    assert out["body"] == {"Password": "[redacted]", "user": "bob"}
    assert "hunter2" not in json.dumps(out) and "135790" not in json.dumps(out)


def test_scrub_event_and_mask_text_units() -> None:
    event = {"event": f"x {FULL_ID}", "captcha_answer": "42", "count": 3}
    assert scrub_event(None, "info", event) == {
        "event": "x 1101**********101X",
        "captcha_answer": "[redacted]",
        "count": 3,
    }
    assert mask_text("order 20240101123456789") == "order 20240101123456789"  # not an ID: left alone


def test_metrics_by_route_template(db_env) -> None:
    from sscard.api.app import create_app

    client = TestClient(create_app(), raise_server_exceptions=False)
    for code in ("110000", "440300", "999999"):
        client.get(f"/api/v1/regions/{code}")
    client.get("/definitely/not/a/route/11010519880318101X")
    static = [client.get(f"/static/{name}") for name in ("site.css", "no-such-file-11010519880318101X.css")]
    assert [answer.status_code for answer in static] == [200, 404]
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    lines = r.text.splitlines()
    assert any(
        line.startswith('sscard_http_requests_total{method="GET",route="/api/v1/regions/{code}",status="404"}')
        for line in lines
    )
    assert any('route="unmatched"' in line for line in lines)
    assert any(line.startswith("sscard_http_request_duration_seconds_bucket") for line in lines)
    # Raw paths never become labels: no card numbers, IDs or region codes in any label value.
    # (Only labels are checked: a sample's value, e.g. a duration sum, may hold any digits.)
    label_values = {
        value
        for family in text_string_to_metric_families(r.text)
        for sample in family.samples
        for value in sample.labels.values()
    }
    assert "/api/v1/regions/{code}" in label_values
    # The pages' static files share their mount's label, found or not; only unrouted paths are "unmatched".
    assert any(line.startswith('sscard_http_requests_total{method="GET",route="/static/{path}",status="200"}')
               for line in lines)  # fmt: skip
    assert any(line.startswith('sscard_http_requests_total{method="GET",route="/static/{path}",status="404"}')
               for line in lines)  # fmt: skip
    assert not any("440300" in v or "11010519880318101X" in v for v in label_values)


def test_only_a_mount_lends_its_template() -> None:
    """An endpoint without a route template behind a deployment prefix (root_path) is not taken for a mount,
    and a mount's label is its template, never the path asked for."""
    from sscard.api.app import create_app
    from sscard.api.metrics import route_label

    app = create_app()
    static = next(route for route in app.routes if getattr(route, "path", None) == "/static")
    mounted = {"app": app, "endpoint": static.app, "root_path": "/prefix/static", "app_root_path": "/prefix"}
    assert route_label({**mounted, "path": "/prefix/static/11010519880318101X.css"}) == "/static/{path}"
    assert route_label({"app": app, "endpoint": lambda: None, "root_path": "/prefix"}) == "unmatched"
    assert route_label({**mounted, "endpoint": object()}) == "unmatched"  # not the app of any mount
