"""The holder sees the debit account's balance and movements in the portal API (FIN-2), only their own."""

from __future__ import annotations

import pytest

from sscard.cards import service as card_service
from sscard.db.session import unit_of_work
from tests.credentials.query_password.factories import make_holder
from tests.debit.conftest import open_and_fund
from tests.people.factories import CLERK
from tests.staff.factories import TEST_BANK

pytestmark = pytest.mark.usefixtures("db_env")
NEW_PASSWORD = "Kq7#vPz!2mLw"


def _holder_with_debit(client, fen: int) -> tuple[dict[str, str], str]:
    with unit_of_work() as uow:
        person, number, initial = make_holder(uow, region="110105")
        card = card_service.issue_card(uow, person_id=person.id, card_type="social", actor=CLERK, financial=True,
                                       bank_code=TEST_BANK)  # fmt: skip
        card = card_service.activate_card(uow, card_no=card.card_no, actor=CLERK)
        open_and_fund(uow, card, fen)
        card_no = card.card_no
    token = client.post("/api/v1/portal/login", json={"id_number": number, "password": initial}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/v1/portal/password", json={"old_password": initial, "new_password": NEW_PASSWORD},
                    headers=headers)  # fmt: skip
    assert r.status_code == 204, r.text
    return headers, card_no


# rule FIN-2: balance and movements, newest first, the card masked; another holder sees only their own
def test_portal_debit(client, terminal) -> None:
    headers, card_no = _holder_with_debit(client, 20_000)
    pos = terminal("bank_outlet")
    pos.request(
        "POST", "/terminal/debit/consumption", json_body={"card_no": card_no, "amount_fen": 4_321, "txn_id": "PT1"}
    )
    r = client.get("/api/v1/portal/debit", headers=headers)
    assert r.status_code == 200, r.text
    (account,) = r.json()
    assert account["balance_fen"] == 15_679 and account["bank_code"] == TEST_BANK
    assert [m["amount_fen"] for m in account["movements"]] == [-4_321, 20_000]
    assert card_no not in r.text
    other, _ = _holder_with_debit(client, 1)
    (theirs,) = client.get("/api/v1/portal/debit", headers=other).json()
    assert theirs["balance_fen"] == 1
    assert client.get("/api/v1/portal/debit").status_code == 401
