"""``sscard contributions import``: monthly declarations from a CSV (uscc,id_number,period,base_fen).

The persons import's machinery, reused: the file scan (identity, line count, encoding), the header
check, physical-line chunks, the import job (resumable after its last committed batch; a finished
file is not imported twice), its rejected rows by line number, and the batch step (``commit_batch``:
rows, rejections, job progress and one audit entry in one transaction). What differs is the writing:
each batch is checked and posted by ``declarations.declare_batch``, the path the employer API takes.

Each batch's own bytes (the header line and its lines, exactly as in the file) are kept as a
declaration document with their SHA-256 (INS-7); the batch's audit entry carries that digest and the
whole file's. Idempotent per (employer, person, period): a line already declared with the same base is
already present, with another base it is rejected (DECLARATION_CONFLICT: a correction goes through
``correct_declaration``), in the same batch as in a later one or a later file.

An employer's own upload (the employer pages) passes ``employer_uscc``: a line of another employer is
rejected (``EMPLOYER_MISMATCH``) and the job is the employer's own (its kind names the credit code), so
one employer never sees another's job for the same file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import cast

from sqlalchemy import Engine, Table, select

from sscard.audit import Actor
from sscard.db.base import utcnow
from sscard.db.bulk import keep_statistics
from sscard.db.session import UnitOfWork, unit_of_work
from sscard.employers.models import Employer
from sscard.employers.uscc import check_uscc
from sscard.errors import DomainError
from sscard.identity import InvalidCitizenId, mask_id_number, parse_citizen_id
from sscard.identity.protected import ID_NUMBER
from sscard.imports.batches import BatchResult, JobCursor, PreparedChunk, commit_batch
from sscard.imports.chunks import segment_chunks
from sscard.imports.models import ImportStatus
from sscard.imports.rows import DUPLICATE_IN_FILE, ROW_MALFORMED, Rejection, _parse_line
from sscard.imports.service import ImportObserver, ImportStart, ImportSummary, find_job
from sscard.imports.source import RawChunk, is_blank, iter_chunks, read_header, scan_file
from sscard.insurance.declarations import (
    ALREADY_PRESENT,
    POSTED,
    ArchiveHorizon,
    DeclarationInput,
    PolicyCache,
    SystemAccounts,
    declare_batch,
)
from sscard.insurance.documents import store_document
from sscard.insurance.errors import DeclarationOtherEmployer
from sscard.insurance.models import (
    ContributionDeclaration,
    DeclarationDocument,
    DocumentSource,
    InsuranceParticipation,
    InsuranceRegistration,
)
from sscard.insurance.rules import parse_period
from sscard.ledger.models import LedgerAccount
from sscard.people.models import Person

KIND = "contributions"
COLUMNS = ("uscc", "id_number", "period", "base_fen")
DEFAULT_BATCH_SIZE = 2000
AUDIT_ACTION = "insurance.import_batch"
EMPLOYER_MISMATCH = DeclarationOtherEmployer.code


# The tables a batch looks its lines up in by lists of keys: kept analyzed while a long import grows them.
LOOKED_UP = cast(
    tuple[Table, ...],
    (Person.__table__, InsuranceRegistration.__table__, InsuranceParticipation.__table__,
     ContributionDeclaration.__table__, LedgerAccount.__table__),
)  # fmt: skip


def fresh_statistics(engine: Engine | None = None) -> None:
    """Before a batch, in a transaction of its own: ANALYZE what the import outgrew (db/bulk.py)."""
    with unit_of_work(engine) as uow:
        keep_statistics(uow, LOOKED_UP)


def job_kind(employer_uscc: str | None = None) -> str:
    """The import job's kind: the CLI's, or one employer's own uploads (at most 32 characters)."""
    return KIND if employer_uscc is None else f"{KIND}:{employer_uscc}"[:32]


class ImportContext:
    """What survives from batch to batch: employers by code, policies, the regions' system accounts, the
    months archived when the job started (a month detached while it runs is refused by the database's
    check on its next batch; the next run names it PERIOD_ARCHIVED)."""

    def __init__(self, header_bytes: bytes, file_sha256: str, only_uscc: str | None = None) -> None:
        self.header_bytes = header_bytes
        self.only_uscc = only_uscc
        self.file_sha256 = file_sha256
        self.employers: dict[str, tuple[int, str | None] | None] = {}
        self.policies = PolicyCache()
        self.system = SystemAccounts()
        self.horizon = ArchiveHorizon()


