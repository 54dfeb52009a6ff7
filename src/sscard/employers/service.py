"""Register and find employers (INS-1). The credit code is validated per GB 32100 before anything is written."""

from __future__ import annotations

from sqlalchemy import select

from sscard.audit import Actor, record_event
from sscard.db.session import UnitOfWork
from sscard.employers.errors import USCC_ERRORS, EmployerDuplicate, EmployerNameInvalid, EmployerNotFound
from sscard.employers.models import Employer
from sscard.employers.uscc import check_uscc
from sscard.identity.protected import NAME, PHONE, employer_row
from sscard.regions.service import get_region_or_raise


def valid_uscc(code: str) -> str:
    """The normalised code, or the ``USCC_*`` error that says what is wrong with it."""
    result = check_uscc(code)
    if result.code is not None:
        raise USCC_ERRORS[result.code](result.reason)
    return result.uscc


def employer_subject(employer_id: int) -> str:
    return f"employer:{employer_id}"


def add_employer(
    uow: UnitOfWork,
    *,
    uscc: str,
    name: str,
    region_code: str,
    actor: Actor,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    industry_class: str | None = None,
) -> Employer:
    """Register an employer under its credit code (unique); the contact is sealed, never stored in clear."""
    code = valid_uscc(uscc)
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise EmployerNameInvalid()
    get_region_or_raise(uow, region_code)
    if find_employer(uow, uscc=code) is not None:
        raise EmployerDuplicate(f"employer {code} is already registered")
    employer = Employer(
        uscc=code,
        name=name,
        region_code=region_code,
        # Bound to this employer's row (its credit code): a contact copied from another row fails on read.
        contact_name_enc=NAME.seal(contact_name, row=employer_row("contact_name_enc", code)) if contact_name else None,
        contact_phone_enc=PHONE.seal(contact_phone, row=employer_row("contact_phone_enc", code))
        if contact_phone
        else None,
        industry_class=industry_class,
    )
    uow.session.add(employer)
    uow.flush()
    record_event(
        uow,
        actor=actor,
        action="employer.add",
        subject=employer_subject(employer.id),
        details={"uscc": code, "region": region_code},
    )
    return employer


def find_employer(uow: UnitOfWork, *, uscc: str) -> Employer | None:
    return uow.session.scalar(select(Employer).where(Employer.uscc == uscc.strip().upper()))


def get_employer_by_uscc_or_raise(uow: UnitOfWork, uscc: str) -> Employer:
    """The employer of a (valid) credit code; ``USCC_*`` for a bad code, ``EMPLOYER_NOT_FOUND`` for none."""
    employer = find_employer(uow, uscc=valid_uscc(uscc))
    if employer is None:
        raise EmployerNotFound(f"no employer with credit code {uscc.strip().upper()}")
    return employer


def get_employer_or_raise(uow: UnitOfWork, employer_id: int) -> Employer:
    employer = uow.session.get(Employer, employer_id)
    if employer is None:
        raise EmployerNotFound()
    return employer
