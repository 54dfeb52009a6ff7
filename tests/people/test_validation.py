"""Pure input rules for persons (no database)."""

from __future__ import annotations

from datetime import date

import pytest

from sscard.identity import InvalidCitizenId
from sscard.people.errors import EmailInvalid, EvidenceRequired, GenderInvalid, IdMismatch, NameInvalid, PhoneInvalid
from sscard.people.validation import (
    normalise_email,
    normalise_evidence,
    normalise_gender,
    normalise_name,
    normalise_phone,
    prepare_person,
)
from tests.people.factories import new_id_number

ID_M = "11010519491231002X"  # the GB 11643 example: born 1949-12-31, sequence 002 (female)


# rule PER-1: mainland mobile numbers, normalised
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("19912345678", "19912345678"),
    ],
)
def test_phone_normalised(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


# rule PER-1: bad phone numbers get PHONE_INVALID
@pytest.mark.parametrize("raw", ["", "1380013800", "138001380001", "12800138000", "23800138000", "1380013800a", "０"])
def test_phone_rejected(raw: str) -> None:
    with pytest.raises(PhoneInvalid) as exc:
        normalise_phone(raw)
    assert exc.value.code == "PHONE_INVALID"


# rule PER-1: email addresses
def test_email_rules() -> None:
    assert normalise_email("  Zhang.San@Example.COM ") == "Zhang.San@example.com"
    for bad in ["", "no-at-sign", "a@b", "a@@b.cn", "a b@c.cn", "a@-b.cn", "x" * 250 + "@a.cn"]:
        with pytest.raises(EmailInvalid) as exc:
            normalise_email(bad)
        assert exc.value.code == "EMAIL_INVALID"


# rule PER-1: names of any script, minority middle dot; digits refused (ID and name swapped)
def test_name_rules() -> None:
    assert normalise_name(" 张三 ") == "张三"
    assert normalise_name("艾力·买买提") == "艾力·买买提"
    assert normalise_name("Anne-Marie O'Neil") == "Anne-Marie O'Neil"
    for bad in ["", "   ", "张三1", "110105194912310021", "·-", "x" * 65, "a\nb"]:
        with pytest.raises(NameInvalid):
            normalise_name(bad)


# rule PER-1: gender spelled several ways, stored as M/F
def test_gender_rules() -> None:
    assert [normalise_gender(g) for g in ("M", "male", "男", "f", "Female", "女")] == ["M", "M", "M", "F", "F", "F"]
    with pytest.raises(GenderInvalid):
        normalise_gender("X")


# rule ID-4: gender and birth date given must agree with the ID; a mismatch is an error
def test_id_mismatch() -> None:
    ok = prepare_person(id_number=ID_M, name="张三", gender="F", birth_date=date(1949, 12, 31))
    assert ok.citizen_id.gender == "F"
    with pytest.raises(IdMismatch) as exc:
        prepare_person(id_number=ID_M, name="张三", gender="M")
    assert exc.value.code == "ID_MISMATCH" and exc.value.extra["field"] == "gender"
    with pytest.raises(IdMismatch) as exc:
        prepare_person(id_number=ID_M, name="张三", birth_date=date(1949, 12, 30))
    assert exc.value.extra["field"] == "birth_date"


# rule ID-3: a 15-digit number is upgraded; a bad one raises its ID_* code
def test_prepare_upgrades_and_rejects() -> None:
    new = prepare_person(id_number="110105491231002", name="张三")
    assert new.citizen_id.number == "11010519491231002X" and new.citizen_id.upgraded_from_15
    with pytest.raises(InvalidCitizenId) as exc:
        prepare_person(id_number="110105194912310021", name="张三")
    assert exc.value.code == "ID_CHECKSUM"


# rule ID-5: the prepared row holds no clear ID/phone/email, and repr is masked
def test_prepared_columns_are_protected() -> None:
    number = new_id_number()
    new = prepare_person(id_number=number, name="李四", phone="13800138000", email="li@example.com")
    cols = new.columns()
    blob = repr(cols).encode() + b"".join(v for v in cols.values() if isinstance(v, bytes))
    for clear in (number, "13800138000", "li@example.com"):
        assert clear.encode() not in blob
    assert number not in repr(new)
    assert new.masked["phone"] == "138****8000"


# rule CH-2: identity evidence is required and masked
def test_evidence() -> None:
    with pytest.raises(EvidenceRequired):
        normalise_evidence("  ")
    note = normalise_evidence("resident ID card 11010519491231002X checked")
    assert "11010519491231002X" not in note and "1101**********002X" in note
