"""The large imports over the queue: the coordinator cuts the file into line ranges, ``sscard worker``s do them.

``sscard import persons`` and ``sscard contributions import`` with a broker (jobs/broker.py): the file is
copied once into the data directory, which workers share as they do for statements, and each range
of lines is one message naming the job, the range (lines, byte offsets, the bytes' SHA-256) and what
the range must know of the rest of the file (imports/chunks.py): line numbers only, never a name or an
ID, so the broker holds no personal data. The coordinator itself does the file's last range, with the
job's end, once the workers have done the others, so the job is finished exactly as in process.

Exactly once: a range's receipt (``import_chunk``) is inserted first in its own transaction with its
rows, rejected rows, job counters and audit entry; a range handed to a second worker (the first was
killed before it acknowledged) finds the receipt and posts nothing. Progress is the job's counters
and the receipts, committed with the rows, so it is right whoever dies.
"""

from __future__ import annotations

import bisect
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from sscard.audit import Actor, record_event
from sscard.config import get_settings
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork, get_engine, unit_of_work
from sscard.errors import DomainError
from sscard.files import private_dir
from sscard.imports import service as persons
from sscard.imports.batches import AUDIT_ACTION as PERSONS_ACTION
from sscard.imports.batches import BatchResult, JobCursor, PreparedChunk, commit_batch, prepare_chunk
from sscard.imports.chunks import (
    ChunkRef,
    ChunkSuperseded,
    apply_repeats,
    commit_chunk,
    cut_chunks,
    person_repeats,
    read_chunk,
    segment_chunks,
)
from sscard.imports.errors import ImportConcurrent
from sscard.imports.models import ImportChunk, ImportJob, ImportRowError, ImportStatus
from sscard.imports.rows import Rejection
from sscard.imports.service import ImportObserver, ImportStart, ImportSummary, find_job
from sscard.imports.source import PERSON_COLUMNS, FileScan, Header, RawChunk, read_header, scan_file
from sscard.imports.writers import insert_persons
from sscard.jobs import broker as queue
from sscard.jobs import contributions_import as contributions
from sscard.jobs.actors import actor_from_message, actor_message, chunks_actor

log = structlog.get_logger("sscard.jobs.queue")

KIND = queue.IMPORTS
POLL_S = 0.5
STALL_NOTE_S = 60.0
QUEUE_ACTION = "import.queued"  # the job handed to the queue (its resume point moved to the end)


class ImportChunksFailed(DomainError):
    code = "IMPORT_CHUNKS_FAILED"
    status = 500
    title = "Some import line ranges failed in the workers after every retry (see the workers' log)."
    title_zh = "部分导入行段在重试后仍失败（请查看 worker 日志）。"


class ImportChunkChanged(DomainError):
    code = "IMPORT_CHUNK_CHANGED"
    status = 500
    title = "A worker read other bytes than the coordinator cut (the shared import file changed)."
    title_zh = "worker 读到的导入文件内容与切分时不同（共享文件已改变）。"


def staged_path(file_sha256: str) -> Path:
    """Where coordinator and workers find the file: the shared data directory, named by its hash (64 hex
    digits, checked: the name comes from a message, and must never climb out of the directory)."""
    if len(file_sha256) != 64 or not all(c in "0123456789abcdef" for c in file_sha256):
        raise ImportChunkChanged("the message names no staged file (a SHA-256 in lower-case hex expected)")
    return get_settings().data_dir / "imports" / f"{file_sha256}.csv"


def _stage(path: Path, scan: FileScan) -> Path:
    target = staged_path(scan.sha256.hex())
    if target.exists() and target.stat().st_size == scan.size:
        return target
    private_dir(target.parent)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(path, partial)
    partial.chmod(0o600)
    os.replace(partial, target)  # whole or absent: a worker never reads a half-copied file
    return target


