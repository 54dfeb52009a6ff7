"""One CSV row of ``import persons``: validate it with the shared person rules and seal it.

The rules are ``sscard.people.validation.prepare_person`` — the same as ``sscard person add`` — so a
row the importer accepts is one the counter would accept. Each rejection carries the physical line
where its record starts, a stable reason code and a masked value, never a full ID, phone or email (ID-5).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import cast

from sscard.errors import DomainError
from sscard.identity import InvalidCitizenId, mask_email, mask_id_number, mask_name, mask_phone
from sscard.imports.source import Header, RawChunk
from sscard.people.errors import EmailInvalid, NameInvalid, PhoneInvalid
from sscard.people.validation import NewPerson, prepare_person

# Stable reason codes of a rejected row that the person rules (people.validation) do not raise.
ROW_MALFORMED = "ROW_MALFORMED"
ROW_ENCODING = "ROW_ENCODING"
DUPLICATE_IN_FILE = "DUPLICATE_IN_FILE"

# Which field a rule failure is about, and how that field is masked in the report (ID-5).
_FAULT_FIELD: dict[type[DomainError], tuple[int, Callable[[str], str]]] = {
    InvalidCitizenId: (0, mask_id_number),
    NameInvalid: (1, mask_name),
    PhoneInvalid: (2, mask_phone),
    EmailInvalid: (3, mask_email),
}


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    code: str
    value_masked: str
    message: str


# The staging row, in COPY order: exactly the keys of ``NewPerson.columns()`` (checked per chunk).
STAGE_COLUMNS = (
    "id_number_enc",
    "id_number_bidx",
    "name_enc",
    "name_bidx",
    "gender",
    "birth_date",
    "region_code",
    "phone_enc",
    "phone_bidx",
    "email_enc",
    "email_bidx",
)
StageRecord = tuple[bytes, bytes, bytes, bytes, str, date, str, bytes | None, bytes | None, bytes | None, bytes | None]
_stage_values = itemgetter(*STAGE_COLUMNS)


def _masked(mask: Callable[[str], str], raw: str) -> str:
    """Mask a rejected value; a malformed one may be short, so never show more than half of it."""
    value = raw.strip()[:40]
    masked = mask(value)
    if sum(ch != "*" for ch in masked) * 2 > len(value):
        keep = len(value) // 4
        masked = value[:keep] + "*" * (len(value) - keep)
    return masked


def validate_row(line: int, fields: tuple[str, str, str, str]) -> NewPerson | Rejection:
    """Apply the person rules shared with ``person add`` (ID-1..3, PER-1) to (id, name, phone, email)."""
    try:
        return prepare_person(id_number=fields[0], name=fields[1], phone=fields[2], email=fields[3])
    except (InvalidCitizenId, NameInvalid, PhoneInvalid, EmailInvalid) as exc:
        index, mask = next(field for kind, field in _FAULT_FIELD.items() if isinstance(exc, kind))
        return Rejection(line, exc.code, _masked(mask, fields[index]), exc.detail)


def natural_key(person: NewPerson) -> int:
    """Key within a file: the 17 digits of a valid ID fix its check character."""
    return int(person.citizen_id.number[:17])


def seal_person(person: NewPerson) -> StageRecord:
    """The staging row: protected fields sealed and blind-indexed (ID-5), the rest derived from the ID."""
    columns = person.columns()
    return cast(StageRecord, _stage_values(columns))


def check_stage_columns(person: NewPerson) -> None:
    """Fail loudly if the person columns change shape (the staging table would silently drop one)."""
    columns = tuple(person.columns())
    if set(columns) != set(STAGE_COLUMNS):
        raise RuntimeError(f"person columns changed: {sorted(columns)}; update imports.rows.STAGE_COLUMNS")


def _decoded(chunk: RawChunk, bad_lines: set[int]) -> Iterator[str]:
    line = chunk.first_line
    for raw in chunk.lines:
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            bad_lines.add(line)
            yield raw.decode("utf-8", "replace")
        line += 1


def iter_rows(chunk: RawChunk, header: Header) -> Iterator[tuple[int, NewPerson | Rejection]]:
    """Parse a chunk's records and validate each; blank lines are skipped, not counted."""
    bad_lines: set[int] = set()
    reader = csv.reader(_decoded(chunk, bad_lines), strict=True)
    i_id, i_name, i_phone, i_email = header.indexes
    need = max(header.indexes) + 1
    base = chunk.first_line - 1
    consumed = 0  # physical lines the reader has taken so far
    while True:
        start = base + consumed + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            consumed = reader.line_num
            yield start, Rejection(start, ROW_MALFORMED, "", f"not valid CSV: {exc}")
            continue
        consumed = reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if start in bad_lines:
            yield start, Rejection(start, ROW_ENCODING, "", "the line is not valid UTF-8")
        elif len(fields) < need:
            yield (
                start,
                Rejection(start, ROW_MALFORMED, "", f"the row has {len(fields)} fields, the header {header.width}"),
            )
        else:
            yield start, validate_row(start, (fields[i_id], fields[i_name], fields[i_phone], fields[i_email]))
