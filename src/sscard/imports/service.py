"""``import persons``: stream a CSV of persons into the ``person`` table, idempotently and resumably.

The run is a sequence of batch steps, each its own transaction (persons + rejected rows + job
progress + one audit entry). Idempotent: persons are keyed by the blind index of their ID, so a
re-run or an overlapping file inserts nobody twice. Resumable: the job (file SHA-256 + size)
remembers the byte offset after its last committed batch; a re-run after a kill continues there,
and the counters end exactly as if the run had never stopped.

Every line is accounted for: each non-blank line after the header ends imported, already present
(in the database, or an exact repeat of an earlier line) or rejected with its line number. The
importer checks that against its own count of the file's lines before it marks a job finished, and
a job marked finished that does not add up (an earlier version lost lines after an open quote) is
reopened and the whole file imported again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete, select, update

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.identity import mask_id_number
from sscard.identity.citizen_id import check_character
from sscard.imports.batches import BatchResult, JobCursor, PreparedChunk
from sscard.imports.errors import ImportConcurrent, ImportJobNotFound
from sscard.imports.models import ImportJob, ImportRowError, ImportStatus
from sscard.imports.pipeline import prepared_chunks
from sscard.imports.rows import DUPLICATE_IN_FILE, Rejection, StageRecord
from sscard.imports.source import FileScan, Header

KIND = "persons"
DEFAULT_BATCH_SIZE = 5000
REOPEN_ACTION = "person.import_reopen"


@dataclass(frozen=True, slots=True)
class ImportStart:
    job_id: int | None
    file_size: int
    start_offset: int  # bytes already done before this run (header, or the resume point)
    resumed_after_line: int | None  # set when an earlier run of this file was resumed
    # (lines accounted for, data lines) of a job marked finished that did not add up, now reopened
    reopened: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class ImportSummary:
    job_id: int | None
    rows: int  # rows handled by this run
    imported: int
    already_present: int
    rejected: int
    elapsed: float
    batches: int  # committed batches of the job, all runs
    resumed_after_line: int | None = None
    previously_finished: bool = False  # the same file was imported completely before: nothing done
    job_totals: tuple[int, int, int] = (0, 0, 0)  # imported, already present, rejected over all runs
    data_lines: int = 0  # non-blank lines after the header in the file: the job totals add up to this
    blank_lines: int = 0  # blank lines in the file (skipped)
    reopened: bool = False  # a job marked finished did not add up and was imported again

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.elapsed if self.elapsed > 0 else 0.0


class ImportObserver(Protocol):
    def started(self, start: ImportStart) -> None: ...

    def batch_committed(self, result: BatchResult) -> None: ...


def remember_committed_keys(
    path: Path,
    header: Header,
    cursor: JobCursor,
    batch_size: int,
    workers: int,
    seen: dict[int, tuple[int, bytes]],
) -> None:
    """Rebuild the duplicate detector over the part committed by earlier runs (validation, no crypto)."""
    chunks = prepared_chunks(
        path,
        header,
        start_offset=header.data_offset,
        first_line=2,
        end_offset=cursor.next_offset,
        batch_size=batch_size,
        workers=workers,
        seal=False,
    )
    for chunk in chunks:
        for line, key, digest, _ in chunk.persons:
            seen.setdefault(key, (line, digest))


def split_duplicates(
    batch: PreparedChunk, seen: dict[int, tuple[int, bytes]]
) -> tuple[list[StageRecord | bytes], list[Rejection], int]:
    """(records to insert, rejections, rows repeating an earlier line exactly: already present).

    A second line with the same ID and the same name, phone and email is the same person again:
    already present. The same ID with other data is a conflict the operator must settle: rejected,
    naming the first line (the first one wins, as an insert would).
    """

    def first_of(line: int, key: int, digest: bytes) -> tuple[int, bool]:
        first, first_digest = seen.setdefault(key, (line, digest))
        return first, digest == first_digest

    return split_by_first_line(batch, first_of)


def split_by_first_line(
    batch: PreparedChunk, first_of: Callable[[int, int, bytes], tuple[int, bool]]
) -> tuple[list[StageRecord | bytes], list[Rejection], int]:
    """``split_duplicates`` given, for each valid row, (the first line of its ID, the same data as there)."""
    records: list[StageRecord | bytes] = []
    rejections = list(batch.rejections)
    repeated = 0
    for line, key, digest, record in batch.persons:
        first, same = first_of(line, key, digest)
        if first == line:
            if record is not None:
                records.append(record)
        elif same:
            repeated += 1
        else:
            number = str(key) + check_character(str(key))
            rejections.append(
                Rejection(line, DUPLICATE_IN_FILE, mask_id_number(number), f"the same ID as line {first}, other data")
            )
    rejections.sort(key=lambda r: r.line)
    return records, rejections, repeated


def reopen_job(uow: UnitOfWork, *, job: ImportJob, header: Header, scan: FileScan, actor: Actor) -> ImportJob:
    """Restart a job marked finished whose counts do not add up to the file's lines (none is trusted).

    Its rejected rows are dropped and its counters zeroed in one transaction (the job's) with an audit entry;
    the whole file is then imported again: persons already in count as already present, nobody twice.
    """
    session = uow.session
    session.execute(delete(ImportRowError).where(ImportRowError.job_id == job.id))
    moved = session.execute(
        update(ImportJob)
        .where(ImportJob.id == job.id, ImportJob.status == ImportStatus.FINISHED)
        .values(
            status=ImportStatus.RUNNING,
            next_offset=header.data_offset,
            last_line=1,
            imported=0,
            already_present=0,
            rejected=0,
            finished_at=None,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise ImportConcurrent("another process reopened this import job; let it finish or re-run")
    record_event(
        uow,
        actor=actor,
        action=REOPEN_ACTION,
        subject=f"import_job:{job.id}",
        subject_key=f"import_job:{job.id}",
        details={
            "job": job.id,
            "accounted": job.imported + job.already_present + job.rejected,
            "data_lines": scan.data_lines,
            "last_line": job.last_line,
            "file_lines": scan.lines,
        },
    )
    return get_job_or_raise(uow=uow, job_id=job.id)


def find_job(*, uow: UnitOfWork, kind: str, file_sha256: bytes, file_size: int) -> ImportJob | None:
    """Return the job of this exact file, if any."""
    return uow.session.scalar(
        select(ImportJob).where(
            ImportJob.kind == kind, ImportJob.file_sha256 == file_sha256, ImportJob.file_size == file_size
        )
    )


def get_job_or_raise(*, uow: UnitOfWork, job_id: int) -> ImportJob:
    """Return the job or raise ``ImportJobNotFound``."""
    job = uow.session.get(ImportJob, job_id)
    if job is None:
        raise ImportJobNotFound(f"no import job {job_id}")
    return job


def list_row_errors(*, uow: UnitOfWork, job_id: int, limit: int | None = None) -> list[ImportRowError]:
    """Return the job's rejected rows in line order."""
    stmt = select(ImportRowError).where(ImportRowError.job_id == job_id).order_by(ImportRowError.line).limit(limit)
    return list(uow.session.scalars(stmt))