# ------------------------------------------------------------------------------------------ the worker
def do_chunk(
    kind: str, job_id: int, ref: list[Any], header: list[Any], plan: dict[str, Any], actor: dict[str, str]
) -> None:
    """One range's work (run by the queue actor of jobs/actors.py): do one range of an import job unless its
    receipt exists (a redelivered message)."""
    chunk_ref = ChunkRef(*ref)
    with unit_of_work() as uow:
        done = uow.session.scalar(
            select(ImportChunk.id).where(ImportChunk.job_id == job_id, ImportChunk.first_line == chunk_ref.first_line)
        )
    if done is not None:
        log.info("import range", job=job_id, first_line=chunk_ref.first_line, skipped=True)
        return
    path = staged_path(plan["file_sha256"])
    raw = read_chunk(path, chunk_ref)
    if raw is None:
        raise ImportChunkChanged(f"lines {chunk_ref.first_line}-{chunk_ref.last_line} of {path.name}")
    fields = Header(tuple(header[0]), int(header[1]), int(header[2]))
    who = actor_from_message(actor)
    if kind == contributions.KIND:
        contributions.fresh_statistics()
    try:
        with unit_of_work() as uow:
            if kind == persons.KIND:
                result = _persons(uow, job_id, raw, fields, plan, who)
            else:
                result = _contributions(uow, job_id, raw, fields, path, plan, who)
    except ChunkSuperseded as exc:
        log.info("import range", job=job_id, first_line=chunk_ref.first_line, skipped=True, why=str(exc))
        return
    log.info("import range", job=job_id, first_line=chunk_ref.first_line, imported=result.imported,
             already_present=result.already_present, rejected=len(result.rejections))  # fmt: skip


def _person_batch(
    raw: RawChunk, header: Header, repeats: list[list[Any]], engine: Engine | None
) -> tuple[PreparedChunk, tuple[list[Any], list[Rejection], int]]:
    """The range parsed, validated and sealed; its repeats of earlier lines set apart."""
    copy_binary = (engine or get_engine()).dialect.name == "postgresql"
    prepared = prepare_chunk(raw, header, seal=True, copy_binary=copy_binary)
    return prepared, apply_repeats(prepared, {int(line): (int(first), bool(same)) for line, first, same in repeats})


def _persons(
    uow: UnitOfWork, job_id: int, raw: RawChunk, header: Header, plan: dict[str, Any], actor: Actor
) -> BatchResult:
    prepared, (records, rejections, repeated) = _person_batch(raw, header, plan["repeats"], None)

    def write(uow: UnitOfWork, job_id: int) -> tuple[int, int, list[Rejection], dict[str, object]]:
        inserted = insert_persons(uow, records)
        return inserted, len(records) - inserted + repeated, [], {}

    return commit_chunk(uow, job_id=job_id, batch=prepared, rejections=rejections, write=write, actor=actor,
                        action=PERSONS_ACTION)  # fmt: skip


def _contributions(
    uow: UnitOfWork, job_id: int, raw: RawChunk, header: Header, path: Path, plan: dict[str, Any], actor: Actor
) -> BatchResult:
    rows, rejections, blank = contributions.parse_chunk(raw, header.indexes)
    deferred = set(plan["deferred"])
    batch = PreparedChunk(raw.first_line, raw.first_line + len(raw.lines) - 1, raw.start_offset, raw.end_offset,
                          rows=len(raw.lines) - blank - len(deferred), blank=blank)  # fmt: skip
    ctx = _contributions_context(path, header, plan)
    write = contributions.chunk_writer(raw, [r for r in rows if r[0] not in deferred], ctx, actor,
                                       date.fromisoformat(plan["today"]))  # fmt: skip
    return commit_chunk(uow, job_id=job_id, batch=batch, rejections=rejections, write=write, actor=actor,
                        action=contributions.AUDIT_ACTION)  # fmt: skip


def _contributions_context(path: Path, header: Header, plan: dict[str, Any]) -> contributions.ImportContext:
    with path.open("rb") as fh:
        header_bytes = fh.read(header.data_offset)
    return contributions.ImportContext(header_bytes, plan["file_sha256"], plan.get("employer_uscc"))


# ------------------------------------------------------------------------------------- the coordinator
@dataclass(slots=True)
class _Run:
    kind: str
    job_kind: str
    path: Path
    header: Header
    scan: FileScan
    actor: Actor
    engine: Engine | None
    today: date
    employer_uscc: str | None


