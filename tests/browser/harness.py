"""The browser harness: a real ``sscard serve`` on a free 127.0.0.1 port over a SQLite database of its own,
Debian's /usr/bin/chromium-headless-shell driven by Playwright (never ``playwright install``), screenshots under
``test-artifacts/screenshots/`` and an axe-core check that fails on serious or critical violations.

    def test_something(site, tab):              # fixtures of tests/browser/conftest.py
        tab.goto(site.url + "/portal/?lang=en")
        visit(tab, "portal-login-en")           # screenshot + axe + <html lang> + no CSP violation

The pages' Content-Security-Policy stays enforced in these tests (a violation fails the test): axe is
evaluated through the DevTools protocol (``page.evaluate``), which the page's CSP does not govern.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# Debian's headless shell: the Blink and V8 of /usr/bin/chromium (one source package, one version) without the
# browser around them, as Playwright itself uses for headless runs. /usr/bin/chromium's headless mode is the
# whole browser with its window unseen: each context got a WebUI omnibox-popup renderer of its own and each
# navigation updated that unseen UI, ~35% of the browser tests' CPU (issue 18 item 5).
CHROMIUM = "/usr/bin/chromium-headless-shell"
BLOCKING = ("serious", "critical")


CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # fonts-wqy-microhei (.ci/run installs it)


def launch(playwright: Any) -> Any:
    # Without a CJK font the Chinese pages render as boxes and their screenshots show nothing.
    assert CJK_FONT.exists(), f"{CJK_FONT} is missing: apt-get install fonts-wqy-microhei"
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium-headless-shell"
    # --disable-dev-shm-usage: a container's small /dev/shm makes Chromium's captures fail under load.
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"], headless=True
    )


# Chromium now and then refuses one capture ("Unable to capture screenshot", CDP error -32000) on a busy
# host and takes the very same picture when asked again: a browser hiccup, not a page fault (the last CI
# failure was one). Only that refusal is asked again, a few times; anything else fails at once.
TRANSIENT_CAPTURE = "Unable to capture screenshot"
CAPTURE_TRIES = 4


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    for attempt in range(1, CAPTURE_TRIES + 1):
        try:
            page.screenshot(path=str(path), full_page=True)
            return path
        except PlaywrightError as error:
            if TRANSIENT_CAPTURE not in str(error) or attempt == CAPTURE_TRIES:
                raise
            page.wait_for_timeout(250 * attempt)
    raise AssertionError("unreachable")  # the loop returns or raises


# The axe rules that can never block: each declares a minor or moderate impact, and axe gives every
# violation of a rule that declares one that very impact (finalizeRuleResult). Not running them checks
# exactly what check_accessibility fails on, for less (issue 18 item 5); test_foundation.py checks this
# list against the vendored axe's own metadata.
NON_BLOCKING_RULES = (
    "aria-allowed-role",
    "aria-deprecated-role",
    "empty-heading",
    "empty-table-header",
    "focus-order-semantics",
    "form-field-multiple-labels",
    "heading-order",
    "hidden-content",
    "html-xml-lang-mismatch",
    "image-redundant-alt",
    "landmark-banner-is-top-level",
    "landmark-contentinfo-is-top-level",
    "landmark-main-is-top-level",
    "landmark-no-duplicate-banner",
    "landmark-no-duplicate-contentinfo",
    "landmark-no-duplicate-main",
    "landmark-one-main",
    "landmark-unique",
    "meta-viewport",
    "meta-viewport-large",
    "no-autoplay-audio",
    "page-has-heading-one",
    "presentation-role-conflict",
    "region",
    "scope-attr-valid",
    "server-side-image-map",
    "skip-link",
    "table-duplicate-name",
)
_AXE_RUN = """async (off) => (await window.axe.run(document, {
    resultTypes: ['violations'], rules: Object.fromEntries(off.map((id) => [id, {enabled: false}])),
})).violations"""


_AXE_SOURCE = "__sscardAxeSource"  # the init script's property on window
_AXE_LOAD = f"""() => typeof window.axe !== 'undefined' ? true
    : typeof window[{_AXE_SOURCE!r}] === 'string' ? ((0, eval)(window[{_AXE_SOURCE!r}]), true) : false"""


@functools.cache
def axe_init_script() -> str:
    """For ``context.add_init_script``: axe's source as a string kept on every page of the context (a
    literal costs next to nothing to parse), so that ``load_axe`` evaluates it there instead of sending its
    source (hundreds of KB) through Playwright and the DevTools protocol on every visit (issue 18 item 5).
    Only the visited pages run it; a page's Content-Security-Policy does not govern init scripts nor eval during
    ``page.evaluate``, and stays enforced for the page's own scripts."""
    source = json.dumps(AXE.read_text(encoding="utf-8"))
    return f"Object.defineProperty(window, {_AXE_SOURCE!r}, {{value: {source}}});"


def load_axe(page: Any) -> None:
    """axe-core on the page: already there, from the context's init script, or sent now (a page of a
    context made without ``axe_init_script``)."""
    if not page.evaluate(_AXE_LOAD):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")


def axe_violations(page: Any, skip: tuple[str, ...] = NON_BLOCKING_RULES) -> list[dict[str, Any]]:
    """axe-core's violations of the page as shown now (WCAG 2.x A/AA and best practices), by every rule
    axe runs by default but those of ``skip``."""
    load_axe(page)
    return list(page.evaluate(_AXE_RUN, list(skip)))


def check_accessibility(page: Any, name: str) -> None:
    """Fail on any serious or critical axe violation, naming the rule and the elements."""
    blocking = [v for v in axe_violations(page) if v.get("impact") in BLOCKING]
    summary = [
        {"rule": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in blocking
    ]
    assert not summary, f"{name}: axe found serious/critical violations:\n{json.dumps(summary, indent=1)}"


def visit(page: Any, name: str, lang: str | None = None) -> Path:
    """The checks every page gets: its ``<html lang>``, no CSP violation, axe, and a screenshot."""
    if lang is not None:
        assert page.get_attribute("html", "lang") == lang, name
    page.wait_for_load_state("load")
    shot = screenshot(page, name)
    check_accessibility(page, name)
    violations = getattr(page, "_sscard_csp_violations", [])
    assert not violations, f"{name}: Content-Security-Policy violations: {violations}"
    return shot
