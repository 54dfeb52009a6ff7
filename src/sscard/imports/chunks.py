"""An import file cut into line ranges that several processes do in any order (jobs/queued_imports.py).

The in-process import walks the file once, in order, and its job row keeps one resume point. Over the
queue the ranges are done by workers in any order, so each keeps its own receipt (``ImportChunk``)
and what depended on the order is settled before any range is sent:

- persons: a later line with the ID of an earlier one is a repeat (same data: already present) or a
  conflict (other data: rejected, naming the first line), whatever the database holds; so the first
  line of each ID is found for the whole file here (``person_repeats``) and each range is told its own.
- contributions: a later range's line of the same employer, person and month as an earlier range
  depends on what the earlier line left in the database, so such lines wait for the end of the job
  (``jobs.contributions_import.deferred_lines``) and are done there, in file order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from sscard.audit import Actor
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.imports.batches import BatchResult, PreparedChunk, audit_batch, insert_rejections
from sscard.imports.models import ImportChunk, ImportJob, ImportStatus
from sscard.imports.rows import (
    Rejection,
    StageRecord,
    _parse_line,
    iter_rows,
    natural_key,
    record_digest,
)
from sscard.imports.service import split_by_first_line
from sscard.imports.source import Header, RawChunk, is_blank
from sscard.people.validation import NewPerson


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """A range of physical lines and its bytes' SHA-256 (a worker checks it read the same bytes)."""

    first_line: int
    last_line: int
    start_offset: int
    end_offset: int
    sha256: str


def file_lines(path: Path, data_offset: int) -> Iterator[tuple[int, int, bytes]]:
    """(physical line number, start offset, raw line) of every line after the header."""
    with path.open("rb") as fh:
        fh.seek(data_offset)
        offset = data_offset
        for number, raw in enumerate(fh, start=2):
            yield number, offset, raw
            offset += len(raw)


def split_lines(data: bytes) -> list[bytes]:
    """Physical lines as the file iterator cuts them (at ``\\n`` only, ends kept)."""
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    return [*out, lines[-1]] if lines[-1] else out


def cut_chunks(path: Path, data_offset: int, lines_per_chunk: int, done: list[tuple[int, int]]) -> list[ChunkRef]:
    """Ranges of at most ``lines_per_chunk`` lines over every line not in a ``done`` (first, last) range."""
    ranges = sorted(done)
    chunks: list[ChunkRef] = []
    current: tuple[int, int, Any] | None = None  # first line, start offset, digest
    count = last = end = 0

    def close() -> None:
        nonlocal current
        if current is not None:
            chunks.append(ChunkRef(current[0], last, current[1], end, current[2].hexdigest()))
            current = None

    i = 0
    for number, offset, raw in file_lines(path, data_offset):
        while i < len(ranges) and ranges[i][1] < number:
            i += 1
        if i < len(ranges) and ranges[i][0] <= number:
            close()
            continue
        if current is None:
            current, count = (number, offset, hashlib.sha256()), 0
        current[2].update(raw)
        count, last, end = count + 1, number, offset + len(raw)
        if count >= lines_per_chunk:
            close()
    close()
    return chunks


def segment_chunks(path: Path, data_offset: int, segments: list[tuple[int, int]]) -> Iterator[RawChunk]:
    """The lines of each (first, last) range, in file order (ranges sorted, not overlapping)."""
    ranges = iter(sorted(segments))
    current = next(ranges, None)
    lines: list[bytes] = []
    start = 0
    for number, offset, raw in file_lines(path, data_offset):
        while current is not None and number > current[1]:
            current = next(ranges, None)
        if current is None:
            return
        if number < current[0]:
            continue
        if number == current[0]:
            lines, start = [], offset
        lines.append(raw)
        if number == current[1]:
            yield RawChunk(current[0], start, offset + len(raw), lines)


def read_chunk(path: Path, ref: ChunkRef) -> RawChunk | None:
    """The range's lines from ``path``; None when its bytes are not the ones the coordinator cut."""
    with path.open("rb") as fh:
        fh.seek(ref.start_offset)
        data = fh.read(ref.end_offset - ref.start_offset)
    if hashlib.sha256(data).hexdigest() != ref.sha256:
        return None
    return RawChunk(ref.first_line, ref.start_offset, ref.end_offset, split_lines(data))


def _id_key(raw_id: str) -> str:
    """The 17 digits ``natural_key`` takes from a valid ID, as ``parse_citizen_id`` normalises it."""
    value = raw_id.strip().upper()
    if len(value) == 15:
        value = value[:6] + "19" + value[6:]
    return value[:17]