def import_over_queue(
    *,
    kind: str,
    path: Path,
    actor: Actor,
    batch_size: int,
    observer: ImportObserver | None = None,
    engine: Engine | None = None,
    today: date | None = None,
    employer_uscc: str | None = None,
    on_wait: Callable[[float | None], None] | None = None,
) -> ImportSummary:
    """Import ``path`` (persons or contributions) with ``sscard worker`` processes; the same summary,
    rows and rejected rows as the in-process import of the same file."""
    t0 = time.perf_counter()
    queue.check_reachable()
    columns = contributions.COLUMNS if kind == contributions.KIND else PERSON_COLUMNS
    header, scan = read_header(path, columns), scan_file(path)
    job_kind = contributions.job_kind(employer_uscc) if kind == contributions.KIND else persons.KIND
    run = _Run(kind, job_kind, path, header, scan, actor, engine, today or utcnow().date(), employer_uscc)
    with unit_of_work(engine) as uow:
        job = find_job(uow=uow, kind=job_kind, file_sha256=scan.sha256, file_size=scan.size)
    reopened: tuple[int, int] | None = None
    if job is not None and job.status == ImportStatus.FINISHED:
        totals = (job.imported, job.already_present, job.rejected)
        if kind == contributions.KIND or (sum(totals) == scan.data_lines and job.last_line == scan.lines):
            return ImportSummary(job.id, 0, 0, 0, 0, time.perf_counter() - t0, 0, None, True, totals,
                                 scan.data_lines, scan.blank_lines)  # fmt: skip
        with unit_of_work(engine) as uow:  # persons: a finished job that does not add up (imports/service.py)
            uow.session.execute(delete(ImportChunk).where(ImportChunk.job_id == job.id))
            persons.reopen_job(uow, job=job, header=header, scan=scan, actor=actor)
        reopened = (sum(totals), scan.data_lines)
    with unit_of_work(engine) as uow:
        job_id, start, resumed, done, last_receipt = _open_job(uow, run)
    chunks = cut_chunks(path, header.data_offset, batch_size, done)
    final = chunks.pop() if chunks else None
    plan = _plan(run, chunks, final, done)
    done_bytes = scan.size - sum(ref.end_offset - ref.start_offset for ref in [*chunks, *([final] if final else [])])
    if observer:
        observer.started(ImportStart(job_id, scan.size, done_bytes, resumed, reopened))
    if chunks:
        _stage(path, scan)
        _send(run, job_id, chunks, plan)
        _wait(run, job_id, chunks, last_receipt, done_bytes, observer, on_wait)
    result = _finish(run, job_id, final, plan)
    if observer:
        observer.batch_committed(result)
    staged_path(scan.sha256.hex()).unlink(missing_ok=True)
    with unit_of_work(engine) as uow:
        job = uow.session.get_one(ImportJob, job_id)
        totals = (job.imported, job.already_present, job.rejected)
        batches = job.batches
    imported, already, rejected = (t - s for t, s in zip(totals, start, strict=True))
    elapsed = time.perf_counter() - t0
    return ImportSummary(job_id, imported + already + rejected, imported, already, rejected, elapsed, batches, resumed,
                         False, totals, scan.data_lines, scan.blank_lines, reopened is not None)  # fmt: skip


