"""Test data for statements: contributors with personal accounts, postings and declarations.

Postings go through the ledger service (balanced legs, balances kept); declarations are written as
rows beside them (the declaration service's policy and parts are tested in tests/insurance), each
naming its posting as the declaration service does.
"""

from __future__ import annotations

import random
from datetime import date

from sscard.audit import Actor, Channel
from sscard.employers.models import Employer
from sscard.identity.protected import EMAIL, PHONE
from sscard.insurance.documents import sealed_document
from sscard.insurance.models import (
    ContributionDeclaration,
    DeclarationDocument,
    DocumentSource,
    InsuranceRegistration,
    RegistrationKind,
)
from sscard.ledger.models import AccountKind, PostingKind
from sscard.ledger.rules import Leg
from sscard.ledger.service import open_account, post, reverse
from tests.people.factories import add_test_person, new_id_number, new_phone

SYSTEM = Actor(kind="system", id="test", channel=Channel.SYSTEM, role="system")
YEAR = 2024


def fresh_district() -> str:
    """A district code of its own (not ending in 00), so a test's contributors are only its own."""
    while True:
        code = f"{random.randint(810000, 899999)}"
        if not code.endswith("00"):
            return code


def new_uscc() -> str:
    return "91" + "".join(random.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(16))


class Contributor:
    """A person with both personal accounts in ``region`` and an employer; helpers to post to them."""

    def __init__(
        self, uow, *, region: str, name: str = "张三丰", contact: bool = True, employer=None, person=None
    ) -> None:
        self.uow = uow
        self.region = region
        if person is None:
            self.id_number = new_id_number()
            extra = {"phone": new_phone(), "email": f"s{random.randint(0, 10**9)}@example.com"} if contact else {}
            person = add_test_person(uow, id_number=self.id_number, name=name, **extra)
        self.person = person
        self.pension = open_account(
            uow, kind=AccountKind.PENSION_PERSONAL, region_code=region, person_id=self.person.id
        )
        self.medical = open_account(
            uow, kind=AccountKind.MEDICAL_PERSONAL, region_code=region, person_id=self.person.id
        )
        self.clearing = open_account(uow, kind=AccountKind.CONTRIBUTION_CLEARING, region_code=region)
        self.interest_expense = open_account(uow, kind=AccountKind.INTEREST_EXPENSE, region_code=region)
        self.employer = employer or make_employer(uow, region=region)
        self.registration = InsuranceRegistration(
            person_id=self.person.id, employer_id=self.employer.id, kind=RegistrationKind.EMPLOYEE,
            region_code=region, employment_start=date(2020, 1, 1), registered_on=date(2020, 1, 5),
            deadline=date(2020, 1, 31), days_late=0,
        )  # fmt: skip
        uow.session.add(self.registration)
        self.document = DeclarationDocument(
            employer_id=self.employer.id, source=DocumentSource.API, sha256="0" * 64, size=2,
            content_enc=sealed_document(b"{}"), actor="test", channel="system",
        )  # fmt: skip
        uow.session.add(self.document)
        uow.flush()

    def contribute(
        self,
        period: date,
        *,
        pension: int,
        medical: int,
        posted: date | None = None,
        late: bool = False,
        corrected: bool = False,
        revision: int = 1,
    ) -> ContributionDeclaration:
        """Declare ``period`` and post its personal-account parts (on ``posted``, default the period's 15th)."""
        posting = post(
            self.uow,
            kind=PostingKind.CONTRIBUTION,
            legs=[
                *([Leg(self.pension.id, pension)] if pension else []),
                *([Leg(self.medical.id, medical)] if medical else []),
                Leg(self.clearing.id, -(pension + medical)),
            ],
            business_date=posted or period.replace(day=15),
            actor=SYSTEM,
            source_ref="declaration:pending",
        )
        declaration = ContributionDeclaration(
            employer_id=self.employer.id, person_id=self.person.id, registration_id=self.registration.id,
            period=period, revision=revision, declared_base_fen=pension * 100 // 8, base_fen=pension * 100 // 8,
            document_id=self.document.id, late=late, corrected=corrected, posting_id=posting.id,
        )  # fmt: skip
        self.uow.session.add(declaration)
        self.uow.flush()
        return declaration

    def correct(self, declaration: ContributionDeclaration, *, pension: int, medical: int, on: date):
        """Reverse ``declaration``'s posting on ``on`` and post a corrected revision (as INS-7 corrections do)."""
        from sscard.ledger.models import LedgerPosting

        reverse(self.uow, posting=self.uow.session.get_one(LedgerPosting, declaration.posting_id), actor=SYSTEM,
                source_ref=f"declaration:{declaration.id}", business_date=on)  # fmt: skip
        declaration.superseded = True
        return self.contribute(declaration.period, pension=pension, medical=medical, posted=on, corrected=True,
                               late=True, revision=declaration.revision + 1)  # fmt: skip

    def interest(self, on: date, amount: int) -> None:
        post(self.uow, kind=PostingKind.INTEREST,
             legs=[Leg(self.pension.id, amount), Leg(self.interest_expense.id, -amount)],
             business_date=on, actor=SYSTEM, source_ref=f"interest:{on.year}:{self.pension.id}")  # fmt: skip

    def debit(self, on: date, amount: int) -> None:
        """A medical settlement from the medical account (issue 20's kind), against the clearing account."""
        post(self.uow, kind="settlement", legs=[Leg(self.medical.id, -amount), Leg(self.clearing.id, amount)],
             business_date=on, actor=SYSTEM, source_ref="settlement:test")  # fmt: skip

    def contacts(self) -> int:
        return int(self.person.phone_enc is not None) + int(self.person.email_enc is not None)


