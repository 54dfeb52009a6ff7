"""Card types, media and numbers, without a database (CARD-2, CARD-3, CARD-6)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sscard.cards.errors import CardNumbersExhausted, CardSpecInvalid, CardTypeInvalid
from sscard.cards.numbers import CAPACITY, format_card_no, is_card_no, mask_card_no, normalise_card_no
from sscard.cards.types import CardApplication, CardMedium, CardType, card_spec, parse_card_type


# rule CARD-3: the three card types, by CLI value
def test_card_types() -> None:
    assert [parse_card_type(t) for t in ("social", "MEDICAL", " rural ")] == list(CardType)
    with pytest.raises(CardTypeInvalid) as exc:
        parse_card_type("bank")
    assert exc.value.code == "CARD_TYPE_INVALID"


# rule CARD-3 / CARD-6: social card defaults: third generation, dual interface, no bank side
def test_social_defaults() -> None:
    spec = card_spec("social")
    assert (spec.generation, spec.medium, spec.financial, spec.magstripe) == (
        3,
        CardMedium.DUAL_INTERFACE,
        False,
        False,
    )
    assert spec.applications == (CardApplication.HRSS,)


# rule CARD-3 / CARD-6: generations, financial function, media and the transition magnetic stripe
def test_social_generations() -> None:
    assert card_spec("social", generation=1).medium is CardMedium.CONTACT
    fin = card_spec("social", generation=2, financial=True, bank_code="icbc")
    assert (fin.medium, fin.magstripe, fin.bank_code) == (CardMedium.CONTACT, True, "ICBC")
    assert fin.applications == (CardApplication.HRSS, CardApplication.FINANCIAL)
    assert card_spec("social", generation=3, financial=True, bank_code="B1", magstripe=False).magstripe is False
    bad = [
        {"generation": 4},
        {"generation": 1, "financial": True, "bank_code": "B1"},
        {"financial": True},  # no issuing bank
        {"bank_code": "B1"},  # bank without the financial function
        {"generation": 3, "medium": "contact"},
        {"generation": 2, "medium": "dual_interface"},
        {"magstripe": True},  # stripe only serves the bank side
        {"medium": "paper"},
        {"financial": True, "bank_code": "銀行"},
    ]
    for kwargs in bad:
        with pytest.raises(CardSpecInvalid):
            card_spec("social", **kwargs)


# rule CARD-3: legacy medical and rural cooperative cards: contact chip, no bank side
@pytest.mark.parametrize("ctype", ["medical", "rural"])
def test_legacy_cards(ctype: str) -> None:
    spec = card_spec(ctype)
    assert (spec.generation, spec.medium, spec.financial, spec.magstripe) == (None, CardMedium.CONTACT, False, False)
    for kwargs in ({"generation": 2}, {"financial": True, "bank_code": "B"}, {"medium": "dual_interface"}):
        with pytest.raises(CardSpecInvalid):
            card_spec(ctype, **kwargs)


# rule CARD-2: card numbers are a letter and 8 digits, one-to-one with the serial (no collisions)
def test_card_number_format() -> None:
    assert format_card_no(1) == "A00000001"
    assert format_card_no(10**8) == "B00000000"
    assert format_card_no(CAPACITY - 1) == "Z99999999"
    for bad in (0, -1, CAPACITY):
        with pytest.raises(CardNumbersExhausted):
            format_card_no(bad)
    numbers = {format_card_no(s) for s in range(10**8 - 500, 10**8 + 500)}
    assert len(numbers) == 1000 and all(is_card_no(n) for n in numbers)
    assert not any(c in "IO" for n in numbers for c in n[0])


@given(st.integers(1, CAPACITY - 1), st.integers(1, CAPACITY - 1))
def test_card_number_injective(a: int, b: int) -> None:
    # rule CARD-2: distinct serials never give the same number
    assert (format_card_no(a) == format_card_no(b)) == (a == b)
    assert is_card_no(format_card_no(a))


def test_card_number_helpers() -> None:
    assert normalise_card_no(" a1234 5678 ") == "A12345678"
    assert not is_card_no("I12345678") and not is_card_no("A1234567") and not is_card_no("112345678")
    assert mask_card_no("A12345678") == "A1234****"


# rule CARD-5: with no regional policy on record, the national default of 5 days applies
def test_loss_report_expiry_default(uow) -> None:
    from sscard.policy.service import loss_report_expiry_days

    assert loss_report_expiry_days(uow, region_code="650102", card_type=CardType.SOCIAL) == 5
