"""Two parallel declarations of the same employer, person and period post once (INS-3).

Each runs in its own committed transaction from its own thread; on PostgreSQL the second insert waits
on the unique index for the first to commit, fails, and finds the first's row: already present.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from sqlalchemy import func, select

from sscard.db.session import unit_of_work
from sscard.insurance.models import ContributionDeclaration
from sscard.insurance.service import declare_contribution, personal_accounts_of, store_document
from sscard.ledger.models import LedgerPosting
from sscard.ledger.service import balance, check
from tests.employers.factories import AGENCY
from tests.insurance.factories import registered_employee


# rule INS-3: parallel duplicates post once (the unique key, not luck)
def test_parallel_declarations_post_once(db_env) -> None:
    with unit_of_work() as uow:
        employer, person, _, _ = registered_employee(uow)
        employer_id, person_id = employer.id, person.id
    barrier = threading.Barrier(4)

    def declare(i: int) -> bool:
        barrier.wait()
        with unit_of_work() as uow:
            doc = store_document(uow, content=f"parallel {i}".encode(), source="api", actor=AGENCY)
            result = declare_contribution(
                uow,
                employer_id=employer_id,
                person_id=person_id,
                period=date(2025, 4, 1),
                base_fen=900_000,
                document=doc,
                actor=AGENCY,
                today=date(2025, 6, 15),
            )
            return result.already_present

    with ThreadPoolExecutor(max_workers=4) as pool:
        present = list(pool.map(declare, range(4)))
    assert sorted(present) == [False, True, True, True]
    with unit_of_work() as uow:
        rows = uow.session.scalar(
            select(func.count())
            .select_from(ContributionDeclaration)
            .where(ContributionDeclaration.person_id == person_id)
        )
        assert rows == 1
        decl = uow.session.scalar(select(ContributionDeclaration).where(ContributionDeclaration.person_id == person_id))
        postings = uow.session.scalar(
            select(func.count()).select_from(LedgerPosting).where(LedgerPosting.source_ref == f"declaration:{decl.id}")
        )
        assert postings == 1
        assert balance(uow, personal_accounts_of(uow, person_id)["pension_personal"]) == 72_000
        assert check(uow).ok
