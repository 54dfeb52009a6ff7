"""Counter PIN routes and the admin report over HTTP (PIN-6..PIN-8, CH-2, issue 5 item 7)."""

from __future__ import annotations

from sscard.credentials.pin.store import lock_pin_row, record_failure
from sscard.db.base import utcnow
from sscard.db.session import unit_of_work
from sscard.people.service import get_person_or_raise
from sscard.staff.roles import Role
from tests.credentials.pin.factories import make_card
from tests.people.factories import new_id_number


def _locked_card(region: str = "110105", bank_code: str | None = None) -> tuple[str, str]:
    with unit_of_work() as uow:
        card = make_card(uow, id_number=new_id_number(region=region), bank_code=bank_code)
        row = lock_pin_row(uow, card_id=card.id, now=utcnow())
        row.pvv, row.pvk_version = b"\x11" * 8, 1
        uow.flush()
        for _ in range(6):
            record_failure(uow, card_id=card.id, threshold=6, now=utcnow())
        id_number = get_person_or_raise(uow, card.person_id).id_number
        return card.card_no, id_number


def _evidence(id_number: str) -> dict[str, object]:
    return {"evidence": {"document_type": "resident_id_card", "document_number": id_number}}


# rule PIN-6 / CH-2: a clerk of the region unlocks and resets with the holder's ID document
def test_counter_unlock_and_reset(client, staff_headers) -> None:
    card_no, id_number = _locked_card()
    clerk = staff_headers(Role.COUNTER_CLERK, "110000")
    status = client.get(f"/api/v1/counter/cards/{card_no}/pin", headers=clerk).json()
    assert status["locked"] and status["tries_left"] == 0 and status["pin_enabled"]
    assert card_no not in status["card_no_masked"]

    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/unlock", json=_evidence(id_number), headers=clerk)
    assert r.status_code == 200, r.text
    assert (r.json()["locked"], r.json()["tries_left"], r.json()["pin_enabled"]) == (False, 6, True)

    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/reset", json=_evidence(id_number), headers=clerk)
    assert r.status_code == 200, r.text
    assert r.json()["pin_enabled"] is False  # back to the initial PIN (national default "either")

    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/cancel", json=_evidence(id_number), headers=clerk)
    assert r.status_code == 409 and r.json()["code"] == "PIN_NOT_ENABLED"
    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/restore", json=_evidence(id_number), headers=clerk)
    assert r.status_code == 409 and r.json()["code"] == "PIN_NOTHING_TO_RESTORE"


# rule CH-2: evidence is required and must be the holder's; staff act only in their region and role
def test_counter_checks_evidence_region_and_role(client, staff_headers) -> None:
    card_no, id_number = _locked_card()
    clerk = staff_headers(Role.COUNTER_CLERK, "110000")
    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/unlock", json={}, headers=clerk)
    assert r.status_code == 422
    other = {"evidence": {"document_type": "resident_id_card", "document_number": new_id_number()}}
    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/unlock", json=other, headers=clerk)
    assert r.status_code == 422 and r.json()["code"] == "IDENTITY_EVIDENCE_MISMATCH"
    assert id_number not in r.text
    outsider = staff_headers(Role.COUNTER_CLERK, "440000")
    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/unlock", json=_evidence(id_number), headers=outsider)
    assert r.status_code == 403 and r.json()["code"] == "OUTSIDE_REGION"
    auditor = staff_headers(Role.AUDITOR, "110000")
    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/unlock", json=_evidence(id_number), headers=auditor)
    assert r.status_code == 403
    r = client.post("/api/v1/counter/cards/Z99999999/pin/unlock", json=_evidence(id_number), headers=clerk)
    assert r.status_code == 404 and r.json()["code"] == "CARD_NOT_FOUND"


# rule PIN-6 / FIN-3: a bank clerk unlocks only cards issued through the bank on the clerk's account;
# a card of another bank, or of no bank, is 403 CARD_OTHER_BANK (issue 17 item 9)
def test_bank_clerk_acts_only_on_cards_of_their_bank(client, staff_headers) -> None:
    from tests.staff.factories import TEST_BANK

    bank = staff_headers(Role.BANK_CLERK, "110000")  # works for TEST_BANK
    for other in (None, "OTHERBANK"):
        card_no, id_number = _locked_card(bank_code=other)
        for method, path in (("post", "/unlock"), ("post", "/reset"), ("get", "")):
            kwargs = {"json": _evidence(id_number)} if method == "post" else {}
            r = client.request(method, f"/api/v1/counter/cards/{card_no}/pin{path}", headers=bank, **kwargs)
            assert r.status_code == 403 and r.json()["code"] == "CARD_OTHER_BANK", (other, path, r.text)
        status = client.get(f"/api/v1/counter/cards/{card_no}/pin", headers=staff_headers()).json()
        assert status["locked"]  # nothing changed
    card_no, id_number = _locked_card(bank_code=TEST_BANK)  # PIN-6: the card's bank outlet may unlock
    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/unlock", json=_evidence(id_number), headers=bank)
    assert r.status_code == 200 and r.json()["locked"] is False, r.text
    outside = staff_headers(Role.BANK_CLERK, "440000")  # same bank, other province: the region still rules
    r = client.post(f"/api/v1/counter/cards/{card_no}/pin/unlock", json=_evidence(id_number), headers=outside)
    assert r.status_code == 403 and r.json()["code"] == "OUTSIDE_REGION"


# rule PIN-6: a bank clerk's account names its bank; only bank clerks carry one
def test_bank_clerk_account_needs_a_bank(uow) -> None:
    import pytest

    from sscard.staff.errors import InvalidStaffInput
    from tests.staff.factories import make_staff

    with pytest.raises(InvalidStaffInput):
        make_staff(uow, role=Role.BANK_CLERK, bank_code=" ")
    with pytest.raises(InvalidStaffInput):
        make_staff(uow, role=Role.COUNTER_CLERK, bank_code="ICBC")
    assert make_staff(uow, role=Role.BANK_CLERK, bank_code="icbc").bank_code == "ICBC"


# issue 5 item 7: administrators see how many active cards still run on the initial PIN
def test_admin_initial_pin_report(client, staff_headers) -> None:
    with unit_of_work() as uow:
        for _ in range(2):
            make_card(uow, id_number=new_id_number(region="640104"))
    admin = staff_headers(Role.ADMINISTRATOR, "640000")
    rows = client.get("/api/v1/admin/reports/initial-pins", headers=admin).json()
    row = next(r for r in rows if r["region_code"] == "640104" and r["card_type"] == "social")
    assert row["active_cards"] >= 2 and row["initial_pin"] >= 2 and 0 < row["share"] <= 1
    r = client.get("/api/v1/admin/reports/initial-pins?within=110000", headers=admin)
    assert r.status_code == 403
    clerk = staff_headers(Role.COUNTER_CLERK, "640000")
    assert client.get("/api/v1/admin/reports/initial-pins", headers=clerk).status_code == 403


# issue 5 item 7: the same report on the command line
def test_cli_initial_pin_report(db_env) -> None:
    import json

    from typer.testing import CliRunner

    from sscard.cli.main import app

    with unit_of_work() as uow:
        make_card(uow, id_number=new_id_number(region="640105"))
    result = CliRunner().invoke(app, ["pin", "report", "--within", "640100", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert any(r["region_code"] == "640105" and r["initial_pin"] >= 1 for r in rows)
    assert all(r["region_code"].startswith("6401") for r in rows)
    bad = CliRunner().invoke(app, ["pin", "report", "--within", "64"])
    assert bad.exit_code != 0
