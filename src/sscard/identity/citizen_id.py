"""GB 11643-1999 citizen identity numbers: validation, 15→18 upgrade, derived facts (ID-1..ID-4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from sscard.errors import ValidationFailed
from sscard.identity.masking import mask_id_number

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

# ID-3: province-level prefixes; 81/82/83 are the residence permits of HK, Macao and Taiwan residents.
PROVINCE_PREFIXES = frozenset(
    [
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
        83,
    ]
)


class InvalidCitizenId(ValidationFailed):
    """The ID is not a valid GB 11643 number; ``code`` names the fault."""

    code: ClassVar[str] = "ID_INVALID"
    #: Every code an instance can carry (the OpenAPI document lists them: api/error_docs.py).
    codes: ClassVar[tuple[str, ...]] = ("ID_LENGTH", "ID_CHARS", "ID_BIRTH_DATE", "ID_REGION", "ID_CHECKSUM")
    title = "The citizen ID number is not valid."
    title_zh = "公民身份号码无效。"

    def __init__(self, code: str, detail: str) -> None:
        if code not in self.codes:
            raise ValueError(f"undeclared citizen ID fault code {code!r}")
        super().__init__(detail)
        self.code = code  # type: ignore[misc]  # one class, several stable codes


@dataclass(frozen=True, slots=True)
class CitizenId:
    number: str
    region_code: str
    birth_date: date
    gender: str  # "M" or "F"
    upgraded_from_15: bool = False

    def __repr__(self) -> str:  # never print a full ID by accident

        return f"CitizenId({mask_id_number(self.number)})"


def check_character(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character over the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def parse_citizen_id(raw: str, *, today: date | None = None) -> CitizenId:
    """Validate and normalise an ID (ID-2, ID-3); a 15-digit legacy number is upgraded to 18."""
    value = raw.strip().upper()
    upgraded = False
    if len(value) == 15:
        if not value.isascii() or not value.isdigit():
            raise InvalidCitizenId("ID_CHARS", "a 15-digit ID must contain digits only")
        value = value[:6] + "19" + value[6:]
        value += check_character(value)
        upgraded = True
    if len(value) != 18:
        raise InvalidCitizenId("ID_LENGTH", f"an ID has 18 characters (or 15 legacy digits), got {len(value)}")
    body, check = value[:17], value[17]
    if not (body.isascii() and body.isdigit()) or not (check.isdigit() or check == "X"):
        raise InvalidCitizenId("ID_CHARS", "an ID is 17 digits followed by a digit or X")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidCitizenId("ID_BIRTH_DATE", "the birth date in the ID is not a real date") from None
    if born > (today or date.today()) or born.year < 1900:
        raise InvalidCitizenId("ID_BIRTH_DATE", "the birth date in the ID is in the future or before 1900")
    if int(value[:2]) not in PROVINCE_PREFIXES:
        raise InvalidCitizenId("ID_REGION", f"unknown province prefix {value[:2]}")
    if check_character(body) != check:
        raise InvalidCitizenId("ID_CHECKSUM", "the check character does not match (typo in the number?)")
    gender = "M" if int(value[16]) % 2 == 1 else "F"
    return CitizenId(value, value[:6], born, gender, upgraded)
