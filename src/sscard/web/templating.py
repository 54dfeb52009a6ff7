"""The pages' Jinja2 environments: one per language, with gettext (``{% trans %}``, ``_()``) and the
per-locale filters ``money`` (fen → yuan), ``number``, ``day``, ``moment`` and ``month``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from sscard.web import i18n
from sscard.web.once import new_form_token

TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=4)
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = lambda fen: i18n.money(fen, lang)
    env.filters["number"] = lambda v: i18n.number(v, lang)
    env.filters["day"] = lambda v: i18n.day(v, lang)
    env.filters["moment"] = lambda v: i18n.moment(v, lang)
    env.filters["month"] = lambda v: i18n.month(v, lang)
    env.globals["lang"] = lang
    env.globals["html_lang"] = i18n.html_lang(lang)
    env.globals["new_form_token"] = new_form_token  # each rendered form's own (web/once.py)
    return env


def render(lang: str, name: str, context: dict[str, Any]) -> str:
    return environment(lang).get_template(name).render(context)
