"""One CSV row of ``import persons``: validate it with the shared person rules and seal it.

The rules are ``sscard.people.validation.prepare_person`` — the same as ``sscard person add`` — so a
row the importer accepts is one the counter would accept. Each rejection carries the physical line
where its record stands, a stable reason code and a masked value, never a full ID, phone or email (ID-5).
One physical line is one record (see ``imports.source``): a line whose quote is left open is rejected
as ``CSV_UNBALANCED_QUOTE`` and the next line is read as the next record.
"""

from __future__ import annotations

import csv
import hashlib
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import cast

from sscard.errors import DomainError
from sscard.identity import InvalidCitizenId, mask_email, mask_id_number, mask_name, mask_phone
from sscard.identity.protected import (
    EMAIL,
    ID_NUMBER,
    NAME,
    PHONE,
    FieldKind,
    RowBinding,
    index_many,
    person_row,
    seal_many,
)
from sscard.imports.source import Header, RawChunk, is_blank
from sscard.people.errors import EmailInvalid, NameInvalid, PhoneInvalid
from sscard.people.validation import NewPerson, email_index_key, name_index_key, prepare_person

# Stable reason codes of a rejected row that the person rules (people.validation) do not raise.
ROW_MALFORMED = "ROW_MALFORMED"
ROW_ENCODING = "ROW_ENCODING"
CSV_UNBALANCED_QUOTE = "CSV_UNBALANCED_QUOTE"
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


def _printable(text: str) -> str:
    """Control characters (NUL above all: PostgreSQL cannot store it in text) shown as U+FFFD, so the
    rejection itself can be recorded and the rest of the file still imports."""
    return "".join("\ufffd" if unicodedata.category(ch) == "Cc" else ch for ch in text)


def _masked(mask: Callable[[str], str], raw: str) -> str:
    """Mask a rejected value; a malformed one may be short, so never show more than half of it."""
    value = _printable(raw.strip()[:40])
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
        return Rejection(line, exc.code, _masked(mask, fields[index]), _printable(exc.detail))


def natural_key(person: NewPerson) -> int:
    """Key within a file: the 17 digits of a valid ID fix its check character."""
    return int(person.citizen_id.number[:17])


def seal_person(person: NewPerson) -> StageRecord:
    """The staging row: protected fields sealed and blind-indexed (ID-5), the rest derived from the ID."""
    columns = person.columns()
    return cast(StageRecord, _stage_values(columns))


def seal_persons(persons: Sequence[NewPerson]) -> list[StageRecord]:
    """``seal_person`` of many persons with three security-module calls in all (the ID indexes that bind
    each row, every seal, the other blind indexes), so the keys are checked and loaded once per chunk."""
    # The citizen IDs' blind indexes first: every sealed value is bound to its row by it.
    id_bidxs = index_many([(ID_NUMBER, p.citizen_id.number) for p in persons])
    seals: list[tuple[FieldKind, str, RowBinding]] = []
    indexes: list[tuple[FieldKind, str]] = []
    for person, bidx in zip(persons, id_bidxs, strict=True):
        seals += ((ID_NUMBER, person.citizen_id.number, person_row("id_number_enc", bidx)),
                  (NAME, person.name, person_row("name_enc", bidx)))  # fmt: skip
        indexes.append((NAME, name_index_key(person.name)))
        if person.phone:
            seals.append((PHONE, person.phone, person_row("phone_enc", bidx)))
            indexes.append((PHONE, person.phone))
        if person.email:
            seals.append((EMAIL, person.email, person_row("email_enc", bidx)))
            indexes.append((EMAIL, email_index_key(person.email)))
    sealed, indexed = iter(seal_many(seals)), iter(index_many(indexes))
    out: list[StageRecord] = []
    for person, id_bidx in zip(persons, id_bidxs, strict=True):
        cid = person.citizen_id
        id_enc, name_enc, name_bidx = next(sealed), next(sealed), next(indexed)
        phone = (next(sealed), next(indexed)) if person.phone else (None, None)
        email = (next(sealed), next(indexed)) if person.email else (None, None)
        out.append((id_enc, id_bidx, name_enc, name_bidx, cid.gender, cid.birth_date, cid.region_code, *phone, *email))
    return out


def check_stage_columns(person: NewPerson) -> None:
    """Fail loudly if the person columns change shape (the staging table would silently drop one)."""
    columns = tuple(person.columns())
    if set(columns) != set(STAGE_COLUMNS):
        raise RuntimeError(f"person columns changed: {sorted(columns)}; update imports.rows.STAGE_COLUMNS")


def record_digest(person: NewPerson) -> bytes:
    """What a row says about its person, beyond the ID: equal digests mean a repeated line, not a conflict."""
    text = "\x1f".join((person.name, person.phone or "", person.email or ""))
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


def _parse_line(line: int, raw: bytes) -> list[str] | Rejection:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # the file scan refuses such a file; kept for callers that skip it
        return Rejection(line, ROW_ENCODING, "", "the line is not valid UTF-8")
    try:
        return next(csv.reader((text,), strict=True))
    except csv.Error as exc:
        # Quotes pair up in a well-formed line (open/close, and "" inside): an odd count left one open.
        if raw.count(b'"') & 1:
            return Rejection(
                line, CSV_UNBALANCED_QUOTE, "", "a double quote opens a field that is not closed on this line"
            )
        return Rejection(line, ROW_MALFORMED, "", f"not valid CSV: {exc}")
    except StopIteration:  # pragma: no cover - a non-blank line always yields a record
        return Rejection(line, ROW_MALFORMED, "", "not valid CSV: no record")


def iter_rows(chunk: RawChunk, header: Header) -> Iterator[tuple[int, NewPerson | Rejection | None]]:
    """Parse and validate each physical line of the chunk; a blank line yields ``None`` (not a row).

    Exactly one item per physical line, numbered by its place in the file.
    """
    i_id, i_name, i_phone, i_email = header.indexes
    need = max(header.indexes) + 1
    for line, raw in enumerate(chunk.lines, start=chunk.first_line):
        if is_blank(raw):
            yield line, None
            continue
        fields = _parse_line(line, raw)
        if isinstance(fields, Rejection):
            yield line, fields
        elif len(fields) < need:
            yield (
                line,
                Rejection(line, ROW_MALFORMED, "", f"the row has {len(fields)} fields, the header {header.width}"),
            )
        else:
            yield line, validate_row(line, (fields[i_id], fields[i_name], fields[i_phone], fields[i_email]))
