"""Test fixtures: every database test runs on SQLite and on real PostgreSQL (a fresh schema per run).

Locally an unreachable PostgreSQL skips those tests with a visible reason; under CI=true it fails.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

PG_URL = os.environ.get("SSCARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

# Settings read by code under test must never point at a developer's real ./var.
_DATA_DIR = Path(tempfile.mkdtemp(prefix="sscard-test-"))
os.environ["SSCARD_DATA_DIR"] = str(_DATA_DIR)
os.environ.setdefault("SSCARD_LOG_JSON", "true")
os.environ["SSCARD_ENV"] = "test"


@contextmanager
def dev_env() -> Iterator[None]:
    """``SSCARD_ENV=dev`` for a moment: the development national root (``open_soft_module(dev_root=True)``)
    is generated only there (KEY-6: anywhere else the root takes two custodians)."""
    from sscard.config import reset_settings_cache

    before = os.environ.get("SSCARD_ENV")
    os.environ["SSCARD_ENV"] = "dev"
    reset_settings_cache()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SSCARD_ENV", None)
        else:
            os.environ["SSCARD_ENV"] = before
        reset_settings_cache()


@dataclass
class TestDatabase:
    backend: str
    url: str
    schema: str
    engine: Engine
    # The audit anchor file belongs to one database (audit/anchors.py): each test database has its own.
    anchor_file: Path


def _pg_reachable() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _make_database(backend: str, tmp_root: Path) -> TestDatabase:
    from sscard.db import migrate
    from sscard.db.session import build_engine

    if backend == "sqlite":
        url = f"sqlite:///{tmp_root / 'test.db'}"
        schema = ""
    else:
        problem = _pg_reachable()
        if problem:
            if os.environ.get("CI") == "true":
                pytest.fail(f"PostgreSQL at {PG_URL} is required under CI: {problem}")
            pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {problem}")
        url = PG_URL
        schema = f"t_{secrets.token_hex(6)}"
    migrate.upgrade(url, schema)
    engine = build_engine(url, schema=schema)
    from sscard.audit.service import ensure_streams
    from sscard.db.session import UnitOfWork

    with Session(engine) as s:
        uow = UnitOfWork(s)
        ensure_streams(uow)
        s.commit()
    return TestDatabase(backend, url, schema, engine, tmp_root / "anchors.jsonl")


@pytest.fixture(scope="session", autouse=True)
def security_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real soft security module (sealed keystore, SM suite, development root) in a temporary directory."""
    from sscard.security import set_security_module
    from sscard.security.factory import open_soft_module

    # The keystore settings point at (SSCARD_DATA_DIR/keys, SSCARD_MASTER_KEY): a CLI run as a subprocess
    # (imports, rotations) opens these same keys, so what it writes verifies here, and the reverse.
    master = os.environ["SSCARD_MASTER_KEY"] = secrets.token_hex(32)
    with dev_env():  # the session's keystore stands for a development installation's
        module = open_soft_module(_DATA_DIR / "keys", suite="sm", master_key=master, dev_root=True)
    set_security_module(module)
    yield module
    set_security_module(None)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    yield from fresh_database(request.param, tmp_path_factory)


def fresh_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    """A migrated database of its own, dropped afterwards (the session's, or a module's that must not
    leave its rows to the others)."""
    database = _make_database(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    yield database
    database.engine.dispose()
    if database.schema:
        from sscard.db.session import build_engine

        admin = build_engine(database.url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{database.schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def uow(db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A unit of work inside an outer transaction that is rolled back after the test.

    ``uow.commit()`` only releases a savepoint, so services and entrypoints behave as in production.
    The audit chain's checks read the database's own anchor file (what committed CLI runs anchored).
    """
    from sscard.config import reset_settings_cache

    monkeypatch.setenv("SSCARD_AUDIT_ANCHOR_FILE", str(db.anchor_file))
    reset_settings_cache()
    with rolled_back_uow(db.engine) as unit:
        yield unit


@contextmanager
def rolled_back_uow(engine: Engine) -> Iterator[object]:
    """A unit of work on ``engine`` inside an outer transaction rolled back at the end: its commits only
    release savepoints (the ``uow`` fixture, and modules with a database of their own)."""
    from sscard.db.session import UnitOfWork

    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield UnitOfWork(session)
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def db_env(db: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestDatabase]:
    """Point settings and the global engine at the test database (CLI and app tests that commit)."""
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache

    monkeypatch.setenv("SSCARD_DATABASE_URL", db.url)
    monkeypatch.setenv("SSCARD_DATABASE_SCHEMA", db.schema)
    monkeypatch.setenv("SSCARD_AUDIT_ANCHOR_FILE", str(db.anchor_file))
    reset_settings_cache()
    reset_engine_cache()
    yield db
    reset_settings_cache()
    reset_engine_cache()
