"""Demo insurance records (issue 19 item 7): employers, registrations, two years of contributions,
a flexible worker, a correction, discrepancy reports and last year's interest.

Everything goes through the domain services, so postings, documents and audit entries are real:
employers by ``add_employer``, registrations by ``register_employee`` / ``register_self``, the
monthly declarations by ``declare_batch`` (one document per employer and month, as an employer
uploads it, declared in the middle of its month so it is on time), interest by ``credit_interest``.
Idempotent: each step looks for what it would add (employer by credit code, registration by person
and employer, declarations by employer and month, interest by year, reports by person) and adds only
what is missing, so a second run writes nothing.

The contribution months are the 24 months before the current one (China time), so the hotline's
voice query answers "up to date" and last year is complete for its statement and its interest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from sscard.audit import Actor, Channel
from sscard.db.base import china_today
from sscard.db.session import UnitOfWork
from sscard.demo import data
from sscard.employers.accounts import create_account, get_account_by_login
from sscard.employers.models import Employer
from sscard.employers.service import add_employer, find_employer
from sscard.employers.uscc import check_character
from sscard.insurance.accounts.interest import credit_interest, source_ref
from sscard.insurance.declarations import ArchiveHorizon, DeclarationInput, PolicyCache, SystemAccounts, declare_batch
from sscard.insurance.discrepancies.models import DiscrepancyReport
from sscard.insurance.discrepancies.service import answer_report, report_discrepancy
from sscard.insurance.models import ContributionDeclaration, InsuranceRegistration, PremiumDecision, RegistrationKind
from sscard.insurance.registration import decide_premium, register_employee, register_self
from sscard.insurance.service import correct_declaration, store_document
from sscard.ledger.models import PERSONAL_KINDS, LedgerAccount, LedgerPosting, PostingKind
from sscard.people.models import Person
from sscard.people.service import find_person_by_id_number
from sscard.policy.service import get_effective_policy, set_policy
from sscard.regions.codes import NATIONAL

MONTHS = 24
# A demo rate for a year whose official rate the national defaults do not hold yet (policy data:
# the real figure is published by the ministry each year and set with `sscard policy set`).
DEMO_INTEREST_BP = 250


@dataclass(frozen=True)
class DemoEmployer:
    uscc_body: str  # 17 characters; the check character is computed (GB 32100)
    name: str
    region_code: str
    industry_class: str
    contact_phone: str  # a mobile number: the employer's temporary password goes there by SMS (QPW-5)


EMPLOYERS: tuple[DemoEmployer, ...] = (
    DemoEmployer("91110105MA01DE7K1", "北京朝阳示例科技有限公司", "110105", "1", "13910500101"),
    DemoEmployer("91440305MA5DE7K02", "深圳南山示例电子有限公司", "440305", "2", "13760300102"),
    DemoEmployer("91440106MA9DE7K03", "广州天河示例贸易有限公司", "440106", "1", "13560100103"),
)
# Which employer employs a demo person, by the first digits of the person's ID (their home region).
EMPLOYER_OF_PREFIX = {"11": 0, "4403": 1, "4401": 2}
# 黄勇 works flexibly and registered himself (INS-2); 王芳's employer registered her late (INS-1).
FLEXIBLE_ID = "11010519880318101X"
LATE_ID = "110105197806220227"
LATE_DAYS = 48
# 李娜's employer corrected one month's base upwards after she reported it (INS-6, INS-7).
CORRECTED_ID = "110108198511300485"
OPEN_REPORT_ID = "440303198802141133"  # 赵杰: a report the Guangdong agency has not answered yet
BORN_AFTER = date(1963, 1, 1)  # the demo's contributors are of working age


def uscc_of(e: DemoEmployer) -> str:
    return e.uscc_body + check_character(e.uscc_body)


@dataclass
class InsuranceDemo:
    """What this run added, and what the demo holds (for the statements step that follows)."""

    employers_added: int = 0
    registrations_added: int = 0
    declarations_added: int = 0
    interest_credited: int = 0
    reports_added: int = 0
    person_ids: list[int] = field(default_factory=list)  # the contributors
    # The demo employers, to sign in as: no password until one asks for a temporary one (QPW-5), sent
    # by SMS to the contact phone (the demo's outbox file).
    employers: list[dict[str, str]] = field(default_factory=list)
    statement_year: int = 0  # last year: complete, with interest

    @property
    def changed(self) -> bool:
        return any(
            (
                self.employers_added,
                self.registrations_added,
                self.declarations_added,
                self.interest_credited,
                self.reports_added,
            )
        )


def demo_periods(today: date) -> list[date]:
    """The ``MONTHS`` months before the current one, oldest first."""
    y, m = today.year, today.month
    out = []
    for _ in range(MONTHS):
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        out.append(date(y, m, 1))
    return out[::-1]


def _base_fen(index: int) -> int:
    return 600_000 + (index % 7) * 150_000  # 6 000 to 15 000 yuan a month, inside 60-300 % of the average


def _contributors(uow: UnitOfWork) -> list[tuple[int, data.DemoPerson, Person]]:
    found = []
    for i, p in enumerate(data.PERSONS):
        person = find_person_by_id_number(uow, p.id_number)
        if person is not None and p.card is not None and person.birth_date >= BORN_AFTER:
            found.append((i, p, person))
    return found


def _employers(uow: UnitOfWork, actor: Actor, run: InsuranceDemo) -> list[Employer]:
    out = []
    for e in EMPLOYERS:
        employer = find_employer(uow, uscc=uscc_of(e))
        if employer is None:
            employer = add_employer(
                uow,
                uscc=uscc_of(e),
                name=e.name,
                region_code=e.region_code,
                industry_class=e.industry_class,
                contact_name="李经理",
                contact_phone=e.contact_phone,
                actor=actor,
            )
            run.employers_added += 1
        if get_account_by_login(uow, employer.uscc) is None:
            # The sign-in account, without a password, as `sscard employer add` makes it: the employer
            # requests a temporary one (forgot password, user type employer), sent to the contact phone.
            create_account(uow, employer=employer, actor=actor)
        out.append(employer)
        run.employers.append({"uscc": employer.uscc, "name": e.name, "region": e.region_code,
                              "contact_phone": e.contact_phone})  # fmt: skip
    return out


def _registration(uow: UnitOfWork, person_id: int, employer_id: int | None) -> InsuranceRegistration | None:
    query = select(InsuranceRegistration).where(InsuranceRegistration.person_id == person_id)
    query = query.where(
        InsuranceRegistration.employer_id == employer_id
        if employer_id is not None
        else InsuranceRegistration.employer_id.is_(None)
    )
    return uow.session.scalars(query.order_by(InsuranceRegistration.id)).first()


def _register(
    uow: UnitOfWork,
    *,
    contributors: list[tuple[int, data.DemoPerson, Person]],
    employers: list[Employer],
    start: date,
    today: date,
    actor: Actor,
    run: InsuranceDemo,
) -> dict[int, tuple[Employer | None, int]]:
    """Each contributor's registration: (employer or None for the flexible worker, the base)."""
    plan: dict[int, tuple[Employer | None, int]] = {}
    for index, p, person in contributors:
        base = _base_fen(index)
        if p.id_number == FLEXIBLE_ID:
            if _registration(uow, person.id, None) is None:
                register_self(
                    uow,
                    person=person,
                    kind=RegistrationKind.FLEXIBLE,
                    start=start,
                    chosen_base_fen=base,
                    actor=actor,
                    today=today,
                )
                run.registrations_added += 1
            plan[person.id] = (None, base)
            continue
        employer = next(employers[i] for prefix, i in EMPLOYER_OF_PREFIX.items() if p.id_number.startswith(prefix))
        reg = _registration(uow, person.id, employer.id)
        if reg is None:
            late = p.id_number == LATE_ID
            registered = start + timedelta(days=30 + LATE_DAYS if late else 10)
            reg = register_employee(
                uow,
                employer=employer,
                person=person,
                employment_start=start,
                registered_on=registered,
                actor=actor,
                today=today,
            )
            run.registrations_added += 1
            if late:  # INS-1: the agency decides the premium due on the late registration
                decide_premium(
                    uow, registration_id=reg.id, decision=PremiumDecision.CHARGED, premium_fen=36_000, actor=actor
                )
        plan[person.id] = (employer, base)
    return plan


