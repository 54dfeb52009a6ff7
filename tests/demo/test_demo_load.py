"""``sscard demo load``: idempotent demo data on both backends; refused in production."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from sscard.audit import Actor, Channel
from sscard.audit.models import AuditEntry
from sscard.audit.service import verify_chain
from sscard.cards.models import Card
from sscard.db.session import UnitOfWork
from sscard.demo import data
from sscard.demo.loader import DemoRefused, DemoReport, load_demo
from sscard.identity import parse_citizen_id
from sscard.people.models import Person
from sscard.regions.models import Region
from sscard.staff.models import StaffAccount
from sscard.staff.roles import Role
from sscard.staff.sessions import authenticate_staff

ACTOR = Actor.system(Channel.CLI)


@dataclass
class LoadedDemo:
    report: DemoReport  # what the first load said
    data_dir: Path  # where it saved the demo terminal's profile
    connection: Connection  # inside the transaction that holds the load (rolled back after the module)
    anchor_file: Path  # the database's audit anchors: set only while the load or a test's unit of work runs

    @contextmanager
    def uow(self) -> Iterator[UnitOfWork]:
        """A unit of work on the loaded demo whose changes are undone after the test (a savepoint of the
        module's transaction: its commits only release savepoints inside it)."""
        from sscard.config import reset_settings_cache

        point = self.connection.begin_nested()
        session = Session(bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("SSCARD_AUDIT_ANCHOR_FILE", str(self.anchor_file))
                reset_settings_cache()
                yield UnitOfWork(session)
        finally:
            reset_settings_cache()
            session.close()
            point.rollback()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedDemo]:
    """The demo loaded once per backend, as the ``uow`` fixture would (never committed), for the tests that
    read what a first load leaves: a load costs seconds (its statements are rendered), and four tests each
    loaded it anew. In a database of its own: the load's open transaction would lock SQLite's shared file."""
    from sscard.config import reset_settings_cache
    from tests.conftest import fresh_database, rolled_back_uow

    data_dir = tmp_path_factory.mktemp("demo-data")
    for database in fresh_database(request.param, tmp_path_factory):
        # The anchors and data dir are set only while the load runs (and in ``LoadedDemo.uow``): the module's
        # other tests, which run while this fixture lives, keep their own environment.
        with rolled_back_uow(database.engine) as uow:
            with pytest.MonkeyPatch.context() as during_load:
                during_load.setenv("SSCARD_AUDIT_ANCHOR_FILE", str(database.anchor_file))
                during_load.setenv("SSCARD_DATA_DIR", str(data_dir))  # the demo terminal's profile is written there
                reset_settings_cache()
                report = load_demo(uow, actor=ACTOR, env="dev")
                uow.commit()  # as `sscard demo load` does: the terminal profile is saved only once the data commits
            reset_settings_cache()
            yield LoadedDemo(report, data_dir, uow.session.connection(), database.anchor_file)


def _counts(uow) -> dict[str, int]:
    return {
        model.__name__: uow.session.scalar(select(func.count()).select_from(model))
        for model in (Region, StaffAccount, Person, Card, AuditEntry)
    }


def test_demo_data_is_well_formed() -> None:
    ids = [parse_citizen_id(p.id_number).number for p in data.PERSONS]  # every demo ID is valid (ID-2, ID-3)
    assert len(set(ids)) == len(ids) >= 20
    assert any(i.endswith("X") for i in ids)
    assert {p.card for p in data.PERSONS} >= set(data.CARD_PLANS)
    for prefix in ("bj", "gd"):  # one account per role in each demo province
        assert {s.role for s in data.STAFF if s.username.startswith(prefix + "_")} == set(Role)


# rule CH-4: the demo's state changes are audited; loading twice changes nothing (no second audit entry)
def test_demo_load_is_idempotent(demo: LoadedDemo, monkeypatch: pytest.MonkeyPatch) -> None:
    from sscard.config import reset_settings_cache

    first = demo.report
    monkeypatch.setenv("SSCARD_DATA_DIR", str(demo.data_dir))  # where the first load saved the terminal profile
    reset_settings_cache()
    assert first.terminals and (demo.data_dir / "terminals").is_dir()
    with demo.uow() as uow:
        after_first = _counts(uow)
        second = load_demo(uow, actor=ACTOR, env="dev")
        assert _counts(uow) == after_first
        assert not second.changed
        assert [s.username for s in second.staff] == [s.username for s in first.staff]
        assert second.persons == first.persons
        assert verify_chain(uow).ok


def test_demo_cards_in_each_planned_state(demo: LoadedDemo) -> None:
    states = {p["id_number"]: p["card_state"] for p in demo.report.persons}
    for person in data.PERSONS:
        expected = {
            None: "-",
            "applied": "applied",
            "issued": "issued",
            "active": "active",
            "loss_reported": "loss_reported",
            "replaced": "issued (replacement)",
        }[person.card]
        assert states[person.id_number] == expected
    # rule ID-5: the demo's citizen IDs and phones are stored encrypted like any other
    with demo.uow() as uow:
        ciphertexts = uow.session.scalars(select(Person.id_number_enc)).all()
    assert all(p.id_number.encode() not in c for c in ciphertexts for p in data.PERSONS)


# rule PIN-6 / FIN-3: each demo bank clerk works for a bank, and some demo cards of the province are
# issued through it (issue 17 item 9), so the bank outlet's PIN work can be tried on the demo
def test_demo_bank_clerks_have_a_bank_with_cards(demo: LoadedDemo) -> None:
    # Only the demo's own clerks: other tests commit bank clerks of a test bank to the shared database.
    demo_clerks = {s.username for s in data.STAFF if s.role == Role.BANK_CLERK}
    with demo.uow() as uow:
        clerks = uow.session.scalars(select(StaffAccount).where(StaffAccount.username.in_(demo_clerks))).all()
        assert {c.username for c in clerks} == demo_clerks >= {"bj_bank_clerk", "gd_bank_clerk"}
        for clerk in clerks:
            assert clerk.bank_code
            in_province = Card.region_code.startswith(clerk.region_code[:2])
            cards = uow.session.scalars(select(Card).where(Card.bank_code == clerk.bank_code, in_province)).all()
            assert cards and all(c.financial for c in cards)
            assert any(c.state.value == "active" for c in cards)


# rule CH-2: the printed demo logins work, with the role and region they claim
def test_demo_logins_work(demo: LoadedDemo) -> None:
    with demo.uow() as uow:
        for staff in (data.STAFF[0], data.STAFF[-1]):
            login = authenticate_staff(uow, username=staff.username, password=data.DEMO_STAFF_PASSWORD)
            assert (login.principal.role, login.principal.region_code) == (staff.role, staff.region_code)


def test_demo_refused_in_production(uow) -> None:
    with pytest.raises(DemoRefused) as exc:
        load_demo(uow, actor=ACTOR, env="prod")
    assert exc.value.code == "DEMO_REFUSED"
    assert (
        uow.session.scalar(select(func.count()).select_from(StaffAccount).where(StaffAccount.username == "bj_auditor"))
        == 0
    )


@pytest.mark.integration  # `sscard db upgrade` and `demo load` on a database of its own
def test_cli_demo_load_twice_prints_the_same_logins(tmp_path, monkeypatch) -> None:
    """The ``make run`` path on a fresh embedded database: upgrade, then load twice."""
    from sscard.cli.main import app
    from sscard.config import reset_settings_cache
    from sscard.db.session import reset_engine_cache

    monkeypatch.setenv("SSCARD_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("SSCARD_DATABASE_SCHEMA", "")
    monkeypatch.setenv("SSCARD_ENV", "dev")
    reset_settings_cache()
    reset_engine_cache()
    try:
        runner = CliRunner()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        first = runner.invoke(app, ["demo", "load", "--json"])
        second = runner.invoke(app, ["demo", "load", "--json"])
        assert first.exit_code == second.exit_code == 0, first.output
        a, b = json.loads(first.stdout), json.loads(second.stdout)
        assert a["added"]["staff"] == len(data.STAFF) and a["added"]["persons"] == len(data.PERSONS)
        assert a["added"]["declarations"] > 0 and a["added"]["interest_postings"] > 0  # issue 19 item 7
        assert a["added"]["statements"] > 0  # rule INS-4: last year's statements, issued once
        assert set(b["added"].values()) == {0}  # regions, staff, persons, cards and the insurance records
        assert a["staff"] == b["staff"] and a["persons"] == b["persons"] and a["employers"] == b["employers"]
        # the employers to sign in as (a temporary password first, QPW-5), as README names them
        assert [e["uscc"] for e in a["employers"]] == ["91110105MA01DE7K1R", "91440305MA5DE7K02B", "91440106MA9DE7K03B"]
        code = runner.invoke(app, ["demo", "otp", "bj_security_officer", "--json"])
        assert code.exit_code == 0 and re.fullmatch(r"[0-9]{6}", json.loads(code.stdout)["otp"])
        text = runner.invoke(app, ["demo", "load"])
        assert "nothing changed" in text.stdout and "bj_counter_clerk" in text.stdout
        assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
        monkeypatch.setenv("SSCARD_ENV", "prod")
        reset_settings_cache()
        refused = runner.invoke(app, ["demo", "load"])
        assert refused.exit_code == 1 and "DEMO_REFUSED" in refused.output
    finally:
        reset_settings_cache()
        reset_engine_cache()
