"""Import jobs and their rejected rows.

A job is one file, identified by its SHA-256 and size: re-running the same file finds the job and
resumes it (or reports it finished); any other file is a new job. The job row is updated in the same
transaction as each batch of imported rows, so its counters and ``next_offset`` are exactly what the
database holds, whatever moment the process was killed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Enum, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sscard.db.base import Base, utcnow
from sscard.db.ids import ROW_ID


class ImportStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"


class ImportJob(Base):
    __tablename__ = "import_job"
    __table_args__ = (UniqueConstraint("kind", "file_sha256", "file_size"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # "persons"
    file_sha256: Mapped[bytes] = mapped_column(LargeBinary(32))
    file_size: Mapped[int] = mapped_column(BigInteger)
    file_name: Mapped[str] = mapped_column(String(255))  # base name only, for the operator
    status: Mapped[ImportStatus] = mapped_column(
        Enum(ImportStatus, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]),
        default=ImportStatus.RUNNING,
    )
    # Resume point: the last physical line committed (header = line 1) and the byte offset after it.
    last_line: Mapped[int] = mapped_column(Integer, default=1)
    next_offset: Mapped[int] = mapped_column(BigInteger)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    already_present: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"ImportJob(id={self.id}, kind={self.kind}, status={self.status}, last_line={self.last_line})"


class ImportRowError(Base):
    """One rejected row: line number, stable reason code and a masked value (never a full ID)."""

    __tablename__ = "import_row_error"
    __table_args__ = (UniqueConstraint("job_id", "line"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("import_job.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    value_masked: Mapped[str] = mapped_column(String(80))
    message: Mapped[str] = mapped_column(String(200))


class ImportChunk(Base):
    """A line range of a job done by a queue worker (jobs/queued_imports.py): its claim and its receipt.

    Inserted first in the chunk's own transaction, so a chunk handed to a second worker (redelivery) is
    done at most once: the second insert waits for the first transaction and fails if it committed.
    The counts are the chunk's share of the job's counters, for the progress the coordinator shows.
    """

    __tablename__ = "import_chunk"
    __table_args__ = (UniqueConstraint("job_id", "first_line"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True)
    job_id: Mapped[int] = mapped_column(ROW_ID, ForeignKey("import_job.id", ondelete="CASCADE"))
    first_line: Mapped[int] = mapped_column(Integer)
    last_line: Mapped[int] = mapped_column(Integer)
    end_offset: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    already_present: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    # The contributions import's declaration document of the chunk (its lines deferred to the end use it).
    document_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