def parse_chunk(
    chunk: RawChunk, indexes: tuple[int, ...]
) -> tuple[list[tuple[int, str, str, date, int]], list[Rejection], int]:
    """(line, uscc, id number, period, base) of each well-formed line, the rejections, blank lines."""
    rows, rejections, blank = [], [], 0
    i_uscc, i_id, i_period, i_base = indexes
    need = max(indexes) + 1
    for line, raw in enumerate(chunk.lines, start=chunk.first_line):
        if is_blank(raw):
            blank += 1
            continue
        fields = _parse_line(line, raw)
        if isinstance(fields, Rejection):
            rejections.append(fields)
            continue
        if len(fields) < need:
            rejections.append(Rejection(line, ROW_MALFORMED, "", f"the row has {len(fields)} fields, not {need}"))
            continue
        uscc = check_uscc(fields[i_uscc])
        if uscc.code is not None:
            rejections.append(Rejection(line, uscc.code, uscc.uscc[:20], uscc.reason))
            continue
        try:
            cid = parse_citizen_id(fields[i_id])
        except InvalidCitizenId as exc:
            rejections.append(Rejection(line, exc.code, "", exc.detail[:200]))
            continue
        try:
            period = parse_period(fields[i_period])
        except DomainError as exc:
            rejections.append(Rejection(line, exc.code, mask_id_number(cid.number), exc.detail[:200]))
            continue
        text = fields[i_base].strip()
        if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 15:
            rejections.append(
                Rejection(line, "BASE_INVALID", mask_id_number(cid.number), "base_fen is a whole number of fen")
            )
            continue
        rows.append((line, uscc.uscc, cid.number, period, int(text)))
    return rows, rejections, blank


def deferred_lines(
    path: Path, indexes: tuple[int, ...], data_offset: int, segments: list[tuple[int, int]]
) -> dict[int, list[int]]:
    """Range (first line) -> its lines of an employer, person and month that an earlier range has too.

    In process such a line is checked against what the earlier line left in the database; over the
    queue ranges end in any order, so these lines are done at the end of the job, in file order.
    """
    owner: dict[tuple[str, str, date], int] = {}
    deferred: dict[int, list[int]] = {}
    for chunk in segment_chunks(path, data_offset, segments):
        rows, _, _ = parse_chunk(chunk, indexes)
        for line, uscc, number, period, _ in rows:
            if owner.setdefault((uscc, number, period), chunk.first_line) != chunk.first_line:
                deferred.setdefault(chunk.first_line, []).append(line)
    return deferred


Writer = Callable[[UnitOfWork, int], tuple[int, int, list[Rejection], dict[str, object]]]


def chunk_writer(
    chunk: RawChunk,
    rows: list[tuple[int, str, str, date, int]],
    ctx: ImportContext,
    actor: Actor,
    today: date,
    document_id: int | None = None,
) -> Writer:
    """The batch's write step for ``commit_batch`` (``document_id``: the chunk's document, stored before:
    lines of a queued chunk deferred to the end of the job, jobs/queued_imports.py)."""

    def write(uow: UnitOfWork, job_id: int) -> tuple[int, int, list[Rejection], dict[str, object]]:
        rejections: list[Rejection] = []
        unknown = sorted({r[1] for r in rows if r[1] not in ctx.employers})
        if unknown:
            found = {
                e.uscc: (e.id, e.industry_class)
                for e in uow.session.scalars(select(Employer).where(Employer.uscc.in_(unknown)))
            }
            for code in unknown:
                ctx.employers[code] = found.get(code)
        indexes = {number: ID_NUMBER.index(number) for number in {r[2] for r in rows}}  # one HMAC a person
        persons = {
            p.id_number_bidx: (p.id, p.status)
            for p in uow.session.execute(
                select(Person.id_number_bidx, Person.id, Person.status).where(
                    Person.id_number_bidx.in_(sorted(set(indexes.values())))
                )
            )
        }
        items: list[DeclarationInput] = []
        masked: dict[int, str] = {}
        seen: dict[tuple[int, int, date], tuple[int, int]] = {}
        repeated = 0
        for line, uscc, number, period, base in rows:
            if ctx.only_uscc is not None and uscc != ctx.only_uscc:
                rejections.append(Rejection(line, EMPLOYER_MISMATCH, uscc, "a line of another employer's credit code"))
                continue
            employer = ctx.employers.get(uscc)
            if employer is None:
                rejections.append(Rejection(line, "EMPLOYER_NOT_FOUND", uscc, "no employer with this credit code"))
                continue
            person = persons.get(indexes[number])
            masked[line] = mask_id_number(number)
            if person is None:
                rejections.append(Rejection(line, "PERSON_NOT_FOUND", masked[line], "no person with this ID number"))
                continue
            key = (employer[0], person[0], period)
            first = seen.setdefault(key, (line, base))
            if first[0] != line:
                if first[1] == base:
                    repeated += 1
                else:
                    why = f"the same employer, person and month as line {first[0]}, another base"
                    rejections.append(Rejection(line, DUPLICATE_IN_FILE, masked[line], why))
                continue
            items.append(DeclarationInput(line, employer[0], person[0], period, base, employer[1]))
        if document_id is None:
            document = store_document(
                uow, content=ctx.header_bytes + b"".join(chunk.lines), source=DocumentSource.CSV, actor=actor
            )
        else:
            document = uow.session.get_one(DeclarationDocument, document_id)
        outcomes = declare_batch(uow, items=items, document=document, actor=actor, today=today,
                                 policies=ctx.policies, system=ctx.system, horizon=ctx.horizon)  # fmt: skip
        imported = sum(1 for o in outcomes if o.status == POSTED)
        already = sum(1 for o in outcomes if o.status == ALREADY_PRESENT) + repeated
        rejections += [
            Rejection(o.line, o.code or "REJECTED", masked.get(o.line, ""), o.message[:200])
            for o in outcomes
            if o.status not in (POSTED, ALREADY_PRESENT)
        ]
        return imported, already, rejections, {"document": document.id, "sha256": document.sha256,
                                               "file_sha256": ctx.file_sha256}  # fmt: skip

    return write