def person_repeats(path: Path, header: Header) -> dict[int, tuple[int, bool]]:
    """line -> (first line of its ID, same data) of every valid line repeating an earlier valid line.

    The in-process import's ``split_duplicates`` over the whole file, cheaply: one CSV pass finds the
    IDs on more than one line; only those lines are validated (no sealing).
    """
    i_id = header.indexes[0]
    need = max(header.indexes) + 1
    first: dict[str, int] = {}
    candidates: set[int] = set()
    for number, _, raw in file_lines(path, header.data_offset):
        if is_blank(raw):
            continue
        fields = _parse_line(number, raw)
        if isinstance(fields, Rejection) or len(fields) < need:
            continue
        seen = first.setdefault(_id_key(fields[i_id]), number)
        if seen != number:
            candidates.update((seen, number))
    del first
    valid: dict[int, tuple[int, bytes]] = {}
    for number, offset, raw in file_lines(path, header.data_offset):
        if number in candidates:
            for line, row in iter_rows(RawChunk(number, offset, offset + len(raw), [raw]), header):
                if isinstance(row, NewPerson):
                    valid[line] = (natural_key(row), record_digest(row))
    firsts: dict[int, tuple[int, bytes]] = {}
    repeats: dict[int, tuple[int, bool]] = {}
    for line in sorted(valid):
        person, digest = valid[line]
        first_line, first_digest = firsts.setdefault(person, (line, digest))
        if first_line != line:
            repeats[line] = (first_line, digest == first_digest)
    return repeats


def apply_repeats(
    batch: PreparedChunk, repeats: dict[int, tuple[int, bool]]
) -> tuple[list[StageRecord | bytes], list[Rejection], int]:
    """``split_duplicates`` of one range, given the file's repeats: (records, rejections, repeated)."""
    return split_by_first_line(batch, lambda line, _key, _digest: repeats.get(line, (line, True)))


class ChunkSuperseded(Exception):
    """The range was done meanwhile (another worker, an overlapping range): roll this one back."""


Write = Callable[[UnitOfWork, int], tuple[int, int, list[Rejection], dict[str, object]]]


def commit_chunk(
    uow: UnitOfWork,
    *,
    job_id: int,
    batch: PreparedChunk,
    rejections: list[Rejection],
    write: Write,
    actor: Actor,
    action: str,
) -> BatchResult:
    """Do one range in the caller's transaction: its receipt first (the claim), then its rows, rejected
    rows, the job's counters and one audit entry. ``ChunkSuperseded`` when it was done already."""
    session = uow.session
    receipt = ImportChunk(job_id=job_id, first_line=batch.first_line, last_line=batch.last_line,
                          end_offset=batch.end_offset, rows=batch.rows)  # fmt: skip
    try:
        with session.begin_nested():
            session.add(receipt)  # waits for a transaction holding the same range; fails once it committed
            session.flush()
    except IntegrityError:
        raise ChunkSuperseded(f"lines {batch.first_line}-{batch.last_line} of job {job_id} are done") from None
    imported, already, found, more = write(uow, job_id)
    rejections = sorted([*rejections, *found], key=lambda r: r.line)
    insert_rejections(uow, job_id, rejections)
    receipt.imported, receipt.already_present, receipt.rejected = imported, already, len(rejections)
    document = more.get("document")
    receipt.document_id = document if isinstance(document, int) else None
    # Counters by increment (ranges end in any order); the row lock taken here orders the commits, so
    # the overlap check below sees every range committed before this one.
    moved = session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == ImportStatus.RUNNING)
        .values(batches=ImportJob.batches + 1, imported=ImportJob.imported + imported,
                already_present=ImportJob.already_present + already,
                rejected=ImportJob.rejected + len(rejections), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise ChunkSuperseded(f"import job {job_id} is not running")
    session.flush()
    overlap = session.scalar(
        select(ImportChunk.id)
        .where(
            ImportChunk.job_id == job_id,
            ImportChunk.id != receipt.id,
            ImportChunk.first_line <= batch.last_line,
            ImportChunk.last_line >= batch.first_line,
        )
        .limit(1)
    )
    if overlap is not None:  # a range cut otherwise by an earlier run (another --batch-size) did these lines
        raise ChunkSuperseded(f"lines {batch.first_line}-{batch.last_line} of job {job_id} overlap a done range")
    counts = (imported, already, len(rejections))
    details = {"final": False, "queued": True, **more}
    audit_batch(uow, actor=actor, action=action, job_id=job_id, batch=batch, counts=counts, details=details)
    return BatchResult(job_id, batch, imported, already, rejections)
