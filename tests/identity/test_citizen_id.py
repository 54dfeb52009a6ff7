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


# rule ID-3 (issue 26, surviving mutants): an 18-character ID is not marked as upgraded; a refusal's
# message is the one the caller reads
def test_an_eighteen_character_id_is_not_upgraded() -> None:
    assert parse_citizen_id("11010519491231002X", today=TODAY).upgraded_from_15 is False
    with pytest.raises(InvalidCitizenId) as refused:
        parse_citizen_id("11010549123100A", today=TODAY)
    assert refused.value.code == "ID_CHARS" and "digits only" in str(refused.value)


# rule ID-2 (issue 26, a surviving mutant): a child registered on the day of birth is born today, not in the future
def test_born_today_is_not_in_the_future() -> None:
    first17 = "110105" + TODAY.strftime("%Y%m%d") + "002"
    assert parse_citizen_id(first17 + check_character(first17), today=TODAY).birth_date == TODAY


# rule ID-3: the refusal's message names the fault (what the clerk reads in the problem+json detail)
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("11010549123100A", "a 15-digit ID must contain digits only"),
        ("1101051949123100", "an ID has 18 characters (or 15 legacy digits), got 16"),
        ("1101051949123100AX", "an ID is 17 digits followed by a digit or X"),
        ("11010519491231002Z", "an ID is 17 digits followed by a digit or X"),
        ("11010519490231002X", "the birth date in the ID is not a real date"),
        ("11010520990101002X", "the birth date in the ID is in the future or before 1900"),
        ("11010518991231002X", "the birth date in the ID is in the future or before 1900"),
        ("99010519491231002X", "unknown province prefix 99"),
        ("110105194912310021", "the check character does not match (typo in the number?)"),
    ],
)
def test_each_refusal_message_names_the_fault(raw: str, message: str) -> None:
    with pytest.raises(InvalidCitizenId) as refused:
        parse_citizen_id(raw, today=TODAY)
    assert refused.value.detail == message
    assert str(refused.value) == message
