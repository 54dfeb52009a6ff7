"""Test fixtures: every database test runs on SQLite and on real PostgreSQL (a fresh schema per run).

Locally an unreachable PostgreSQL skips those tests with a visible reason; under CI=true it fails.

Speed (issue 18 item 5), for every test written the usual way:
- the FastAPI app is built once per process and build-time configuration (``shared_app``, ``app_client``);
  the database and settings are read per request, so ``db_env`` swaps them without a rebuild;
- staff passwords are hashed with minimal Argon2id parameters, except in tests marked
  ``real_password_hashing`` (those that check the hash itself or the login throttle);
- each test database is a copy: SQLite's of a file migrated once per process, PostgreSQL's of the SQL
  pg_dump wrote of the process's first schema (``_sqlite_template``, ``_PG_TEMPLATE``);
- soft keystores are sealed with small scrypt parameters (``_cheap_keystore_kdf``);
- the cyclic garbage collector runs less often (``gc.set_threshold`` below), and never walks what
  collection built (``gc.freeze`` in ``pytest_collection_finish``);
- tests that use a database (or start servers) are marked ``integration`` at collection, so
  ``pytest -m "not integration"`` (``make test-quick``) runs only the pure rules;
- under pytest-xdist every worker is a process of its own: its own data dir, keystore, SoftHSM token,
  SQLite files, PostgreSQL schemas and anchors files (all made here per process); tests that start
  servers or private clusters (tests/reliability/servers.py) run on one worker (``xdist_group``).
"""

from __future__ import annotations

import atexit
import gc
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

