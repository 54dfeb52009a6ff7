"""A counter PIN reset to a new PIN typed on the outlet's PIN pad, through the page (PIN-6, PIN-11)."""

from __future__ import annotations

from sscard.credentials.pin.counter_ops import get_card_pin_status
from sscard.db.session import unit_of_work
from sscard.staff.roles import Role
from tests.credentials.pin.conftest import client, staff_headers, terminal  # noqa: F401 - fixtures
from tests.web.test_counter_pages import _card, _open_card, _post, _sign_in, _staff

REGION = "110105"


# rules PIN-6 / PIN-11: the page posts the pad's terminal id and enciphered block exactly as the API takes
# them (pin_pad.terminal_id / pin_pad.pin_block); a too-simple PIN is refused on the form, nothing changes
def test_reset_to_a_new_pin_from_the_pin_pad(browser, terminal) -> None:  # noqa: F811
    card_no, id_number, _ = _card(REGION)
    pad = terminal("service_outlet", REGION)
    _sign_in(browser, _staff(region="110000"))
    card_page = _open_card(browser, card_no)
    form = browser.get(card_page + "/pin-reset")
    assert 'name="pin_pad_terminal"' in form.text and 'name="pin_block"' in form.text
    evidence = {"document_type": "resident_id_card", "document_number": id_number}
    weak = pad.pin_block(card_no, "222222")
    r = _post(browser, card_page + "/pin-reset", {**evidence, "pin_pad_terminal": pad.profile.terminal_id,
                                                   "pin_block": weak})  # fmt: skip
    assert r.status_code == 422 and 'id="error-pin_block"' in r.text and weak not in r.text
    with unit_of_work() as uow:
        assert get_card_pin_status(uow, card_no=card_no).enabled is False
    r = _post(browser, card_page + "/pin-reset", {**evidence, "pin_pad_terminal": pad.profile.terminal_id,
                                                   "pin_block": pad.pin_block(card_no, "581307")})  # fmt: skip
    assert r.status_code == 303, r.text
    with unit_of_work() as uow:
        assert get_card_pin_status(uow, card_no=card_no).enabled is True
    assert "密码已重置" in browser.get(r.headers["location"]).text


# rule PIN-6: a PIN pad of another region is refused like in the API (OUTSIDE_REGION)
def test_pin_pad_outside_the_region(browser, terminal) -> None:  # noqa: F811
    card_no, id_number, _ = _card(REGION)
    pad = terminal("service_outlet", "440105")
    _sign_in(browser, _staff(Role.COUNTER_CLERK, region="110000"))
    card_page = _open_card(browser, card_no)
    data = {"document_type": "resident_id_card", "document_number": id_number,
            "pin_pad_terminal": pad.profile.terminal_id, "pin_block": pad.pin_block(card_no, "581307")}  # fmt: skip
    r = _post(browser, card_page + "/pin-reset", data)
    assert r.status_code == 403 and "目标不在您的管辖地区内" in r.text
