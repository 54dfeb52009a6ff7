"""The harness asks Chromium again only for its transient capture refusal, never for a real error."""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser import harness


class FlakyPage:
    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        self.captures = 0

    def screenshot(self, path: str, full_page: bool) -> None:
        self.captures += 1
        if self.failures:
            raise PlaywrightError(self.failures.pop(0))

    def wait_for_timeout(self, ms: float) -> None:
        pass


def test_a_transient_refusal_is_asked_again() -> None:
    page = FlakyPage(["Page.screenshot: Protocol error (Page.captureScreenshot): Unable to capture screenshot"])
    harness.screenshot(page, "harness-capture-retry")
    assert page.captures == 2


def test_any_other_error_fails_at_once() -> None:
    page = FlakyPage(["Target page, context or browser has been closed"])
    with pytest.raises(PlaywrightError, match="closed"):
        harness.screenshot(page, "harness-capture-closed")
    assert page.captures == 1


def test_a_refusal_that_persists_fails() -> None:
    page = FlakyPage(["Unable to capture screenshot"] * harness.CAPTURE_TRIES)
    with pytest.raises(PlaywrightError, match="Unable to capture"):
        harness.screenshot(page, "harness-capture-persists")
    assert page.captures == harness.CAPTURE_TRIES
