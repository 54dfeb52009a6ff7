"""Cardholders with records, for the portal's page tests (TestClient and browser)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sscard.audit import Actor, Channel
from sscard.cards import service as card_service
from sscard.db.session import unit_of_work
from tests.credentials.query_password.factories import make_holder
from tests.debit.conftest import open_and_fund
from tests.insurance_accounts.factories import declare, make_employer, register
from tests.people.factories import CLERK
from tests.staff.factories import TEST_BANK, ensure_region
from tests.statements.factories import YEAR, Contributor, fresh_district, year_of_contributions

NEW_PASSWORD = "Qiu-lin#river42"
REGION = "110105"  # inside the test clerks' and banks' 110000


@dataclass
class Holder:
    person_id: int
    id_number: str
    initial: str
    card_nos: tuple[str, ...] = ()
    employer_name: str = ""


def holder_with_records(*, year: int) -> Holder:
    """Two cards (an active financial social card with 500.00 yuan on its debit account, an issued medical
    card), an employer registration and twelve months of ``year`` declared (March late)."""
    with unit_of_work() as uow:
        ensure_region(uow, REGION)
        person, number, initial = make_holder(uow, region=REGION)
        social = card_service.issue_card(
            uow, person_id=person.id, card_type="social", actor=CLERK, financial=True, bank_code=TEST_BANK
        )
        social = card_service.activate_card(uow, card_no=social.card_no, actor=CLERK)
        open_and_fund(uow, social, 50_000)
        medical = card_service.issue_card(uow, person_id=person.id, card_type="medical", actor=CLERK)
        employer = make_employer(uow, region=REGION, name="北京页面测试科技有限公司")
        reg = register(uow, person_id=person.id, employer=employer, start=date(year, 1, 1), region=REGION)
        for month in range(1, 13):
            declare(uow, reg=reg, period=date(year, month, 1), late=month == 3)
        return Holder(person.id, number, initial, (social.card_no, medical.card_no), employer.name)


def holder_with_statement() -> Holder:
    """A holder in a district of their own with a year (``YEAR``) of contributions, a medical settlement
    of 123.45 yuan, and that year's statement issued."""
    region = fresh_district()
    with unit_of_work() as uow:
        person, number, initial = make_holder(uow)  # as tests/statements/test_channels.py
        contributor = Contributor(uow, region=region, person=person)
        contributor.id_number = number
        year_of_contributions(contributor)
        contributor.debit(date(YEAR, 6, 3), 12_345)
    from sscard.jobs.statements import generate_statements

    generate_statements(year=YEAR, region=region, actor=Actor.system(Channel.CLI), workers=0)
    return Holder(person.id, number, initial)
