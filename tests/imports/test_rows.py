"""Parsing and validating import rows without a database (ID-3, ID-5, PER-1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sscard.identity.citizen_id import check_character
from sscard.imports.batches import prepare_chunk
from sscard.imports.errors import ImportFileEmpty, ImportFileUnreadable, ImportMissingColumns
from sscard.imports.rows import Rejection, validate_row
from sscard.imports.source import iter_chunks, read_header
from sscard.imports.synthetic import synthetic_id
from sscard.people.validation import NewPerson

GOOD = synthetic_id(123_456)


def _id15() -> tuple[str, str]:
    body17 = "11010519491231002"
    return "110105491231002", body17 + check_character(body17)


def _prepare(tmp_path: Path, text: str, *, lines_per_chunk: int = 1000) -> list:
    path = tmp_path / "in.csv"
    path.write_bytes(text.encode("utf-8"))
    header = read_header(path)
    out = []
    for chunk in iter_chunks(path, start_offset=header.data_offset, first_line=2, lines_per_chunk=lines_per_chunk):
        out.append(prepare_chunk(chunk, header, seal=False))
    return out


# rule ID-3: each faulty ID is named by its stable code
@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1"), "ID_CHECKSUM"),
        (GOOD[:17], "ID_LENGTH"),
        ("99" + GOOD[2:], "ID_REGION"),
        (GOOD[:6] + "20990101" + GOOD[14:], "ID_BIRTH_DATE"),
        (GOOD[:10] + "AB" + GOOD[12:], "ID_CHARS"),
        ("", "ID_LENGTH"),
    ],
)
def test_bad_id_is_rejected_with_its_code(raw: str, code: str) -> None:
    result = validate_row(7, (raw, "张三", "", ""))
    assert isinstance(result, Rejection)
    assert (result.line, result.code) == (7, code)


# rule ID-5: a rejected row never carries the full ID, phone or email, and at most half of a short value
def test_rejections_are_masked() -> None:
    bad_checksum = GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1")
    r = validate_row(2, (bad_checksum, "张三", "", ""))
    assert isinstance(r, Rejection)
    assert bad_checksum not in r.value_masked and r.value_masked.startswith(GOOD[:4]) and "*" in r.value_masked
    r = validate_row(2, (GOOD, "张三", "1381234", ""))
    assert isinstance(r, Rejection) and r.code == "PHONE_INVALID"
    assert sum(ch != "*" for ch in r.value_masked) * 2 <= len("1381234")
    r = validate_row(2, (GOOD, "张三", "", "zhang.san@@example"))
    assert isinstance(r, Rejection) and r.code == "EMAIL_INVALID"
    assert "zhang.san" not in r.value_masked


# rule ID-3: a 15-digit legacy number is upgraded, never kept in 15-digit form
def test_fifteen_digit_id_is_upgraded() -> None:
    id15, id18 = _id15()
    result = validate_row(3, (id15, "李四", "13812345678", "Li.Si@Example.COM"))
    assert isinstance(result, NewPerson)
    assert result.citizen_id.number == id18
    assert result.email == "Li.Si@example.com"  # domain lower-cased, local part kept


# rule PER-1: name, phone and email rules (shared with `person add`)
@pytest.mark.parametrize(
    ("name", "phone", "email", "code"),
    [
        ("", "", "", "NAME_INVALID"),
        ("张三3", "", "", "NAME_INVALID"),
        ("张" * 65, "", "", "NAME_INVALID"),
        ("张三", "23812345678", "", "PHONE_INVALID"),
        ("张三", "1381234567", "", "PHONE_INVALID"),
        ("张三", "", "no-at-sign", "EMAIL_INVALID"),
    ],
)
def test_person_field_rules(name: str, phone: str, email: str, code: str) -> None:
    result = validate_row(4, (GOOD, name, phone, email))
    assert isinstance(result, Rejection) and result.code == code


def test_valid_row_with_optional_fields_empty() -> None:
    result = validate_row(5, (GOOD, "买买提·艾力", "", ""))
    assert isinstance(result, NewPerson)
    assert result.phone is None and result.email is None


def test_header_tolerates_bom_case_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes(b"\xef\xbb\xbfNote,EMAIL,Name,id_number,phone\nx,,a,b,c\n")
    header = read_header(path)
    assert header.indexes == (3, 2, 4, 1)
    assert header.data_offset == len(b"\xef\xbb\xbfNote,EMAIL,Name,id_number,phone\n")


def test_header_errors(tmp_path: Path) -> None:
    missing = tmp_path / "m.csv"
    missing.write_text("id_number,name,phone\n")
    with pytest.raises(ImportMissingColumns, match="email"):
        read_header(missing)
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    with pytest.raises(ImportFileEmpty):
        read_header(empty)
    with pytest.raises(ImportFileUnreadable):
        read_header(tmp_path / "absent.csv")
    with pytest.raises(ImportFileUnreadable):
        read_header(tmp_path)


# rule ID-3: one physical line is one record, numbered as in the file; a quote left open costs its line only
def test_line_numbers_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    text = (
        "id_number,name,phone,email\n"  # line 1
        f"{GOOD},张三,,\n"  # 2
        "\n"  # 3 (blank: skipped, not a row)
        f'{synthetic_id(1)},"Anne\nMarie",,\n'  # 4-5: no person field holds a line break: two bad lines
        "short,row\n"  # 6
        f"{synthetic_id(2)},王五,,\n"  # 7
    )
    [chunk] = _prepare(tmp_path, text)
    assert (chunk.rows, chunk.blank) == (5, 1)
    assert [(line, key) for line, key, _, _ in chunk.persons] == [(2, int(GOOD[:17])), (7, int(synthetic_id(2)[:17]))]
    assert [(r.line, r.code) for r in chunk.rejections] == [
        (4, "CSV_UNBALANCED_QUOTE"),
        (5, "ROW_MALFORMED"),
        (6, "ROW_MALFORMED"),
    ]


# rule ID-3: chunks are cut at any line end, so an open quote never swallows the next chunk
def test_an_open_quote_never_swallows_the_lines_after_it(tmp_path: Path) -> None:
    rows = [f'{synthetic_id(i)},"张艳,,' if i % 3 == 0 else f"{synthetic_id(i)},赵六,," for i in range(40)]
    chunks = _prepare(tmp_path, "id_number,name,phone,email\n" + "\n".join(rows) + "\n", lines_per_chunk=4)
    assert [len(c.persons) + len(c.rejections) for c in chunks] == [4] * 10
    assert [c.first_line for c in chunks] == list(range(2, 42, 4))
    assert [r.line for c in chunks for r in c.rejections] == [2 + i for i in range(40) if i % 3 == 0]
    assert {r.code for c in chunks for r in c.rejections} == {"CSV_UNBALANCED_QUOTE"}
    assert [line for c in chunks for line, _, _, _ in c.persons] == [2 + i for i in range(40) if i % 3]
    # Each chunk ends where the next starts: every chunk end is an exact resume point.
    assert all(a.end_offset == b.start_offset for a, b in zip(chunks, chunks[1:], strict=False))


def test_invalid_utf8_line_is_rejected_and_the_rest_continue(tmp_path: Path) -> None:
    path = tmp_path / "enc.csv"
    path.write_bytes(
        b"id_number,name,phone,email\n" + GOOD.encode() + b",\xff\xfe,,\n" + synthetic_id(9).encode() + b",Li,,\n"
    )
    header = read_header(path)
    [chunk] = list(iter_chunks(path, start_offset=header.data_offset, first_line=2, lines_per_chunk=10))
    prepared = prepare_chunk(chunk, header, seal=False)
    assert [(r.line, r.code) for r in prepared.rejections] == [(2, "ROW_ENCODING")]
    assert [line for line, _, _, _ in prepared.persons] == [3]


def test_resume_offset_stops_the_stream(tmp_path: Path) -> None:
    text = "id_number,name,phone,email\n" + "".join(f"{synthetic_id(i)},张三,,\n" for i in range(10))
    path = tmp_path / "r.csv"
    path.write_text(text)
    header = read_header(path)
    first = list(iter_chunks(path, start_offset=header.data_offset, first_line=2, lines_per_chunk=3))
    stop = first[1].end_offset
    again = list(iter_chunks(path, start_offset=header.data_offset, first_line=2, lines_per_chunk=100, end_offset=stop))
    assert sum(len(c.lines) for c in again) == 6
    rest = list(iter_chunks(path, start_offset=stop, first_line=8, lines_per_chunk=100))
    assert rest[0].first_line == 8 and len(rest[0].lines) == 4


# rule ID-5: the chunk is sealed in one batch (security module batch API) into exactly the columns a
# single ``person add`` would write: every token opens to the same value under its own context, every
# blind index is the same, the derived fields are the ID's, and absent phones/emails stay NULL;
# every token is bound to its row
def test_batch_sealing_matches_person_columns() -> None:
    from sscard.identity.protected import EMAIL, ID_NUMBER, NAME, PHONE, person_row
    from sscard.imports.rows import STAGE_COLUMNS, seal_persons
    from sscard.people.validation import prepare_person

    persons = [
        prepare_person(id_number=synthetic_id(1), name="张三", phone="13800138000", email="Z@Example.com"),
        prepare_person(id_number=synthetic_id(2), name="Li  Si", phone=None, email="li@example.com"),
        prepare_person(id_number=synthetic_id(3), name="艾力·买买提", phone="13900139000", email=None),
    ]
    kinds = {"id_number_enc": ID_NUMBER, "name_enc": NAME, "phone_enc": PHONE, "email_enc": EMAIL}
    for person, record in zip(persons, seal_persons(persons), strict=True):
        expected = person.columns()
        got = dict(zip(STAGE_COLUMNS, record, strict=True))
        for column in STAGE_COLUMNS:
            if column in kinds:
                # both bound to the same row (the citizen ID's blind index): GB/T 39786 integrity at rest
                row = person_row(column, expected["id_number_bidx"])
                want = expected[column] and kinds[column].open(expected[column], row=row)
                assert (got[column] and kinds[column].open(got[column], row=row)) == want, column
            else:
                assert got[column] == expected[column], column
