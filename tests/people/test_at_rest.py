"""Personal data at rest (issue 17 item 12, ID-5): the person's name sealed with a blind index for exact
search; migration 0004 seals existing names on SQLite and PostgreSQL; data files owner-only."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from sscard.identity.protected import NAME
from sscard.people.validation import name_index_key
from tests.people.factories import add_test_person, new_id_number


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# rule ID-5: the name is stored sealed (no clear column, no clear bytes) and found by exact name
def test_name_sealed_and_found_through_its_blind_index(uow) -> None:
    from sscard.people.service import find_persons_by_name, person_read

    name = "欧阳" + "".join(secrets.choice("明华强伟芳娜静") for _ in range(4))
    latin = "Ana María " + "".join(secrets.choice("abcdefgh") for _ in range(6)).title()
    first = add_test_person(uow, id_number=new_id_number(region="110105"), name=name)
    second = add_test_person(uow, id_number=new_id_number(region="440305"), name=name)
    other = add_test_person(uow, id_number=new_id_number(region="110105"), name=latin)
    assert "name" not in {c["name"] for c in sa.inspect(uow.session.connection()).get_columns("person")}
    row = uow.session.execute(sa.text("SELECT * FROM person WHERE id = :id"), {"id": first.id}).mappings().one()
    for value in row.values():
        if isinstance(value, bytes | str | memoryview):
            raw = bytes(value) if not isinstance(value, str) else value.encode()
            assert name.encode() not in raw
    assert first.name == name and person_read(first).name == name
    assert [p.id for p in find_persons_by_name(uow, name)] == [first.id, second.id]
    assert [p.id for p in find_persons_by_name(uow, name, region_code="110000")] == [first.id]
    assert [p.id for p in find_persons_by_name(uow, "  " + latin.upper().replace(" ", "  "))] == [other.id]
    assert find_persons_by_name(uow, name[:-1]) == []  # exact search only: no prefix leaks


def _pg_url() -> str | None:
    from tests.conftest import PG_URL, _pg_reachable

    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    return PG_URL


# rule ID-5 (migration 0004): existing persons' clear names are sealed and indexed, the clear column
# dropped; staff accounts with the published demo password are marked (issue 17 item 2); downgrade opens
# the names again
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0004_seals_existing_names(backend, tmp_path) -> None:
    from sscard.db import migrate
    from sscard.db.session import build_engine
    from sscard.demo.data import DEMO_STAFF_PASSWORD
    from sscard.identity.protected import ID_NUMBER
    from sscard.staff.passwords import hash_password

    if backend == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'm.db'}", ""
    else:
        url, schema = _pg_url() or "", f"m_{secrets.token_hex(5)}"
    migrate.upgrade(url, schema, revision="0003_bigint_ids")
    engine = build_engine(url, schema=schema)
    names = ["张伟", "艾力·买买提", "Ana María López"] + [f"测试{chr(0x4E00 + i)}" for i in range(1200)]
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO region (code, name_zh, name_en, level, created_at) "
                                 "VALUES ('110000', '北京', 'Beijing', 'province', CURRENT_TIMESTAMP)"))  # fmt: skip
            rows = []
            for i, name in enumerate(names):
                number = new_id_number(region="110105")
                rows.append({
                    "id": i + 1, "enc": ID_NUMBER.seal(number), "bidx": ID_NUMBER.index(number), "name": name,
                    "gender": "M", "born": "1980-01-01",
                })  # fmt: skip
            conn.execute(
                sa.text(
                    "INSERT INTO person (id, id_number_enc, id_number_bidx, name, gender, birth_date, region_code, "
                    "status, created_at, updated_at) VALUES (:id, :enc, :bidx, :name, :gender, :born, '110105', "
                    "'employed', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                rows,
            )
            for username, password in (("old_admin", DEMO_STAFF_PASSWORD), ("old_clerk", "a real passphrase 1")):
                conn.execute(
                    sa.text(
                        "INSERT INTO staff_account (username, display_name, password_hash, role, region_code, active, "
                        "failed_logins, created_at, updated_at) VALUES (:u, '', :h, 'counter_clerk', '110000', "
                        "TRUE, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"u": username, "h": hash_password(password)},
                )
        engine.dispose()
        migrate.upgrade(url, schema, revision="0004_people_at_rest")  # later ones bind the names to their row
        engine = build_engine(url, schema=schema)
        with engine.connect() as conn:
            assert "name" not in {c["name"] for c in sa.inspect(conn).get_columns("person")}
            sealed = conn.execute(sa.text("SELECT id, name_enc, name_bidx FROM person ORDER BY id")).all()
            assert len(sealed) == len(names)
            for (pid, enc, bidx), name in zip(sealed, names, strict=True):
                assert NAME.open(bytes(enc)) == name and bytes(bidx) == NAME.index(name_index_key(name)), pid
                assert name.encode() not in bytes(enc)
            marked = dict(conn.execute(sa.text("SELECT username, demo_password FROM staff_account")).all())
            assert {k: bool(v) for k, v in marked.items()} == {"old_admin": True, "old_clerk": False}
        engine.dispose()
        migrate.downgrade(url, schema, revision="0003_bigint_ids")
        engine = build_engine(url, schema=schema)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM person ORDER BY id")).scalars().all() == names
    finally:
        engine.dispose()
        if schema:
            admin = build_engine(url)
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


# rule ID-5 / KEY-3: the data directory is 0700 and what sscard writes there 0600 (SQLite database,
# keystore, development master key, terminal profile), even under a permissive umask
@pytest.mark.integration  # `sscard db upgrade` and `demo load` on a database of its own
def test_data_directory_and_files_are_owner_only(tmp_path) -> None:
    data = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSCARD_") or k in ("SSCARD_LOG_JSON",)} | {
        "SSCARD_DATA_DIR": str(data),
        "SSCARD_ENV": "dev",
    }
    sscard = Path(sys.executable).parent / "sscard"
    for command in (["db", "upgrade"], ["demo", "load", "--json"]):
        done = subprocess.run(  # noqa: S603 - our own entry point
            [str(sscard), *command], env=env, capture_output=True, timeout=300, preexec_fn=lambda: os.umask(0o022)
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert _mode(data) == 0o700 and _mode(data / "keys") == 0o700
    files = [data / "sscard.db", data / "keys" / "keystore.sealed", data / "keys" / "master.key"]
    files += list((data / "terminals").glob("*.json"))
    assert len(files) > 3 and _mode(data / "terminals") == 0o700
    for path in files + list(data.glob("sscard.db-*")):
        assert _mode(path) == 0o600, (path, oct(_mode(path)))


# rule ID-5 / QPW-5: the notification file sinks (development stand-ins) write owner-only files
def test_outbox_sink_files_are_owner_only(tmp_path) -> None:
    from sscard.notify.senders.base import write_private

    previous = os.umask(0o022)
    try:
        path = tmp_path / "outbox" / "sms.jsonl"
        write_private(path, b"{}\n", append=True, what="SMS")
    finally:
        os.umask(previous)
    assert _mode(path.parent) == 0o700 and _mode(path) == 0o600
