"""Yearly interest credited into the personal accounts (INS-3, INS-4): monthly products, half up,
once per account and year."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from sscard.audit import Actor
from sscard.insurance.accounts.errors import InterestRateMissing, InterestYearOpen
from sscard.insurance.accounts.interest import credit_interest, interest_fen
from sscard.insurance.accounts.records import accounts_of, movements_of
from sscard.ledger.models import AccountKind, LedgerAccount, LedgerPosting
from sscard.ledger.service import check
from sscard.policy.service import set_policy
from tests.insurance_accounts.factories import declare, make_employer, register
from tests.people.factories import add_test_person, new_id_number
from tests.staff.factories import ensure_region

ACTOR = Actor.system()
TODAY = date(2026, 12, 5)


# rule INS-3: the monthly product method in integer fen, rounded half up
def test_interest_formula() -> None:
    # 120 000 fen all year at 2.62 %: 120000 × 0.0262 = 3144
    assert interest_fen(opening_fen=120_000, weighted_fen=0, rate_bp=262) == 3144
    # 80 000 credited in January earns 11 months: 80000 × 0.0262 × 11/12 = 1921.33 → 1921
    assert interest_fen(opening_fen=0, weighted_fen=80_000 * 11, rate_bp=262) == 1921
    # half up: 100 fen × 50 bp = 0.5 fen → 1; 99 fen → 0.495 → 0
    assert interest_fen(opening_fen=100, weighted_fen=0, rate_bp=50) == 1
    assert interest_fen(opening_fen=99, weighted_fen=0, rate_bp=50) == 0
    assert interest_fen(opening_fen=0, weighted_fen=0, rate_bp=262) == 0
    assert interest_fen(opening_fen=-5, weighted_fen=0, rate_bp=262) == 0


def _contributor(uow, region: str) -> int:
    ensure_region(uow, region)
    person = add_test_person(uow, id_number=new_id_number(region=region))
    reg = register(
        uow, person_id=person.id, employer=make_employer(uow, region=region), start=date(2023, 1, 1), region=region
    )
    for year in (2023, 2024):
        for month in range(1, 13):
            declare(uow, reg=reg, period=date(year, month, 1))
    return person.id


# rule INS-3 / INS-4: a posting per account, interest kind, at the policy's rate; a re-run credits
# nothing; the ledger still proves; the year's movements show the interest
def test_credit_interest_once(uow) -> None:
    person_id = _contributor(uow, "110105")
    run = credit_interest(uow, year=2024, person_id=person_id, actor=ACTOR, today=TODAY)
    # pension: opening 12 × 80 000 = 960 000; 2024 credits of 80 000 on the 1st of each month earn
    # (12 − m) months: Σ = 80 000 × 66. (960000 × 12 + 80000 × 66) × 262 / 120000 = 36 680
    expected_pension = interest_fen(opening_fen=960_000, weighted_fen=80_000 * 66, rate_bp=262)
    expected_medical = interest_fen(opening_fen=240_000, weighted_fen=20_000 * 66, rate_bp=262)
    assert expected_pension == 36_680
    assert run.credited == 2 and run.total_fen == expected_pension + expected_medical
    again = credit_interest(uow, year=2024, person_id=person_id, actor=ACTOR, today=TODAY)
    assert again.credited == 0 and again.already == 2 and again.total_fen == 0
    balances = {a.kind: a.balance_fen for a in accounts_of(uow, person_id=person_id)}
    assert balances["pension_personal"] == 24 * 80_000 + expected_pension
    page = movements_of(uow, person_id=person_id, kind=AccountKind.PENSION_PERSONAL, year=2024)
    last = page.movements[-1]
    assert last.kind == "interest" and last.amount_fen == expected_pension and last.business_date == date(2024, 12, 31)
    assert page.closing_balance_fen == balances["pension_personal"]
    assert check(uow).ok
    refs = uow.session.scalars(select(LedgerPosting.source_ref).where(LedgerPosting.kind == "interest")).all()
    assert len(refs) == len(set(refs))


# rule INS-3: an open year and a year without a rate are refused, nothing posted
def test_refusals(uow) -> None:
    person_id = _contributor(uow, "110108")
    with pytest.raises(InterestYearOpen):
        credit_interest(uow, year=2026, person_id=person_id, actor=ACTOR, today=TODAY)
    with pytest.raises(InterestRateMissing):
        credit_interest(uow, year=2025, person_id=person_id, actor=ACTOR, today=TODAY)  # no 2025 default
    # This person's accounts only: the session's database keeps other tests' committed interest postings.
    own = select(LedgerAccount.id).where(LedgerAccount.person_id == person_id)
    refs = [f"interest:{year}:{account_id}" for year in (2025, 2026) for account_id in uow.session.scalars(own)]
    assert refs and not uow.session.scalars(select(LedgerPosting).where(LedgerPosting.source_ref.in_(refs))).all()


# rule INS-3: the rate is regional policy data: a region's own rate for the year wins
def test_regional_rate(uow) -> None:
    person_id = _contributor(uow, "440305")
    set_policy(
        uow, region_code="440305", values={"interest_rate_bp_by_year": {"2024": 300}}, reason="test", actor=ACTOR
    )
    run = credit_interest(uow, year=2024, person_id=person_id, actor=ACTOR, today=TODAY)
    assert run.by_kind["pension_personal"] == interest_fen(opening_fen=960_000, weighted_fen=80_000 * 66, rate_bp=300)


# rule INS-3: two runs at once credit each account once (row locks and the unique interest index)
def test_parallel_runs_credit_once(db_env) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from sscard.db.session import unit_of_work

    with unit_of_work() as uow:
        person_id = _contributor(uow, "110101")

    def run() -> int:
        with unit_of_work() as uow:
            return credit_interest(uow, year=2024, person_id=person_id, actor=ACTOR, today=TODAY).credited

    with ThreadPoolExecutor(4) as pool:
        credited = list(pool.map(lambda _: run(), range(4)))
    assert sum(credited) == 2  # the pension and the medical account, once each
    with unit_of_work() as uow:
        refs = uow.session.scalars(
            select(LedgerPosting.source_ref).where(LedgerPosting.kind == "interest", LedgerPosting.actor == "system")
        ).all()
        mine = [
            r for r in refs if r in {f"interest:2024:{a.account_id}" for a in accounts_of(uow, person_id=person_id)}
        ]
        assert len(mine) == 2


# rule INS-3: `sscard accounts credit-interest --year Y --region R`: credited once, a re-run credits nothing
def test_cli_credit_interest(db_env) -> None:
    import json

    from typer.testing import CliRunner

    from sscard.cli.main import app
    from sscard.db.session import unit_of_work
    from tests.policy.factories import fresh_district

    region = fresh_district()
    with unit_of_work() as uow:
        _contributor(uow, region)
    runner = CliRunner()
    first = runner.invoke(app, ["accounts", "credit-interest", "--year", "2024", "--region", region, "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output.strip().splitlines()[-1])["credited"] == 2
    second = runner.invoke(app, ["accounts", "credit-interest", "--year", "2024", "--region", region, "--json"])
    body = json.loads(second.output.strip().splitlines()[-1])
    assert (body["credited"], body["already"]) == (0, 2)
    refused = runner.invoke(app, ["accounts", "credit-interest", "--year", "2100"])
    assert refused.exit_code != 0 and "INTEREST_YEAR_OPEN" in refused.output
    unknown = runner.invoke(app, ["accounts", "credit-interest", "--year", "2024", "--region", "999999"])
    assert unknown.exit_code == 1 and "REGION_NOT_FOUND" in unknown.output  # not "0 accounts credited"


# rule INS-5: only a duplicate key counts as "already credited" when a chunk is redone one by one; another
# refusal (a month archived meanwhile: the default partition's CHECK) is raised, not reported as credited
def test_only_a_duplicate_key_is_already_credited() -> None:
    import sqlite3

    import psycopg
    from sqlalchemy.exc import IntegrityError

    from sscard.insurance.accounts.interest import _is_unique_violation

    def error(orig: Exception) -> IntegrityError:
        return IntegrityError("INSERT INTO ledger_posting ...", {}, orig)

    assert _is_unique_violation(error(psycopg.errors.UniqueViolation()))
    assert not _is_unique_violation(error(psycopg.errors.CheckViolation()))
    assert _is_unique_violation(error(sqlite3.IntegrityError("UNIQUE constraint failed: ledger_posting.source_ref")))
    assert not _is_unique_violation(error(sqlite3.IntegrityError("CHECK constraint failed: archived_months")))