# Property tests check what they check whatever the host's load: Hypothesis's timing checks (a slow example,
# slow input generation) measure the machine, not the code, and failed CI runs on a loaded host.
settings.register_profile("sscard", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("sscard")

# The cyclic garbage collector less often (issue 18 item 5): with the default thresholds a test process
# (~500,000 objects: the app, SQLAlchemy's mappers, the test modules) ran a full collection every few
# tests, ~0.13 s each, about a fifth of its CPU. Every 10,000 net allocations instead of 700: cycles are
# still collected, young ones within a test or two, and CPython's own rule still spaces full collections.
gc.set_threshold(10_000, 10, 10)

PG_URL = os.environ.get("SSCARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

# Settings read by code under test must never point at a developer's real ./var.
_DATA_DIR = Path(tempfile.mkdtemp(prefix="sscard-test-"))
os.environ["SSCARD_DATA_DIR"] = str(_DATA_DIR)
_DATA_DIR_OWNER = os.getpid()


@atexit.register
def _remove_data_dir() -> None:
    """The process's data dir (keystore, SQLite files, server logs) goes when the process ends: every pytest
    process made one, and /tmp kept them all. Only the process that made it: mutmut's forked children share it."""
    if os.getpid() == _DATA_DIR_OWNER:
        shutil.rmtree(_DATA_DIR, ignore_errors=True)


os.environ.setdefault("SSCARD_LOG_JSON", "true")
os.environ["SSCARD_ENV"] = "test"
# One master key for the process: a second pytest session in the same process (mutmut's runs, `make
# mutation`) opens the keystore the first one sealed under _DATA_DIR/keys.
_MASTER_KEY = secrets.token_hex(32)


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
    __test__ = False  # a fixture's value, not a test class

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


def require_postgresql() -> None:
    """Skip the test when PostgreSQL is unreachable (fail it under CI=true)."""
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} is required under CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {problem}")


def _make_database(backend: str, tmp_root: Path) -> TestDatabase:
    from sscard.db import migrate
    from sscard.db.session import build_engine

    if backend == "sqlite":
        url = f"sqlite:///{tmp_root / 'test.db'}"
        schema = ""
        if not _sqlite_template().exists():  # removed under a later session in this process (mutmut's runs)
            _sqlite_template.cache_clear()
        shutil.copyfile(_sqlite_template(), tmp_root / "test.db")
    else:
        require_postgresql()
        url = PG_URL
        schema = f"t_{secrets.token_hex(6)}"
        template = _PG_TEMPLATE[0] if _PG_TEMPLATE else None
        if template is None:
            migrate.upgrade(url, schema)
        else:
            _restore_pg_schema(template, schema)
    engine = build_engine(url, schema=schema)
    from sscard.audit.service import ensure_streams
    from sscard.db.session import UnitOfWork

    with Session(engine) as s:
        uow = UnitOfWork(s)
        ensure_streams(uow)
        s.commit()
    if schema and not _PG_TEMPLATE:
        _PG_TEMPLATE.append(_dump_pg_template(schema))
    return TestDatabase(backend, url, schema, engine, tmp_root / "anchors.jsonl")


@lru_cache(maxsize=1)
def _sqlite_template() -> Path:
    """A SQLite database migrated once per process, with its streams: each SQLite test database is a
    copy of this file (the same bytes a migration would write; migrating anew cost seconds for each
    module with a database of its own). The engine is disposed first, so the WAL is checkpointed."""
    from sscard.audit.service import ensure_streams
    from sscard.db import migrate
    from sscard.db.session import UnitOfWork, build_engine

    template = _DATA_DIR / "template.db"
    url = f"sqlite:///{template}"
    migrate.upgrade(url, "")
    engine = build_engine(url)
    with Session(engine) as s:
        ensure_streams(UnitOfWork(s))
        s.commit()
    engine.dispose()
    return template


@dataclass(frozen=True)
class _PgTemplate:
    schema: str  # the name the dump says, replaced by each copy's own
    sql: str


# The process's first PostgreSQL test schema is migrated, given its streams and dumped (pg_dump: DDL and
# rows); every later one runs that SQL under its own name, in one transaction. [] until the first.
_PG_TEMPLATE: list[_PgTemplate | None] = []


def _dump_pg_template(schema: str) -> _PgTemplate | None:
    """pg_dump of a freshly migrated ``schema`` (with its streams), or None when pg_dump is missing or
    refuses the server (an older major version): then every schema is migrated.

    A copy has the same tables, indexes, constraints, partitions, triggers, functions, sequences and rows
    as a migration writes (tests/test_harness.py compares the two dumps), in a third of the time: the
    Alembic run costs its Python and a round trip per operation on top of the same DDL."""
    import subprocess

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        return None
    dump = subprocess.run(
        [pg_dump, "--no-owner", "--no-privileges", "--inserts", "--rows-per-insert=1000", "--schema", schema,
         "--dbname", _libpq_url(PG_URL)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if dump.returncode != 0:
        return None
    # pg_dump >= 15.14 brackets its output in psql meta-commands (\restrict KEY ... \unrestrict KEY).
    return _PgTemplate(schema, re.sub(r"^\\(un)?restrict \S+$", "", dump.stdout, flags=re.MULTILINE))


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _restore_pg_schema(template: _PgTemplate, schema: str) -> None:
    import psycopg

    # The schema's name is random hex (t_ and 12 digits): it appears in the dump only as that name.
    with psycopg.connect(_libpq_url(PG_URL)) as conn:
        conn.execute(template.sql.replace(template.schema, schema))


@pytest.fixture(scope="session", autouse=True)
def _cheap_keystore_kdf() -> Iterator[None]:
    """Soft keystores sealed with scrypt at N = 2**10 instead of 2**14 for the whole session: every test of
    the security module opens a fresh keystore (a KEK derived for it: ~50 ms each, ~9 s of the suite).

    Only the cost changes: still scrypt, salted, the same seal and checks; the header names the parameters,
    so a CLI subprocess (production parameters) opens these keystores, and re-seals under its own what it
    saves. No test depends on the cost itself."""
    from sscard.security_module import keystore

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keystore, "SCRYPT", {**keystore.SCRYPT, "n": 2**10})
        yield


@pytest.fixture(scope="session", autouse=True)
def security_module(tmp_path_factory: pytest.TempPathFactory, _cheap_keystore_kdf: None) -> Iterator[object]:
    """A real soft security module (sealed keystore, SM suite, development root) in a temporary directory."""
    from sscard.security_module import set_security_module
    from sscard.security_module.factory import open_soft_module

    # The keystore settings point at (SSCARD_DATA_DIR/keys, SSCARD_MASTER_KEY): a CLI run as a subprocess
    # (imports, rotations) opens these same keys, so what it writes verifies here, and the reverse.
    master = os.environ["SSCARD_MASTER_KEY"] = _MASTER_KEY
    data_dir = _mutant_data_dir() if _MUTATION_WARMUP else None
    with dev_env():  # the session's keystore stands for a development installation's
        module = open_soft_module((data_dir or _DATA_DIR) / "keys", suite="sm", master_key=master, dev_root=True)
    set_security_module(module)
    yield module
    set_security_module(None)
    if data_dir is not None:
        shutil.rmtree(data_dir, ignore_errors=True)


# `make mutation` (scripts/mutation.py sets it): mutmut's fork server warms up with a collection run in this
# process, then forks one child per mutant, each a pytest session of its own (pytest_collection_finish below).
_MUTATION_WARMUP = os.environ.get("SSCARD_MUTATION_WARMUP") == "1"


def _mutant_data_dir() -> Path:
    """A data dir of this mutant's session's own, with a copy of the keystore the warm-up made (its development
    root). Shared, the keystore grew with every mutant's run, and every inventory sync (KEY-1) registered and
    signed again each key all earlier mutants had generated: a key-register test's CPU time grew ~0.04 s a run."""
    from sscard.config import reset_settings_cache

    own = Path(tempfile.mkdtemp(prefix="mutant-", dir=_DATA_DIR))
    if (_DATA_DIR / "keys").is_dir():
        shutil.copytree(_DATA_DIR / "keys", own / "keys")
    os.environ["SSCARD_DATA_DIR"] = str(own)  # a CLI run as a subprocess opens this session's keys
    reset_settings_cache()
    return own


# The session's databases, one per backend, made when first asked for and dropped at the end of the
# session: pytest tears a parametrized session fixture down whenever the next test asks for the other
# parameter, which under xdist (tests handed out in any order) would migrate them again and again.
_SESSION_DATABASES: dict[str, TestDatabase] = {}


@pytest.fixture(scope="session")
def _session_databases() -> Iterator[dict[str, TestDatabase]]:
    yield _SESSION_DATABASES
    while _SESSION_DATABASES:
        _drop_database(_SESSION_DATABASES.popitem()[1])


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, _session_databases: dict
) -> TestDatabase:
    backend = request.param
    if backend not in _session_databases:
        _session_databases[backend] = _make_database(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    return _session_databases[backend]


def fresh_database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    """A migrated database of its own, dropped afterwards (the session's, or a module's that must not
    leave its rows to the others)."""
    database = _make_database(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    yield database
    _drop_database(database)


def _drop_database(database: TestDatabase) -> None:
    database.engine.dispose()
    if database.schema:
        drop_schema(database.url, database.schema)


def drop_schema(url: str, schema: str) -> None:
    """Drop a PostgreSQL test schema (and everything in it) through an engine of its own."""
    from sscard.db.session import build_engine

    admin = build_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
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
    _dispose_global_engine()
    reset_settings_cache()
    reset_engine_cache()


def _dispose_global_engine() -> None:
    """Close the pooled connections of the engine the test used (forgotten, it would keep them open
    until collected: with several suites and xdist workers on one server, PostgreSQL's 100 run out)."""
    from sscard.db.session import get_engine

    if get_engine.cache_info().currsize:
        get_engine().dispose()


# ------------------------------------------------------------------------------------------------ the app
# Settings a test points at its own database or directory, or raises (the matrix's terminal refusals): read
# per request (or per command), never captured when the app is built, so they are not part of an app's identity.
_PER_TEST_SETTINGS = {
    "database_url", "database_schema", "database_replica_url", "audit_anchor_file", "data_dir", "master_key",
    "terminal_refusals_per_window",
}  # fmt: skip
_APPS: dict[str, object] = {}
_MAX_APPS = 8


def shared_app() -> Any:
    """The app ``create_app()`` would build now, built once per process and build-time configuration.

    The database, anchors file and data directory are read per request, so ``db_env`` (and any
    ``monkeypatch.setenv`` of them) takes effect without a rebuild; a test that changes a setting the
    build reads (``SSCARD_ENV=prod``, limits, ...) gets an app of its own configuration. A test that
    mutates the app (adds routes or middleware) must call ``create_app()`` itself.
    """
    from sscard.api.app import create_app
    from sscard.config import get_settings
    from sscard.logging import configure_logging
    from sscard.startup import ensure_production_ready

    key = get_settings().model_dump_json(exclude=_PER_TEST_SETTINGS)
    app = _APPS.pop(key, None)
    if app is None:
        app = create_app()
    else:
        # What create_app() does on every call besides building: the logging set-up (a test may have
        # changed it) and the production start-up checks (they refuse to start on development material).
        configure_logging()
        ensure_production_ready()
    _APPS[key] = app  # most recently used last
    while len(_APPS) > _MAX_APPS:
        _APPS.pop(next(iter(_APPS)))
    return app


@contextmanager
def app_client(*, address: str | None = None) -> Iterator[Any]:
    """A ``TestClient`` (lifespan run, server exceptions answered as 500) on ``shared_app()``, from
    ``address`` when given (failed logins and refusals are limited per source address)."""
    from fastapi.testclient import TestClient

    extra = {"client": (address, 50000)} if address else {}
    with TestClient(shared_app(), raise_server_exceptions=False, **extra) as client:
        yield client


# ------------------------------------------------------------------------------------- password hashing
_REAL_HASHING: list[Any] = []  # sscard.staff.passwords' own hasher


@pytest.fixture(scope="session", autouse=True)
def _cheap_staff_password_hashes() -> Iterator[None]:
    """Staff passwords hashed with the smallest Argon2id parameters (fast) for the whole session, module
    and session fixtures included, except in tests marked ``real_password_hashing``: those that check the
    hash itself, the login's equal work or its throttle (``_real_staff_password_hashes``).

    Only the parameters change: still Argon2id, salted, verified by the same code; a login in a
    subprocess (real parameters) still verifies these hashes (the parameters are in the hash string).
    Query passwords (QPW-6) keep their policy's parameters everywhere: they are the rule under test.
    """
    from sscard.staff import passwords

    _REAL_HASHING[:] = [passwords.hasher]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "hasher", _cheap_hasher)
        passwords.dummy_hash.cache_clear()  # unknown usernames: the same work as known ones, made anew
        yield
    passwords.dummy_hash.cache_clear()


@pytest.fixture(autouse=True)
def _real_staff_password_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("real_password_hashing") is None:
        return
    from sscard.staff import passwords

    monkeypatch.setattr(passwords, "hasher", _REAL_HASHING[0])
    # The dummy hash (sessions.py holds the function itself) is remade with the hasher in force.
    passwords.dummy_hash.cache_clear()
    request.addfinalizer(passwords.dummy_hash.cache_clear)


@lru_cache(maxsize=1)
def _cheap_hasher() -> Any:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)


# ------------------------------------------------------------------------------------------- collection
# Integration tests (the rest are unit tests, run by ``make test-quick``): a test that needs any of these
# fixtures (directly or through others), or that is parametrized over a database or token backend
# ("sqlite", "postgresql", "pkcs11": modules with databases of their own), or whose module builds the
# app, runs subprocesses or starts servers, or marked ``integration`` by hand.
INTEGRATION_FIXTURES = frozenset({"db", "uow", "db_env", "isolated_db", "isolated_env", "client"})
BACKENDS = frozenset({"sqlite", "postgresql", "pkcs11"})
INTEGRATION_NAMES = frozenset({"create_app", "TestClient", "subprocess"})  # in a test module's globals
# Tests whose module uses tests/reliability/servers.py (``sscard serve`` processes, private PostgreSQL
# clusters) run one after another on one xdist worker: they are heavy and some measure time.
SERVERS_MODULE = "tests.reliability.servers"


# Not trylast: pytest's own ``-m`` selection is a hook of the same name that runs after every plain hook of
# a conftest. Marked last (as it once was), the ``integration`` marks came after the selection, so
# ``make test-quick`` (``-m "not integration"``) ran nearly the whole suite.
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        starts_servers = module is not None and _uses_servers(module)
        if starts_servers:
            item.add_marker(pytest.mark.xdist_group("servers"))
        if (
            starts_servers
            or INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ()))
            or _on_a_backend(item)
            or (module is not None and INTEGRATION_NAMES & set(vars(module)))
        ):
            item.add_marker(pytest.mark.integration)


