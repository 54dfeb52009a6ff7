"""Holders for query-password tests: unique IDs (some ending in X), registered in a fresh region."""

from __future__ import annotations

from sscard.audit import Actor
from sscard.credentials.query_password.rules import initial_query_password
from sscard.policy.service import set_policy
from tests.people.factories import add_test_person, new_id_number, new_phone

ADMIN = Actor.system()


def id_ending_in_x(region: str | None = None) -> str:
    """A valid, unique citizen ID whose check character is X (QPW-1: X → 0)."""
    while True:
        number = new_id_number(region=region)
        if number.endswith("X"):
            return number


def make_holder(
    uow, *, region: str | None = None, x: bool = False, email: str | None = "holder@example.com", phone: bool = True
):
    """(person, id_number, initial password) of a new holder."""
    number = id_ending_in_x(region) if x else new_id_number(region=region)
    person = add_test_person(uow, id_number=number, name="黄勇", email=email, phone=new_phone() if phone else None)
    return person, number, initial_query_password(number)


def region_policy(uow, region: str, **values) -> None:
    set_policy(uow, region_code=region, values=values, reason="test policy", actor=ADMIN)
