"""Corrected declarations (INS-3, INS-7): a reversing posting plus a new revision, never an edit."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from sscard.audit import Actor, record_event
from sscard.db.base import utcnow
from sscard.db.session import UnitOfWork
from sscard.insurance.declarations import (
    DeclarationInput,
    DeclarationResult,
    Planned,
    PolicyCache,
    SystemAccounts,
    participations_by_registration,
    types_in,
    write,
)
from sscard.insurance.errors import DeclarationConflict, DeclarationNotFound
from sscard.insurance.models import ContributionDeclaration, DeclarationDocument, InsuranceRegistration
from sscard.insurance.rules import clamped_base, compute_parts, declared_late
from sscard.ledger.models import LedgerPosting
from sscard.ledger.service import reverse
from sscard.people.service import person_subject


def correct_declaration(
    uow: UnitOfWork,
    *,
    declaration_id: int,
    base_fen: int,
    document: DeclarationDocument,
    actor: Actor,
    industry_class: str | None = None,
    today: date | None = None,
) -> DeclarationResult:
    """Replace the current declaration of a month with another base: its posting is reversed, it is
    marked superseded, and a new revision (marked corrected, and late when it is) is posted."""
    today = today or utcnow().date()
    old = uow.session.scalar(
        select(ContributionDeclaration).where(ContributionDeclaration.id == declaration_id).with_for_update()
    )
    if old is None:
        raise DeclarationNotFound()
    if old.superseded:
        raise DeclarationConflict("this declaration was already corrected; correct the current revision")
    if old.declared_base_fen == base_fen:
        return DeclarationResult(old, True)
    registration = uow.session.get_one(InsuranceRegistration, old.registration_id)
    bounds, rates = PolicyCache().get(uow, registration.region_code, old.period)
    base = clamped_base(base_fen, bounds)
    if old.posting_id is not None:
        reverse(
            uow,
            posting=uow.session.get_one(LedgerPosting, old.posting_id),
            actor=actor,
            source_ref=f"declaration:{old.id}",
            business_date=today,
            memo=f"{old.period:%Y-%m} corrected",
        )
    old.superseded = True
    uow.flush()
    item = DeclarationInput(1, old.employer_id, old.person_id, old.period, base_fen, industry_class)
    parts = compute_parts(
        base_fen=base,
        types=types_in(participations_by_registration(uow, {registration.id})[registration.id], old.period),
        kind=registration.kind,
        rates=rates,
        industry_class=industry_class,
    )
    planned = Planned(item, registration, base, parts, declared_late(old.period, today), old.revision + 1)
    (outcome,) = write(uow, [planned], document=document, actor=actor, today=today, system=SystemAccounts(),
                       corrected=True)  # fmt: skip
    new = uow.session.get_one(ContributionDeclaration, outcome.declaration_id)
    record_event(
        uow,
        actor=actor,
        action="insurance.correct_declaration",
        subject=person_subject(old.person_id),
        details={
            "declaration": new.id,
            "replaces": old.id,
            "period": f"{old.period:%Y-%m}",
            "declared_base_fen": base_fen,
            "previous_base_fen": old.declared_base_fen,
            "document": document.id,
            "sha256": document.sha256,
        },
    )
    return DeclarationResult(new, False)
