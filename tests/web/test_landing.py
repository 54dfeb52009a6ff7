"""The bilingual landing page: zh_CN by default, English on request, demo logins only in dev mode."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def page(db_env, monkeypatch):
    from sscard.config import reset_settings_cache
    from tests.conftest import shared_app

    # Production's start-up refusal (the suite's keystore has a development root) is tested in
    # tests/security_module/test_production_start.py; here only the page's text matters. Both names:
    # create_app() calls the first, shared_app() the second when it hands back an app already built.
    monkeypatch.setattr("sscard.api.app.ensure_production_ready", lambda: None)
    monkeypatch.setattr("sscard.startup.ensure_production_ready", lambda: None)

    def get(env: str = "test", **params: str):
        # The app of this environment, built once per process (the page reads the environment per
        # request, but the app's build differs between dev, test and prod: shared_app keys on it).
        monkeypatch.setenv("SSCARD_ENV", env)
        reset_settings_cache()
        return TestClient(shared_app()).get("/", params=params)

    yield get
    reset_settings_cache()


def test_default_is_chinese_with_docs_links(page) -> None:
    r = page()
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in r.text and "社会保障卡服务平台" in r.text
    for link in ('href="/api/docs"', 'href="/api/openapi.json"', 'href="/api/v1/health"', 'href="/metrics"'):
        assert link in r.text
    assert "<code>staff</code>" in r.text  # the API groups being served are listed


def test_english_on_request_and_unknown_language_falls_back(page) -> None:
    r = page(lang="en")
    assert '<html lang="en">' in r.text and "API documentation" in r.text
    assert '<html lang="zh-CN">' in page(lang="xx").text


def test_demo_logins_only_in_dev(page) -> None:
    from sscard.demo.data import DEMO_STAFF_PASSWORD

    assert DEMO_STAFF_PASSWORD not in page(env="test").text
    assert DEMO_STAFF_PASSWORD not in page(env="prod").text
    dev = page(env="dev")
    assert DEMO_STAFF_PASSWORD in dev.text and "bj_counter_clerk" in dev.text and 'id="demo"' in dev.text


def test_api_docs_are_served_without_a_cdn(page) -> None:
    from tests.conftest import shared_app

    client = TestClient(shared_app())
    for url in ("/api/docs", "/api/redoc"):
        html = client.get(url).text
        assert "/api/docs-static/" in html and "cdn" not in html.lower() and "googleapis" not in html
    assert client.get("/api/docs-static/swagger-ui-bundle.js").status_code == 200
