"""The insurance domain's services in one place (others import from here)."""

from __future__ import annotations

from sqlalchemy import select

from sscard.db.session import UnitOfWork
from sscard.insurance.corrections import correct_declaration
from sscard.insurance.declarations import DeclarationResult, declare_batch, declare_contribution
from sscard.insurance.documents import document_intact, store_document
from sscard.insurance.registration import (
    decide_premium,
    end_registration,
    get_registration_or_raise,
    participations_of,
    register_employee,
    register_self,
)
from sscard.ledger.models import PERSONAL_KINDS, LedgerAccount

__all__ = [
    "DeclarationResult",
    "correct_declaration",
    "decide_premium",
    "declare_batch",
    "declare_contribution",
    "document_intact",
    "end_registration",
    "get_registration_or_raise",
    "participations_of",
    "personal_accounts_of",
    "register_employee",
    "register_self",
    "store_document",
]


def personal_accounts_of(uow: UnitOfWork, person_id: int) -> dict[str, LedgerAccount]:
    """The person's personal accounts by kind (``pension_personal``, ``medical_personal``); absent
    until the first contribution opened them."""
    rows = uow.session.scalars(
        select(LedgerAccount).where(
            LedgerAccount.person_id == person_id, LedgerAccount.kind.in_(sorted(PERSONAL_KINDS))
        )
    )
    return {row.kind: row for row in rows}
