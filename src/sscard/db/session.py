"""Engine and unit of work.

The entrypoint (HTTP request, CLI command, batch step) owns the transaction: it opens a
``UnitOfWork``, services ``flush()`` and never ``commit()``; the unit of work commits once and then
runs the after-commit hooks (outbox dispatch and other effects that cannot roll back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, NullPool, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from sscard.config import get_settings
from sscard.db.deadline import DatabaseTimeouts, connect_with_deadline


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
    """The psycopg URL and connection arguments (search path, timeouts) of both engines."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    options = [f"-csearch_path={schema}"] if schema else []
    connect_args: dict[str, Any] = {}
    if timeouts is not None:
        options.append(timeouts.options())
        connect_args["connect_timeout"] = timeouts.connect_s
    if options:
        connect_args["options"] = " ".join(options)
    return url, connect_args


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    settings = get_settings()
    if settings.is_sqlite:
        from sscard.files import private_dir, private_sqlite

        private_dir(settings.data_dir)
        private_sqlite(settings.effective_database_url)  # 0600 before SQLite creates it (ID-5)
    return build_engine(settings.effective_database_url, schema=settings.database_schema, timeouts=settings.timeouts)


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


def reset_engine_cache() -> None:
    get_engine.cache_clear()
    get_async_engine.cache_clear()
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
        self.session.commit()
        hooks, self._after_commit = self._after_commit, []
        for fn in hooks:
            fn()

    @contextmanager
    def committed_before(self, *errors: type[BaseException]) -> Iterator[None]:
        """Commit what was done when one of ``errors`` is raised, then let it through: a refusal that
        must be remembered (a failure counted, a lock, its audit entry) outlives its error response."""
        try:
            yield
        except errors:
            self.commit()
            raise

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
