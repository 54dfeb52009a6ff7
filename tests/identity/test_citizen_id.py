"""GB 11643 citizen ID validation (ID-1..ID-3)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sscard.identity import InvalidCitizenId, parse_citizen_id
from sscard.identity.citizen_id import CHECK_CHARS, PROVINCE_PREFIXES, check_character

TODAY = date(2026, 11, 22)


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(sorted(PROVINCE_PREFIXES)))
    rest = draw(st.integers(0, 9999))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    seq = draw(st.integers(0, 999))
    body = f"{province:02d}{rest:04d}{born:%Y%m%d}{seq:03d}"
    return body + check_character(body)


# rule ID-2
def test_known_ids() -> None:
    cid = parse_citizen_id("11010519491231002X", today=TODAY)
    assert (cid.region_code, cid.birth_date, cid.gender) == ("110105", date(1949, 12, 31), "F")
    assert parse_citizen_id("440524198001010013", today=TODAY).gender == "M"


# rule ID-2
def test_lowercase_x_is_normalised() -> None:
    assert parse_citizen_id("11010519491231002x", today=TODAY).number == "11010519491231002X"


# rule ID-3
def test_fifteen_digit_ids_are_upgraded() -> None:
    cid = parse_citizen_id("110105491231002", today=TODAY)
    assert cid.number == "11010519491231002X"
    assert cid.upgraded_from_15


# rule ID-3
@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1101051949123100", "ID_LENGTH"),
        ("11010519491231002XX", "ID_LENGTH"),
        ("", "ID_LENGTH"),
        ("1101051949123100AX", "ID_CHARS"),
        ("１１０１０５１９４９１２３１００２Ｘ", "ID_CHARS"),
        ("11010519490231002X", "ID_BIRTH_DATE"),  # 31 Feb
        ("11010520990101002X", "ID_BIRTH_DATE"),  # future
        ("11010518991231002X", "ID_BIRTH_DATE"),  # before 1900
        ("99010519491231002X", "ID_REGION"),
        ("110105194912310021", "ID_CHECKSUM"),
        ("11010549123100A", "ID_CHARS"),
    ],
)
def test_rejections_name_the_fault(raw: str, code: str) -> None:
    with pytest.raises(InvalidCitizenId) as err:
        parse_citizen_id(raw, today=TODAY)
    assert err.value.code == code
    assert err.value.detail


# rule ID-3 (81/82/83: residence permits of Hong Kong, Macao and Taiwan residents)
@pytest.mark.parametrize("prefix", ["81", "82", "83"])
def test_residence_permits_accepted(prefix: str) -> None:
    body = f"{prefix}0000199001011234"[:17]
    assert parse_citizen_id(body + check_character(body), today=TODAY).region_code.startswith(prefix)


# rule ID-2
@settings(max_examples=400)
@given(valid_ids())
def test_every_generated_valid_id_passes(number: str) -> None:
    cid = parse_citizen_id(number, today=TODAY)
    assert cid.number == number
    assert cid.gender == ("M" if int(number[16]) % 2 else "F")


# rule ID-2: any single-character change is caught
@settings(max_examples=400)
@given(valid_ids(), st.integers(0, 17), st.sampled_from("0123456789X"))
def test_single_character_change_is_caught(number: str, pos: int, char: str) -> None:
    if number[pos] == char:
        return
    changed = number[:pos] + char + number[pos + 1 :]
    with pytest.raises(InvalidCitizenId):
        parse_citizen_id(changed, today=TODAY)


def test_check_character_table() -> None:
    assert len(CHECK_CHARS) == 11
    assert check_character("11010519491231002") == "X"


def test_repr_masks_the_number() -> None:
    assert "1949" not in repr(parse_citizen_id("11010519491231002X", today=TODAY))
