"""Identity evidence at the counter (CH-2), campaign prompts (PIN-9) and the initial-PIN report."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sscard.cards.types import CardType
from sscard.credentials.pin.campaign import campaign_prompt_for, local_date
from sscard.credentials.pin.errors import IdentityEvidenceInvalid, IdentityEvidenceMismatch
from sscard.credentials.pin.evidence import DocumentType, check_identity_evidence
from sscard.credentials.pin.models import CardPin
from sscard.credentials.pin.report import count_initial_pins
from sscard.db.base import utcnow
from sscard.identity.protected import ID_NUMBER
from sscard.insurance.populations import populations_on
from sscard.insurance.registration import end_registration
from sscard.people.models import PersonStatus
from sscard.people.service import get_person_or_raise
from sscard.policy.schemas import EffectivePolicy, PinCampaign
from tests.credentials.pin.factories import insure_as_employee, insure_as_resident, make_card
from tests.people.factories import CLERK, add_test_person, new_id_number

SEED_004_CAMPAIGN = PinCampaign(
    name="bj-employee-medical",
    start_date=date(2026, 4, 13),
    populations=["urban_employee_medical"],
    excluded_populations=["urban_rural_resident_pension", "urban_resident_medical"],
    excluded_card_types=["medical"],
)


def _policy(*campaigns: PinCampaign) -> EffectivePolicy:
    return EffectivePolicy(region_code="110000", as_of=datetime.now(UTC), pin_change_campaigns=campaigns)


# rule CH-2: the document shown must be the holder's; only type and masked number are kept
def test_evidence_matches_holder(uow) -> None:
    number = new_id_number()
    person = add_test_person(uow, id_number=number)
    checked = check_identity_evidence(person=person, document_type="resident_id_card", document_number=number.lower())
    assert checked.document_type is DocumentType.RESIDENT_ID_CARD
    assert checked.as_details() == {"document_type": "resident_id_card", "document_number": checked.number_masked}
    assert number not in str(checked.as_details()) and "*" in checked.number_masked
    with pytest.raises(IdentityEvidenceMismatch):
        check_identity_evidence(person=person, document_type="resident_id_card", document_number=new_id_number())
    with pytest.raises(IdentityEvidenceInvalid):
        check_identity_evidence(person=person, document_type="resident_id_card", document_number="12345")
    with pytest.raises(IdentityEvidenceInvalid):
        check_identity_evidence(person=person, document_type="library_card", document_number=number)
    passport = check_identity_evidence(person=person, document_type="passport", document_number="E12345678")
    assert passport.number_masked == "E1*****78"
    assert ID_NUMBER.index(number) == person.id_number_bidx


# rule PIN-9: seed 004 — employee medical insurance holders still on the initial PIN are prompted
def test_campaign_prompts_initial_pin_of_selected_population(uow) -> None:
    card = make_card(uow, id_number=new_id_number(born=date(1980, 5, 1)))
    person = get_person_or_raise(uow, card.person_id)
    policy = _policy(SEED_004_CAMPAIGN)
    # Employed by status but not (yet) insured: the status is no longer taken for participation.
    assert person.status is PersonStatus.EMPLOYED
    assert _prompt(uow, policy, card, person, on=date(2026, 4, 13)) is None
    insure_as_employee(uow, person, start=date(2024, 1, 1))
    prompt = _prompt(uow, policy, card, person, on=date(2026, 4, 13))
    assert prompt is not None and prompt.campaign == "bj-employee-medical" and prompt.action == "change_pin"
    assert "不会作废" in prompt.message_zh  # no card is voided, no deadline
    # Not before the start date; never once the PIN is enabled; not without a campaign.
    assert _prompt(uow, policy, card, person, on=date(2026, 4, 12)) is None
    assert _prompt(uow, policy, card, person, on=date(2026, 5, 1), pin_enabled=True) is None
    assert _prompt(uow, _policy(), card, person, on=date(2026, 5, 1)) is None


def _prompt(uow, policy, card, person, *, on: date, pin_enabled: bool = False):
    return campaign_prompt_for(uow, terminal_policy=policy, card=card, person=person, pin_enabled=pin_enabled, on=on)


# rule PIN-9: the population is the participation on the day: before it starts and after it stops, no prompt
def test_campaign_follows_participation_dates(uow) -> None:
    card = make_card(uow, id_number=new_id_number(born=date(1980, 5, 1)))
    person = get_person_or_raise(uow, card.person_id)
    policy = _policy(SEED_004_CAMPAIGN)
    registration = insure_as_employee(uow, person, start=date(2026, 6, 1))
    assert _prompt(uow, policy, card, person, on=date(2026, 5, 31)) is None
    assert _prompt(uow, policy, card, person, on=date(2026, 6, 1)) is not None
    end_registration(uow, registration_id=registration.id, ended_on=date(2026, 9, 1), actor=CLERK)
    assert _prompt(uow, policy, card, person, on=date(2026, 8, 31)) is not None
    assert _prompt(uow, policy, card, person, on=date(2026, 9, 1)) is None
    # Insured for pension only: not in the employee medical population the campaign selects.
    pension_only = make_card(uow, id_number=new_id_number(born=date(1980, 5, 1)))
    holder = get_person_or_raise(uow, pension_only.person_id)
    insure_as_employee(uow, holder, insurance_types=["basic_pension"])
    assert populations_on(uow, person_id=holder.id, on=date(2026, 5, 1)) == {"urban_employee_pension"}
    assert _prompt(uow, policy, pension_only, holder, on=date(2026, 5, 1)) is None


# rule PIN-9: legacy medical cards and holders outside the selected population are out of scope
def test_campaign_excludes_card_types_and_populations(uow) -> None:
    policy = _policy(SEED_004_CAMPAIGN)
    medical = make_card(uow, card_type="medical", id_number=new_id_number(born=date(1980, 5, 1)))
    holder = get_person_or_raise(uow, medical.person_id)
    insure_as_employee(uow, holder)  # insured as an employee, but a legacy medical card is out of scope
    assert _prompt(uow, policy, medical, holder, on=date(2026, 5, 1)) is None
    unemployed = make_card(uow, status=PersonStatus.UNEMPLOYED)
    person = get_person_or_raise(uow, unemployed.person_id)
    assert _prompt(uow, policy, unemployed, person, on=date(2026, 5, 1)) is None
    # Urban(-rural) resident medical insurance is out of scope by policy, even with employee cover besides.
    resident = make_card(uow, id_number=new_id_number(born=date(1980, 5, 1)))
    person = get_person_or_raise(uow, resident.person_id)
    insure_as_resident(uow, person)
    assert "urban_resident_medical" in populations_on(uow, person_id=person.id, on=date(2026, 5, 1))
    assert _prompt(uow, policy, resident, person, on=date(2026, 5, 1)) is None
    wide = _policy(
        PinCampaign(name="all-medical", start_date=date(2026, 1, 1), populations=["urban_rural_resident_medical"])
    )
    assert _prompt(uow, wide, resident, person, on=date(2026, 5, 1)) is not None  # policy decides


def test_local_date_is_china_time() -> None:
    assert local_date(datetime(2026, 4, 12, 16, 30, tzinfo=UTC)) == date(2026, 4, 13)


# rule PIN-1: the report counts active cards still on the initial PIN, per region and type, no row needed
def test_initial_pin_report(uow) -> None:
    region = "620102"
    cards = [make_card(uow, id_number=new_id_number(region=region)) for _ in range(3)]
    make_card(uow, activate=False, id_number=new_id_number(region=region))  # not active: not counted
    uow.session.add(CardPin(card_id=cards[0].id, pvv=b"\x01" * 8, pvk_version=1, failures=0, updated_at=utcnow()))
    uow.flush()
    rows = {(r.region_code, r.card_type): r for r in count_initial_pins(uow, within="620000")}
    row = rows[(region, CardType.SOCIAL)]
    assert (row.active_cards, row.initial_pin) == (3, 2)
    assert row.as_dict()["share"] == round(2 / 3, 4)
    assert all(code.startswith("62") for code, _ in rows)
    assert not [r for r in count_initial_pins(uow, within="110000") if r.region_code == region]
