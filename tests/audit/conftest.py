"""The chain's tests run on databases of their own with fewer streams than a deployment's (CH-4).

Every walk (``verify_chain``), checkpoint run and anchor reads, checks or writes every stream head, written to
or not: with the default 1024 streams that was most of these tests' time, and of every mutant's of the
``audit`` mutation group (issue 26: ~64 of these tests run for each mutant of the append or the walk). No rule
depends on the number of streams; the walk's look-up of entries past the heads goes by chunks of 256 heads
(``service._PAST_HEADS_CHUNK``), so the tests keep more than two chunks, the last one short: a loop that
stepped by one head instead of a chunk, up to 256, would still reach heads 0 to 510 (mutation testing found it
unnoticed with 300 streams).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete

from tests.conftest import TestDatabase, fresh_database, rolled_back_uow

STREAMS = 600


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def chain_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    """A database of the test module's own (its rows and anchors are no other module's), with ``STREAMS``
    stream heads: those past them, made by the migration for the default number, removed."""
    from sscard.audit.models import AuditStreamHead

    made = fresh_database(request.param, tmp_path_factory)
    database = next(made)
    with database.engine.begin() as connection:
        connection.execute(delete(AuditStreamHead).where(AuditStreamHead.stream >= STREAMS))
    yield database
    next(made, None)  # dropped


@pytest.fixture(scope="module")
def chain_settings(chain_db: TestDatabase) -> Iterator[None]:
    """``STREAMS`` streams and ``chain_db``'s anchor file configured for the module's tests, read afresh when
    set and when unset: once per module, not per test (reading the settings costs more than most of these
    tests' work). A test that sets other settings resets the cache itself."""
    from sscard.config import reset_settings_cache

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSCARD_AUDIT_STREAMS", str(STREAMS))
        patch.setenv("SSCARD_AUDIT_ANCHOR_FILE", str(chain_db.anchor_file))
        reset_settings_cache()
        yield
    reset_settings_cache()


@pytest.fixture
def uow(chain_db: TestDatabase, chain_settings: None) -> Iterator[object]:
    """The ``uow`` of tests/conftest.py (rolled back after the test) on the module's ``chain_db``, which
    checks against its own anchor file."""
    with rolled_back_uow(chain_db.engine) as unit:
        yield unit


@pytest.fixture
def db_env(db_env: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestDatabase]:
    """tests/conftest.py's ``db_env`` (the session's shared database, 1024 streams) without the module's
    ``STREAMS``: a test committing there, or a CLI it starts, must map subjects to that database's streams,
    whichever ``chain_db`` test of the module ran before it."""
    from sscard.config import reset_settings_cache

    monkeypatch.delenv("SSCARD_AUDIT_STREAMS", raising=False)
    reset_settings_cache()
    yield db_env
