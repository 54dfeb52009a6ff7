"""Registered employees for insurance tests."""

from __future__ import annotations

from datetime import date

from sscard.insurance.service import register_employee, store_document
from tests.employers.factories import AGENCY, add_test_employer
from tests.people.factories import add_test_person, new_id_number


def registered_employee(uow, *, start: date = date(2024, 1, 1), registered_on: date | None = None, employer=None):
    employer = employer or add_test_employer(uow)
    number = new_id_number(born=date(1985, 6, 1), region="110105")
    person = add_test_person(uow, id_number=number)
    registration = register_employee(
        uow,
        employer=employer,
        person=person,
        employment_start=start,
        registered_on=registered_on or start,
        actor=AGENCY,
        today=date(2025, 6, 15),
    )
    return employer, person, registration, number


def document(uow, content: bytes = b'{"test": true}'):
    return store_document(uow, content=content, source="api", actor=AGENCY)
