"""`sscard ledger check` covers the debit postings (FIN-2): balanced, balances equal their legs, a debit
account below zero is found; every posting names its request, actor and channel."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from sscard.cli.main import app
from sscard.db.session import unit_of_work
from sscard.ledger.models import LedgerAccount, LedgerLeg, LedgerPosting

pytestmark = pytest.mark.usefixtures("db_env")


def _check() -> tuple[int, dict]:
    result = CliRunner().invoke(app, ["ledger", "check", "--json"])
    return result.exit_code, json.loads(result.stdout)


# rule FIN-2: the CLI proves the debit postings, and finds a debit balance that disagrees with its legs
def test_ledger_check_covers_debit(debit_card) -> None:
    card_no, account = debit_card(7_000)
    code, report = _check()
    assert code == 0 and report["ok"] is True, report
    with unit_of_work() as uow:
        postings = uow.session.scalars(
            select(LedgerPosting).join(LedgerLeg, LedgerLeg.posting_id == LedgerPosting.id).where(
                LedgerLeg.account_id == account)
        ).all()  # fmt: skip
        assert postings and all(p.source_ref and p.actor and p.channel for p in postings)
        uow.session.execute(update(LedgerAccount).where(LedgerAccount.id == account).values(balance_fen=6_999))
    code, report = _check()
    assert code != 0 and report["ok"] is False
    with unit_of_work() as uow:  # put it back for the tests that share the database
        uow.session.execute(update(LedgerAccount).where(LedgerAccount.id == account).values(balance_fen=7_000))
