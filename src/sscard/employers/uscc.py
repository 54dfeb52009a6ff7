"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

18 characters from a 31-character alphabet (digits and capital letters without I, O, Z, S, V):
position 1 the registration authority (登记管理部门), 2 the organisation category (机构类别),
3-8 the administrative division of the registering office (GB/T 2260, digits), 9-17 the entity's
organisation code (GB 11714), 18 the check character over the first 17:

    C18 = 31 − (Σ value(Cᵢ) × Wᵢ mod 31), with Wᵢ = 3^(i−1) mod 31 (1, 3, 9, 27, 19, 26, 16, ...),
    and 31 written as "0".

Some pilot-era codes (e.g. a few issued in Fujian before the standard) fail the check character;
they are refused here like any other, with ``USCC_CHECKSUM``.
"""

from __future__ import annotations

from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18


def check_character(body: str) -> str:
    """The check character of the first 17 characters (all from ``ALPHABET``)."""
    total = sum(_VALUE[c] * w for c, w in zip(body, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


@dataclass(frozen=True, slots=True)
class UsccResult:
    uscc: str
    code: str | None  # None when valid; USCC_LENGTH / USCC_CHARS / USCC_CHECKSUM
    reason: str = ""

    @property
    def valid(self) -> bool:
        return self.code is None

    def as_dict(self) -> dict[str, object]:
        return {"valid": self.valid, "uscc": self.uscc, "code": self.code}


def normalise(code: str) -> str:
    """Trimmed and upper-cased (codes are printed in capitals; a lower-case copy is the same code)."""
    return code.strip().upper()


def check_uscc(code: str) -> UsccResult:
    """Validate a code: its length, its characters (digits at 3-8), its check character."""
    code = normalise(code)
    if len(code) != LENGTH:
        return UsccResult(code, "USCC_LENGTH", f"{len(code)} characters, not {LENGTH}")
    bad = [c for c in code if c not in _VALUE]
    if bad:
        return UsccResult(code, "USCC_CHARS", f"character {bad[0]!r} is not used in credit codes (no I O Z S V)")
    if not code[2:8].isdigit():
        return UsccResult(code, "USCC_CHARS", "positions 3-8 are the region code: digits only")
    expected = check_character(code[:17])
    if code[17] != expected:
        return UsccResult(code, "USCC_CHECKSUM", "the check character does not match")
    return UsccResult(code, None)