# Last, after every group mark (the servers' above, the browser's, xdist's own); pytest registers only
# functions named pytest_*, hence the name and specname.
@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_names_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    if getattr(config.option, "loadgroup", False):  # set in pytest-xdist's workers under --dist loadgroup
        _name_groups(items)


def _name_groups(items: list[pytest.Item]) -> None:
    """What pytest-xdist's --dist loadgroup reads a test's group from: a "@group" suffix of its id.

    xdist writes it in its own collection hook, which ran before this one (so never saw the servers mark)
    and, under pytest 9.2, into a field pytest no longer reads (pytest-xdist issue 1386): every group was
    lost and the tests that start servers ran on any worker, side by side. Written here where pytest keeps
    the id (``_id`` from 9.2, ``_nodeid`` before); a suffix already there is left alone.
    """
    for item in items:
        marks = item.iter_markers("xdist_group")
        names = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
        suffix = "@" + "_".join(sorted(names))
        if not names or item.nodeid.endswith(suffix):
            continue
        if hasattr(item, "_id"):
            from _pytest.nodeid import NodeId

            item._id = NodeId.parse(item.nodeid + suffix)
        else:
            item._nodeid = item.nodeid + suffix


def pytest_collection_finish(session: pytest.Session) -> None:
    """``make mutation`` (scripts/mutation.py sets SSCARD_MUTATION_WARMUP): mutmut's fork server warms up with
    a collection run, then forks one child per mutant, each a pytest session of its own. Migrating the
    SQLite template and building the app here, once, spares every child that work (1.5 s and 2.5 s measured
    on an idle host, more under load); each child still copies the template and runs its session fixtures.
    A group that runs some tests on PostgreSQL too (its own ``select``): the PostgreSQL template is dumped
    here as well (a schema migrated, dumped and dropped), so that each child restores it (~2 s) instead of
    migrating one (~5 s, measured at load 5)."""
    if session.config.option.collectonly and _MUTATION_WARMUP:
        from sscard.security_module.factory import open_soft_module

        _sqlite_template()
        shared_app()
        if not _PG_TEMPLATE and any(_on_postgresql(item) for item in session.items) and _pg_reachable() is None:
            _drop_database(_make_database("postgresql", Path(tempfile.mkdtemp(dir=_DATA_DIR))))
        with dev_env():  # the keystore and its development root, generated once: each child copies it
            open_soft_module(_DATA_DIR / "keys", suite="sm", master_key=_MASTER_KEY, dev_root=True)
    # What collection built (the test modules, what they import, the items: ~500,000 objects) lives until the
    # process ends: the cyclic collector no longer walks it. Each full collection of a test process (dozens
    # a session, pytest's own at its end) cost ~0.3 s over them; a mutant's, forked from mutmut's warmed-up
    # server, also copied every page it walked. Collection's own garbage is collected first, so none is kept.
    # Objects made by the tests are collected as before.
    gc.collect()
    gc.freeze()


