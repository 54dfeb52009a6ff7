"""Declarations, postings and corrections on SQLite and PostgreSQL (INS-3, INS-7)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from sscard.audit.models import AuditEntry
from sscard.insurance.errors import (
    BaseAbsurd,
    BaseInvalid,
    DeclarationConflict,
    NotRegistered,
    PeriodBeforeRegistration,
    PeriodInFuture,
)
from sscard.insurance.models import ContributionDeclaration, ContributionPart
from sscard.insurance.service import correct_declaration, declare_contribution, personal_accounts_of
from sscard.ledger.models import LedgerPosting
from sscard.ledger.service import balance, check
from tests.employers.factories import AGENCY, add_test_employer
from tests.insurance.factories import document, registered_employee

TODAY = date(2025, 6, 15)


def _declare(uow, employer, person, period, base, **kw):
    return declare_contribution(
        uow,
        employer_id=employer.id,
        person_id=person.id,
        period=period,
        base_fen=base,
        document=kw.pop("doc", None) or document(uow),
        actor=AGENCY,
        today=TODAY,
        **kw,
    )


def _postings(uow) -> int:
    return uow.session.scalar(select(func.count()).select_from(LedgerPosting))


# rule INS-3: a declaration posts the personal-account shares; the same again is already present
def test_declare_posts_personal_shares(uow) -> None:
    employer, person, _, _ = registered_employee(uow)
    doc = document(uow, b'{"base_fen": 1000000}')
    result = _declare(uow, employer, person, date(2025, 3, 1), 1_000_000, doc=doc)
    assert not result.already_present and result.declaration.base_fen == 1_000_000
    accounts = personal_accounts_of(uow, person.id)
    assert balance(uow, accounts["pension_personal"]) == 80_000
    assert balance(uow, accounts["medical_personal"]) == 20_000
    parts = uow.session.scalars(
        select(ContributionPart).where(ContributionPart.declaration_id == result.declaration.id)
    )
    assert (
        sum(p.employer_fen + p.individual_fen for p in parts)
        == 160_000 + 80_000 + 80_000 + 20_000 + 5_000 + 5_000 + 2_000 + 8_000
    )
    n = _postings(uow)
    again = _declare(uow, employer, person, date(2025, 3, 1), 1_000_000)
    assert again.already_present and again.declaration.id == result.declaration.id and _postings(uow) == n
    # INS-7: the audit entry carries the original document's digest
    details = uow.session.scalars(select(AuditEntry.details).where(AuditEntry.action == "insurance.declare")).all()
    assert any(doc.sha256 in str(d) and f'"declaration":{result.declaration.id}' in str(d) for d in details)
    assert check(uow).ok


# rule INS-3: bases outside the bounds are clamped; refused bases, periods and unknown pairs post nothing
def test_refusals_post_nothing(uow) -> None:
    employer, person, _, _ = registered_employee(uow, start=date(2024, 5, 20))
    low = _declare(uow, employer, person, date(2025, 1, 1), 100)
    assert low.declaration.declared_base_fen == 100 and low.declaration.base_fen == 480_000
    n = _postings(uow)
    cases = [
        (PeriodInFuture, date(2025, 7, 1), 600_000),
        (PeriodBeforeRegistration, date(2024, 4, 1), 600_000),
        (BaseInvalid, date(2025, 2, 1), -5),
        (BaseAbsurd, date(2025, 2, 1), 10**12),
        (DeclarationConflict, date(2025, 1, 1), 600_000),
    ]
    for error, period, base in cases:
        with pytest.raises(error):
            _declare(uow, employer, person, period, base)
    other = add_test_employer(uow)
    with pytest.raises(NotRegistered):
        _declare(uow, other, person, date(2025, 1, 1), 600_000)
    assert _postings(uow) == n
    assert (
        uow.session.scalar(
            select(func.count())
            .select_from(ContributionDeclaration)
            .where(ContributionDeclaration.person_id == person.id)
        )
        == 1
    )


# rule INS-3 / INS-7: a correction reverses the posting and posts a new revision marked corrected
def test_correction_is_reversal_plus_new_revision(uow) -> None:
    employer, person, _, _ = registered_employee(uow)
    first = _declare(uow, employer, person, date(2025, 2, 1), 1_000_000).declaration
    fixed = correct_declaration(
        uow, declaration_id=first.id, base_fen=500_000, document=document(uow), actor=AGENCY, today=TODAY
    ).declaration
    assert fixed.revision == 2 and fixed.corrected and first.superseded
    assert fixed.late  # declared in June for February: past the end of March
    pension = personal_accounts_of(uow, person.id)["pension_personal"]
    assert balance(uow, pension) == 40_000
    reversal = uow.session.scalar(select(LedgerPosting).where(LedgerPosting.reverses_id == first.posting_id))
    assert reversal is not None and reversal.kind == "contribution_reversal"
    with pytest.raises(DeclarationConflict):
        correct_declaration(uow, declaration_id=first.id, base_fen=1, document=document(uow), actor=AGENCY, today=TODAY)
    assert check(uow).ok


# rule INS-3: the same month twice in one request posts once; with two bases it is a conflict
def test_same_month_twice_in_one_batch(uow) -> None:
    from sscard.insurance.declarations import DeclarationInput, declare_batch

    employer, person, _, _ = registered_employee(uow)
    same = [DeclarationInput(i, employer.id, person.id, date(2025, 5, 1), 700_000) for i in (1, 2)]
    first, second = declare_batch(uow, items=same, document=document(uow), actor=AGENCY, today=TODAY)
    assert (first.status, second.status) == ("posted", "already_present")
    assert second.declaration_id == first.declaration_id
    clash = [DeclarationInput(i, employer.id, person.id, date(2025, 4, 1), 700_000 + i) for i in (1, 2)]
    outcomes = declare_batch(uow, items=clash, document=document(uow), actor=AGENCY, today=TODAY)
    assert [o.code for o in outcomes] == [None, "DECLARATION_CONFLICT"]


# rule INS-3 (PERIOD_ARCHIVED): which months are archived is read once per holder (an import job's batches
# share one, ImportContext.horizon) and afresh by a call without one (a request): no process-wide cache
# for a detach to outlive in a long-lived server
def test_archive_horizon_is_read_once_per_holder(uow, monkeypatch) -> None:
    from sscard.insurance import declarations
    from sscard.insurance.declarations import ArchiveHorizon, DeclarationInput, declare_batch

    attached_from: list[date | None] = [date(2025, 4, 1)]  # 2025-01 … 2025-03 archived
    reads: list[str] = []

    def archived_before(connection, table: str) -> date | None:
        reads.append(table)
        return attached_from[0]

    monkeypatch.setattr(declarations, "archived_before", archived_before)
    employer, person, _, _ = registered_employee(uow)

    def declare(month: int, horizon: ArchiveHorizon | None) -> tuple[str, str | None]:
        item = DeclarationInput(1, employer.id, person.id, date(2025, month, 1), 700_000)
        [outcome] = declare_batch(uow, items=[item], document=document(uow), actor=AGENCY, today=TODAY, horizon=horizon)
        return outcome.status, outcome.code

    job = ArchiveHorizon()
    assert declare(4, job) == ("posted", None)
    assert declare(3, job) == ("rejected", "PERIOD_ARCHIVED")
    assert reads == ["contribution_declaration"]  # two batches, one read
    attached_from[0] = None  # (as if) the archive were attached again: the next request sees it
    assert declare(3, None) == ("posted", None)
    assert declare(2, None) == ("posted", None)
    assert len(reads) == 3
