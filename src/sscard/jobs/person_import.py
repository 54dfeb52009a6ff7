"""The ``import persons`` job: the run of batch steps, each its own unit of work (``imports/service.py``
says what a step writes and how a run resumes; this module only drives the steps and commits them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from sscard.audit import Actor
from sscard.db.session import get_engine, unit_of_work
from sscard.imports.batches import JobCursor, PreparedChunk, commit_batch
from sscard.imports.models import ImportStatus
from sscard.imports.pipeline import default_workers, prepared_chunks
from sscard.imports.service import (
    DEFAULT_BATCH_SIZE,
    KIND,
    ImportObserver,
    ImportStart,
    ImportSummary,
    find_job,
    remember_committed_keys,
    reopen_job,
    split_duplicates,
)
from sscard.imports.source import read_header, scan_file
from sscard.security_module import get_security_module


def import_persons(
    *,
    path: Path,
    actor: Actor,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    observer: ImportObserver | None = None,
    engine: Engine | None = None,
    over_queue: bool = False,
    on_wait: Callable[[float | None], None] | None = None,
) -> ImportSummary:
    """Import a persons CSV (id_number,name,phone,email), resuming an unfinished job of the same file.

    ``over_queue``: the file's line ranges are done by ``sscard worker`` processes through the broker
    (jobs/queued_imports.py; ``workers`` is then theirs), with the same result."""
    if over_queue:
        from sscard.jobs.queued_imports import import_over_queue

        return import_over_queue(kind=KIND, path=path, actor=actor, batch_size=batch_size, observer=observer,
                                 engine=engine, on_wait=on_wait)  # fmt: skip
    t0 = time.perf_counter()
    header = read_header(path)
    # One pass over the whole file before anything is written: its identity, the lines the job must
    # account for, and the encoding (a file that is not UTF-8 is refused whole).
    scan = scan_file(path)
    # Open the security module before any worker forks: the children inherit it instead of each
    # opening (or, on a fresh data dir, racing to create) the key file.
    get_security_module()
    with unit_of_work(engine) as uow:
        job = find_job(uow=uow, kind=KIND, file_sha256=scan.sha256, file_size=scan.size)
    reopened: tuple[int, int] | None = None
    if job is not None and job.status == ImportStatus.FINISHED:
        totals = (job.imported, job.already_present, job.rejected)
        if sum(totals) == scan.data_lines and job.last_line == scan.lines:
            return ImportSummary(
                job.id, 0, 0, 0, 0, time.perf_counter() - t0, 0, None, True, totals, scan.data_lines, scan.blank_lines
            )
        reopened = (sum(totals), scan.data_lines)
        with unit_of_work(engine) as uow:
            job = reopen_job(uow, job=job, header=header, scan=scan, actor=actor)
    cursor = JobCursor(KIND, scan.sha256, scan.size, path.name, header.data_offset, 1, scan.data_lines, scan.lines)
    seen: dict[int, tuple[int, bytes]] = {}  # natural key -> (first line, record digest), for repeats in the file
    if workers is None:
        workers = default_workers(scan.size)
    resumed = None
    if job is not None:
        cursor.job_id, cursor.next_offset, cursor.last_line = job.id, job.next_offset, job.last_line
        cursor.batches, cursor.imported = job.batches, job.imported
        cursor.already_present, cursor.rejected = job.already_present, job.rejected
        if reopened is None:
            resumed = job.last_line
        remember_committed_keys(path, header, cursor, batch_size, workers, seen)
    if observer:
        observer.started(ImportStart(cursor.job_id, scan.size, cursor.next_offset, resumed, reopened))
    start_counts = (cursor.imported, cursor.already_present, cursor.rejected)
    pending: PreparedChunk | None = None
    stream = prepared_chunks(
        path,
        header,
        start_offset=cursor.next_offset,
        first_line=cursor.last_line + 1,
        batch_size=batch_size,
        workers=workers,
        copy_binary=(engine or get_engine()).dialect.name == "postgresql",
    )
    for prepared in stream:
        if pending is not None:
            _commit(pending, seen, cursor, actor, engine, observer, final=False)
        pending = prepared
    if pending is None:  # nothing after the resume point (or a header-only file): close the job
        pending = PreparedChunk(cursor.last_line + 1, cursor.last_line, cursor.next_offset, cursor.next_offset)
    _commit(pending, seen, cursor, actor, engine, observer, final=True)
    imported = cursor.imported - start_counts[0]
    already = cursor.already_present - start_counts[1]
    rejected = cursor.rejected - start_counts[2]
    return ImportSummary(
        cursor.job_id,
        imported + already + rejected,
        imported,
        already,
        rejected,
        time.perf_counter() - t0,
        cursor.batches,
        resumed,
        False,
        (cursor.imported, cursor.already_present, cursor.rejected),
        scan.data_lines,
        scan.blank_lines,
        reopened is not None,
    )


def _commit(
    batch: PreparedChunk,
    seen: dict[int, tuple[int, bytes]],
    cursor: JobCursor,
    actor: Actor,
    engine: Engine | None,
    observer: ImportObserver | None,
    *,
    final: bool,
) -> None:
    records, rejections, repeated = split_duplicates(batch, seen)
    with unit_of_work(engine) as uow:
        result = commit_batch(
            uow=uow,
            cursor=cursor,
            batch=batch,
            records=records,
            rejections=rejections,
            actor=actor,
            final=final,
            repeated=repeated,
        )
    result.advance(cursor)
    if observer:
        observer.batch_committed(result)
