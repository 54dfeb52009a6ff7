"""Reading an import file as a stream: scan (fingerprint, line counts, encoding), header, raw chunks.

The file is never loaded whole. One physical line is one record: no field of a person (ID, name,
phone, email) can hold a line break, and a quote left open must cost its own line only, never the
lines after it. So chunks are cut at any line end, line numbers are physical line numbers of the
file (the header is line 1) and a chunk's byte range is an exact resume point.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sscard.imports.errors import (
    ImportFileEmpty,
    ImportFileEncoding,
    ImportFileUnreadable,
    ImportHeaderInvalid,
    ImportMissingColumns,
)

BOM = b"\xef\xbb\xbf"
PERSON_COLUMNS = ("id_number", "name", "phone", "email")


# What ``bytes.strip()`` removes: a line of only these is blank (skipped, and counted as blank).
_BLANK_LINE = re.compile(rb"^[ \t\r\x0b\x0c]*\n", re.MULTILINE)
_SHOWN_BAD_LINES = 3


def is_blank(raw: bytes) -> bool:
    """A blank physical line: skipped by the importer and counted apart from the data lines."""
    return not raw.strip()


@dataclass(frozen=True, slots=True)
class FileScan:
    """One pass over the whole file: its identity and how many lines the import must account for."""

    sha256: bytes
    size: int
    lines: int  # physical lines, the header included (the last one may lack its newline)
    blank_lines: int  # blank data lines (never rows)

    @property
    def data_lines(self) -> int:
        """Non-blank lines after the header: each must end imported, already present or rejected."""
        return max(self.lines - 1, 0) - self.blank_lines


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


def scan_file(path: Path, *, block: int = 1 << 20) -> FileScan:
    """Hash the file, count its lines and blank lines, and refuse it unless every line is UTF-8.

    A file that is not UTF-8 is refused whole, before anything is imported, naming the first bad
    lines: it is almost always a file saved in another encoding (GBK/GB18030 from a spreadsheet),
    where importing the lines that happen to decode would half-import the file, and some GBK names
    decode as valid UTF-8 gibberish (谢伟 → "лΰ") that the name rules accept — a wrong name on a card.
    """
    digest = hashlib.sha256()
    size = lines = blank = 0
    bad: list[int] = []
    bad_count = 0
    carry = b""

    def account(part: bytes) -> None:  # ``part`` is whole lines, each ending with a newline
        nonlocal lines, blank, bad_count
        blank_here = len(_BLANK_LINE.findall(part))
        if lines == 0 and _BLANK_LINE.match(part):
            blank_here -= 1  # line 1 is the header, never a data line (read_header refuses a blank one)
        blank += blank_here
        try:
            part.decode("utf-8")
        except UnicodeDecodeError:
            for number, raw in enumerate(part.split(b"\n")[:-1], start=lines + 1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    bad_count += 1
                    if len(bad) < _SHOWN_BAD_LINES:
                        bad.append(number)
        lines += part.count(b"\n")

    with _open(path) as fh:
        try:
            while data := fh.read(block):
                digest.update(data)
                size += len(data)
                buffer = carry + data
                cut = buffer.rfind(b"\n") + 1
                if cut:
                    account(buffer[:cut])
                carry = buffer[cut:]
        except OSError as exc:
            raise ImportFileUnreadable(f"{path} cannot be read: {exc.strerror}") from None
    if carry:  # a last line without its newline
        account(carry + b"\n")
    if bad_count:
        shown = ("lines " if bad_count > 1 else "line ") + ", ".join(map(str, bad))
        shown += ", …" if bad_count > len(bad) else ""
        raise ImportFileEncoding(
            f"{path.name} is not UTF-8: {bad_count} line(s) have bytes that are not UTF-8 ({shown}); "
            "convert it, e.g. iconv -f GBK -t UTF-8 FILE > FILE-utf8.csv (or save it as UTF-8 CSV), and re-run — "
            "nothing was imported",
            lines=bad,
            count=bad_count,
        )
    return FileScan(digest.digest(), size, lines, blank)


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
        raise ImportHeaderInvalid(
            "the header line is not UTF-8; convert the file, e.g. iconv -f GBK -t UTF-8 FILE > FILE-utf8.csv"
        ) from None
    if not text.strip():
        raise ImportFileEmpty(f"{path.name} has no header line; expected {','.join(wanted)}")
    try:
        names = [name.strip().lower() for name in next(csv.reader([text]))]
    except csv.Error as exc:
        raise ImportHeaderInvalid(f"the header line is not valid CSV: {exc}") from None
    missing = [col for col in wanted if col not in names]
    if missing:
        raise ImportMissingColumns(
            f"the header lacks column(s) {','.join(missing)}; expected {','.join(wanted)}"
            " (the first line must be the header) — nothing was imported",
            missing=missing,
        )
    twice = [col for col in wanted if names.count(col) > 1]
    if twice:
        raise ImportHeaderInvalid(f"the header names column(s) {','.join(twice)} more than once — nothing was imported")
    return Header(tuple(names.index(col) for col in wanted), len(names), offset)


def iter_chunks(
    path: Path, *, start_offset: int, first_line: int, lines_per_chunk: int, end_offset: int | None = None
) -> Iterator[RawChunk]:
    """Yield chunks of ``lines_per_chunk`` physical lines (the last may be shorter).

    Every line end is a record boundary (one line, one record), so every chunk's ``end_offset`` is
    an exact resume point. ``end_offset`` (such as a job's resume point) stops the stream there.
    """
    with _open(path) as fh:
        fh.seek(start_offset)
        lines: list[bytes] = []
        chunk_start, chunk_line, offset = start_offset, first_line, start_offset
        for raw in fh:
            if end_offset is not None and offset >= end_offset:
                break
            lines.append(raw)
            offset += len(raw)
            if len(lines) >= lines_per_chunk:
                yield RawChunk(chunk_line, chunk_start, offset, lines)
                chunk_line += len(lines)
                lines, chunk_start = [], offset
        if lines:
            yield RawChunk(chunk_line, chunk_start, offset, lines)
