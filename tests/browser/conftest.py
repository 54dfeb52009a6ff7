"""Browser fixtures (harness.py): ``site`` (a real server on its own SQLite database, per module),
``chromium`` (per session) and ``tab`` (a fresh browser context and page per test).

These tests start servers: they run on the one xdist worker of the server tests (``xdist_group``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.browser.harness import launch
from tests.reliability.servers import Server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.xdist_group("servers"))
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.e2e)


@dataclass
class Site:
    url: str
    server: Server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``sscard serve`` over a migrated SQLite database of this module's own; the test process's
    ``unit_of_work()`` reaches the same database (factories make the test's people there)."""
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache
    from tests.conftest import _dispose_global_engine, fresh_database

    databases = fresh_database("sqlite", tmp_path_factory)
    database = next(databases)
    patch = pytest.MonkeyPatch()
    patch.setenv("SSCARD_DATABASE_URL", database.url)
    patch.setenv("SSCARD_DATABASE_SCHEMA", "")
    patch.setenv("SSCARD_AUDIT_ANCHOR_FILE", str(database.anchor_file))
    reset_settings_cache()
    reset_engine_cache()
    server = Server(dict(os.environ)).start()
    try:
        yield Site(server.url, server)
    finally:
        server.kill()
        _dispose_global_engine()
        patch.undo()
        reset_settings_cache()
        reset_engine_cache()
        next(databases, None)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def tab(chromium: Any, site: Site) -> Iterator[Any]:
    """A new context (no cookies) and page; Content-Security-Policy violations are collected and fail
    ``harness.visit``."""
    # A browser set to Chinese, as most cardholders' are (English pages: the switch or ?lang=en).
    context = chromium.new_context(base_url=site.url, locale="zh-CN", viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    violations: list[str] = []
    page._sscard_csp_violations = violations

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            violations.append(message.text)

    page.on("console", on_console)
    yield page
    context.close()
