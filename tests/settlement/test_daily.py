"""Daily settlement files and their reconciliation (FIN-1, INS-7): transactions, postings and files agree."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from sscard.cli.main import app
from sscard.credentials.pin.campaign import local_date
from sscard.db.session import unit_of_work
from sscard.ledger.models import AccountKind, PostingKind
from sscard.ledger.rules import Leg
from sscard.ledger.service import get_account, post
from tests.people.factories import CLERK

pytestmark = pytest.mark.usefixtures("db_env")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db(request, tmp_path_factory):
    """A database of this module's own: reconciliation covers every transaction of the day."""
    from tests.conftest import fresh_database

    yield from fresh_database(request.param, tmp_path_factory)


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


# rule FIN-1: the files of the day agree with the transactions and the postings; a difference is named
def test_file_and_reconcile(terminal, funded_card, tmp_path) -> None:
    today = local_date().isoformat()
    pharmacy, hospital = terminal("pharmacy"), terminal("hospital", "110108")  # two institutions
    card_no, _ = funded_card(20_000)
    pharmacy.settle(card_no, 1_000, "D1")
    pharmacy.settle(card_no, 2_000, "D2")
    pharmacy.refund("D2", "D3", amount_fen=500)
    hospital.settle(card_no, 3_000, "H1")
    hospital.reverse("H1", "H2")

    # Nothing written yet: the files are missing
    result = _cli("settlement", "reconcile", "--date", today, "--dir", str(tmp_path))
    assert result.exit_code == 1 and "missing" in result.output

    result = _cli("settlement", "file", "--date", today, "--dir", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    files = json.loads(result.output)["files"]
    assert len(files) == 2
    lines = open(files[0], encoding="utf-8").read().splitlines()
    assert lines[0].startswith("institution_id,terminal_id,txn_id,purpose")
    assert [line.split(",")[3] for line in lines[1:]] == ["settle", "settle", "refund"]
    assert card_no not in "".join(lines)  # card numbers are masked

    result = _cli("settlement", "reconcile", "--date", today, "--dir", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] and report["transactions"] == 5 and report["net_fen"] == -2_500

    # A file changed by hand is named at its line
    text = open(files[0], encoding="utf-8").read()
    open(files[0], "w", encoding="utf-8").write(text.replace(",-1000,", ",-100,"))
    result = _cli("settlement", "reconcile", "--date", today, "--dir", str(tmp_path))
    assert result.exit_code == 1 and "line 2" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output  # one line, never wrapped at 80 columns
    open(files[0], "w", encoding="utf-8").write(text)
    assert _cli("settlement", "reconcile", "--date", today, "--dir", str(tmp_path)).exit_code == 0

    # A settlement posting made behind the transaction store is named too
    with unit_of_work() as uow:
        clearing = get_account(uow, kind=AccountKind.SETTLEMENT_CLEARING.value, institution_id=1)
        assert clearing is not None
        other = get_account(uow, kind=AccountKind.CONTRIBUTION_CLEARING.value, region_code="110105")
        post(
            uow,
            kind=PostingKind.SETTLEMENT,
            legs=[Leg(other.id, -1), Leg(clearing.id, 1)],
            business_date=date.fromisoformat(today),
            actor=CLERK,
            source_ref="manual",
        )
    result = _cli("settlement", "reconcile", "--date", today, "--dir", str(tmp_path))
    assert result.exit_code == 1 and "has no terminal" in result.output, result.output


# rule FIN-1: a day whose ledger legs (or terminal transactions) are archived is refused as PERIOD_ARCHIVED
# by the settlement files and the reconciliation, not written empty or "reconciled, 0 transactions"
def test_an_archived_day_is_refused(uow, monkeypatch, tmp_path) -> None:
    from sscard.ledger import archive
    from sscard.ledger.errors import PeriodArchived
    from sscard.settlement.daily import reconcile, write_files

    monkeypatch.setattr(archive, "cut", lambda session: date(2026, 1, 1))  # the ledger archived before 2026
    for run in (write_files, reconcile):
        with pytest.raises(PeriodArchived) as info:
            run(uow, on=date(2025, 12, 31), directory=tmp_path)
        assert "2025-12-31" in str(info.value) and info.value.code == "PERIOD_ARCHIVED"
    assert write_files(uow, on=date(2026, 1, 1), directory=tmp_path) == []  # the cut's own day is kept
    assert reconcile(uow, on=date(2026, 1, 1), directory=tmp_path).ok
