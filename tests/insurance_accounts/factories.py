"""Insurance records for the account and report tests: an employer, a registration, declarations with
their parts and real postings into the personal accounts (through the ledger service)."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from sscard.audit import Actor
from sscard.db.session import UnitOfWork
from sscard.employers.models import Employer
from sscard.insurance.documents import sealed_document
from sscard.insurance.models import (
    ContributionDeclaration,
    ContributionPart,
    DeclarationDocument,
    DocumentSource,
    InsuranceParticipation,
    InsuranceRegistration,
    InsuranceType,
    RegistrationKind,
)
from sscard.ledger.models import AccountKind, PostingKind
from sscard.ledger.rules import Leg
from sscard.ledger.service import open_account, post

SYSTEM = Actor.system()


def make_employer(uow: UnitOfWork, *, region: str = "110105", name: str = "北京测试科技有限公司") -> Employer:
    employer = Employer(uscc="91" + secrets.token_hex(8).upper(), name=name, region_code=region)
    uow.session.add(employer)
    uow.flush()
    return employer


def register(
    uow: UnitOfWork,
    *,
    person_id: int,
    employer: Employer | None,
    start: date,
    region: str = "110105",
    days_late: int = 0,
    ended_on: date | None = None,
) -> InsuranceRegistration:
    reg = InsuranceRegistration(
        person_id=person_id,
        employer_id=employer.id if employer else None,
        kind=RegistrationKind.EMPLOYEE if employer else RegistrationKind.FLEXIBLE,
        region_code=region,
        employment_start=start,
        registered_on=start + timedelta(days=30 + days_late),
        deadline=start + timedelta(days=30),
        days_late=days_late,
        ended_on=ended_on,
    )
    uow.session.add(reg)
    uow.flush()
    for t in (InsuranceType.BASIC_PENSION, InsuranceType.EMPLOYEE_MEDICAL):
        uow.session.add(
            InsuranceParticipation(
                registration_id=reg.id, person_id=person_id, insurance_type=t, start_date=start, stop_date=ended_on
            )
        )
    uow.flush()
    return reg


def declare(
    uow: UnitOfWork,
    *,
    reg: InsuranceRegistration,
    period: date,
    base_fen: int = 1_000_000,
    late: bool = False,
) -> ContributionDeclaration:
    """A declaration with pension 16 %+8 % (8 % to the pension account) and medical 8 %+2 % (2 % to the
    medical account), posted into the personal accounts."""
    doc = DeclarationDocument(
        employer_id=reg.employer_id,
        source=DocumentSource.API,
        sha256="0" * 64,
        size=2,
        content_enc=sealed_document(b"{}"),
        actor="test",
        channel="system",
    )
    uow.session.add(doc)
    uow.flush()
    decl = ContributionDeclaration(
        employer_id=reg.employer_id,
        person_id=reg.person_id,
        registration_id=reg.id,
        period=period,
        revision=1,
        declared_base_fen=base_fen,
        base_fen=base_fen,
        document_id=doc.id,
        late=late,
    )
    uow.session.add(decl)
    uow.flush()
    pension, medical = base_fen * 8 // 100, base_fen * 2 // 100
    uow.session.add_all(
        [
            ContributionPart(
                declaration_id=decl.id,
                period=period,
                insurance_type=InsuranceType.BASIC_PENSION,
                employer_fen=base_fen * 16 // 100,
                individual_fen=pension,
                personal_account_fen=pension,
            ),
            ContributionPart(
                declaration_id=decl.id,
                period=period,
                insurance_type=InsuranceType.EMPLOYEE_MEDICAL,
                employer_fen=base_fen * 8 // 100,
                individual_fen=medical,
                personal_account_fen=medical,
            ),
        ]
    )
    p_acc = open_account(
        uow, kind=AccountKind.PENSION_PERSONAL.value, region_code=reg.region_code, person_id=reg.person_id
    )
    m_acc = open_account(
        uow, kind=AccountKind.MEDICAL_PERSONAL.value, region_code=reg.region_code, person_id=reg.person_id
    )
    clearing = open_account(uow, kind=AccountKind.CONTRIBUTION_CLEARING.value, region_code=reg.region_code)
    posting = post(
        uow,
        kind=PostingKind.CONTRIBUTION.value,
        legs=[Leg(p_acc.id, pension), Leg(m_acc.id, medical), Leg(clearing.id, -(pension + medical))],
        business_date=period,
        actor=SYSTEM,
        source_ref=f"declaration:{decl.id}",
    )
    decl.posting_id = posting.id
    uow.flush()
    return decl
