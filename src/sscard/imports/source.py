"""Reading an import file as a stream: fingerprint, header, and raw chunks of whole CSV records.

The file is never loaded whole. Chunks are cut at line ends outside quoted fields (an RFC 4180 field
may contain a newline), and each chunk knows its byte range, so a job can resume at a byte offset.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sscard.imports.errors import ImportFileEmpty, ImportFileUnreadable, ImportHeaderInvalid, ImportMissingColumns

BOM = b"\xef\xbb\xbf"
PERSON_COLUMNS = ("id_number", "name", "phone", "email")


@dataclass(frozen=True, slots=True)
class Fingerprint:
    sha256: bytes
    size: int


@dataclass(frozen=True, slots=True)
class Header:
    """Where the wanted columns are, and where the first data line starts."""

    indexes: tuple[int, ...]  # position of each wanted column, in the order asked for
    width: int  # number of header columns
    data_offset: int  # byte offset of line 2


@dataclass(frozen=True, slots=True)
class RawChunk:
    first_line: int  # physical line number of lines[0] (the header is line 1)
    start_offset: int
    end_offset: int
    lines: list[bytes]


def _open(path: Path):  # type: ignore[no-untyped-def]
    try:
        return path.open("rb")
    except IsADirectoryError:
        raise ImportFileUnreadable(f"{path} is a directory, not a CSV file") from None
    except FileNotFoundError:
        raise ImportFileUnreadable(f"{path} does not exist") from None
    except OSError as exc:
        raise ImportFileUnreadable(f"{path} cannot be opened: {exc.strerror}") from None


def fingerprint(path: Path, *, block: int = 1 << 20) -> Fingerprint:
    """SHA-256 and size of the file, read in blocks (identifies the job across runs)."""
    digest = hashlib.sha256()
    size = 0
    with _open(path) as fh:
        try:
            while data := fh.read(block):
                digest.update(data)
                size += len(data)
        except OSError as exc:
            raise ImportFileUnreadable(f"{path} cannot be read: {exc.strerror}") from None
    return Fingerprint(digest.digest(), size)


def read_header(path: Path, wanted: tuple[str, ...] = PERSON_COLUMNS) -> Header:
    """Parse line 1 (a UTF-8 BOM is tolerated); names match case-insensitively, extra columns are ignored."""
    with _open(path) as fh:
        raw = fh.readline()
    if not raw.strip():
        raise ImportFileEmpty(f"{path.name} has no header line; expected {','.join(wanted)}")
    offset = len(raw)
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ImportHeaderInvalid("the header line is not UTF-8; save the file as UTF-8 CSV") from None
    try:
        names = [name.strip().lower() for name in next(csv.reader([text]))]
    except csv.Error as exc:
        raise ImportHeaderInvalid(f"the header line is not valid CSV: {exc}") from None
    missing = [col for col in wanted if col not in names]
    if missing:
        raise ImportMissingColumns(
            f"the header lacks column(s) {','.join(missing)}; expected {','.join(wanted)}", missing=missing
        )
    return Header(tuple(names.index(col) for col in wanted), len(names), offset)


def iter_chunks(
    path: Path, *, start_offset: int, first_line: int, lines_per_chunk: int, end_offset: int | None = None
) -> Iterator[RawChunk]:
    """Yield chunks of about ``lines_per_chunk`` physical lines, each ending on a record boundary.

    ``end_offset`` (a record boundary, such as a job's resume point) stops the stream there.
    """
    with _open(path) as fh:
        fh.seek(start_offset)
        lines: list[bytes] = []
        chunk_start, chunk_line, offset, line_no = start_offset, first_line, start_offset, first_line
        in_quotes = False
        for raw in fh:
            if end_offset is not None and offset >= end_offset:
                break
            lines.append(raw)
            offset += len(raw)
            line_no += 1
            # An odd number of quote characters toggles "inside a quoted field" (doubled quotes are even).
            if raw.count(b'"') & 1:
                in_quotes = not in_quotes
            if len(lines) >= lines_per_chunk and not in_quotes:
                yield RawChunk(chunk_line, chunk_start, offset, lines)
                lines, chunk_start, chunk_line = [], offset, line_no
        if lines:
            yield RawChunk(chunk_line, chunk_start, offset, lines)
