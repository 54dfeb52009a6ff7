"""The domain errors' titles in the pages' catalogues (run by ``make messages``).

    python scripts/error_messages.py add POT        # every error's English title as a msgid, context "error CODE module.Class"
    python scripts/error_messages.py fill LOCALE    # zh_CN: the error's own title_zh; en: the title

The errors already carry their zh/en titles (``sscard/errors.py`` and every ``*/errors.py``); the
catalogue takes them from there, so a page shows the same words as the API's problem titles. ``fill``
also gives every en msgid without a translation its own text (the msgids are English).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

import sscard
from sscard.errors import DomainError
from sscard.web.i18n import error_context


def domain_errors() -> list[type[DomainError]]:
    # Every module (errors live mostly, not only, in */errors.py), the migrations' scripts excepted.
    for info in pkgutil.walk_packages(sscard.__path__, "sscard."):
        if not info.name.startswith("sscard.db.migrations"):
            importlib.import_module(info.name)
    found: dict[str, type[DomainError]] = {}
    todo: list[type[DomainError]] = [DomainError]
    while todo:
        cls = todo.pop()
        found[f"{cls.__module__}.{cls.__qualname__}"] = cls
        todo.extend(cls.__subclasses__())
    return sorted(found.values(), key=lambda c: (c.__module__, c.__qualname__))


def context(cls: type[DomainError]) -> str:
    """The msgctxt of an error's title (``sscard.web.i18n.error_context``): two errors may share a code
    and an English title and still word the Chinese differently."""
    return error_context(cls)


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fp:
        return read_po(fp, locale=locale)


def _write(path: Path, catalog: Catalog) -> None:
    with path.open("wb") as fp:
        write_po(fp, catalog, width=120, sort_output=False)


def add(pot: Path) -> None:
    catalog = _read(pot)
    for cls in domain_errors():
        if (cls.title, context(cls)) not in {(m.id, m.context) for m in catalog}:
            catalog.add(cls.title, context=context(cls))
    _write(pot, catalog)


def fill(locale_dir: Path) -> None:
    titles = {(context(cls), cls.title): cls.title_zh for cls in domain_errors()}
    for lang in ("zh_CN", "en"):
        path = locale_dir / lang / "LC_MESSAGES" / "messages.po"
        catalog = _read(path, lang)
        for message in catalog:
            if not message.id or not isinstance(message.id, str):
                continue
            if (message.context, message.id) in titles:
                message.string = titles[message.context, message.id] if lang == "zh_CN" else message.id
                message.flags.discard("fuzzy")
            elif lang == "en" and not message.string:
                message.string = message.id
        _write(path, catalog)


if __name__ == "__main__":
    command, target = sys.argv[1], Path(sys.argv[2])
    {"add": add, "fill": fill}[command](target)
