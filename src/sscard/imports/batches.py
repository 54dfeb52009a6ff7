"""Turning raw chunks into prepared batches, and committing one batch (a batch step).

``prepare_chunk`` is pure CPU work (parse, validate, seal) with picklable input and output, so it can
run in a worker process. ``commit_batch`` runs in the caller's unit of work: the persons, the rejected
rows, the job's counters and resume point, and one audit entry are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.imports.errors import ImportConcurrent, ImportUnaccounted
from sscard.imports.models import ImportJob, ImportRowError, ImportStatus
from sscard.imports.rows import (
    Rejection,
    StageRecord,
    check_stage_columns,
    iter_rows,
    natural_key,
    record_digest,
    seal_persons,
)
from sscard.imports.source import Header, RawChunk
from sscard.imports.writers import encode_copy_row, insert_persons
from sscard.people.validation import NewPerson

AUDIT_ACTION = "person.import_batch"


@dataclass(slots=True)
class PreparedChunk:
    first_line: int
    last_line: int
    start_offset: int
    end_offset: int
    rows: int = 0  # records seen (valid + rejected); blank lines are not rows
    blank: int = 0  # blank lines
    # (line, key, digest, payload): natural key, record_digest, and the staging tuple, its binary
    # COPY encoding, or None when not sealed
    persons: list[tuple[int, int, bytes, StageRecord | bytes | None]] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def prepare_chunk(chunk: RawChunk, header: Header, *, seal: bool = True, copy_binary: bool = False) -> PreparedChunk:
    """Parse and validate every record of the chunk; seal the valid ones unless ``seal`` is false.

    ``copy_binary`` also encodes each sealed row for PostgreSQL's binary COPY.
    """
    out = PreparedChunk(chunk.first_line, chunk.first_line + len(chunk.lines) - 1, chunk.start_offset, chunk.end_offset)
    persons, rejections = out.persons, out.rejections
    valid: list[tuple[int, NewPerson]] = []
    for line, row in iter_rows(chunk, header):
        if row is None:
            out.blank += 1
            continue
        out.rows += 1
        if isinstance(row, Rejection):
            rejections.append(row)
            continue
        valid.append((line, row))
    payloads: list[StageRecord | bytes | None] = [None] * len(valid)
    if seal and valid:
        check_stage_columns(valid[0][1])
        # The whole chunk in two security-module calls (seals, blind indexes): keys checked once.
        records = seal_persons([person for _, person in valid])
        payloads = [encode_copy_row(r) for r in records] if copy_binary else list(records)
    for (line, row), payload in zip(valid, payloads, strict=True):
        persons.append((line, natural_key(row), record_digest(row), payload))
    # Every physical line of the chunk is a row or a blank line: none may vanish in parsing.
    if out.rows + out.blank != len(chunk.lines) or out.rows != len(persons) + len(rejections):
        raise ImportUnaccounted(
            f"lines {out.first_line}-{out.last_line}: {len(chunk.lines)} lines but {len(persons)} valid, "
            f"{len(rejections)} rejected and {out.blank} blank"
        )
    return out


@dataclass(slots=True)
class JobCursor:
    """What the running import knows of its job; ``job_id`` is None until the first batch commits."""

    kind: str
    file_sha256: bytes
    file_size: int
    file_name: str
    next_offset: int
    last_line: int
    # What the finished job must account for (imports.source.FileScan): every non-blank line after
    # the header imported, already present or rejected, and the last line of the file reached.
    data_lines: int = 0
    file_lines: int = 1
    job_id: int | None = None
    batches: int = 0
    imported: int = 0
    already_present: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class BatchResult:
    job_id: int
    batch: PreparedChunk
    imported: int
    already_present: int
    rejections: list[Rejection]

    def advance(self, cursor: JobCursor) -> None:
        """Apply this committed batch to the in-memory cursor (call only after the commit)."""
        cursor.job_id = self.job_id
        cursor.next_offset = self.batch.end_offset
        cursor.last_line = self.batch.last_line
        cursor.batches += 1
        cursor.imported += self.imported
        cursor.already_present += self.already_present
        cursor.rejected += len(self.rejections)


def commit_batch(
    *,
    uow: UnitOfWork,
    cursor: JobCursor,
    batch: PreparedChunk,
    records: list[StageRecord | bytes],
    rejections: list[Rejection],
    actor: Actor,
    final: bool,
    repeated: int = 0,
    write: Callable[[UnitOfWork, int], tuple[int, int, list[Rejection], dict[str, object]]] | None = None,
    action: str = AUDIT_ACTION,
) -> BatchResult:
    """Write one batch: persons, rejected rows, job progress (compare-and-set) and its audit entry.

    ``repeated`` rows repeat an earlier line of the file exactly: already present, not written again.
    The final batch also checks the job's own accounting (``ImportUnaccounted`` rolls it back, so
    a job that cannot account for every line of its file is never marked finished).

    One audit entry per batch, not per person: a million-person import must not write a million
    chain links. The entry (job, line range, counts — no personal data) together with the job row
    and its rejected rows is the evidence of what the import changed.

    ``write`` (other imports than persons: contributions) writes the batch itself, given the job id,
    and answers (imported, already present, rejected rows it found, details for the audit entry).
    """
    session = uow.session
    now = utcnow()
    if cursor.job_id is None:
        # The job row is born with its first batch: a run killed before any commit leaves nothing behind.
        job = ImportJob(
            kind=cursor.kind,
            file_sha256=cursor.file_sha256,
            file_size=cursor.file_size,
            file_name=cursor.file_name[:255],
            status=ImportStatus.RUNNING,
            last_line=cursor.last_line,
            next_offset=cursor.next_offset,
            started_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(job)
        except IntegrityError:
            # Another run of the same file created the job first (the unique key is the file's hash).
            raise ImportConcurrent("another process started importing this file; let it finish or re-run") from None
        job_id = job.id
    else:
        job_id = cursor.job_id
    more: dict[str, object] = {}
    if write is None:
        imported = insert_persons(uow, records)
        already = len(records) - imported + repeated
    else:
        imported, already, found, more = write(uow, job_id)
        already += repeated
        rejections = sorted([*rejections, *found], key=lambda r: r.line)
    insert_rejections(uow, job_id, rejections)
    values: dict[str, object] = {
        "last_line": batch.last_line,
        "next_offset": batch.end_offset,
        "batches": ImportJob.batches + 1,
        "imported": ImportJob.imported + imported,
        "already_present": ImportJob.already_present + already,
        "rejected": ImportJob.rejected + len(rejections),
        "updated_at": now,
    }
    if final:
        values.update(status=ImportStatus.FINISHED, finished_at=now)
    # Compare-and-set on the resume point: a second process on the same file cannot double-count.
    moved = session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.next_offset == cursor.next_offset)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise ImportConcurrent("another process advanced this import job; stop one of them and re-run")
    if final:
        _check_accounting(uow, cursor, job_id)
    audit_batch(uow, actor=actor, action=action, job_id=job_id, batch=batch,
                counts=(imported, already, len(rejections)), details={"final": final, **more})  # fmt: skip
    return BatchResult(job_id, batch, imported, already, rejections)


def insert_rejections(uow: UnitOfWork, job_id: int, rejections: list[Rejection]) -> None:
    """The job's rejected rows, by line (in the batch's transaction)."""
    if rejections:
        uow.session.execute(
            insert(ImportRowError),
            [
                {"job_id": job_id, "line": r.line, "code": r.code, "value_masked": r.value_masked,
                 "message": r.message[:200]}
                for r in rejections
            ],
        )  # fmt: skip


def audit_batch(
    uow: UnitOfWork,
    *,
    actor: Actor,
    action: str,
    job_id: int,
    batch: PreparedChunk,
    counts: tuple[int, int, int],
    details: dict[str, object],
) -> None:
    """The batch's one audit entry: job, line range and counts, never personal data."""
    imported, already, rejected = counts
    record_event(
        uow,
        actor=actor,
        action=action,
        subject=f"import_job:{job_id}",
        subject_key=f"import_job:{job_id}",
        details={"job": job_id, "first_line": batch.first_line, "last_line": batch.last_line, "imported": imported,
                 "already_present": already, "rejected": rejected, **details},
    )  # fmt: skip


def _check_accounting(uow: UnitOfWork, cursor: JobCursor, job_id: int) -> None:
    """The job, as the database now holds it, accounts for every line of the file (or raise)."""
    imported, already, rejected, last_line = uow.session.execute(
        select(ImportJob.imported, ImportJob.already_present, ImportJob.rejected, ImportJob.last_line).where(
            ImportJob.id == job_id
        )
    ).one()
    if imported + already + rejected != cursor.data_lines or last_line != cursor.file_lines:
        raise ImportUnaccounted(
            f"import job {job_id} cannot account for every line: the file has {cursor.data_lines} data lines "
            f"(last line {cursor.file_lines}), the job {imported} imported + {already} already present + "
            f"{rejected} rejected up to line {last_line}; the job is left unfinished"
        )