def _on_postgresql(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "postgresql" in callspec.params.values()


def _on_a_backend(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return False
    for value in callspec.params.values():
        values = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, str) and v in BACKENDS for v in values):
            return True
    return False


def _uses_servers(module: object) -> bool:
    cached = getattr(module, "_sscard_uses_servers", None)
    if cached is None:
        cached = any(getattr(value, "__module__", None) == SERVERS_MODULE for value in vars(module).values())
        module._sscard_uses_servers = cached  # type: ignore[attr-defined]
    return bool(cached)


# ------------------------------------------------------------------------------------------------ the CLI
def _command_built_once() -> None:
    """Typer's ``CliRunner.invoke(app, ...)`` turns the Typer app into a Click command on every call
    (~0.3 s for sscard's tree, most of a CLI test's time); build it once per app and command set.
    The command is stateless (each invocation gets its own Click context), as in a real ``sscard`` run,
    which also builds it once."""
    import typer.testing

    build = typer.testing._get_command
    built: dict[tuple[int, int, int], Any] = {}

    def get_command(app: Any) -> Any:
        key = (id(app), len(app.registered_commands), len(app.registered_groups))
        if key not in built:
            built[key] = (app, build(app))  # the app is kept, so its id is never reused
        return built[key][1]

    typer.testing._get_command = get_command  # type: ignore[attr-defined]


_command_built_once()
