"""The demo's insurance records (issue 19 item 7): every query has something real to show."""

from __future__ import annotations

from sqlalchemy import func, select

from sscard.audit import Actor, Channel
from sscard.db.base import china_today
from sscard.demo import insurance as demo
from sscard.demo.loader import load_demo
from sscard.insurance.accounts.records import (
    accounts_of,
    contribution_status,
    declarations_of,
    movements_of,
    participation_of,
)
from sscard.insurance.models import ContributionDeclaration, InsuranceRegistration
from sscard.ledger.models import AccountKind
from sscard.ledger.service import check
from sscard.people.service import find_person_by_id_number

ACTOR = Actor.system(Channel.CLI)


# rule INS-1 / INS-3 / INS-5 / INS-6: employers in both provinces, a late registration with its premium
# decision, 24 months declared for the contributors with cards, a flexible worker, a corrected month,
# last year's interest, money in the medical accounts, a report answered and one open; the ledger proves
def test_demo_insurance_records(uow) -> None:
    report = load_demo(uow, actor=ACTOR, env="dev")
    ins = report.insurance
    assert ins is not None and len(ins.person_ids) >= 15 and ins.statement_year == china_today().year - 1
    today = china_today()
    for pid in ins.person_ids:
        page = declarations_of(uow, person_id=pid, limit=600)
        assert page.total == demo.MONTHS
        assert contribution_status(uow, person_id=pid, today=today).up_to_date == "yes"
        balances = {a.kind: a.balance_fen for a in accounts_of(uow, person_id=pid)}
        assert balances["medical_personal"] > 0 and balances["pension_personal"] > 0
        year = movements_of(uow, person_id=pid, kind=AccountKind.PENSION_PERSONAL, year=ins.statement_year)
        assert year.movements[-1].kind == "interest"
    regions = {r.region_code[:2] for r in uow.session.scalars(select(InsuranceRegistration))}
    assert {"11", "44"} <= regions

    late = find_person_by_id_number(uow, demo.LATE_ID)
    assert late is not None
    (p, *_) = participation_of(uow, person_id=late.id)
    assert p.days_late == demo.LATE_DAYS and p.premium_decision == "charged"
    flexible = find_person_by_id_number(uow, demo.FLEXIBLE_ID)
    assert flexible is not None
    assert participation_of(uow, person_id=flexible.id)[0].registration_kind == "flexible"
    corrected = find_person_by_id_number(uow, demo.CORRECTED_ID)
    assert corrected is not None
    marks = uow.session.execute(
        select(ContributionDeclaration.corrected, func.count())
        .where(ContributionDeclaration.person_id == corrected.id)
        .group_by(ContributionDeclaration.corrected)
    ).all()
    assert dict(marks) == {False: demo.MONTHS, True: 1}  # the superseded revision is kept
    late_marked = uow.session.scalar(
        select(func.count()).select_from(ContributionDeclaration).where(ContributionDeclaration.late.is_(True))
    )
    assert late_marked >= 1
    assert check(uow).ok


# rule QPW-5: each demo employer has a sign-in account, so it can request a temporary password (sent to
# its contact phone) and reach the employer API; without the account the request found "no_such_account"
def test_demo_employers_can_request_a_temporary_password(uow) -> None:
    from sscard.db.base import utcnow
    from sscard.employers.accounts import get_account_by_login, issue_temporary_password

    load_demo(uow, actor=ACTOR, env="dev")
    for employer in demo.EMPLOYERS:
        code = demo.uscc_of(employer)
        assert get_account_by_login(uow, code) is not None
        why_not = issue_temporary_password(
            uow, uscc=code, channel="sms", now=utcnow(), temporary="Tmp-demo-1234", temp_hash="x"
        )
        assert why_not is None, (code, why_not)
