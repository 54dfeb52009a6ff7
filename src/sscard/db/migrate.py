"""Programmatic Alembic: ``sscard db upgrade`` and the tests use these, not a shell-out."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None, schema: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.attributes["sscard_url"] = url
    if schema is not None:
        cfg.attributes["sscard_schema"] = schema
    return cfg


def upgrade(url: str | None = None, schema: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url, schema), revision)


def downgrade(url: str | None, schema: str | None, revision: str) -> None:
    command.downgrade(alembic_config(url, schema), revision)


def check(url: str | None = None, schema: str | None = None) -> None:
    """Raise if the models differ from the migrations (``alembic check``)."""
    command.check(alembic_config(url, schema))
