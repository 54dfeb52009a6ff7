"""``sscard keys`` end to end, in a database of its own (the commands commit)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from sqlalchemy import select, text
from typer.testing import CliRunner

from sscard.audit.models import AuditEntry
from sscard.cli.main import app
from sscard.db.session import unit_of_work
from sscard.security_module.hsm import HierarchyModule
from sscard.staff.roles import Role
from tests.security_module import reference as ref
from tests.security_module.test_rotation import add_people, versions

runner = CliRunner()
# rotate-data-key runs one row per batch until killed after 20. On a quiet host a batch of one takes well under
# a millisecond: with 600 rows the whole rotation fit between two looks of the loop below in 2 runs of 3
# (seen 0, then finished); 3,000 leave it some 0.2 s of work to be caught in, and the resume stays cheap.
PEOPLE = 3000
# On PostgreSQL the test holds one person's row locked (FOR UPDATE) while the rotation runs: it waits there,
# mid-batch, until it is killed, so the kill lands mid-work whatever the host's speed and fewer rows do.
# SQLite has no row lock (and the loop's own reads there queue for its one write lock).
PG_PEOPLE, HELD_ROW = 300, 100


def keys(*args: str, stdin: str | None = None) -> tuple[int, str]:
    from tests.staff.factories import current_otp

    # Key custodians sign in with their TOTP code too (issue 17 item 8): the factory's, current now.
    # The second custodian of a root / province key operation (KEY-6) gives their own code.
    env = {"SSCARD_STAFF_OTP": current_otp(), "SSCARD_SECOND_OTP": current_otp()}
    result = runner.invoke(app, ["keys", *args], input=stdin, env=env)
    return result.exit_code, result.output


def audit_actions(engine) -> list[tuple[str, str]]:
    with unit_of_work(engine) as uow:
        return [(e.action, e.result) for e in uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


# rule KEY-1, KEY-3: init the root, derive a city, list, rotate, revoke, export — each audited
def test_key_commands(isolated_env, installed: HierarchyModule) -> None:
    from tests.staff.factories import PASSWORD, make_staff

    with unit_of_work(isolated_env.engine) as uow:  # KEY-6: the root and a province key take two custodians
        two = ["--as", make_staff(uow, role=Role.KEY_CUSTODIAN).username,
               "--second", make_staff(uow, role=Role.SECURITY_OFFICER).username]  # fmt: skip
    both = f"{PASSWORD}\n{PASSWORD}\n"
    assert keys("init-root", *two, "--json", stdin=both)[0] == 0
    code, out = keys("init-root", *two, stdin=both)
    assert code == 1 and "KEY_EXISTS" in out
    code, out = keys("derive", "--region", "110100", *two, "--json", stdin=both)
    assert code == 0 and {k["label"] for k in json.loads(out)} == {"CMK/110100", "TMK/110100", "CRD/110100"}
    code, out = keys("list", "--json")
    listed = json.loads(out)
    assert {"ROOT", "PMK/110000", "DATA"} <= {k["label"] for k in listed}
    assert all("value" not in k and len(k["kcv"]) == 6 for k in listed)
    assert keys("generate", "KTK/BJ01", "--purpose", "transport", "--region", "110100")[0] == 0
    code, out = keys("export", "CMK/110100", "--transport", "KTK/BJ01", "--json")
    assert code == 0 and json.loads(out)["kcv"] == next(k["kcv"] for k in listed if k["label"] == "CMK/110100")
    code, out = keys("export", "DATA", "--transport", "KTK/BJ01")
    assert code == 1 and "KEY_NOT_EXPORTABLE" in out
    code, out = keys("rotate", "TMK/110100", "--json")
    assert code == 0 and json.loads(out)[0]["version"] == 2
    assert keys("retire", "TMK/110100", "1")[0] == 0
    code, out = keys("revoke", "TMK/110100", "--reason", "terminal keys exposed", "--json")
    assert code == 0 and {k["state"] for k in json.loads(out)} == {"revoked"}
    code, out = keys("revoke", "NOPE", "--reason", "x")
    assert code == 1 and "KEY_NOT_FOUND" in out
    actions = audit_actions(isolated_env.engine)
    for action in (
        "key.root.init",
        "key.derive",
        "key.generate",
        "key.export",
        "key.rotate",
        "key.retire",
        "key.revoke",
    ):
        assert (action, "ok") in actions
    assert ("key.root.init", "refused") in actions and ("key.export", "refused") in actions


# rule KEY-6: init-root, export, revoke, rotate of ROOT / PMK need --as and --second, two different
# authenticated custodians; city keys keep single control; both custodians are audited
def test_root_and_province_keys_need_two_custodians(isolated_env, installed: HierarchyModule) -> None:
    from tests.staff.factories import PASSWORD, make_staff

    with unit_of_work(isolated_env.engine) as uow:
        alice = make_staff(uow, role=Role.KEY_CUSTODIAN).username
        bob = make_staff(uow, role=Role.SECURITY_OFFICER).username
        clerk = make_staff(uow, role=Role.COUNTER_CLERK).username
    one, both = f"{PASSWORD}\n", f"{PASSWORD}\n{PASSWORD}\n"
    code, out = keys("init-root", stdin=one)
    assert code == 1 and "DUAL_CONTROL_REQUIRED" in out
    code, out = keys("init-root", "--as", alice, stdin=one)
    assert code == 1 and "DUAL_CONTROL_REQUIRED" in out
    code, out = keys("init-root", "--as", alice, "--second", alice, stdin=both)
    assert code == 1 and "DUAL_CONTROL_REQUIRED" in out
    code, out = keys("init-root", "--as", alice, "--second", bob, stdin=f"{PASSWORD}\nwrong\n")
    assert code == 1 and "INVALID_CREDENTIALS" in out
    code, out = keys("init-root", "--as", alice, "--second", clerk, stdin=both)
    assert code == 1 and "DUAL_CONTROL_REQUIRED" in out  # the service layer: not a custodian role
    assert not installed.has_root()
    assert keys("init-root", "--as", alice, "--second", bob, "--json", stdin=both)[0] == 0
    code, out = keys("derive", "--region", "120000", stdin=one)
    assert code == 1 and "DUAL_CONTROL_REQUIRED" in out
    assert keys("derive", "--region", "120000", "--as", alice, "--second", bob, stdin=both)[0] == 0
    assert keys("derive", "--region", "120100")[0] == 0  # a city under a held province key: one operator
    assert keys("generate", "KTK/TJ01", "--purpose", "transport", "--region", "120100")[0] == 0
    for args in (("rotate", "ROOT"), ("rotate", "PMK/120000"), ("export", "PMK/120000", "--transport", "KTK/TJ01"),
                 ("revoke", "PMK/120000", "--reason", "carrier lost")):  # fmt: skip
        code, out = keys(*args, "--as", alice, stdin=one)
        assert code == 1 and "DUAL_CONTROL_REQUIRED" in out, (args, out)
    assert keys("rotate", "TMK/120100")[0] == 0  # a city key: single control, as before
    assert keys("export", "CMK/120100", "--transport", "KTK/TJ01")[0] == 0
    code, out = keys("export", "PMK/120000", "--transport", "KTK/TJ01", "--as", alice, "--second", bob, "--json",
                     stdin=both)  # fmt: skip
    assert code == 0 and json.loads(out)["label"] == "PMK/120000"
    assert keys("rotate", "ROOT", "--as", bob, "--second", alice, stdin=both)[0] == 0
    assert keys("revoke", "PMK/120000", "--reason", "carrier lost", "--as", alice, "--second", bob, stdin=both)[0] == 0
    with unit_of_work(isolated_env.engine) as uow:
        entries = list(uow.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    done = [(e.action, e.actor_id, e.result) for e in entries if e.action.startswith("key.")]
    for action, first, second in (("key.root.init", alice, bob), ("key.export", alice, bob),
                                  ("key.rotate", bob, alice), ("key.revoke", alice, bob)):  # fmt: skip
        assert (action, first, "ok") in done, (action, done)
        witness = [e for e in entries if e.action == "key.dual_control" and e.actor_id == second
                   and action in e.details]  # fmt: skip
        assert witness, (action, second)
    refusals = [e.details for e in entries if e.action == "key.root.init" and e.result == "refused"]
    assert len(refusals) == 4 and all("DUAL_CONTROL_REQUIRED" in d for d in refusals)  # the wrong password: a login


# rule KEY-6: a ceremony over the CLI — custodians authenticate, components are read from stdin only
def test_ceremony_commands(isolated_env, installed: HierarchyModule) -> None:
    from tests.staff.factories import PASSWORD, make_staff

    with unit_of_work(isolated_env.engine) as uow:
        alice = make_staff(uow, role=Role.KEY_CUSTODIAN).username
        bob = make_staff(uow, role=Role.KEY_CUSTODIAN).username
        clerk = make_staff(uow, role=Role.COUNTER_CLERK).username
    code, out = keys("ceremony", "start", "--label", "ROOT", "--as", alice, "--stdin", "--json", stdin=f"{PASSWORD}\n")
    assert code == 0, out
    cid = str(json.loads(out)["ceremony"])
    c1, c2 = ref.C1.hex(), ref.C2.hex()
    kcv1, kcv2 = ref.kcv(installed.suite, ref.C1), ref.kcv(installed.suite, ref.C2)
    code, out = keys(
        "ceremony", "add-component", cid, "--as", alice, "--kcv", "000000", "--stdin", stdin=f"{PASSWORD}\n{c1}\n"
    )
    assert code == 1 and "KCV_MISMATCH" in out
    assert (
        keys("ceremony", "add-component", cid, "--as", alice, "--kcv", kcv1, "--stdin", stdin=f"{PASSWORD}\n{c1}\n")[0]
        == 0
    )
    code, out = keys(
        "ceremony", "add-component", cid, "--as", alice, "--kcv", kcv2, "--stdin", stdin=f"{PASSWORD}\n{c2}\n"
    )
    assert code == 1 and "CEREMONY_SAME_CUSTODIAN" in out
    code, out = keys("ceremony", "complete", cid, "--as", alice, "--stdin", stdin=f"{PASSWORD}\n")
    assert code == 1 and "CEREMONY_INCOMPLETE" in out
    code, out = keys("ceremony", "add-component", cid, "--as", bob, "--kcv", kcv2, "--stdin", stdin=f"wrong\n{c2}\n")
    assert code == 1 and "INVALID_CREDENTIALS" in out
    code, out = keys(
        "ceremony", "add-component", cid, "--as", clerk, "--kcv", kcv2, "--stdin", stdin=f"{PASSWORD}\n{c2}\n"
    )
    assert code == 1 and "NOT_KEY_CUSTODIAN" in out
    assert (
        keys("ceremony", "add-component", cid, "--as", bob, "--kcv", kcv2, "--stdin", stdin=f"{PASSWORD}\n{c2}\n")[0]
        == 0
    )
    code, out = keys("ceremony", "complete", cid, "--as", bob, "--stdin", "--json", stdin=f"{PASSWORD}\n")
    assert code == 0 and json.loads(out)["kcv"] == ref.kcv(installed.suite, ref.ROOT)
    assert c1.lower() not in out.lower() and c2.lower() not in out.lower()
    results = [a for a in audit_actions(isolated_env.engine) if a[0].startswith("key.ceremony")]
    assert ("key.ceremony.component", "refused") in results and ("key.ceremony.complete", "ok") in results


# rule KEY-3: rotate-data-key runs with a progress bar and resumes after being killed
def test_rotate_data_key_survives_a_kill(isolated_db, tmp_path, monkeypatch) -> None:
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache
    from sscard.security_module import get_security_module, set_security_module
    from sscard.security_module.factory import open_soft_module

    data_dir, master = tmp_path / "node", secrets.token_hex(16)
    module = open_soft_module(data_dir / "keys", suite="sm", master_key=master)
    session_module = get_security_module()
    set_security_module(module)
    monkeypatch.setenv("SSCARD_DATABASE_URL", isolated_db.url)
    monkeypatch.setenv("SSCARD_DATABASE_SCHEMA", isolated_db.schema)
    reset_settings_cache()
    reset_engine_cache()
    try:
        _kill_and_resume(isolated_db, module, data_dir, master)
    finally:
        set_security_module(session_module)
        reset_settings_cache()
        reset_engine_cache()


@contextmanager
def _row_held(engine, position: int) -> Iterator[None]:
    """The person row at ``position`` (in id order, the rotation's) locked until the block ends (PostgreSQL)."""
    with engine.connect() as conn:
        person = conn.scalar(text("SELECT id FROM person ORDER BY id LIMIT 1 OFFSET :n"), {"n": position})
        conn.execute(text("SELECT id FROM person WHERE id = :id FOR UPDATE"), {"id": person})
        try:
            yield
        finally:
            conn.rollback()


def _kill_and_resume(isolated_db, module: HierarchyModule, data_dir, master: str) -> None:
    engine = isolated_db.engine
    on_postgresql = bool(isolated_db.schema)
    people = PG_PEOPLE if on_postgresql else PEOPLE
    add_people(engine, people)
    # The statement held at the locked row must not time out (SSCARD_DATABASE_STATEMENT_TIMEOUT_S, 5 s) first.
    env = {**os.environ, "SSCARD_DATA_DIR": str(data_dir), "SSCARD_MASTER_KEY": master, "SSCARD_HSM": "soft",
           "SSCARD_CRYPTO_SUITE": "sm", "SSCARD_ENV": "test", "SSCARD_DATABASE_STATEMENT_TIMEOUT_S": "300"}  # fmt: skip
    command = [sys.executable, "-m", "sscard.cli.main", "keys", "rotate-data-key", "--batch-size", "1"]
    killed_at = None
    with _row_held(engine, HELD_ROW) if on_postgresql else nullcontext():
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            with engine.connect() as conn:
                done = conn.exec_driver_sql(
                    "SELECT coalesce(sum(rows_done), 0) FROM data_key_rotation_progress"
                ).scalar()
            if done and done >= 20:
                proc.send_signal(signal.SIGKILL)
                killed_at = done
                break
            time.sleep(0.001)
        proc.wait(timeout=30)
    # Never a skip: a kill that missed the work would prove nothing, so it fails (most of the rows remain).
    assert killed_at is not None, "the rotation finished before it could be killed"
    module.refresh()
    with engine.connect() as conn:
        done_at_kill = conn.exec_driver_sql("SELECT sum(rows_done) FROM data_key_rotation_progress").scalar()
        state = conn.exec_driver_sql("SELECT state FROM data_key_rotation").scalar()
    assert state == "running", "the rotation finished before it could be killed"
    assert versions(module, engine) <= {1, 2}  # part done, everything readable under either version
    code, out = keys("rotate-data-key", "--batch-size", "50", "--json")
    assert code == 0, out
    summary = json.loads(out)
    with engine.connect() as conn:  # the operator's SM2 signing key (audit/signatures.py), sealed too
        signing_keys = conn.exec_driver_sql("SELECT count(*) FROM audit_signing_key").scalar()
    # Resumed where the last committed batch ended: no row visited twice, no third data-key version.
    assert summary["data_key_version"] == 2 and summary["rows"] == people + 2 + signing_keys - done_at_kill
    assert versions(module, engine) == {2}
    assert module.describe("DATA").versions[1].state == "retired"
