"""The statement's figures, assembled without a database (rule INS-4)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard.statements import codes
from sscard.statements.data import MEDICAL, PENSION, DeclarationRow, LegRow, StatementData, assemble_statement
from sscard.statements.errors import StatementCodeInvalid


def _legs() -> list[LegRow]:
    return [
        LegRow(PENSION, "contribution", date(2023, 6, 1), 50_000),  # before the year: opening
        LegRow(PENSION, "interest", date(2023, 12, 31), 1_000),
        *[LegRow(PENSION, "contribution", date(2024, m, 1), 80_000) for m in range(1, 13)],
        LegRow(PENSION, "contribution_reversal", date(2024, 5, 1), -80_000),  # May corrected ...
        LegRow(PENSION, "contribution", date(2024, 5, 1), 90_000),  # ... to 900.00
        LegRow(PENSION, "interest", date(2024, 12, 31), 2_345),
        LegRow(MEDICAL, "contribution", date(2024, 3, 1), 20_000),
        LegRow(MEDICAL, "settlement", date(2024, 7, 9), -7_500),
        LegRow(MEDICAL, "refund", date(2024, 7, 10), 500),
        LegRow(PENSION, "contribution", date(2025, 1, 1), 80_000),  # after the year: not on it
    ]


# rule INS-4: both accounts' opening balance, credits per month, interest, debits and closing balance
def test_accounts_of_the_year() -> None:
    data = assemble_statement(person_id=7, year=2024, region_code="110105", legs=_legs())
    pension, medical = data.account(PENSION), data.account(MEDICAL)
    assert pension.opening_fen == 51_000
    assert pension.credits_by_month[4] == 90_000  # the correction nets: May shows what finally counts
    assert pension.credits_fen == 11 * 80_000 + 90_000
    assert pension.interest_fen == 2_345
    assert pension.debits_fen == 0
    assert pension.closing_fen == 51_000 + 970_000 + 2_345
    assert medical.opening_fen == 0 and medical.credits_by_month[2] == 20_000
    assert medical.debits_fen == -7_000 and medical.closing_fen == 13_000


# rule INS-4: the closing balance is every leg counting by 31 December, whatever the legs
@given(
    st.lists(
        st.tuples(
            st.sampled_from([PENSION, MEDICAL]),
            st.sampled_from(["contribution", "contribution_reversal", "interest", "settlement", "refund"]),
            st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31)),
            st.integers(min_value=-(10**9), max_value=10**9),
        ),
        max_size=60,
    )
)
def test_closing_equals_every_leg_to_year_end(raw) -> None:
    legs = [LegRow(*r) for r in raw]
    data = assemble_statement(person_id=1, year=2024, region_code="110105", legs=legs)
    for kind in (PENSION, MEDICAL):
        account = data.account(kind)
        expected = sum(
            leg.amount_fen for leg in legs if leg.account_kind == kind and leg.business_date <= date(2024, 12, 31)
        )
        assert account.closing_fen == expected
        assert account.opening_fen + account.credits_fen + account.interest_fen + account.debits_fen == expected


# rule INS-4 (with INS-6/7): the employers and months declared, late and corrected months marked
def test_employers_and_months() -> None:
    rows = [DeclarationRow("甲公司", "91110000AAAAAAAAAA", date(2024, m, 1), 1_000_000, late=m == 3, corrected=m == 5)
            for m in range(1, 7)]  # fmt: skip
    rows += [DeclarationRow("", "", date(2024, 9, 1), 500_000), DeclarationRow("乙", "9144X", date(2023, 12, 1), 1)]
    data = assemble_statement(person_id=1, year=2024, region_code="110105", legs=[], declarations=rows)
    assert [(e.name, e.months, e.late_months, e.corrected_months) for e in data.employers] == [
        ("", (9,), (), ()),
        ("甲公司", (1, 2, 3, 4, 5, 6), (3,), (5,)),
    ]


# rule INS-4: the content digest binds the figures: any change of an amount changes it
def test_digest_and_snapshot() -> None:
    data = assemble_statement(person_id=7, year=2024, region_code="110105", legs=_legs())
    assert StatementData.from_json(data.to_json()) == data
    assert len(data.content_digest()) == 64
    altered = assemble_statement(
        person_id=7,
        year=2024,
        region_code="110105",
        legs=[*_legs(), LegRow(PENSION, "interest", date(2024, 12, 31), 1)],
    )
    assert altered.content_digest() != data.content_digest()
    other_person = assemble_statement(person_id=8, year=2024, region_code="110105", legs=_legs())
    assert other_person.content_digest() != data.content_digest()


# rule INS-4: the snapshot (and so the digest printed on every statement issued so far) is exactly the
# canonical JSON of all the dataclass fields: the hand-built dict must not drift from ``asdict``
def test_snapshot_is_canonical_asdict() -> None:
    rows = [DeclarationRow("甲公司", "91110000AAAAAAAAAA", date(2024, m, 1), 1_000_000, late=m == 3, corrected=m == 5)
            for m in range(1, 7)]  # fmt: skip
    data = assemble_statement(person_id=7, year=2024, region_code="110105", legs=_legs(), declarations=rows)
    canonical = json.dumps(dataclasses.asdict(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert data.to_json() == canonical
    assert data.content_digest() == hashlib.sha256(canonical.encode()).hexdigest()
    assert data.content_digest(canonical) == data.content_digest()


# rule INS-4: a verification code carries at least 80 random bits and reads back forgivingly
def test_codes() -> None:
    assert codes.BITS >= 80
    made = {codes.new_code() for _ in range(200)}
    assert len(made) == 200
    code = made.pop()
    assert len(code) == 24 and code.count("-") == 4
    assert codes.code_digest(code) == codes.code_digest(code.lower().replace("-", " "))
    assert codes.normalise("oooo-iiii-llll-0000-1111") == "0" * 4 + "1" * 8 + "0" * 4 + "1" * 4


@pytest.mark.parametrize("bad", ["", "ABC", "U" * 20, "0000-0000-0000-0000-000", "0000-0000-0000-0000-00000", "!" * 20])
def test_code_shape_refused(bad: str) -> None:
    # rule INS-4: a malformed code is refused with its own code, never looked up
    with pytest.raises(StatementCodeInvalid):
        codes.normalise(bad)
