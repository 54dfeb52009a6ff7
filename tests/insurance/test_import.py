"""``sscard contributions import`` (INS-3): progress, bad lines by number, idempotent, resumable."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from sscard.cli.common import EXIT_REJECTED_ROWS
from sscard.cli.main import app
from sscard.db.session import unit_of_work
from sscard.insurance.models import ContributionDeclaration, DeclarationDocument
from sscard.insurance.service import personal_accounts_of
from sscard.ledger.service import balance, check
from tests.insurance.factories import registered_employee

runner = CliRunner()


# rule INS-3: the CSV import posts valid lines, reports bad ones by line, and a re-run posts nothing twice
def test_import_contributions(db_env, tmp_path) -> None:
    with unit_of_work() as uow:
        employer, person, _, number = registered_employee(uow)
        uscc, person_id = employer.uscc, person.id
    lines = [
        "uscc,id_number,period,base_fen",
        f"{uscc},{number},2025-01,1000000",
        f"{uscc},{number},2025-02,1000000",
        f"{uscc},{number},2025-02,1000000",  # the same line again: already present
        f"{uscc},{number},2025-03,-5",  # BASE_INVALID
        f"{uscc[:-1]}{'1' if uscc[-1] == '0' else '0'},{number},2025-03,1000000",  # USCC_CHECKSUM
        f"{uscc},{number},2099-01,1000000",  # PERIOD_IN_FUTURE
        f"{uscc},{number},2025-01,900000",  # DUPLICATE_IN_FILE (another base)
        f"{uscc},{number},2025-13,1000000",  # PERIOD_INVALID
    ]
    csv = tmp_path / "contrib.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["contributions", "import", str(csv), "--json", "--batch-size", "3"])
    assert result.exit_code == EXIT_REJECTED_ROWS, result.output  # issue 22 item 8
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["imported"], summary["already_present"], summary["rejected"]) == (2, 1, 5)
    assert "line 5: BASE_INVALID" in result.output and "line 9: PERIOD_INVALID" in result.output
    assert "line 8: DUPLICATE_IN_FILE" in result.output or "line 8: DECLARATION_CONFLICT" in result.output
    with unit_of_work() as uow:
        assert balance(uow, personal_accounts_of(uow, person_id)["pension_personal"]) == 160_000
        docs = uow.session.scalar(
            select(func.count()).select_from(DeclarationDocument).where(DeclarationDocument.source == "csv")
        )
        assert docs >= 3  # each batch's own bytes kept (INS-7)
        assert check(uow).ok
    again = runner.invoke(app, ["contributions", "import", str(csv), "--json"])
    assert json.loads(again.stdout.strip().splitlines()[-1])["previously_finished"] is True
    # the same declarations in another file are already present, nothing posted twice
    other = tmp_path / "again.csv"
    other.write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    third = runner.invoke(app, ["contributions", "import", str(other), "--json"])
    body = json.loads(third.stdout.strip().splitlines()[-1])
    assert (body["imported"], body["already_present"]) == (0, 2)
    with unit_of_work() as uow:
        n = uow.session.scalar(
            select(func.count())
            .select_from(ContributionDeclaration)
            .where(ContributionDeclaration.person_id == person_id)
        )
        assert n == 2