def import_contributions(
    *,
    path: Path,
    actor: Actor,
    batch_size: int = DEFAULT_BATCH_SIZE,
    observer: ImportObserver | None = None,
    engine: Engine | None = None,
    today: date | None = None,
    employer_uscc: str | None = None,
    over_queue: bool = False,
    on_wait: Callable[[float | None], None] | None = None,
) -> ImportSummary:
    """Import a contributions CSV, resuming an unfinished job of the same file (``employer_uscc``: only
    that employer's lines, in a job of its own; ``over_queue``: by ``sscard worker`` processes through
    the broker, jobs/queued_imports.py, with the same result)."""
    if over_queue:
        from sscard.jobs.queued_imports import import_over_queue

        return import_over_queue(kind=KIND, path=path, actor=actor, batch_size=batch_size, observer=observer,
                                 engine=engine, today=today, employer_uscc=employer_uscc, on_wait=on_wait)  # fmt: skip
    kind = job_kind(employer_uscc)
    t0 = time.perf_counter()
    today = today or utcnow().date()
    header = read_header(path, COLUMNS)
    scan = scan_file(path)
    with path.open("rb") as fh:
        header_bytes = fh.read(header.data_offset)
    with unit_of_work(engine) as uow:
        job = find_job(uow=uow, kind=kind, file_sha256=scan.sha256, file_size=scan.size)
    if job is not None and job.status == ImportStatus.FINISHED:
        totals = (job.imported, job.already_present, job.rejected)
        return ImportSummary(job.id, 0, 0, 0, 0, time.perf_counter() - t0, 0, None, True, totals, scan.data_lines,
                             scan.blank_lines)  # fmt: skip
    cursor = JobCursor(kind, scan.sha256, scan.size, path.name, header.data_offset, 1, scan.data_lines, scan.lines)
    resumed = None
    if job is not None:
        cursor.job_id, cursor.next_offset, cursor.last_line = job.id, job.next_offset, job.last_line
        cursor.batches, cursor.imported = job.batches, job.imported
        cursor.already_present, cursor.rejected = job.already_present, job.rejected
        resumed = job.last_line
    if observer:
        observer.started(ImportStart(cursor.job_id, scan.size, cursor.next_offset, resumed))
    start = (cursor.imported, cursor.already_present, cursor.rejected)
    ctx = ImportContext(header_bytes, scan.sha256.hex(), employer_uscc)
    chunks = iter_chunks(
        path, start_offset=cursor.next_offset, first_line=cursor.last_line + 1, lines_per_chunk=batch_size
    )
    pending: RawChunk | None = None
    for chunk in chunks:
        if pending is not None:
            _commit(pending, header.indexes, ctx, cursor, actor, engine, observer, today, final=False)
        pending = chunk
    if pending is None:
        pending = RawChunk(cursor.last_line + 1, cursor.next_offset, cursor.next_offset, [])
    _commit(pending, header.indexes, ctx, cursor, actor, engine, observer, today, final=True)
    counts = (cursor.imported - start[0], cursor.already_present - start[1], cursor.rejected - start[2])
    return ImportSummary(
        cursor.job_id, sum(counts), *counts, time.perf_counter() - t0, cursor.batches, resumed, False,
        (cursor.imported, cursor.already_present, cursor.rejected), scan.data_lines, scan.blank_lines,
    )  # fmt: skip


def _commit(
    chunk: RawChunk,
    indexes: tuple[int, ...],
    ctx: ImportContext,
    cursor: JobCursor,
    actor: Actor,
    engine: Engine | None,
    observer: ImportObserver | None,
    today: date,
    *,
    final: bool,
) -> None:
    fresh_statistics(engine)
    rows, rejections, blank = parse_chunk(chunk, indexes)
    batch = PreparedChunk(chunk.first_line, chunk.first_line + len(chunk.lines) - 1, chunk.start_offset,
                          chunk.end_offset, rows=len(chunk.lines) - blank, blank=blank)  # fmt: skip
    with unit_of_work(engine) as uow:
        result: BatchResult = commit_batch(
            uow=uow,
            cursor=cursor,
            batch=batch,
            records=[],
            rejections=rejections,
            actor=actor,
            final=final,
            write=chunk_writer(chunk, rows, ctx, actor, today),
            action=AUDIT_ACTION,
        )
    result.advance(cursor)
    if observer:
        observer.batch_committed(result)
