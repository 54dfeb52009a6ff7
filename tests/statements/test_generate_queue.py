"""Yearly statements over a real RabbitMQ queue (issue 23 item 2): two ``sscard worker`` processes share
one region's batches; one is killed with SIGKILL mid-run; the other finishes its batches. Every
statement exists exactly once, with its file, notices and audit entry, and the coordinator's count
is right (rules INS-4, CH-4)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from sscard.db.session import unit_of_work
from sscard.statements.models import Statement
from tests import queue_workers
from tests.queue_workers import start_worker, stop
from tests.statements.factories import YEAR, assert_each_issued_once, contributors_of_a_region, fresh_district

broker_env = queue_workers.broker_env  # the fixture, for the tests below
# The kill comes after 12 statements (batches of 4): 60 leave most batches undone (asserted below).
PERSONS = 60
TIMEOUT_S = 300  # hang guard for a loaded 2-core machine


def _count(region: str) -> int:
    with unit_of_work() as uow:
        query = (
            select(func.count()).select_from(Statement).where(Statement.region_code == region, Statement.year == YEAR)
        )
        return int(uow.session.scalar(query) or 0)


# rule INS-4 (CH-4): a worker killed with SIGKILL mid-run: the other finishes, each statement exactly once
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_killed_worker_leaves_its_batches_to_the_others(broker_env) -> None:
    region = fresh_district()
    people = contributors_of_a_region(region, PERSONS)

    doomed, survivor = start_worker(broker_env), start_worker(broker_env)
    run = subprocess.Popen(
        [sys.executable, "-m", "sscard.cli.main", "statements", "generate", "--year", str(YEAR), "--region", region,
         "--batch-size", "4", "--json"],
        env=broker_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while _count(region) < 12:
            assert run.poll() is None, f"the run ended early: {run.stderr.read().decode()[-800:]}"  # type: ignore[union-attr]
            assert doomed.poll() is None, f"a worker died: {doomed.stderr.read().decode()[-800:]}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no statement committed in time"
            time.sleep(0.05)
        stop(doomed, signal.SIGKILL)  # the worker and its process, mid-batch: nothing acknowledged
        killed_at = _count(region)
        assert killed_at < PERSONS, "the run finished before the kill: nothing proven"
        out, err = run.communicate(timeout=TIMEOUT_S)
        assert run.returncode == 0, err.decode()[-2000:]
    finally:
        for process in (doomed, survivor, run):
            stop(process)
    summary = json.loads(out)
    assert (summary["contributors"], summary["already_issued"], summary["issued"]) == (PERSONS, 0, PERSONS)

    assert_each_issued_once(people)


# Without a broker the command is what it was; with one but no worker running, it says so.
def test_worker_without_a_broker_is_a_usage_error(db_env) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SSCARD_BROKER_URL"}
    done = subprocess.run([sys.executable, "-m", "sscard.cli.main", "worker"], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "BROKER_NOT_CONFIGURED" in done.stderr and "Traceback" not in done.stderr


def test_an_unreachable_broker_is_one_line(db_env) -> None:
    env = {**os.environ, "SSCARD_BROKER_URL": "amqp://guest:secret-pw@127.0.0.1:1/"}
    done = subprocess.run([sys.executable, "-m", "sscard.cli.main", "worker"], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "BROKER_UNREACHABLE" in done.stderr and "amqp://guest@127.0.0.1:1/" in done.stderr
    assert "secret-pw" not in done.stderr and "Traceback" not in done.stderr


# rule INS-4 (every contributor's yearly statement is printed with the CJK font): a worker's processes load the
# rendering with their first batch (jobs/actors.py), yet a machine without the statement font is still refused
# when `sscard worker` starts, before any process takes a batch.
def test_a_worker_without_the_statement_font_refuses_to_start(broker_env, tmp_path) -> None:
    env = {**broker_env, "SSCARD_STATEMENT_FONT": str(tmp_path / "missing.ttf")}
    command = [sys.executable, "-m", "sscard.cli.main", "worker", "--processes", "1"]
    worker = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)  # fmt: skip
    try:
        _, err = worker.communicate(timeout=TIMEOUT_S)
    finally:
        stop(worker)
    assert worker.returncode == 1
    assert "missing.ttf" in err and "not a file" in err and "Traceback" not in err
    assert "Dramatiq" not in err  # refused before the supervisor was started
