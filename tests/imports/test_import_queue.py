"""Persons and contributions imports over a real RabbitMQ queue (issue 23 item 2).

The same file, imported in process and by ``sscard worker`` processes, gives the same rows, postings,
rejected lines and summary; a worker killed with SIGKILL mid-run leaves its ranges to the other and
nothing is posted twice; a range delivered again posts nothing (rules INS-3, CH-4)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sscard.audit.models import AuditEntry
from sscard.db.session import unit_of_work
from sscard.imports.models import ImportChunk, ImportJob, ImportRowError, ImportStatus
from sscard.insurance.models import ContributionDeclaration
from sscard.insurance.service import personal_accounts_of
from sscard.ledger.service import balance, check
from tests import queue_workers
from tests.employers.factories import add_test_employer, new_uscc
from tests.imports.conftest import count_present, fresh_people
from tests.insurance.factories import registered_employee
from tests.people.factories import new_id_number
from tests.queue_workers import start_worker, stop

broker_env = queue_workers.broker_env  # the fixture, for the tests below
TIMEOUT_S = 300  # hang guard for a loaded 2-core machine
# summary fields that name the run rather than its result
RUN_FIELDS = ("job_id", "elapsed_s", "rows_per_s")


def _cli(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "sscard.cli.main", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip


def _run(env: dict[str, str], *args: str) -> dict[str, object]:
    process = _cli(env, *args)
    out, err = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode in (0, 3), err.decode()[-2000:]
    summary = json.loads(out.decode().strip().splitlines()[-1])
    return {k: v for k, v in summary.items() if k not in RUN_FIELDS} | {"job_id": summary["job_id"]}


def _run_here(*args: str) -> dict[str, object]:
    """``_run`` for an ``--in-process`` run: the same command through the CLI app in this process (no
    broker is involved, so a process of its own would only add its start-up)."""
    from typer.testing import CliRunner

    from sscard.cli.main import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code in (0, 3), result.output[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return {k: v for k, v in summary.items() if k not in RUN_FIELDS} | {"job_id": summary["job_id"]}


def _rejected(job_id: object) -> list[tuple[int, str]]:
    with unit_of_work() as uow:
        rows = uow.session.execute(
            select(ImportRowError.line, ImportRowError.code)
            .where(ImportRowError.job_id == job_id)
            .order_by(ImportRowError.line)
        )
        return [(int(line), str(code)) for line, code in rows]


def _check_job(job_id: object) -> None:
    """Finished; every queued range once, none overlapping; one audit entry per batch (nothing done twice)."""
    with unit_of_work() as uow:
        job = uow.session.get_one(ImportJob, job_id)
        assert job.status == ImportStatus.FINISHED
        ranges = sorted(
            uow.session.execute(
                select(ImportChunk.first_line, ImportChunk.last_line).where(ImportChunk.job_id == job_id)
            ).all()
        )
        entries = uow.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.subject == f"import_job:{job_id}")
        )
        batches = job.batches
    for (_, last), (first, _) in zip(ranges, ranges[1:], strict=False):
        assert last < first, ranges
    assert batches == len(ranges) + 1  # the workers' ranges and the coordinator's last one
    assert entries == batches + 1  # one per batch and the job handed to the queue


def _compare(env: dict[str, str], command: tuple[str, ...], file_a: Path, file_b: Path) -> tuple[dict, dict]:
    in_process = _run_here(*command, str(file_a), "--json", "--batch-size", "7", "--in-process")
    workers = [start_worker(env), start_worker(env)]
    try:
        queued = _run(env, *command, str(file_b), "--json", "--batch-size", "7")
    finally:
        for worker in workers:
            stop(worker)
    a_id, b_id = in_process.pop("job_id"), queued.pop("job_id")
    assert queued == in_process
    assert _rejected(b_id) == _rejected(a_id) != []
    _check_job(b_id)
    return in_process, queued


def _persons_lines(people: list[tuple[str, str, str, str]]) -> list[str]:
    """Valid rows, bad rows, repeats and conflicts within a range and across ranges, blank lines."""
    lines = ["id_number,name,phone,email"]
    for i, person in enumerate(people[:50]):
        lines.append(",".join(person))
        if i % 9 == 4:
            lines.append(f"{person[0][:-1]},坏行,,")  # ID_LENGTH
        if i % 11 == 7:
            lines.append(",".join(people[i - 5]))  # the same person again: already present
        if i % 13 == 6:
            lines.append(f"{people[i - 6][0]},另一个名字,,")  # the same ID, other data: DUPLICATE_IN_FILE
        if i % 17 == 3:
            lines.append(",".join(people[i - 1]))  # a repeat inside the same range
        if i == 20:
            lines.append("")
            lines.append(f"{people[55][0]},,,")  # an invalid first line of an ID ...
    lines.append(",".join(people[55]))  # ... then a valid one: imported
    lines.append('"unclosed,name,,')
    return lines


# rule CH-4: the same persons file in process and over the queue: the same persons, rejected lines and summary
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_persons_over_the_queue_as_in_process(broker_env, tmp_path: Path) -> None:
    worlds = {}
    for name in ("a", "b"):
        people = fresh_people(60)
        path = tmp_path / f"persons-{name}.csv"
        path.write_text("\n".join(_persons_lines(people)) + "\n", encoding="utf-8")
        worlds[name] = (path, people)
    summary, _ = _compare(broker_env, ("import", "persons"), worlds["a"][0], worlds["b"][0])
    assert summary["imported"] == 51 and summary["rejected"] > 5 and summary["already_present"] > 3
    from sscard.db.session import get_engine

    for _, people in worlds.values():
        present = [count_present(get_engine(), [p[0]]) for p in people]
        assert present == [1] * 50 + [0] * 5 + [1] + [0] * 4


def _contribution_world(employees: int, start: date = date(2024, 1, 1)) -> tuple[str, list[tuple[int, str]]]:
    with unit_of_work() as uow:
        employer = add_test_employer(uow)
        staff = []
        for _ in range(employees):
            _, person, _, number = registered_employee(uow, employer=employer, start=start)
            staff.append((person.id, number))
        return employer.uscc, staff


def _contribution_lines(uscc: str, staff: list[tuple[int, str]]) -> list[str]:
    lines = ["uscc,id_number,period,base_fen"]
    for month in range(1, 11):
        for k, (_, number) in enumerate(staff):
            lines.append(f"{uscc},{number},2024-{month:02d},{1_000_000 + k * 1000}")
        if month == 3:
            lines.append("")
            lines.append(f"{uscc},{staff[0][1]},2024-13,1000000")  # PERIOD_INVALID
            lines.append(f"{uscc},{new_id_number(born=date(1980, 1, 1))},2024-03,1000000")  # PERSON_NOT_FOUND
            lines.append(f"{new_uscc()},{staff[1][1]},2024-03,1000000")  # EMPLOYER_NOT_FOUND
            lines.append(f"{uscc},{staff[2][1]},2024-11,0")  # BASE_INVALID when declared (first line of its month)
            lines.append(f"{uscc},{staff[3][1]},2024-12,1000000")
            lines.append(f"{uscc},{staff[3][1]},2024-12,900000")  # the same range, another base: DUPLICATE_IN_FILE
        if month == 6:
            lines.append(f"{uscc},{staff[2][1]},2024-11,1200000")  # the month refused above, now posted
            lines.append(f"{uscc},{staff[0][1]},2024-01,1000000")  # an earlier range's month again: already present
            lines.append(f"{uscc},{staff[1][1]},2024-02,999")  # another base: DECLARATION_CONFLICT
            lines.append(f"{uscc},{staff[4][1]},2024-01,-5")  # BASE_INVALID
    return lines


def _postings(staff: list[tuple[int, str]]) -> list[object]:
    """Per employee (by place, not id): each month's declared base, and the personal accounts' balances."""
    out: list[object] = []
    with unit_of_work() as uow:
        for person_id, _ in staff:
            declared = uow.session.execute(
                select(ContributionDeclaration.period, ContributionDeclaration.declared_base_fen)
                .where(ContributionDeclaration.person_id == person_id)
                .order_by(ContributionDeclaration.period)
            ).all()
            accounts = personal_accounts_of(uow, person_id)
            out.append(([tuple(d) for d in declared], {kind: balance(uow, a) for kind, a in sorted(accounts.items())}))
        assert check(uow).ok
    return out


# rule INS-3 (CH-4): the same declarations in process and over the queue: the same postings, lines and summary
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_contributions_over_the_queue_as_in_process(broker_env, tmp_path: Path) -> None:
    worlds = {}
    for name in ("a", "b"):
        uscc, staff = _contribution_world(6)
        path = tmp_path / f"contributions-{name}.csv"
        path.write_text("\n".join(_contribution_lines(uscc, staff)) + "\n", encoding="utf-8")
        worlds[name] = (path, staff)
    summary, _ = _compare(broker_env, ("contributions", "import"), worlds["a"][0], worlds["b"][0])
    assert summary["imported"] == 62 and summary["already_present"] == 1
    assert _postings(worlds["a"][1]) == _postings(worlds["b"][1])


def _receipts(job_id: int | None) -> int:
    if job_id is None:
        return 0
    with unit_of_work() as uow:
        return int(
            uow.session.scalar(select(func.count()).select_from(ImportChunk).where(ImportChunk.job_id == job_id)) or 0
        )


def _job_of(path: Path) -> int | None:
    import hashlib

    with unit_of_work() as uow:
        return uow.session.scalar(
            select(ImportJob.id).where(ImportJob.file_sha256 == hashlib.sha256(path.read_bytes()).digest())
        )


def _progress_is_the_rows(job_id: int | None, staff: list[tuple[int, str]]) -> None:
    """Mid-run, in one snapshot: the job's counters are its receipts' sums and the declarations posted."""
    from sscard.db.session import get_engine

    with get_engine().connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        job = conn.execute(
            select(ImportJob.imported, ImportJob.already_present, ImportJob.rejected).where(ImportJob.id == job_id)
        ).one()
        receipts = conn.execute(
            select(func.sum(ImportChunk.imported), func.sum(ImportChunk.rows)).where(ImportChunk.job_id == job_id)
        ).one()
        declared = conn.scalar(
            select(func.count())
            .select_from(ContributionDeclaration)
            .where(ContributionDeclaration.person_id.in_([p for p, _ in staff]))
        )
        conn.rollback()
    assert job.imported == receipts[0] == declared > 0
    assert job.imported + job.already_present + job.rejected == receipts[1]


# rule INS-3 (CH-4): a worker killed with SIGKILL mid-run: the other finishes, nothing posted twice, counts right
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_killed_worker_leaves_its_ranges_to_the_other(broker_env, tmp_path: Path) -> None:
    # 288 lines, 36 ranges of 8: the kill after 6 receipts leaves most ranges undone (asserted below)
    uscc, staff = _contribution_world(16, start=date(2023, 1, 1))
    months = 18
    lines = ["uscc,id_number,period,base_fen"] + [
        f"{uscc},{number},{2023 + m // 12}-{m % 12 + 1:02d},{1_000_000 + k}"
        for m in range(months)
        for k, (_, number) in enumerate(staff)
    ]
    path = tmp_path / "kill.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    doomed, survivor = start_worker(broker_env), start_worker(broker_env)
    run = _cli(broker_env, "contributions", "import", str(path), "--json", "--batch-size", "8")
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while _receipts(_job_of(path)) < 6:
            assert run.poll() is None, f"the run ended early: {run.stderr.read().decode()[-800:]}"  # type: ignore[union-attr]
            assert doomed.poll() is None, f"a worker died: {doomed.stderr.read().decode()[-800:]}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no range committed in time"
            time.sleep(0.05)
        stop(doomed, signal.SIGKILL)  # the worker and its process, mid-range: nothing acknowledged
        killed_at = _receipts(_job_of(path))
        _progress_is_the_rows(_job_of(path), staff)
        assert killed_at <= len(lines) // 8 // 2, "the kill came late: most ranges must be left to the survivor"
        out, err = run.communicate(timeout=TIMEOUT_S)
        assert run.returncode == 0, err.decode()[-2000:]
    finally:
        for process in (doomed, survivor, run):
            stop(process)
    summary = json.loads(out.decode().strip().splitlines()[-1])
    rows = len(staff) * months
    assert (summary["imported"], summary["already_present"], summary["rejected"], summary["rows"]) == (rows, 0, 0, rows)
    assert summary["job_totals"] == {"imported": rows, "already_present": 0, "rejected": 0}
    _check_job(summary["job_id"])
    assert all(len(declared) == months for declared, _ in _postings(staff))  # type: ignore[misc]


# rule CH-4: a range delivered again (its first worker died after the commit) posts nothing twice
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_redelivered_range_posts_nothing_twice(db_env, tmp_path: Path) -> None:
    from dataclasses import astuple

    from sscard.audit import Actor
    from sscard.imports.batches import PreparedChunk
    from sscard.imports.chunks import ChunkSuperseded, commit_chunk, cut_chunks
    from sscard.imports.source import read_header, scan_file
    from sscard.jobs import contributions_import as contributions
    from sscard.jobs import queued_imports as q
    from sscard.jobs.actors import actor_message

    uscc, staff = _contribution_world(3)
    lines = ["uscc,id_number,period,base_fen"] + [
        f"{uscc},{number},2024-{m:02d},1000000" for m in range(1, 5) for _, number in staff
    ]
    path = tmp_path / "again.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    actor = Actor.cli_operator()
    header, scan = read_header(path, contributions.COLUMNS), scan_file(path)
    run = q._Run("contributions", "contributions", path, header, scan, actor, None, date(2025, 6, 15), None)
    with unit_of_work() as uow:
        job_id, *_ = q._open_job(uow, run)
    first = cut_chunks(path, header.data_offset, 5, [])[0]
    q._stage(path, scan)
    fields = [list(header.indexes), header.width, header.data_offset]
    plan = {"file_sha256": scan.sha256.hex(), "today": "2025-06-15", "deferred": []}
    message = ("contributions", job_id, list(astuple(first)), fields, plan, actor_message(actor))

    def state() -> tuple[object, ...]:
        with unit_of_work() as uow:
            job = uow.session.get_one(ImportJob, job_id)
            declared = uow.session.scalar(
                select(func.count())
                .select_from(ContributionDeclaration)
                .where(ContributionDeclaration.person_id.in_([p for p, _ in staff]))
            )
            return (job.batches, job.imported, job.already_present, job.rejected, declared)

    q.do_chunk(*message)
    once = state()
    assert once == (1, 5, 0, 0, 5)
    q.do_chunk(*message)  # delivered again: its receipt is found, nothing is done
    assert state() == once
    # Two deliveries at once (both passed the receipt check): the second's claim fails, all rolled back.
    raw = q.read_chunk(q.staged_path(scan.sha256.hex()), first)
    assert raw is not None
    rows, rejections, _ = contributions.parse_chunk(raw, header.indexes)
    ctx = q._contributions_context(q.staged_path(scan.sha256.hex()), header, message[4])
    batch = PreparedChunk(raw.first_line, raw.first_line + len(raw.lines) - 1, raw.start_offset, raw.end_offset, 5)
    with pytest.raises(ChunkSuperseded), unit_of_work() as uow:
        commit_chunk(uow, job_id=job_id, batch=batch, rejections=rejections, actor=actor,
                     write=contributions.chunk_writer(raw, rows, ctx, actor, date(2025, 6, 15)),
                     action=contributions.AUDIT_ACTION)  # fmt: skip
    assert state() == once


class _StopAfter:
    """An observer that stops the in-process import after ``batches`` committed batches (as Ctrl-C would)."""

    def __init__(self, batches: int) -> None:
        self.left = batches

    def started(self, start) -> None:
        pass

    def batch_committed(self, result) -> None:
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


# rule CH-4: an in-process import stopped part-way and finished over the queue: its lines are not done again
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_an_in_process_job_is_finished_over_the_queue(broker_env, tmp_path: Path) -> None:
    from sscard.audit import Actor
    from sscard.jobs.person_import import import_persons

    worlds = {}
    for name in ("a", "b"):
        path = tmp_path / f"resume-{name}.csv"
        path.write_text("\n".join(_persons_lines(fresh_people(60))) + "\n", encoding="utf-8")
        worlds[name] = path
    whole = _run_here("import", "persons", str(worlds["a"]), "--json", "--batch-size", "7", "--in-process")
    with pytest.raises(KeyboardInterrupt):
        import_persons(path=worlds["b"], actor=Actor.cli_operator(), batch_size=7, workers=0, observer=_StopAfter(3))
    workers = [start_worker(broker_env), start_worker(broker_env)]
    try:
        rest = _run(broker_env, "import", "persons", str(worlds["b"]), "--json", "--batch-size", "7")
    finally:
        for worker in workers:
            stop(worker)
    assert rest["resumed_after_line"] == 1 + 3 * 7
    assert rest["job_totals"] == whole["job_totals"]
    assert rest["rows"] == whole["rows"] - 3 * 7  # no blank line in the first three batches
    assert _rejected(rest["job_id"]) == _rejected(whole["job_id"])


# issue 23 item 2 (attacker review): a message names its staged file by hash; anything else is refused
# before a path is made of it, so a forged message cannot read a file outside the imports directory
def test_a_message_naming_no_staged_file_is_refused() -> None:
    from sscard.jobs import queued_imports as q

    assert q.staged_path("0" * 64).name == "0" * 64 + ".csv"
    for forged in ("../../../etc/passwd", "0" * 63, "0" * 63 + "/", "A" * 64, ""):
        with pytest.raises(q.ImportChunkChanged):
            q.staged_path(forged)
