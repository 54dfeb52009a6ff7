"""The card's personalisation record (CARD-7): what the face and chip carry, checked at the counter."""

from __future__ import annotations

from sqlalchemy import select

from sscard.cards.models import CardPersonalisation
from sscard.cards.personalisation import bureau_of, personalisation_of, record_row
from sscard.cards.service import activate_card, issue_card, replace_card
from sscard.db.base import china_today
from sscard.db.session import unit_of_work
from sscard.identity.masking import mask_id_number
from sscard.identity.protected import ID_NUMBER, NAME
from sscard.record_corrections.service import correct_contact_details
from sscard.staff.roles import Role
from tests.credentials.pin.factories import card_audit
from tests.people.factories import CLERK, add_test_person, new_id_number

BASE = "/api/v1/counter"


def _issue(uow, name: str = "李小龙", region: str = "110105"):
    number = new_id_number(region=region, gender="M")
    person = add_test_person(uow, id_number=number, name=name)
    card = issue_card(uow, person_id=person.id, actor=CLERK)
    return person, card, number


# rule CARD-7: issuing keeps name, gender, citizen ID, card and chip serials, date and bureau; sealed
def test_issue_keeps_what_was_personalised(uow) -> None:
    person, card, number = _issue(uow)
    record = personalisation_of(uow, card_id=card.id)
    assert record is not None
    assert NAME.open(record.name_enc, row=record_row("name_enc", card.card_no)) == "李小龙"
    assert ID_NUMBER.open(record.id_number_enc, row=record_row("id_number_enc", card.card_no)) == number
    assert record.gender == "M" == person.gender and record.card_no == card.card_no
    assert len(record.chip_serial) == 16 and record.personalised_on == china_today()
    assert record.bureau == bureau_of(card.region_code) and record.bureau.startswith("110000")
    assert number.encode() not in record.id_number_enc and "李小龙".encode() not in record.name_enc  # ID-5
    [entry] = card_audit(uow, card.card_no, "card.personalise")
    assert record.chip_serial in entry.details and number not in entry.details
    other = issue_card(uow, person_id=add_test_person(uow).id, actor=CLERK)
    assert personalisation_of(uow, card_id=other.id).chip_serial != record.chip_serial


# rule CARD-7: a replacement is personalised from the corrected person record; the old record keeps the old
def test_replacement_after_a_name_correction(uow) -> None:
    person, card, number = _issue(uow, name="王小明")
    activate_card(uow, card_no=card.card_no, actor=CLERK)
    correct_contact_details(uow, person_id=person.id, document_type="resident_id_card", document_number=number,
                            actor=CLERK, name="王晓明")  # fmt: skip
    new = replace_card(uow, card_no=card.card_no, actor=CLERK, evidence="resident ID card")
    old_record, new_record = personalisation_of(uow, card_id=card.id), personalisation_of(uow, card_id=new.id)
    assert (
        NAME.open(new_record.name_enc, row=record_row("name_enc", new.card_no)) == "王晓明"
        and new_record.card_no == new.card_no
    )
    assert (
        NAME.open(old_record.name_enc, row=record_row("name_enc", card.card_no)) == "王小明"
        and old_record.card_no == card.card_no
    )
    assert new_record.chip_serial != old_record.chip_serial
    assert ID_NUMBER.open(new_record.id_number_enc, row=record_row("id_number_enc", new.card_no)) == number
    records = uow.session.scalars(
        select(CardPersonalisation).where(CardPersonalisation.card_id.in_([card.id, new.id]))
    ).all()
    assert len(records) == 2


# rule CARD-7: the counter checks a presented card field by field; only masked values in the answer
def test_counter_check_names_each_field(client, staff_headers) -> None:
    clerk = staff_headers(Role.COUNTER_CLERK, "110000")
    with unit_of_work() as uow:
        person, card, number = _issue(uow, name="欧阳娜娜")
        chip = personalisation_of(uow, card_id=card.id).chip_serial
        card_no, person_id = card.card_no, person.id
    url = f"{BASE}/cards/{card_no}/personalisation/check"
    good = {"name": "欧阳娜娜", "gender": "男", "id_number": number.lower(), "card_no": card_no, "chip_serial": chip}
    r = client.post(url, json=good, headers=clerk)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["matches"] is True and [f["field"] for f in answer["fields"]] == [
        "name", "gender", "id_number", "card_no", "chip_serial"
    ]  # fmt: skip
    assert answer["person_changed"] == []
    bad = {**good, "name": "欧阳拿拿", "id_number": new_id_number(region="110105"), "chip_serial": "FFFF"}
    r = client.post(url, json=bad, headers=clerk)
    answer = r.json()
    assert r.status_code == 200 and answer["matches"] is False
    assert {f["field"] for f in answer["fields"] if not f["match"]} == {"name", "id_number", "chip_serial"}
    by_field = {f["field"]: f for f in answer["fields"]}
    assert by_field["id_number"]["recorded_masked"] == mask_id_number(number)
    assert number not in r.text and "欧阳娜娜" not in r.text and card_no not in r.text  # masked only (ID-5)
    # every check is audited with the fields' names, never their values (CH-4)
    with unit_of_work() as uow:
        entries = card_audit(uow, card_no, "card.personalisation_check")
        assert [e.result for e in entries] == ["ok", "mismatch"]
        assert all(number not in e.details and "欧阳" not in e.details for e in entries)
        # a later correction of the person shows as a change since personalisation
        correct_contact_details(uow, person_id=person_id, document_type="resident_id_card", document_number=number,
                                actor=CLERK, name="欧阳娜")  # fmt: skip
    r = client.post(url, json={"gender": "M"}, headers=clerk)
    assert r.json()["matches"] is True and r.json()["person_changed"] == ["name"]
    r = client.post(url, json={}, headers=clerk)
    assert r.status_code == 422 and r.json()["code"] == "CARD_INPUT_INVALID"
    shanghai = staff_headers(Role.COUNTER_CLERK, "310000")
    r = client.post(url, json=good, headers=shanghai)
    assert r.status_code == 403 and r.json()["code"] == "OUTSIDE_REGION"
