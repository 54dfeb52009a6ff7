"""A killed ``sscard import persons`` leaves no process behind, and a re-run accounts for every line
exactly once (issue 16; rules CH-4, ID-3, PER-1).

A real CLI subprocess with worker processes is stopped mid-file by SIGKILL, SIGTERM or Ctrl-C (SIGINT
to its process group); then no process of that import may be left (a forked worker holds the file
and the inherited database socket: an orphan keeps the killed run's PostgreSQL session, and the
locks of its interrupted batch, alive). The re-run resumes and the job accounts for every line.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sscard.cli.common import EXIT_REJECTED_ROWS
from sscard.imports.models import ImportJob, ImportRowError, ImportStatus
from sscard.imports.synthetic import synthetic_rows
from sscard.people.models import Person
from sscard.security_module.factory import open_security_module

# 75 batches: the kill is sent once 3 are done and must land before half (asserted below; with 30 batches it
# landed after the 19th once, the two workers racing ahead of the poll); the faults fall before and after it.
ROWS = 15_000
BATCH = 200
KILL_AFTER_BATCHES = 3
TIMEOUT_S = 150  # hang guards only, generous for a loaded 2-core CI machine

# Synthetic IDs above the range tests/imports hands out, a block of its own per test.
_BLOCKS = itertools.count(200_000_000 + secrets.randbelow(1000) * 100_000, 100_000)


def _cli(path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sscard.cli.main", "import", "persons", str(path), *extra]


def _live_processes_mentioning(text: str) -> dict[int, int]:
    """pid -> ppid of every live (not zombie) process whose command line mentions ``text``."""
    found: dict[int, int] = {}
    needle = text.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after the last ')'
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if needle in cmdline and state != "Z":
            found[int(entry)] = int(ppid)
    return found


def _write_file(path: Path) -> tuple[Path, list[str], list[int], int]:
    """A large person file with a few faults spread over it.

    Returns (path, IDs that must be present, lines that must be rejected, lines already present).
    """
    start = next(_BLOCKS)
    people = list(synthetic_rows(ROWS, start=start, seed=7))
    lines = ["id_number,name,phone,email"]
    rejected: list[int] = []
    repeats = 0
    valid: list[str] = []
    for i, person in enumerate(people):
        if i % 1000 == 434:  # an open quote: this line only is lost (rule ID-3 reporting)
            lines.append(f'{person[0]},"{person[1]},,')
            rejected.append(len(lines))
            continue
        lines.append(",".join(person))
        valid.append(person[0])
        if i % 1250 == 77:  # the same line again: already present, never a second person
            lines.append(",".join(person))
            repeats += 1
        if i % 1750 == 99:  # a blank line: skipped
            lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, valid, rejected, repeats


def _job_state(engine, sha: bytes) -> tuple[int, int, str] | None:
    with engine.connect() as conn:
        found = conn.execute(
            select(ImportJob.id, ImportJob.batches, ImportJob.status).where(ImportJob.file_sha256 == sha)
        ).first()
        conn.rollback()
    return None if found is None else (found[0], found[1], found[2])


@pytest.fixture
def reaper() -> Iterator[list[str]]:
    """Markers (the test's own file path) of the processes this test starts: any still running at the
    end is killed, even when an assertion failed (a run against old code must not leak them). Found
    by command line, never by a remembered pid that may since belong to another process."""
    markers: list[str] = []
    yield markers
    for marker in markers:
        for pid in _live_processes_mentioning(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# rule CH-4: nothing acknowledged is lost and no process of a killed import lingers; rule ID-3: every
# line of the file ends imported, already present or rejected by its line number, across the kill
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_killed_import_leaves_no_process_and_resumes_exactly_once(
    db_env, tmp_path: Path, how: str, reaper: list[str]
) -> None:
    t0 = time.monotonic()
    path, valid, rejected, repeats = _write_file(tmp_path / f"kill-{how}.csv")
    reaper.append(str(path))
    sha = hashlib.sha256(path.read_bytes()).digest()
    env = dict(os.environ)  # SSCARD_DATABASE_URL/SCHEMA from db_env, the shared SSCARD_DATA_DIR and key
    # stderr to a file, not a pipe: an orphaned worker would hold a pipe open and block the reader
    err_path = tmp_path / "stderr.txt"
    with err_path.open("wb") as err:
        proc = subprocess.Popen(
            _cli(path, "--batch-size", str(BATCH), "--workers", "2"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its own process group, as a shell gives a foreground job (Ctrl-C)
        )
    try:
        while True:
            job = _job_state(db_env.engine, sha)
            if job is not None and job[1] >= KILL_AFTER_BATCHES:
                break
            assert proc.poll() is None, f"the import ended before it could be stopped: {err_path.read_text()!r}"
            assert time.monotonic() - t0 < TIMEOUT_S, "no batch committed in time"
            time.sleep(0.01)
        workers = {pid for pid, ppid in _live_processes_mentioning(str(path)).items() if ppid == proc.pid}
        assert len(workers) == 2, "the import runs with two worker processes"
        if how == "SIGINT":
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        else:
            os.kill(proc.pid, getattr(signal, how))  # an operator's kill, or the OOM killer: the parent only
        proc.wait(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # No process of the import is left: not its workers (re-parented to PID 1 or a subreaper), nothing.
    deadline = time.monotonic() + 10
    while (left := _live_processes_mentioning(str(path))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == {}, f"processes of the stopped import still running (pid -> ppid): {left}"

    assert proc.returncode != 0
    if how == "SIGKILL":
        assert proc.returncode == -signal.SIGKILL
    else:  # the CLI stops cleanly: one line, 128 + the signal, no traceback
        stderr = err_path.read_text()
        assert proc.returncode == 128 + getattr(signal, how), stderr
        assert "INTERRUPTED" in stderr and "Traceback" not in stderr

    job_id, killed_batches, status = _job_state(db_env.engine, sha)  # type: ignore[misc]
    assert status == ImportStatus.RUNNING.value
    assert killed_batches <= ROWS // BATCH // 2  # really stopped part-way: at most half the file done

    # The re-run resumes (it must not wait on locks an orphan kept) and finishes the file.
    out_path = tmp_path / "resume.json"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        done = subprocess.Popen(
            _cli(path, "--json", "--batch-size", str(BATCH), "--workers", "2"), env=env, stdout=out, stderr=err
        )
        try:
            done.wait(timeout=max(5.0, TIMEOUT_S + 5 - (time.monotonic() - t0)))
        finally:
            if done.poll() is None:
                done.kill()
                done.wait()
    assert done.returncode == EXIT_REJECTED_ROWS, err_path.read_text()  # done, the bad rows named
    summary = json.loads(out_path.read_text().strip().splitlines()[-1])
    assert summary["job_id"] == job_id and summary["resumed_after_line"] is not None
    data_lines = len(valid) + repeats + len(rejected)
    assert summary["data_lines"] == data_lines
    assert summary["job_totals"] == {"imported": len(valid), "already_present": repeats, "rejected": len(rejected)}

    # Every valid person exactly once (blind indexes under the subprocess's key file), nobody else.
    module = open_security_module()
    keys = [module.blind_index(v.encode(), purpose="id_number") for v in valid]
    with db_env.engine.connect() as conn:
        present = 0
        for i in range(0, len(keys), 1000):
            present += int(
                conn.scalar(
                    select(func.count()).select_from(Person).where(Person.id_number_bidx.in_(keys[i : i + 1000]))
                )
                or 0
            )
        job = conn.execute(
            select(ImportJob.status, ImportJob.imported, ImportJob.already_present, ImportJob.rejected).where(
                ImportJob.id == job_id
            )
        ).one()
        error_lines = sorted(conn.scalars(select(ImportRowError.line).where(ImportRowError.job_id == job_id)))
        conn.rollback()
    assert present == len(valid)
    assert job.status == ImportStatus.FINISHED.value
    assert job.imported + job.already_present + job.rejected == data_lines
    assert error_lines == rejected  # each bad line recorded once, by its physical line number
