"""Languages of the pages: negotiation, gettext catalogues, and per-locale numbers, dates and money.

zh_CN by default; English with ``?lang=en`` (remembered in the ``sscard_lang`` cookie) or an
``Accept-Language`` that prefers English. Catalogues: ``web/locale/<locale>/LC_MESSAGES/messages.po``,
compiled to ``.mo`` by ``make install`` (``make messages`` extracts and updates them, docs/pages.md). A
checkout whose ``.mo`` is missing or older than its ``.po`` compiles the ``.po`` in memory, so the pages
never show untranslated text because a build step was skipped.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("zh_CN", "en")
DEFAULT = "zh_CN"
LANG_COOKIE = "sscard_lang"
CHINA = ZoneInfo("Asia/Shanghai")


def normalise(value: str | None) -> str | None:
    """``zh``, ``zh-CN``, ``zh_CN`` → zh_CN; ``en``, ``en-US`` → en; anything else → None."""
    if not value:
        return None
    v = value.strip().replace("-", "_").lower()
    if v.startswith("zh"):
        return "zh_CN"
    if v.startswith("en"):
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The first supported language of an ``Accept-Language`` header, by quality."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = normalise(tag)
        if lang and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else None


def html_lang(lang: str) -> str:
    return "zh-CN" if lang == "zh_CN" else "en"


@lru_cache(maxsize=4)
def translations(lang: str) -> Translations:
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as fp:
            return Translations(fp, domain="messages")
    with po.open("rb") as fp:
        catalog = read_po(fp, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf, domain="messages")


def gettext(lang: str, message: str) -> str:
    return translations(lang).ugettext(message)


def error_context(cls: type) -> str:
    """The msgctxt of a domain error's title: ``error CODE module.Class`` of the class that words it
    (a subclass that keeps its parent's title shares the parent's entry; scripts/error_messages.py)."""
    owner = next((c for c in cls.__mro__ if "title" in vars(c) or "title_zh" in vars(c)), cls)
    return f"error {getattr(owner, 'code', '')} {owner.__module__}.{owner.__qualname__}"


def error_title(lang: str, cls: type) -> str:
    """A domain error's title in ``lang`` from the catalogue (msgid: its English ``title``)."""
    title = str(getattr(cls, "title", ""))
    return translations(lang).upgettext(error_context(cls), title)


def money(fen: int | None, lang: str) -> str:
    """Fen (the ledger's integer unit) as yuan in the locale's currency format: ¥1,234.50."""
    if fen is None:
        return ""
    return format_currency(Decimal(fen) / 100, "CNY", locale=Locale.parse(lang))


def number(value: int | float | Decimal | None, lang: str) -> str:
    return "" if value is None else format_decimal(value, locale=Locale.parse(lang))


def day(value: date | datetime | str | None, lang: str) -> str:
    """A date (an ISO ``YYYY-MM-DD`` string too, as some services return) as the locale writes it."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.astimezone(CHINA).date() if value.tzinfo else value.date()
    return format_date(value, format="medium", locale=Locale.parse(lang))


def moment(value: datetime | None, lang: str) -> str:
    """A time stamp in China Standard Time (the pages' users are in China)."""
    if value is None:
        return ""
    return format_datetime(value, format="medium", tzinfo=CHINA, locale=Locale.parse(lang))


def month(value: str | date | None, lang: str) -> str:
    """A contribution month (``2025-03`` or a date) as the locale writes it: 2025年3月 / Mar 2025."""
    if value is None:
        return ""
    if isinstance(value, str):
        year, _, mon = value.partition("-")
        value = date(int(year), int(mon or 1), 1)
    return format_skeleton("yMMM", value, locale=Locale.parse(lang))
