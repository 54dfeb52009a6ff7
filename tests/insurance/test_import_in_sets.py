"""On PostgreSQL a contributions batch writes in sets: its statements do not grow with its lines.

Each line of a batch used to cost ~12 statements (its parts, its posting's legs, its posting id, the
balances, one row per statement); now a table's rows go by one COPY (db/bulk.py). Counted here are the
statements sent through SQLAlchemy, each row of an ``executemany`` as one (COPY streams are not
statements and are the same few per batch whatever its size).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from typer.testing import CliRunner

from sscard.cli.main import app
from sscard.db.session import get_engine, unit_of_work
from sscard.insurance.models import ContributionDeclaration, ContributionPart
from sscard.ledger.models import LedgerLeg, LedgerPosting
from sscard.ledger.service import check
from tests.insurance.factories import registered_employee

runner = CliRunner()


def _statements_of_import(path: Path) -> int:
    count = 0

    def counted(_conn, _cursor, _statement, parameters, _context, executemany) -> None:  # noqa: ANN001
        nonlocal count
        count += len(parameters) if executemany else 1

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", counted)
    try:
        result = runner.invoke(app, ["contributions", "import", str(path), "--json", "--batch-size", "100"])
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert result.exit_code == 0, result.output
    return count


def _file(tmp_path: Path, name: str, employees: list[tuple[str, str]]) -> Path:
    lines = ["uscc,id_number,period,base_fen"]
    lines += [f"{uscc},{number},2024-{m:02d},1000000" for uscc, number in employees for m in range(1, 13)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# rule INS-3: a batch's statements on PostgreSQL are the same for 12 lines and for 48
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_batch_writes_in_sets(db_env, tmp_path: Path) -> None:
    with unit_of_work() as uow:
        people = [registered_employee(uow, start=date(2023, 1, 1)) for _ in range(6)]
        employees = [(employer.uscc, number) for employer, _, _, number in people]
        person_ids = [person.id for _, person, _, _ in people]
    _statements_of_import(_file(tmp_path, "warm-up.csv", employees[:1]))  # the region's system accounts opened
    small = _statements_of_import(_file(tmp_path, "small.csv", employees[1:2]))
    large = _statements_of_import(_file(tmp_path, "large.csv", employees[2:6]))
    assert large == small
    with unit_of_work() as uow:  # and every row is there: 12 declarations a person, 5 parts, a posting, 4 legs
        declarations = select(ContributionDeclaration.id).where(ContributionDeclaration.person_id.in_(person_ids))
        postings = select(ContributionDeclaration.posting_id).where(ContributionDeclaration.id.in_(declarations))
        count = lambda query: uow.session.scalar(select(func.count()).select_from(query.subquery()))  # noqa: E731
        assert count(declarations) == 72
        assert count(select(ContributionPart.id).where(ContributionPart.declaration_id.in_(declarations))) == 360
        assert count(select(LedgerPosting.id).where(LedgerPosting.id.in_(postings))) == 72
        assert count(select(LedgerLeg.id).where(LedgerLeg.posting_id.in_(postings))) == 288
        assert check(uow).ok
    again = runner.invoke(app, ["contributions", "import", str(_file(tmp_path, "again.csv", employees)), "--json"])
    body = json.loads(again.stdout.strip().splitlines()[-1])
    assert (body["imported"], body["already_present"]) == (0, 72)
