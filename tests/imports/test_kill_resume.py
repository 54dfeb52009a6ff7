"""Kill ``sscard import persons`` with SIGKILL mid-run, re-run it, and check exactly-once (CH-4, ID-5)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from sscard.audit.models import AuditEntry
from sscard.imports.models import ImportJob, ImportRowError, ImportStatus
from sscard.security_module.factory import open_security_module
from tests.imports.conftest import count_present, fresh_people, write_csv

KILL_AFTER_BATCHES = 3


def _cli(path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sscard.cli.main", "import", "persons", str(path), *extra]


def _job_row(engine, sha: bytes) -> tuple[int, int, str] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(ImportJob.id, ImportJob.batches, ImportJob.status).where(ImportJob.file_sha256 == sha)
        )
        found = row.first()
        conn.rollback()
    return None if found is None else (found[0], found[1], found[2])


def test_sigkill_then_rerun_imports_every_valid_person_exactly_once(db_env, tmp_path: Path) -> None:
    people = [p for _ in range(3) for p in fresh_people(1000)]
    valid = people[:2500]
    rows: list[tuple[str, str, str, str]] = []
    bad_lines: list[int] = []
    for i, person in enumerate(valid):
        rows.append(person)
        if i % 250 == 100:  # a bad row and a duplicate now and then, spread across batches
            rows.append((person[0][:-1], "坏行", "", ""))
            bad_lines.append(len(rows) + 1)
            rows.append((valid[i - 50][0], "重复", "", ""))
            bad_lines.append(len(rows) + 1)
    path = write_csv(tmp_path / "kill.csv", rows)
    sha = hashlib.sha256(path.read_bytes()).digest()
    env = dict(os.environ)  # SSCARD_DATABASE_URL/SCHEMA from db_env, the shared SSCARD_DATA_DIR

    proc = subprocess.Popen(
        _cli(path, "--batch-size", "10", "--workers", "0"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    try:
        while True:
            job = _job_row(db_env.engine, sha)
            if job is not None and job[1] >= KILL_AFTER_BATCHES:
                os.kill(proc.pid, signal.SIGKILL)
                break
            assert proc.poll() is None, f"the import ended before it could be killed: {proc.stderr.read()!r}"
            assert time.monotonic() < deadline, "no batch committed within 60 s"
            time.sleep(0.01)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    job_id, killed_batches, status = _job_row(db_env.engine, sha)
    assert status == ImportStatus.RUNNING.value
    assert killed_batches < len(rows) // 10  # really stopped part-way

    done = subprocess.run(_cli(path, "--json"), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stderr  # EXIT_REJECTED_ROWS: the file has rejected rows
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["job_id"] == job_id
    assert summary["resumed_after_line"] is not None and summary["resumed_after_line"] >= 1 + 10 * KILL_AFTER_BATCHES
    assert summary["job_totals"] == {"imported": len(valid), "already_present": 0, "rejected": len(bad_lines)}

    # Every valid person exactly once (the blind index is computed with the subprocess's key file).
    module = open_security_module()
    ids = [p[0] for p in valid]
    assert count_present(
        db_env.engine, ids, index=lambda v: module.blind_index(v.encode(), purpose="id_number")
    ) == len(ids)
    with db_env.engine.connect() as conn:
        job = conn.execute(select(ImportJob).where(ImportJob.id == job_id)).one()
        error_lines = sorted(conn.scalars(select(ImportRowError.line).where(ImportRowError.job_id == job_id)))
        batch_entries = conn.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.subject == f"import_job:{job_id}")
        )
        conn.rollback()
    assert job.status == ImportStatus.FINISHED.value
    assert (job.imported, job.already_present, job.rejected) == (len(valid), 0, len(bad_lines))
    assert job.imported + job.already_present + job.rejected == len(rows)
    assert error_lines == bad_lines  # each bad row recorded once, none lost at the kill
    assert batch_entries == job.batches  # one audit entry per committed batch, the killed one absent
