"""Issuing, delivering, showing and verifying yearly statements on SQLite and PostgreSQL (rule INS-4)."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import pytest
from sqlalchemy import func, select, update

from sscard.audit.models import AuditEntry
from sscard.db.session import unit_of_work
from sscard.jobs.statements import generate_statements
from sscard.notify.models import OutboxMessage
from sscard.notify.outbox import open_body
from sscard.statements import codes
from sscard.statements.data import MEDICAL, PENSION, StatementData
from sscard.statements.errors import StatementCodeInvalid, StatementNotGenuine, StatementYearInvalid
from sscard.statements.files import data_dir
from sscard.statements.models import Statement
from sscard.statements.service import CODE, NOTICE_TOPIC, pdf_matches, statement_pdf, verify_code
from tests.statements.factories import SYSTEM, YEAR, Contributor, fresh_district, year_of_contributions


def _region_with_contributors() -> tuple[str, dict[str, Contributor]]:
    region = fresh_district()
    with unit_of_work() as uow:
        full = Contributor(uow, region=region)
        year_of_contributions(full)
        full.interest(date(YEAR, 12, 31), 12_345)
        full.debit(date(YEAR, 7, 1), 3_000)
        full.contribute(date(YEAR - 1, 12, 1), pension=70_000, medical=10_000, posted=date(YEAR, 1, 20))  # late
        quiet = Contributor(uow, region=region, contact=False, employer=full.employer)
        quiet.contribute(date(YEAR, 3, 1), pension=12_345, medical=0)
        Contributor(uow, region=region)  # accounts never used by the year's end: not a contributor of it
        corrected = Contributor(uow, region=region, employer=full.employer)
        may = corrected.contribute(date(YEAR, 5, 1), pension=80_000, medical=20_000)
        corrected.correct(may, pension=96_000, medical=24_000, on=date(YEAR + 1, 2, 3))  # after the year ends
        corrected.contribute(date(YEAR, 12, 1), pension=80_000, medical=20_000, posted=date(YEAR + 1, 1, 10), late=True)
        elsewhere = Contributor(uow, region=fresh_district())
        year_of_contributions(elsewhere)
    return region, {"full": full, "quiet": quiet, "corrected": corrected, "elsewhere": elsewhere}


def _statements(region: str) -> dict[int, Statement]:
    with unit_of_work() as uow:
        rows = uow.session.scalars(select(Statement).where(Statement.region_code == region, Statement.year == YEAR))
        return {s.person_id: s for s in rows}


# rule INS-4: every contributor of the region gets one statement with the year's figures; a re-run adds none
def test_generate_region(db_env) -> None:
    region, c = _region_with_contributors()
    result = generate_statements(year=YEAR, region=region, actor=SYSTEM, workers=0, batch_size=2)
    assert (result.contributors, result.issued, result.already) == (3, 3, 0)
    rows = _statements(region)
    assert set(rows) == {c["full"].person.id, c["quiet"].person.id, c["corrected"].person.id}

    full = StatementData.from_json(rows[c["full"].person.id].snapshot)
    pension, medical = full.account(PENSION), full.account(MEDICAL)
    assert pension.opening_fen == 70_000  # December of the year before, though posted in January
    assert pension.credits_by_month == (80_000,) * 12 and pension.interest_fen == 12_345
    assert medical.debits_fen == -3_000 and medical.closing_fen == 10_000 + 12 * 20_000 - 3_000
    assert [(e.name, e.months) for e in full.employers] == [("北京示例科技有限公司", tuple(range(1, 13)))]

    corrected = StatementData.from_json(rows[c["corrected"].person.id].snapshot).account(PENSION)
    assert corrected.credits_by_month[4] == 96_000  # the correction, though posted the next year
    assert corrected.credits_by_month[11] == 80_000  # the late December declaration in December
    assert corrected.closing_fen == 176_000

    for row in rows.values():  # the file as recorded, atomically in place
        content = (data_dir() / row.pdf_path).read_bytes()
        assert content.startswith(b"%PDF-") and hashlib.sha256(content).hexdigest() == row.pdf_sha256
        assert row.content_sha256 == StatementData.from_json(row.snapshot).content_digest()

    again = generate_statements(year=YEAR, region=region, actor=SYSTEM, workers=0)
    assert (again.issued, again.already) == (0, 3)
    assert len(_statements(region)) == 3


# rule INS-4 (CH-4): delivery is a notice through the outbox to each contact on file, never the PDF; audited
def test_delivery_notice_and_audit(db_env) -> None:
    region, c = _region_with_contributors()
    generate_statements(year=YEAR, region=region, actor=SYSTEM, workers=0)
    rows = _statements(region)
    with unit_of_work() as uow:
        for who in ("full", "quiet", "corrected"):
            person = c[who].person
            messages = list(
                uow.session.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.person_id == person.id, OutboxMessage.topic == NOTICE_TOPIC
                    )
                )
            )
            assert len(messages) == c[who].contacts() == rows[person.id].notices
            for message in messages:
                body = open_body(message)
                assert (
                    f"{YEAR}年度" in body
                    and "%PDF" not in body
                    and codes.group(CODE.open(rows[person.id].code_enc)) not in body
                )
            issued = uow.session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "statement.issue", AuditEntry.subject == f"person:{person.id}")
            )
            assert issued == 1


# rule INS-4: the code verifies the statement: year, masked name and totals only; altered content does not verify
def test_verify(db_env) -> None:
    region, c = _region_with_contributors()
    generate_statements(year=YEAR, region=region, actor=SYSTEM, workers=0)
    row = _statements(region)[c["full"].person.id]
    code = codes.group(CODE.open(row.code_enc))
    with unit_of_work() as uow:
        found = verify_code(uow, code=code.lower(), actor=SYSTEM)
        assert (found.year, found.name_masked, found.region_code) == (YEAR, "张**", region)
        assert found.totals == StatementData.from_json(row.snapshot).totals()
        assert c["full"].id_number not in json.dumps(found.totals) + found.name_masked
        stored = statement_pdf(uow, statement=uow.session.get_one(Statement, row.id))
        assert pdf_matches(uow, code=code, pdf=stored)
        assert pdf_matches(
            uow, code=code, pdf=statement_pdf(uow, statement=uow.session.get_one(Statement, row.id), lang="en")
        )
        forged = (
            stored.replace(b"1,234", b"9,234") if b"1,234" in stored else stored[:-20] + b"%%forged%%" + stored[-10:]
        )
        assert not pdf_matches(uow, code=code, pdf=forged)
        with pytest.raises(StatementNotGenuine):
            verify_code(uow, code=codes.new_code(), actor=SYSTEM)
        with pytest.raises(StatementCodeInvalid):
            verify_code(uow, code="not-a-code", actor=SYSTEM)
    # Figures altered in the database no longer match the digest the code was issued with.
    with unit_of_work() as uow:
        data = json.loads(row.snapshot)
        data["accounts"][0]["closing_fen"] += 100_000
        uow.session.execute(update(Statement).where(Statement.id == row.id).values(snapshot=json.dumps(data)))
    with unit_of_work() as uow, pytest.raises(StatementNotGenuine):
        verify_code(uow, code=code, actor=SYSTEM)


# rule INS-4: a stored file lost or damaged is served again from the snapshot, byte for byte as issued
def test_damaged_file_rendered_again(db_env) -> None:
    region, c = _region_with_contributors()
    generate_statements(year=YEAR, region=region, actor=SYSTEM, workers=0)
    row = _statements(region)[c["quiet"].person.id]
    path = data_dir() / row.pdf_path
    original = path.read_bytes()
    path.write_bytes(original[:100])
    with unit_of_work() as uow:
        assert statement_pdf(uow, statement=uow.session.get_one(Statement, row.id)) == original


def test_unfinished_year_refused(db_env) -> None:
    # rule INS-4: a statement covers a finished year
    with pytest.raises(StatementYearInvalid):
        generate_statements(year=date.today().year, actor=SYSTEM, workers=0)
