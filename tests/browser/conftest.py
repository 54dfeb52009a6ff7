"""Browser fixtures (harness.py): ``site`` (a real server on a SQLite database of its own, started once per
session and lent to each module), ``chromium`` (one for the browser tests, which run one after another)
and ``tab`` (a fresh browser context and page per test).

One server for every module (issue 18 item 5: starting ``sscard serve`` took ~6 s of CPU, twelve times):
the modules share its database as the rest of the suite shares the session's, each making its own
people, staff and regions. A module that changes what every page does (a national policy) starts a
server of its own instead (``private_site``).

These tests share one server and one Chromium: they run one after another on one xdist worker
(``xdist_group("browser")``), beside the worker of the other server tests (``"servers"``, tests/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.browser.harness import axe_init_script, launch
from tests.reliability.servers import Server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _is_browser_test(item):
            item.add_marker(pytest.mark.xdist_group("browser"))
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.e2e)


@dataclass
class Site:
    url: str
    server: Server


@dataclass
class _Served:
    site: Site
    env: dict[str, str]  # what the server was started with, and the tests' own process needs


@contextmanager
def _serving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Served]:
    """``sscard serve`` over a migrated SQLite database of its own, killed and dropped at the end."""
    from tests.conftest import fresh_database

    databases = fresh_database("sqlite", tmp_path_factory)
    database = next(databases)
    env = {
        "SSCARD_DATABASE_URL": database.url,
        "SSCARD_DATABASE_SCHEMA": "",
        "SSCARD_AUDIT_ANCHOR_FILE": str(database.anchor_file),
    }
    server = Server({**os.environ, **env}).start()
    try:
        yield _Served(Site(server.url, server), env)
    finally:
        server.kill()
        next(databases, None)


@contextmanager
def _pointed_at(served: _Served) -> Iterator[Site]:
    """The test process's ``unit_of_work()`` reaches the server's database (factories make the test's
    people there) while the block runs; the settings are restored afterwards."""
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache
    from tests.conftest import _dispose_global_engine

    with pytest.MonkeyPatch.context() as patch:
        for name, value in served.env.items():
            patch.setenv(name, value)
        reset_settings_cache()
        reset_engine_cache()
        try:
            yield served.site
        finally:
            _dispose_global_engine()
    reset_settings_cache()
    reset_engine_cache()


@pytest.fixture(scope="session")
def _shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Served]:
    with _serving(tmp_path_factory) as served:
        yield served


@pytest.fixture(scope="module")
def site(_shared_server: _Served) -> Iterator[Site]:
    """The session's server, and the module's own process pointed at its database."""
    with _pointed_at(_shared_server) as shared:
        yield shared


@pytest.fixture(scope="module")
def private_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server and database of the module's own: for a module that changes what every page does."""
    with _serving(tmp_path_factory) as served, _pointed_at(served) as own:
        yield own


class _Browser:
    """One Playwright driver and Chromium for a run of consecutive browser tests, started by the first and
    stopped after the last (``pytest_runtest_teardown`` below), not per module: each start cost ~3 s of
    CPU (the Node driver, Chromium and its zygotes and GPU process), twelve times (issue 18 item 5).

    Not left running to the session's end: while Playwright's sync API is started it leaves its event loop
    set as the thread's running loop, so every later test on the same xdist worker that calls
    asyncio.run() fails ("cannot be called from a running event loop"); the browser group runs first on
    its worker, then others. Each test still gets a browser context of its own (``tab``)."""

    def __init__(self) -> None:
        self._playwright: Any = None
        self._browser: Any = None

    def get(self) -> Any:
        if self._browser is None:
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self._browser = launch(self._playwright)
        return self._browser

    def stop(self) -> None:
        browser, playwright, self._browser, self._playwright = self._browser, self._playwright, None, None
        try:
            if browser is not None:
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()


_BROWSER = _Browser()


def _is_browser_test(item: pytest.Item | None) -> bool:
    return item is not None and str(item.fspath).startswith(os.path.dirname(__file__))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    try:
        return (yield)  # the test's fixtures first: its contexts close while the browser is up
    finally:
        if not _is_browser_test(nextitem):
            _BROWSER.stop()


@pytest.fixture
def chromium() -> Any:
    return _BROWSER.get()


@pytest.fixture
def tab(chromium: Any, site: Site) -> Iterator[Any]:
    """A new context (no cookies) and page; Content-Security-Policy violations are collected and fail
    ``harness.visit``."""
    # A browser set to Chinese, as most cardholders' are (English pages: the switch or ?lang=en).
    context = chromium.new_context(base_url=site.url, locale="zh-CN", viewport={"width": 1100, "height": 800})
    context.add_init_script(axe_init_script())
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
