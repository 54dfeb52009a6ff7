"""Unified social credit codes (GB 32100-2015), without a database."""

from __future__ import annotations

import pytest

from sscard.employers.uscc import WEIGHTS, check_uscc

# Codes printed on real business licences (published by the companies themselves).
REAL = ["91350100M000100Y43", "9144030071526726XG", "91330100716105852F", "91110000802100433B"]


# rule INS-1 / GB 32100: weights 3^(i-1) mod 31, check character 31 - (sum mod 31)
def test_weights_are_the_standards() -> None:
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@pytest.mark.parametrize("code", REAL)
def test_real_codes_are_valid(code: str) -> None:
    assert check_uscc(code).valid
    assert check_uscc(code.lower()).valid  # the same code in lower case


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("9144030071526726X", "USCC_LENGTH"),
        ("9144030071526726XGG", "USCC_LENGTH"),
        ("", "USCC_LENGTH"),
        ("9144030071526726XI", "USCC_CHARS"),  # I is not used
        ("91440300O1526726XG", "USCC_CHARS"),  # O is not used
        ("91A4030071526726XG", "USCC_CHARS"),  # positions 3-8 are digits
        ("9144030071526726XH", "USCC_CHECKSUM"),
        ("9144030071526727XG", "USCC_CHECKSUM"),  # one digit changed
    ],
)
def test_bad_codes_name_their_fault(code: str, expected: str) -> None:
    result = check_uscc(code)
    assert not result.valid and result.code == expected
    assert result.as_dict() == {"valid": False, "uscc": code.upper(), "code": expected}