def _open_job(uow: UnitOfWork, run: _Run) -> tuple[int, tuple[int, int, int], int | None, list[tuple[int, int]], int]:
    """The job row ready for ranges: (id, counts so far, resumed after line, done ranges, last receipt id).

    Its resume point is set to the end of the file, so an in-process run of the same file meanwhile
    adds nothing and stops with IMPORT_UNACCOUNTED; lines an in-process run did before become one
    done range.
    """
    session, scan = uow.session, run.scan
    job = find_job(uow=uow, kind=run.job_kind, file_sha256=scan.sha256, file_size=scan.size)
    if job is None:
        now = utcnow()
        job = ImportJob(kind=run.job_kind, file_sha256=scan.sha256, file_size=scan.size, file_name=run.path.name[:255],
                        status=ImportStatus.RUNNING, last_line=scan.lines, next_offset=scan.size, started_at=now,
                        updated_at=now)  # fmt: skip
        try:
            with session.begin_nested():
                session.add(job)
        except IntegrityError:
            raise ImportConcurrent("another process started importing this file; let it finish or re-run") from None
        record_event(uow, actor=run.actor, action=QUEUE_ACTION, subject=f"import_job:{job.id}",
                     subject_key=f"import_job:{job.id}", details={"job": job.id, "done_ranges": 0})  # fmt: skip
        return job.id, (0, 0, 0), None, [], 0
    receipts = session.execute(
        select(ImportChunk.first_line, ImportChunk.last_line).where(ImportChunk.job_id == job.id)
    ).all()
    done = [(int(first), int(last)) for first, last in receipts]
    if not done and job.last_line > 1 and job.next_offset < scan.size:
        done = [(2, job.last_line)]  # the in-process run's lines, as one range
        session.add(ImportChunk(job_id=job.id, first_line=2, last_line=job.last_line, end_offset=job.next_offset))
    moved = session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.next_offset == job.next_offset)
        .values(last_line=scan.lines, next_offset=scan.size, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise ImportConcurrent("another process advanced this import job; stop one of them and re-run")
    session.flush()
    record_event(uow, actor=run.actor, action=QUEUE_ACTION, subject=f"import_job:{job.id}",
                 subject_key=f"import_job:{job.id}", details={"job": job.id, "done_ranges": len(done)})  # fmt: skip
    last_receipt = int(session.scalar(select(ImportChunk.id).where(ImportChunk.job_id == job.id)
                                      .order_by(ImportChunk.id.desc()).limit(1)) or 0)  # fmt: skip
    prefix = 1
    for first, last in sorted(done):
        if first != prefix + 1:
            break
        prefix = last
    resumed = prefix if done else None
    return job.id, (job.imported, job.already_present, job.rejected), resumed, done, last_receipt


def _plan(run: _Run, chunks: list[ChunkRef], final: ChunkRef | None, done: list[tuple[int, int]]) -> dict[int, Any]:
    """What each range (by first line) must know of the rest of the file (imports/chunks.py)."""
    refs = [*chunks, *([final] if final else [])]
    if run.kind == persons.KIND:
        repeats = person_repeats(run.path, run.header)
        by_range: dict[int, Any] = {ref.first_line: [] for ref in refs}
        starts = sorted(by_range)
        for line, (first, same) in sorted(repeats.items()):
            owner = _owner(starts, line)
            if owner is not None:
                by_range[owner].append([line, first, same])
        return by_range
    segments = sorted([*done, *((ref.first_line, ref.last_line) for ref in refs)])
    return dict(contributions.deferred_lines(run.path, run.header.indexes, run.header.data_offset, segments))


def _owner(starts: list[int], line: int) -> int | None:
    i = bisect.bisect_right(starts, line) - 1
    return starts[i] if i >= 0 else None


def _send(run: _Run, job_id: int, chunks: list[ChunkRef], plan: dict[int, Any]) -> None:
    send = chunks_actor()
    header = [list(run.header.indexes), run.header.width, run.header.data_offset]
    common: dict[str, Any] = {"file_sha256": run.scan.sha256.hex(), "today": run.today.isoformat(),
                              "employer_uscc": run.employer_uscc}  # fmt: skip
    who = actor_message(run.actor)
    for ref in chunks:
        part = plan.get(ref.first_line, [])
        extra = {"repeats": part} if run.kind == persons.KIND else {"deferred": part}
        send.send(run.kind, job_id, list(astuple(ref)), header, {**common, **extra}, who)
    log.info("import queued", job=job_id, kind=run.kind, ranges=len(chunks))


def _covered(ranges: list[tuple[int, int]], chunks: list[ChunkRef]) -> bool:
    merged: list[list[int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    starts = [m[0] for m in merged]
    for ref in chunks:
        i = bisect.bisect_right(starts, ref.first_line) - 1
        if i < 0 or merged[i][1] < ref.last_line:
            return False
    return True


def _wait(
    run: _Run,
    job_id: int,
    chunks: list[ChunkRef],
    last_receipt: int,
    done_bytes: int,
    observer: ImportObserver | None,
    on_wait: Callable[[float | None], None] | None,
) -> None:
    """Until receipts cover every queued range; each new receipt is reported as a committed batch."""
    dead_before = queue.dead_letters(chunks_actor().queue_name)
    size = {ref.first_line: ref.end_offset - ref.start_offset for ref in chunks}
    last_progress = time.monotonic()
    while True:
        with unit_of_work(run.engine) as uow:
            fresh = uow.session.scalars(
                select(ImportChunk).where(ImportChunk.job_id == job_id, ImportChunk.id > last_receipt)
                .order_by(ImportChunk.id)
            ).all()  # fmt: skip
            for receipt in fresh:
                last_receipt = receipt.id
                done_bytes += size.get(receipt.first_line, 0)
                if observer:
                    observer.batch_committed(_reported(uow, receipt, done_bytes))
            ranges = uow.session.execute(
                select(ImportChunk.first_line, ImportChunk.last_line).where(ImportChunk.job_id == job_id)
            ).all()
        if _covered([(int(a), int(b)) for a, b in ranges], chunks):
            return
        now = time.monotonic()
        if fresh:
            last_progress = now
        failed = queue.dead_letters(chunks_actor().queue_name) - dead_before
        if failed > 0:
            raise ImportChunksFailed(
                f"{failed} import range(s) failed after {queue.MAX_RETRIES} retries; the ranges done are kept. "
                "Fix the cause (see the workers' log) and run the same command again."
            )
        stalled = now - last_progress >= STALL_NOTE_S
        if on_wait:
            on_wait(now - last_progress if stalled else None)
        if stalled:
            last_progress = now
        time.sleep(POLL_S)


def _reported(uow: UnitOfWork, receipt: ImportChunk, done_bytes: int) -> BatchResult:
    """A worker's committed range as the in-process import reports a batch (progress: bytes done so far)."""
    rows = uow.session.scalars(
        select(ImportRowError).where(ImportRowError.job_id == receipt.job_id, ImportRowError.line >= receipt.first_line,
                                     ImportRowError.line <= receipt.last_line).order_by(ImportRowError.line)
    ).all()  # fmt: skip
    rejections = [Rejection(r.line, r.code, r.value_masked, r.message) for r in rows]
    batch = PreparedChunk(receipt.first_line, receipt.last_line, 0, done_bytes, rows=receipt.rows)
    return BatchResult(receipt.job_id, batch, receipt.imported, receipt.already_present, rejections)


def _finish(run: _Run, job_id: int, final: ChunkRef | None, plan: dict[int, Any]) -> BatchResult:
    """The file's last range and the job's end in one transaction, as the in-process import's last batch."""
    scan = run.scan
    cursor = JobCursor(run.job_kind, scan.sha256, scan.size, run.path.name, scan.size, scan.lines, scan.data_lines,
                       scan.lines, job_id=job_id)  # fmt: skip
    raw = read_chunk(run.path, final) if final else RawChunk(scan.lines + 1, scan.size, scan.size, [])
    if raw is None:
        raise ImportChunkChanged(f"{run.path.name} changed while it was imported")
    with unit_of_work(run.engine) as uow:
        if run.kind == persons.KIND:
            prepared, (records, rejections, repeated) = _person_batch(raw, run.header, plan.get(raw.first_line, []),
                                                                      run.engine)  # fmt: skip
            return commit_batch(uow=uow, cursor=cursor, batch=prepared, records=records, rejections=rejections,
                                actor=run.actor, final=True, repeated=repeated)  # fmt: skip
        batch, rejections, write = _contributions_end(uow, run, job_id, raw, plan)
        return commit_batch(uow=uow, cursor=cursor, batch=batch, records=[], rejections=rejections, actor=run.actor,
                            final=True, write=write, action=contributions.AUDIT_ACTION)  # fmt: skip


def _contributions_end(
    uow: UnitOfWork, run: _Run, job_id: int, raw: RawChunk, plan: dict[int, Any]
) -> tuple[PreparedChunk, list[Rejection], contributions.Writer]:
    """The deferred lines of every earlier range (in file order, each with its range's document), then
    the last range whole: what the in-process import would have done with them, in its order."""
    ctx = contributions.ImportContext(_header_bytes(run), run.scan.sha256.hex(), run.employer_uscc)
    earlier = sorted(first for first in plan if first != raw.first_line)
    documents = dict(
        uow.session.execute(
            select(ImportChunk.first_line, ImportChunk.document_id).where(
                ImportChunk.job_id == job_id, ImportChunk.first_line.in_(earlier)
            )
        ).all()
    )
    spans = dict(uow.session.execute(
        select(ImportChunk.first_line, ImportChunk.last_line).where(ImportChunk.job_id == job_id,
                                                                    ImportChunk.first_line.in_(earlier))
    ).all())  # fmt: skip
    writers: list[contributions.Writer] = []
    for chunk in segment_chunks(run.path, run.header.data_offset, sorted(spans.items())):
        wanted = set(plan[chunk.first_line])
        rows, _, _ = contributions.parse_chunk(chunk, run.header.indexes)
        writers.append(contributions.chunk_writer(chunk, [r for r in rows if r[0] in wanted], ctx, run.actor,
                                                  run.today, documents[chunk.first_line]))  # fmt: skip
    rows, rejections, blank = contributions.parse_chunk(raw, run.header.indexes)
    writers.append(contributions.chunk_writer(raw, rows, ctx, run.actor, run.today))
    batch = PreparedChunk(raw.first_line, raw.first_line + len(raw.lines) - 1, raw.start_offset, raw.end_offset,
                          rows=len(raw.lines) - blank + sum(len(plan[f]) for f in earlier), blank=blank)  # fmt: skip

    def write(uow: UnitOfWork, job_id: int) -> tuple[int, int, list[Rejection], dict[str, object]]:
        imported = already = 0
        found: list[Rejection] = []
        more: dict[str, object] = {}
        for step in writers:
            i, a, f, more = step(uow, job_id)
            imported, already, found = imported + i, already + a, found + f
        return imported, already, found, {**more, "deferred_lines": sum(len(plan[f]) for f in earlier)}

    return batch, rejections, write


def _header_bytes(run: _Run) -> bytes:
    with run.path.open("rb") as fh:
        return fh.read(run.header.data_offset)
