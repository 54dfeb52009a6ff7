"""Data for the employer and console page tests (TestClient and browser): fresh random ids each call."""

from __future__ import annotations

from datetime import date

from sscard.credentials.query_password.hashing import hash_password
from sscard.db.session import UnitOfWork
from sscard.employers.accounts import create_account
from sscard.policy.schemas import RegionalPolicy
from sscard.staff.roles import Role
from tests.employers.factories import AGENCY, add_test_employer
from tests.people.factories import add_test_person, new_id_number
from tests.staff.factories import make_staff

EMPLOYER_PASSWORD = "Hai-dian#works77"  # noqa: S105 - test credential


def employer_with_password(uow: UnitOfWork, *, region: str = "110105"):
    """An employer whose account has its own password (no change pending)."""
    employer = add_test_employer(uow, region=region, contact_phone="13800138000")
    account = create_account(uow, employer=employer, actor=AGENCY)
    account.password_hash = hash_password(RegionalPolicy(), EMPLOYER_PASSWORD)
    account.must_change = False
    uow.flush()
    return employer


def new_worker(uow: UnitOfWork) -> str:
    """A registered person of working age; returns the ID number."""
    number = new_id_number(born=date(1988, 3, 14), region="110105")
    add_test_person(uow, id_number=number)
    return number


def console_staff(uow: UnitOfWork, role: Role, region: str = "110000"):
    """A staff account of ``role`` (enrolled with the test TOTP secret where its role needs one)."""
    return make_staff(uow, role=role, region_code=region)


def carrier_in_custody(uow: UnitOfWork, region: str = "110000") -> str:
    """A PSAM card received and put into the safe in ``region``; returns its serial."""
    from sscard.key_register.carriers import store_carrier
    from tests.key_register.factories import receive, staff_actor

    keeper = staff_actor(uow, Role.KEY_CUSTODIAN, region)
    card = receive(uow, keeper, region_code=region)
    store_carrier(uow, carrier_id=card.id, location="保险柜", purpose="待销毁", actor=keeper)
    return card.serial


def deliver_incident_notices(description: str) -> None:
    """What the dispatcher records once the department inboxes accepted an incident's notices (KEY-9: a
    measure that is a notice counts as done only when delivered; notify/dispatcher.py)."""
    from sqlalchemy import select

    from sscard.db.base import utcnow
    from sscard.db.session import unit_of_work
    from sscard.key_register.models.incidents import IncidentMeasure, SecurityIncident
    from sscard.notify import MessageState, OutboxMessage

    with unit_of_work() as uow:
        incident = uow.session.scalars(
            select(SecurityIncident).where(SecurityIncident.description == description)
        ).one()
        measures = uow.session.scalars(select(IncidentMeasure).where(IncidentMeasure.incident_id == incident.id))
        for measure in measures:
            if measure.outbox_message_id is not None:
                message = uow.session.get(OutboxMessage, measure.outbox_message_id)
                message.state, message.sent_at = MessageState.SENT, utcnow()
