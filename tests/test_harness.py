"""The test harness's own rules (tests/conftest.py, issue 18 item 5): what it makes fast stays checked."""

from __future__ import annotations

import pytest

from tests.conftest import shared_app


# Staff password hashes are cheap outside the hashing tests (still Argon2id, still salted)
def test_staff_hashes_are_cheap_here() -> None:
    from sscard.staff.passwords import hash_password, verify_password

    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert verify_password(stored, "correct horse battery") and not verify_password(stored, "wrong horse battery")


# ... and real where the test is about them (rule CH-2: the production parameters)
@pytest.mark.real_password_hashing
def test_staff_hashes_are_real_when_marked() -> None:
    from sscard.staff.passwords import dummy_hash, hash_password

    assert hash_password("correct horse battery").startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert dummy_hash().startswith("$argon2id$v=19$m=19456,t=2,p=1$")


# One app per build-time configuration: per-test settings (the database) do not rebuild it, a setting
# the build reads (SSCARD_ENV=prod: no docs) does
def test_the_app_is_built_once_per_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from sscard.config import reset_settings_cache

    first = shared_app()
    monkeypatch.setenv("SSCARD_DATABASE_URL", "sqlite:///elsewhere.db")
    reset_settings_cache()
    assert shared_app() is first
    monkeypatch.setenv("SSCARD_LOG_LEVEL", "DEBUG")
    reset_settings_cache()
    assert shared_app() is not first
    monkeypatch.undo()
    reset_settings_cache()
    assert shared_app() is first


# Each PostgreSQL test schema but a process's first is a copy of that first, migrated one (pg_dump's SQL run
# under its own name): the copy is what the migrations wrote, object for object and row for row
def test_a_copied_schema_is_the_migrated_one(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.conftest import _PG_TEMPLATE, _dump_pg_template, fresh_database

    first = fresh_database("postgresql", tmp_path_factory)  # migrated and dumped if it is the process's first
    next(first)
    template = _PG_TEMPLATE[0]
    if template is None:
        pytest.skip("pg_dump is missing or refused the server: every test schema is migrated")
    copies = fresh_database("postgresql", tmp_path_factory)
    try:
        copy = next(copies)
        dumped = _dump_pg_template(copy.schema)
        assert f"INSERT INTO {template.schema}.alembic_version" in template.sql  # rows too: the head,
        assert f"INSERT INTO {template.schema}.audit_stream_head" in template.sql  # the streams
        assert dumped is not None and dumped.sql.replace(copy.schema, template.schema) == template.sql
    finally:
        next(copies, None)
        next(first, None)


# Tests that start servers run one after another on one xdist worker, the browser tests on another: under
# --dist loadgroup every grouped test's id carries the group xdist schedules it by (with pytest 9.2 it was
# lost and the groups ignored: pytest-xdist issue 1386)
@pytest.mark.xdist_group("harness")
def test_grouped_tests_are_scheduled_by_their_group(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("runs under pytest-xdist --dist loadgroup (make test)")
    grouped = {i.nodeid: {m.args[0] for m in i.iter_markers("xdist_group")} for i in request.session.items}
    grouped = {nodeid: names for nodeid, names in grouped.items() if names}
    assert request.node.nodeid.endswith("@harness")
    assert all(nodeid.endswith("@" + "_".join(sorted(names))) for nodeid, names in grouped.items())
