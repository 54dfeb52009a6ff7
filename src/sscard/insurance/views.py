"""Read models for the channels: an employer's registrations and declarations, masked (INS-5)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import func, select

from sscard.db.pagination import Keyset, ordered, taken
from sscard.db.session import UnitOfWork
from sscard.identity import mask_id_number
from sscard.identity.protected import ID_NUMBER, person_row
from sscard.insurance.models import (
    ContributionDeclaration,
    ContributionPart,
    InsuranceParticipation,
    InsuranceRegistration,
)
from sscard.insurance.schemas import DeclarationRead, RegistrationRead
from sscard.people.models import Person

MAX_ROWS = 500


def _masked_ids(uow: UnitOfWork, person_ids: set[int]) -> dict[int, str]:
    rows = uow.session.execute(
        select(Person.id, Person.id_number_enc, Person.id_number_bidx).where(Person.id.in_(sorted(person_ids)))
    )
    return {pid: mask_id_number(ID_NUMBER.open(enc, row=person_row("id_number_enc", bidx))) for pid, enc, bidx in rows}


def employer_registrations(
    uow: UnitOfWork, *, employer_id: int, limit: int = MAX_ROWS, page: Keyset | None = None
) -> list[RegistrationRead]:
    query = select(InsuranceRegistration).where(InsuranceRegistration.employer_id == employer_id)
    if page is None:
        query = query.limit(limit)
    regs = taken(uow.session.scalars(ordered(query, page, InsuranceRegistration.id.desc())), page)
    types: dict[int, list] = defaultdict(list)
    if regs:
        for p in uow.session.scalars(
            select(InsuranceParticipation).where(InsuranceParticipation.registration_id.in_([r.id for r in regs]))
        ):
            types[p.registration_id].append(p.insurance_type)
    masked = _masked_ids(uow, {r.person_id for r in regs})
    return [
        RegistrationRead(
            registration_id=r.id,
            kind=r.kind.value,
            id_number_masked=masked.get(r.person_id, ""),
            employment_start=r.employment_start,
            registered_on=r.registered_on,
            deadline=r.deadline,
            days_late=r.days_late,
            premium_decision=r.premium_decision.value if r.premium_decision else None,
            ended_on=r.ended_on,
            insurance_types=types[r.id],
        )
        for r in regs
    ]


def employer_declarations(
    uow: UnitOfWork, *, employer_id: int, period: date | None = None, limit: int = MAX_ROWS, page: Keyset | None = None
) -> list[DeclarationRead]:
    query = select(ContributionDeclaration).where(ContributionDeclaration.employer_id == employer_id)
    if period is not None:
        query = query.where(ContributionDeclaration.period == period)
    if page is None:
        query = query.limit(limit)
    decls = taken(uow.session.scalars(ordered(query, page, ContributionDeclaration.id.desc())), page)
    sums = {}
    if decls:
        sums = {
            row.declaration_id: row
            for row in uow.session.execute(
                select(
                    ContributionPart.declaration_id,
                    func.sum(ContributionPart.employer_fen).label("employer"),
                    func.sum(ContributionPart.individual_fen).label("individual"),
                    func.sum(ContributionPart.personal_account_fen).label("account"),
                )
                .where(ContributionPart.declaration_id.in_([d.id for d in decls]))
                .group_by(ContributionPart.declaration_id)
            )
        }
    masked = _masked_ids(uow, {d.person_id for d in decls})
    out = []
    for d in decls:
        s = sums.get(d.id)
        out.append(
            DeclarationRead(
                declaration_id=d.id,
                id_number_masked=masked.get(d.person_id, ""),
                period=f"{d.period:%Y-%m}",
                revision=d.revision,
                declared_base_fen=d.declared_base_fen,
                base_fen=d.base_fen,
                late=d.late,
                corrected=d.corrected,
                superseded=d.superseded,
                employer_fen=int(s.employer) if s else 0,
                individual_fen=int(s.individual) if s else 0,
                personal_account_fen=int(s.account) if s else 0,
            )
        )
    return out
