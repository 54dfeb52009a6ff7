"""PIN-3: every birth-date form the rule names is refused, each form its own test case (issue 26).

The rule: a new PIN may not equal the holder's birth date as YYMMDD, MMDDYY, DDMMYY, or the MMDD padded
to six digits (00MMDD, MMDD00). Two birth dates whose forms are all different from each other and break
no other PIN-3 rule, so each case can only be refused for being that form.
"""

from __future__ import annotations

from datetime import date

import pytest

from sscard.credentials.pin.rules.simplicity import screen_pin

BIRTHS = {"1985-07-09": date(1985, 7, 9), "2003-11-28": date(2003, 11, 28)}
FORMS = {
    "YYMMDD": "%y%m%d",
    "MMDDYY": "%m%d%y",
    "DDMMYY": "%d%m%y",
    "00MMDD": "00%m%d",
    "MMDD00": "%m%d00",
}


def _screen(pin: str, born: date):
    return screen_pin(pin, birth_date=born, phone="13600000000", initial="123456", is_current=False)


@pytest.mark.parametrize("born", list(BIRTHS))
@pytest.mark.parametrize("form", list(FORMS))
def test_a_birth_date_form_is_refused(form: str, born: str) -> None:
    # rule PIN-3: the holder's birth date in this form is refused with the BIRTH_DATE reason
    birth = BIRTHS[born]
    pin = birth.strftime(FORMS[form])
    assert len({birth.strftime(f) for f in FORMS.values()}) == len(FORMS)  # the five forms differ here
    reason = _screen(pin, birth)
    assert reason is not None and reason.code == "BIRTH_DATE", (form, pin)
    assert pin not in reason.message


@pytest.mark.parametrize("born", list(BIRTHS))
def test_the_same_digits_for_someone_born_otherwise_pass(born: str) -> None:
    # rule PIN-3: the forms are the holder's own: another holder's birth date is no reason to refuse
    birth = BIRTHS[born]
    other = date(1970, 2, 3)
    for fmt in FORMS.values():
        assert _screen(birth.strftime(fmt), other) is None, fmt


# rule PIN-3 (issue 26, surviving mutants): each refusal comes "with the reason", in these words; without a
# phone on file no PIN is refused as being in it
@pytest.mark.parametrize(
    ("pin", "kwargs", "code", "message"),
    [
        ("12345", {}, "LENGTH", "a PIN is exactly six digits"),
        ("777777", {}, "ALL_SAME", "all six digits are the same"),
        ("345678", {}, "CONSECUTIVE", "the digits are consecutive"),
        ("850709", {}, "BIRTH_DATE", "the PIN is a form of the holder's birth date"),
        ("600000", {}, "PHONE_NUMBER", "the PIN appears in the holder's phone number"),
        ("123456", {"initial": "123456"}, "CONSECUTIVE", "the digits are consecutive"),
        ("902741", {"initial": "902741"}, "INITIAL_PIN", "the PIN is the initial PIN"),
        ("902741", {"is_current": True}, "CURRENT_PIN", "the PIN is the current PIN"),
        ("902741", {"is_excluded": True}, "EXCLUDED", "the PIN is one the holder may not reuse"),
    ],
)
def test_each_reason_says_why(pin: str, kwargs: dict, code: str, message: str) -> None:
    values = {"birth_date": BIRTHS["1985-07-09"], "phone": "13600000000", "initial": "123456", "is_current": False}
    reason = screen_pin(pin, **{**values, **kwargs})
    assert reason is not None and (reason.code, reason.message) == (code, message)
    assert screen_pin("902741", **{**values, "phone": None}) is None
