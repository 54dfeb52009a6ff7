"""Alembic environment: URL and schema come from the caller or from ``SSCARD_*`` settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from sscard.config import get_settings
from sscard.db.partitions import include_in_comparison
from sscard.db.registry import metadata
from sscard.db.session import build_engine

config = context.config


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    # Alembic's own bookkeeping table is no model; in a named PostgreSQL schema it is reflected like one.
    return not (type_ == "table" and name == "alembic_version")


def run_migrations_online() -> None:
    settings = get_settings()
    url = config.attributes.get("sscard_url") or settings.effective_database_url
    schema = config.attributes.get("sscard_schema", settings.database_schema)
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = build_engine(url, schema=schema)
    with engine.connect() as connection:
        if schema and connection.dialect.name == "postgresql":
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=_include_name,
            # PostgreSQL partitions history (0020_partitions): its partitions and key tables are no drift.
            include_object=include_in_comparison if connection.dialect.name == "postgresql" else None,
            version_table_schema=schema or None,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `sscard db upgrade`")
run_migrations_online()