def make_employer(uow, *, region: str, name: str = "北京示例科技有限公司") -> Employer:
    employer = Employer(uscc=new_uscc(), name=name, region_code=region)
    uow.session.add(employer)
    uow.flush()
    return employer


def year_of_contributions(c: Contributor, year: int = YEAR) -> None:
    """Twelve months: 800.00 yuan to pension and 200.00 to medical each month."""
    for month in range(1, 13):
        c.contribute(date(year, month, 1), pension=80_000, medical=20_000)


__all__ = ["EMAIL", "PHONE", "Contributor", "fresh_district", "make_employer", "year_of_contributions"]


def contributors_of_a_region(region: str, n: int) -> list[tuple[int, int]]:
    """``n`` contributors of ``region`` with one month each of ``YEAR`` (two in three with contacts):
    their (person id, number of contacts), as the batch tests check them afterwards."""
    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        employer = make_employer(uow, region=region)
        people = []
        for i in range(n):
            contributor = Contributor(uow, region=region, employer=employer, contact=i % 3 != 0)
            contributor.contribute(date(YEAR, 1 + i % 12, 1), pension=80_000, medical=20_000)
            people.append((contributor.person.id, contributor.contacts()))
    return people


def assert_each_issued_once(people: list[tuple[int, int]]) -> None:
    """Each person's statement of ``YEAR`` exactly once, with the file recorded, one notice per contact
    and one audit entry (rule INS-4)."""
    import hashlib

    from sqlalchemy import func, select

    from sscard.audit.models import AuditEntry
    from sscard.db.session import unit_of_work
    from sscard.notify.models import OutboxMessage
    from sscard.statements.files import data_dir
    from sscard.statements.models import Statement
    from sscard.statements.service import NOTICE_TOPIC

    ids = [pid for pid, _ in people]
    with unit_of_work() as uow:
        rows = list(uow.session.scalars(select(Statement).where(Statement.person_id.in_(ids), Statement.year == YEAR)))
        assert sorted(r.person_id for r in rows) == sorted(ids)  # each person exactly once
        for row in rows:
            content = (data_dir() / row.pdf_path).read_bytes()
            assert hashlib.sha256(content).hexdigest() == row.pdf_sha256  # the file is the one recorded
        notices = dict(
            uow.session.execute(
                select(OutboxMessage.person_id, func.count())
                .where(OutboxMessage.person_id.in_(ids), OutboxMessage.topic == NOTICE_TOPIC)
                .group_by(OutboxMessage.person_id)
            ).all()
        )
        assert {pid: n for pid, n in people if n} == notices  # one notice per contact, none twice
        audited = uow.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "statement.issue", AuditEntry.subject.in_([f"person:{i}" for i in ids]))
        )
        assert audited == len(people)