def _declare(
    uow: UnitOfWork,
    *,
    plan: dict[int, tuple[Employer | None, int]],
    periods: list[date],
    today: date,
    actor: Actor,
    run: InsuranceDemo,
) -> None:
    """One document and one batch per employer and month (the flexible worker's own, per month)."""
    d = ContributionDeclaration
    person_ids = list(plan)
    done = set(
        uow.session.execute(
            select(d.employer_id, d.person_id, d.period).where(d.person_id.in_(person_ids), d.period >= periods[0])
        ).all()
    )
    ids = _id_numbers(uow, person_ids)
    policies, system, horizon = PolicyCache(), SystemAccounts(), ArchiveHorizon()
    late_period = periods[len(periods) // 2]  # one month the Guangzhou employer declared late (INS-7)
    groups: dict[int | None, list[int]] = {}
    for pid, (employer, _) in plan.items():
        groups.setdefault(employer.id if employer else None, []).append(pid)
    for period in periods:
        for employer_id, pids in groups.items():
            missing = [pid for pid in pids if (employer_id, pid, period) not in done]
            if not missing:
                continue
            employer = plan[missing[0]][0]
            uscc = employer.uscc if employer else ""
            lines = [f"{uscc},{ids[pid]},{period:%Y-%m},{plan[pid][1]}" for pid in missing]
            body = ("uscc,id_number,period,base_fen\n" + "\n".join(lines) + "\n").encode()
            declared_on = period + timedelta(days=14)
            if employer is not None and employer.uscc == uscc_of(EMPLOYERS[2]) and period == late_period:
                declared_on = period + timedelta(days=70)
            document = store_document(
                uow, content=body, source="csv" if employer else "portal", actor=actor, employer_id=employer_id
            )
            items = [
                DeclarationInput(n, employer_id, pid, period, plan[pid][1], None)
                for n, pid in enumerate(missing, start=2)
            ]
            outcomes = declare_batch(
                uow,
                items=items,
                document=document,
                actor=actor,
                today=min(declared_on, today),
                policies=policies,
                system=system,
                horizon=horizon,
            )
            run.declarations_added += sum(1 for o in outcomes if o.status == "posted")


def _id_numbers(uow: UnitOfWork, person_ids: list[int]) -> dict[int, str]:
    return {p.id: p.id_number for p in uow.session.scalars(select(Person).where(Person.id.in_(person_ids)))}


def _correct_one(uow: UnitOfWork, *, periods: list[date], today: date, actor: Actor) -> None:
    """李娜's employer corrects one month's base (a new revision, the old posting reversed)."""
    person = find_person_by_id_number(uow, CORRECTED_ID)
    if person is None:
        return
    period = periods[-6]
    d = ContributionDeclaration
    current = uow.session.scalars(
        select(d).where(d.person_id == person.id, d.period == period, d.superseded.is_(False))
    ).first()
    if current is None or current.revision > 1:
        return
    new_base = current.declared_base_fen + 120_000
    body = f"uscc,id_number,period,base_fen\ncorrection,{CORRECTED_ID},{period:%Y-%m},{new_base}\n".encode()
    document = store_document(uow, content=body, source="csv", actor=actor, employer_id=current.employer_id)
    correct_declaration(
        uow,
        declaration_id=current.id,
        base_fen=new_base,
        document=document,
        actor=actor,
        today=min(period + timedelta(days=40), today),
    )


def _interest(uow: UnitOfWork, *, year: int, person_ids: list[int], today: date, actor: Actor) -> int:
    """Last year's interest for the demo's contributors (the year's rate set if the defaults lack it)."""
    rates = get_effective_policy(uow, region_code=NATIONAL).interest_rate_bp_by_year
    if str(year) not in rates:
        set_policy(
            uow,
            region_code=NATIONAL,
            values={"interest_rate_bp_by_year": {**rates, str(year): DEMO_INTEREST_BP}},
            reason=f"demo: a credited interest rate for {year} (the real one is published by the ministry)",
            actor=actor,
        )
    accounts = uow.session.scalars(
        select(LedgerAccount.id).where(
            LedgerAccount.person_id.in_(person_ids), LedgerAccount.kind.in_(sorted(PERSONAL_KINDS))
        )
    ).all()
    refs = [source_ref(year, a) for a in accounts]
    already = uow.session.scalar(
        select(func.count())
        .select_from(LedgerPosting)
        .where(LedgerPosting.kind == PostingKind.INTEREST.value, LedgerPosting.source_ref.in_(refs))
    )
    if already:
        return 0
    return credit_interest(uow, year=year, person_ids=person_ids, actor=actor, today=today).credited


def _reports(uow: UnitOfWork, *, periods: list[date], employers: list[Employer], run: InsuranceDemo) -> None:
    """An answered report (李娜, the month her employer then corrected) and an open one (赵杰)."""
    clerk = Actor(kind="staff", id="bj_counter_clerk", channel=Channel.COUNTER, role="counter_clerk", region="110000")
    for number, employer, text, answer in (
        (
            CORRECTED_ID,
            employers[0],
            "单位申报的缴费基数低于我的实际工资，请核实。",
            "经核实，单位已更正该月申报基数，差额已记入您的个人账户。",
        ),
        (OPEN_REPORT_ID, employers[1], "这个月的医疗保险个人账户没有到账。", None),
    ):
        person = find_person_by_id_number(uow, number)
        if person is None:
            continue
        has = uow.session.scalar(
            select(func.count()).select_from(DiscrepancyReport).where(DiscrepancyReport.person_id == person.id)
        )
        if has:
            continue
        holder = Actor(kind="holder", id=f"person:{person.id}", channel=Channel.PORTAL, role="holder")
        row = report_discrepancy(
            uow, person_id=person.id, employer_id=employer.id, period=periods[-6], text=text, actor=holder
        )
        run.reports_added += 1
        if answer is not None:
            answer_report(uow, report=row, answer=answer, actor=clerk)


def load_demo_insurance(uow: UnitOfWork, *, actor: Actor, today: date | None = None) -> InsuranceDemo:
    """Load the demo's insurance records (after persons and cards, and the regional policies)."""
    today = today or china_today()
    run = InsuranceDemo(statement_year=today.year - 1)
    periods = demo_periods(today)
    contributors = _contributors(uow)
    if not contributors:
        return run
    employers = _employers(uow, actor, run)
    plan = _register(
        uow, contributors=contributors, employers=employers, start=periods[0], today=today, actor=actor, run=run
    )
    run.person_ids = list(plan)
    _declare(uow, plan=plan, periods=periods, today=today, actor=actor, run=run)
    _correct_one(uow, periods=periods, today=today, actor=actor)
    run.interest_credited = _interest(uow, year=today.year - 1, person_ids=run.person_ids, today=today, actor=actor)
    _reports(uow, periods=periods, employers=employers, run=run)
    return run
