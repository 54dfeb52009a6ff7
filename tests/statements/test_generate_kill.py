"""``sscard statements generate`` killed with SIGKILL mid-run, then run again: every statement exactly
once, with its file, its notices and its audit entry; no worker outlives the run (rule INS-4, CH-4).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from sscard.db.session import unit_of_work
from sscard.statements.files import data_dir
from sscard.statements.models import Statement
from tests.statements.factories import YEAR, assert_each_issued_once, contributors_of_a_region, fresh_district

# The kill comes after 12 statements (batches of 4, two workers): 60 leave most batches undone
# (asserted: 0 < before < PERSONS) and keep the re-run cheap.
PERSONS = 60
TIMEOUT_S = 240  # hang guard for a loaded 2-core machine


def _cli(region: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sscard.cli.main", "statements", "generate", "--year", str(YEAR),
            "--region", region, "--batch-size", "4", "--workers", "2", *extra]  # fmt: skip


def _processes_of(region: str) -> list[int]:
    """Live (not zombie) processes whose command line names this run's region: the run and its workers."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"statements\x00generate" in cmdline and region.encode() in cmdline and state != "Z":
            found.append(int(entry))
    return found


def _count(region: str) -> int:
    with unit_of_work() as uow:
        query = (
            select(func.count()).select_from(Statement).where(Statement.region_code == region, Statement.year == YEAR)
        )
        return int(uow.session.scalar(query) or 0)


# rule INS-4 (CH-4): killed with SIGKILL and run again, every statement exactly once with file, notices, audit
def test_kill_and_resume(db_env) -> None:
    region = fresh_district()
    people = contributors_of_a_region(region, PERSONS)

    run = subprocess.Popen(_cli(region), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + TIMEOUT_S
    while _count(region) < 12:
        assert run.poll() is None, f"the run ended before it could be killed: {run.stderr.read().decode()[-800:]}"  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "no statement committed in time"
        time.sleep(0.05)
    os.kill(run.pid, signal.SIGKILL)  # the run only: its workers must die with it by themselves
    run.wait(timeout=30)
    while _processes_of(region):
        assert time.monotonic() < deadline, f"workers outlived the killed run: {_processes_of(region)}"
        time.sleep(0.1)
    before = _count(region)
    assert 0 < before < PERSONS, before

    again = subprocess.run(_cli(region, "--json"), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert again.returncode == 0, again.stderr[-2000:]
    summary = json.loads(again.stdout)
    assert (summary["contributors"], summary["already_issued"], summary["issued"]) == (
        PERSONS,
        before,
        PERSONS - before,
    )

    assert_each_issued_once(people)
    assert not list((data_dir() / "statements" / str(YEAR) / region).glob(".*.tmp"))
