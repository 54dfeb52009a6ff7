"""Engine and unit of work.

The channel (HTTP route, CLI command, job step) owns the transaction: it opens a ``UnitOfWork``,
services ``flush()`` and never ``commit()``; the unit of work commits once, at the end of the
channel's block, and then runs the after-commit hooks (outbox dispatch and other effects that cannot
roll back). The few deliberate commits before that end go through ``sscard.db.early_commit``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, NullPool, create_engine, event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from sscard.config import get_settings
from sscard.db.deadline import DatabaseTimeouts, connect_with_deadline
from sscard.errors import DatabaseNotInitialised
from sscard.files import private_dir, private_sqlite, sqlite_path


def build_engine(url: str, *, schema: str = "", timeouts: DatabaseTimeouts | None = None, **kwargs: Any) -> Engine:
    """Create an engine with the settings every backend needs; ``timeouts`` bound every PostgreSQL wait
    (db/deadline.py; without them, as for migrations, a statement may run as long as it needs)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, issue BEGIN (needed for SAVEPOINT to work correctly).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: no SQLITE_BUSY when a reader later writes,
            # so counters stay exact on the embedded database too.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    url, connect_args = _postgres_args(url, schema, timeouts)
    if timeouts is not None:
        kwargs.setdefault("pool_timeout", timeouts.answer_deadline_s)  # waiting for a free connection too
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    if timeouts is not None:

        @event.listens_for(engine, "do_connect")
        def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
            return connect_with_deadline(timeouts, cargs, cparams)

    return engine


def _postgres_args(url: str, schema: str, timeouts: DatabaseTimeouts | None = None) -> tuple[str, dict[str, Any]]:
    """The psycopg URL and connection arguments (search path, timeouts) of both engines.

    Server options the URL itself carries (``?options=-c%20lock_timeout%3D2s``: an operator's
    ``application_name``, ``synchronous_commit``, ...) are kept, ahead of ours: the driver passes one
    ``options`` string, and ours would otherwise replace the URL's silently. Where both set the same
    parameter, ours (the schema's search path, the configured timeouts, or none for an unbounded engine)
    come last and win, as the settings document them (settings refuse URL options ending in a lone
    backslash, which would swallow ours)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    parsed = make_url(url)
    given = parsed.query.get("options", ())
    options = [given] if isinstance(given, str) else list(given)
    if options:
        url = parsed.difference_update_query(["options"]).render_as_string(hide_password=False)
    if schema:
        options.append(f"-csearch_path={schema}")
    connect_args: dict[str, Any] = {}
    if timeouts is not None:
        options.append(timeouts.options())
        connect_args["connect_timeout"] = timeouts.connect_s
    elif options:  # unbounded (migrations): a statement timeout in the URL must not cut a long one short
        options.append("-cstatement_timeout=0")
    if options:
        connect_args["options"] = " ".join(options)
    return url, connect_args


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    settings = get_settings()
    path = sqlite_path(settings.effective_database_url) if settings.is_sqlite else None
    if path is not None and path.exists():
        private_dir(settings.data_dir)
        private_sqlite(settings.effective_database_url)  # owner-only (ID-5)
    engine = build_engine(settings.effective_database_url, schema=settings.database_schema, timeouts=settings.timeouts)
    if path is not None:
        _refuse_to_create(engine, path, settings.data_dir)
    return engine


def _refuse_to_create(engine: Engine, path: Path, data_dir: Path) -> None:
    """Only `sscard db upgrade` (the migrations, with an engine of their own) creates the embedded
    database: a connection here to a file that is not there would leave an empty database (and ./var)
    wherever a command happened to run, and then fail on a missing table. Checked when connecting,
    not before, so a request's own validation still answers first."""

    @event.listens_for(engine, "do_connect")
    def _database_must_exist(_dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> None:
        if not path.exists():
            raise DatabaseNotInitialised(data_dir)


@lru_cache(maxsize=1)
def get_async_engine() -> AsyncEngine | None:
    """The same database through psycopg's asyncio interface; None for SQLite (no async driver here).

    Only for work that runs inside the event loop and keeps its own connections open (the group
    commit of ``db/group_commit.py``), hence no pool: a pooled connection must not cross event loops.
    """
    settings = get_settings()
    if settings.is_sqlite:
        return None
    url, connect_args = _postgres_args(settings.effective_database_url, settings.database_schema, settings.timeouts)
    return create_async_engine(url, connect_args=connect_args, poolclass=NullPool)


@lru_cache(maxsize=1)
def get_replica_engine() -> Engine | None:
    """The read replica (``SSCARD_DATABASE_REPLICA_URL``, with the primary's schema and timeouts), or
    None when none is configured; only ``db/replica.py`` reads from it."""
    settings = get_settings()
    if not settings.replica_url:
        return None
    return build_engine(settings.replica_url, schema=settings.database_schema, timeouts=settings.timeouts)


def reset_engine_cache() -> None:
    get_engine.cache_clear()
    get_async_engine.cache_clear()
    get_replica_engine.cache_clear()
    _sessionmaker.cache_clear()


@lru_cache(maxsize=1)
def _sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


class UnitOfWork:
    """One transaction. ``session`` for the ORM, ``after_commit`` for effects that must not roll back."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after_commit.append(fn)

    def flush(self) -> None:
        self.session.flush()

    def commit(self) -> None:
        """End of the channel's block (``_transaction``, the request dependency); anywhere else only
        through ``sscard.db.early_commit.commit_early``, which names why."""
        self.session.commit()
        hooks, self._after_commit = self._after_commit, []
        for fn in hooks:
            fn()

    def rollback(self) -> None:
        self._after_commit.clear()
        self.session.rollback()


@contextmanager
def unit_of_work(engine: Engine | None = None) -> Iterator[UnitOfWork]:
    """Open a transaction; commit on success, roll back on any exception."""
    maker = _sessionmaker() if engine is None else sessionmaker(bind=engine, expire_on_commit=False)
    with _transaction(maker()) as uow:
        yield uow


@contextmanager
def unit_of_work_on(connection: Connection) -> Iterator[UnitOfWork]:
    """``unit_of_work`` on a connection the caller keeps open (no pool checkout, no liveness ping)."""
    with _transaction(Session(bind=connection, expire_on_commit=False)) as uow:
        yield uow


@contextmanager
def _transaction(session: Session) -> Iterator[UnitOfWork]:
    uow = UnitOfWork(session)
    try:
        yield uow
        uow.commit()
    except BaseException:
        uow.rollback()
        raise
    finally:
        session.close()
