"""The pages' gettext catalogues are complete, and the per-locale formats (issue 21 item 5)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from sscard.web import i18n

LOCALE = Path(i18n.__file__).parent / "locale"


def _catalog(lang: str):
    with (LOCALE / lang / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        return read_po(fp, locale=lang)


# issue 21 item 5: no untranslated (or fuzzy) entry in either catalogue
@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_catalogue_has_no_untranslated_message(lang: str) -> None:
    catalog = _catalog(lang)
    missing = [m.id for m in catalog if m.id and (not m.string or "fuzzy" in m.flags)]
    assert len(catalog) > 30 and missing == []


# issue 21: every msgid the templates and page code use is in the catalogues (make messages was run)
def test_catalogues_cover_every_extracted_message(tmp_path: Path) -> None:
    from babel.messages.frontend import CommandLineInterface

    root = Path(i18n.__file__).parents[3]
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(root / "babel.cfg"),
            "-k",
            "_",
            "-k",
            "gettext",
            "-o",
            str(pot),
            str(root),
        ]
    )
    with pot.open("rb") as fp:
        wanted = {m.id for m in read_po(fp) if m.id}
    for lang in ("zh_CN", "en"):
        have = {m.id for m in _catalog(lang) if m.id and m.string}
        assert wanted - have == set(), lang


# issue 21: error codes shown as the domain errors' own zh/en titles, through the catalogue
def test_domain_error_titles_come_from_the_errors() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "error_messages", Path(i18n.__file__).parents[3] / "scripts/error_messages.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    errors = module.domain_errors()
    codes = {cls.code for cls in errors}
    assert {"INVALID_CREDENTIALS", "ACCOUNT_LOCKED", "CSRF_REFUSED", "PASSWORD_WEAK"} <= codes
    i18n.translations.cache_clear()
    for cls in errors:
        assert i18n.error_title("zh_CN", cls) == cls.title_zh, cls.code
        assert i18n.error_title("en", cls) == cls.title, cls.code


def test_language_negotiation() -> None:
    assert i18n.from_accept_language("en-US,en;q=0.9") == "en"
    assert i18n.from_accept_language("fr, zh-CN;q=0.8, en;q=0.5") == "zh_CN"
    assert i18n.from_accept_language("en;q=0.4, zh;q=0.9") == "zh_CN"
    assert i18n.from_accept_language("fr") is None and i18n.from_accept_language(None) is None
    assert i18n.normalise("zh-CN") == "zh_CN" and i18n.normalise("de") is None


# FIN-1: amounts are integer fen, shown as yuan in the locale's currency format
def test_money_numbers_and_dates_per_locale() -> None:
    assert i18n.money(123450, "zh_CN") == "¥1,234.50"
    assert i18n.money(123450, "en") == "CN¥1,234.50"
    assert i18n.money(-5, "en") == "-CN¥0.05"
    assert i18n.number(1234567, "en") == "1,234,567"
    assert i18n.day(date(2025, 3, 7), "zh_CN") == "2025年3月7日"
    assert i18n.day(date(2025, 3, 7), "en") == "Mar 7, 2025"
    assert i18n.month("2025-03", "zh_CN") == "2025年3月" and i18n.month("2025-03", "en") == "Mar 2025"
    # 23:30 UTC is the next morning in China
    assert i18n.day(datetime(2025, 3, 7, 23, 30, tzinfo=UTC), "en") == "Mar 8, 2025"


# issue 21: a checkout whose .mo files are missing (make install not run) still shows translated pages
def test_catalogue_compiled_in_memory_without_mo(tmp_path: Path, monkeypatch) -> None:
    import shutil

    for lang in ("zh_CN", "en"):
        target = tmp_path / lang / "LC_MESSAGES"
        target.mkdir(parents=True)
        shutil.copy(LOCALE / lang / "LC_MESSAGES" / "messages.po", target / "messages.po")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        assert i18n.gettext("zh_CN", "Sign in") == "登录" and i18n.gettext("en", "Sign in") == "Sign in"
        assert not list(tmp_path.rglob("*.mo"))
    finally:
        i18n.translations.cache_clear()
