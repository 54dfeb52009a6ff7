"""The portal's money page over the settlement service itself (issue 21 item 1, "medical settlements and
debit account movements once they exist"): a payment and a refund at a pharmacy's terminal are listed
with the debit account's movements."""

from __future__ import annotations

from sscard.db.base import china_today
from sscard.db.session import unit_of_work
from sscard.settlement.service import refund, settle
from sscard.terminal_registry.auth import AuthenticatedTerminal
from sscard.terminal_registry.models import InstitutionType
from tests.credentials.pin.conftest import client, staff_headers, terminal  # noqa: F401 (fixtures)
from tests.web.portal_factories import REGION, holder_with_records
from tests.web.test_portal_records import sign_in


# rules FIN-1 / FIN-2: what the pharmacy's terminal paid from the medical personal account, and paid back,
# is in the holder's portal beside the debit account's movements; the card number is never shown whole
def test_settlement_and_refund_at_a_terminal_are_shown(browser, terminal) -> None:  # noqa: F811
    holder = holder_with_records(year=china_today().year)
    p = terminal("pharmacy", REGION).profile
    pharmacy = AuthenticatedTerminal(
        p.terminal_id, p.institution, InstitutionType.PHARMACY, p.region_code, p.key_version, p.suite
    )
    with unit_of_work() as uow:
        paid = settle(uow, terminal=pharmacy, card_no=holder.card_nos[0], amount_fen=1_234, txn_id="T-PORTAL-1",
                      pin_block=None, actor=pharmacy.actor())  # fmt: skip
        assert not paid.replayed
        refund(uow, terminal=pharmacy, txn_id="T-PORTAL-1", refund_txn_id="T-PORTAL-1R", amount_fen=200,
               actor=pharmacy.actor())  # fmt: skip
    sign_in(browser, holder)
    html = browser.get("/portal/money").text
    settlements = html.split("医保结算", 1)[1].split("借记账户", 1)[0]
    assert "-¥12.34" in settlements and "结算退款" in settlements and "¥2.00" in settlements
    assert "¥500.00" in html and "现金存入" in html  # the debit account's balance and its deposit
    assert holder.card_nos[0] not in html and f"*{holder.card_nos[0][-4:]} ·" in html  # the last four (issue 21)
    english = browser.get("/portal/money?lang=en").text
    assert "Medical settlement" in english and "Settlement refund" in english and "-CN¥12.34" in english
