"""``sscard import persons`` end to end, on SQLite and PostgreSQL (ID-3, ID-5, CH-4)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from sscard.audit import Actor
from sscard.audit.models import AuditEntry
from sscard.cli.common import EXIT_REJECTED_ROWS
from sscard.cli.main import app
from sscard.db.session import unit_of_work
from sscard.identity.protected import ID_NUMBER, NAME, PHONE
from sscard.imports.errors import ImportConcurrent
from sscard.imports.models import ImportJob, ImportRowError, ImportStatus
from sscard.jobs.person_import import import_persons
from sscard.people.models import Person
from sscard.people.validation import name_index_key
from tests.imports.conftest import count_present, fresh_people, write_csv

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["import", "persons", *args])
    return result.exit_code, result.output


def _job(job_id: int) -> ImportJob:
    with unit_of_work() as uow:
        job = uow.session.get(ImportJob, job_id)
        assert job is not None
        return job


def _json_summary(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


# rule ID-5: imported persons hold only sealed values and blind indexes; derived facts come from the ID
def test_good_file_imports_everyone(db_env, tmp_path: Path) -> None:
    people = fresh_people(120)
    path = write_csv(tmp_path / "good.csv", people)
    code, out = _run(str(path), "--batch-size", "50", "--json")
    assert code == 0, out
    summary = _json_summary(out)
    assert (summary["imported"], summary["already_present"], summary["rejected"]) == (120, 0, 0)
    assert summary["batches"] == 3
    assert count_present(db_env.engine, [p[0] for p in people]) == 120
    with unit_of_work() as uow:
        first = uow.session.scalar(select(Person).where(Person.id_number_bidx == ID_NUMBER.index(people[0][0])))
        assert first is not None
        assert people[0][0].encode() not in first.id_number_enc
        assert first.id_number == people[0][0]
        assert first.name == people[0][1]
        # rule ID-5 (issue 17 item 12): the name goes through COPY / executemany sealed, with its index
        assert people[0][1].encode() not in first.name_enc
        assert first.name_bidx == NAME.index(name_index_key(people[0][1]))
        assert first.birth_date.strftime("%Y%m%d") == people[0][0][6:14]
        assert first.region_code == people[0][0][:6]
        assert first.gender == ("M" if int(people[0][0][16]) % 2 else "F")
        if people[0][2]:
            assert first.phone == people[0][2] and first.phone_bidx == PHONE.index(people[0][2])
        if people[0][3]:
            assert first.email == people[0][3]
    job = _job(summary["job_id"])
    assert job.status == ImportStatus.FINISHED and job.imported == 120 and job.batches == 3


# rule CH-4: one audit entry per committed batch (not per person), with counts and no personal data
def test_one_audit_entry_per_batch(db_env, tmp_path: Path) -> None:
    people = fresh_people(25)
    path = write_csv(tmp_path / "audit.csv", people)
    summary = import_persons(path=path, actor=Actor.cli_operator(), batch_size=10, workers=0)
    with unit_of_work() as uow:
        entries = list(
            uow.session.scalars(
                select(AuditEntry).where(AuditEntry.subject == f"import_job:{summary.job_id}").order_by(AuditEntry.id)
            )
        )
    assert len(entries) == summary.batches == 3
    details = [json.loads(e.details) for e in entries]
    assert [(d["first_line"], d["last_line"], d["imported"]) for d in details] == [
        (2, 11, 10),
        (12, 21, 10),
        (22, 26, 5),
    ]
    assert all(e.action == "person.import_batch" for e in entries)
    blob = " ".join(e.details + e.subject for e in entries)
    assert not any(p[0] in blob or p[1] in blob for p in people)


# rule ID-3: bad rows are reported with their line and reason; the rest continue
def test_bad_rows_reported_by_line_and_the_rest_imported(db_env, tmp_path: Path) -> None:
    people = fresh_people(6)
    good = people[0][0]
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    rows = [
        people[0],  # line 2
        (bad_check, "坏人", "", ""),  # 3 ID_CHECKSUM
        people[1],  # 4
        (people[2][0], "王五", "12345", ""),  # 5 PHONE_INVALID
        ("", "无名", "", ""),  # 6 ID_LENGTH
        people[3],  # 7
        (people[0][0], "重复", "", ""),  # 8 DUPLICATE_IN_FILE (same ID as line 2)
        (people[4][0], "Bad3Name", "", ""),  # 9 NAME_INVALID
        people[5],  # 10
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    code, out = _run(str(path), "--batch-size", "3")
    assert code == EXIT_REJECTED_ROWS, out  # issue 22 item 8: done, but with rejected rows
    assert "line 3: ID_CHECKSUM — " in out
    assert "line 5: PHONE_INVALID — " in out
    assert "line 6: ID_LENGTH — " in out
    assert "line 8: DUPLICATE_IN_FILE — the same ID as line 2" in out
    assert "line 9: NAME_INVALID — " in out
    assert bad_check not in out and good not in out  # rule ID-5: masked, never the full ID
    assert "4 imported, 0 already present, 5 rejected of 9 rows" in out
    assert count_present(db_env.engine, [p[0] for p in (people[0], people[1], people[3], people[5])]) == 4
    assert count_present(db_env.engine, [people[2][0], people[4][0]]) == 0
    job_id = int(out.split("job ")[1].split(":")[0])
    with unit_of_work() as uow:
        errors = list(
            uow.session.scalars(select(ImportRowError).where(ImportRowError.job_id == job_id).order_by("line"))
        )
    assert [(e.line, e.code) for e in errors] == [
        (3, "ID_CHECKSUM"),
        (5, "PHONE_INVALID"),
        (6, "ID_LENGTH"),
        (8, "DUPLICATE_IN_FILE"),
        (9, "NAME_INVALID"),
    ]
    assert all(good not in e.value_masked and bad_check not in e.value_masked for e in errors)
    listed = runner.invoke(app, ["import", "errors", str(job_id)])
    assert listed.exit_code == 0 and len(re.findall(r"^line \d+: ", listed.output, re.M)) == 5


# Idempotent: the same file again imports nothing and says so
def test_rerun_of_the_same_file_imports_nothing(db_env, tmp_path: Path) -> None:
    people = fresh_people(30)
    path = write_csv(tmp_path / "again.csv", people)
    first = _json_summary(_run(str(path), "--json")[1])
    code, out = _run(str(path), "--json")
    assert code == 0
    again = _json_summary(out)
    assert again["previously_finished"] and again["job_id"] == first["job_id"]
    assert again["imported"] == 0 and again["job_totals"]["imported"] == 30
    assert count_present(db_env.engine, [p[0] for p in people]) == 30
    code, out = _run(str(path))
    assert code == 0 and "already imported completely" in out


# Idempotent by natural key: an overlapping file (a new job) inserts only the new persons
def test_overlapping_file(db_env, tmp_path: Path) -> None:
    people = fresh_people(60)
    write_csv(tmp_path / "a.csv", people[:40])
    write_csv(tmp_path / "b.csv", people[20:])
    a = _json_summary(_run(str(tmp_path / "a.csv"), "--json")[1])
    b = _json_summary(_run(str(tmp_path / "b.csv"), "--json", "--batch-size", "7")[1])
    assert a["job_id"] != b["job_id"]
    assert (b["imported"], b["already_present"], b["rejected"]) == (20, 20, 0)
    assert count_present(db_env.engine, [p[0] for p in people]) == 60


def test_bom_and_extra_columns(db_env, tmp_path: Path) -> None:
    people = fresh_people(5)
    path = tmp_path / "bom.csv"
    body = "".join(f"x{i},{p[1]},{p[0]},{p[2]},{p[3]}\n" for i, p in enumerate(people))
    path.write_bytes("\ufeffnote,name,id_number,phone,email\n".encode() + body.encode())
    code, out = _run(str(path), "--json")
    assert code == 0, out
    assert _json_summary(out)["imported"] == 5
    assert count_present(db_env.engine, [p[0] for p in people]) == 5


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"id_number,name,phone\n110101199003074514,x,\n", "IMPORT_MISSING_COLUMNS"),
        (b"", "IMPORT_FILE_EMPTY"),
        (b"\xff\xfeid_number,name,phone,email\n", "IMPORT_HEADER_INVALID"),
    ],
)
def test_unusable_file_is_one_clean_line(db_env, tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    exit_code, out = _run(str(path))
    assert exit_code == 1
    assert out.strip().count("\n") == 0 and code in out and "Traceback" not in out


def test_missing_file_is_one_clean_line(db_env, tmp_path: Path) -> None:
    exit_code, out = _run(str(tmp_path / "nope.csv"))
    assert exit_code == 1 and "IMPORT_FILE_UNREADABLE" in out and out.strip().count("\n") == 0


def test_header_only_file_finishes_an_empty_job(db_env, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "empty.csv", [], header=f"id_number,name,phone,email,batch_{tmp_path.name}")
    code, out = _run(str(path), "--json")
    assert code == 0, out
    summary = _json_summary(out)
    assert summary["rows"] == 0
    assert _job(summary["job_id"]).status == ImportStatus.FINISHED


class _Crash(Exception):
    pass


class _CrashAfter:
    """An observer that stops the run after N committed batches (a crash between two batches)."""

    def __init__(self, batches: int) -> None:
        self.left = batches

    def started(self, start) -> None:
        pass

    def batch_committed(self, result) -> None:
        self.left -= 1
        if self.left == 0:
            raise _Crash


# Resumable: after a crash the re-run continues after the last committed batch, exactly once
@pytest.mark.parametrize("workers", [0, 2])
def test_resume_after_a_crash_in_process(db_env, tmp_path: Path, workers: int) -> None:
    people = fresh_people(50)
    rows = [*people[:20], (people[3][0], "重复", "", ""), *people[20:], ("bad", "x", "", "")]
    path = write_csv(tmp_path / "crash.csv", rows)
    with pytest.raises(_Crash):
        import_persons(path=path, actor=Actor.cli_operator(), batch_size=8, workers=workers, observer=_CrashAfter(2))
    summary = import_persons(path=path, actor=Actor.cli_operator(), batch_size=5, workers=workers)
    assert summary.resumed_after_line == 17
    assert summary.job_totals == (50, 0, 2)
    assert summary.rows == len(rows) - 16
    assert count_present(db_env.engine, [p[0] for p in people]) == 50
    with unit_of_work() as uow:
        errors = uow.session.scalars(select(ImportRowError.line).where(ImportRowError.job_id == summary.job_id))
        assert sorted(errors) == [22, 53]


# The crypto may run in worker processes: same result as in-process
def test_worker_processes_give_the_same_result(db_env, tmp_path: Path) -> None:
    people = fresh_people(200)
    rows = [*people[:100], (people[5][0], "重复", "", ""), *people[100:]]
    path = write_csv(tmp_path / "pool.csv", rows)
    summary = import_persons(path=path, actor=Actor.cli_operator(), batch_size=16, workers=2)
    assert (summary.imported, summary.already_present, summary.rejected) == (200, 0, 1)
    assert count_present(db_env.engine, [p[0] for p in people]) == 200
    with unit_of_work() as uow:
        total = uow.session.scalar(
            select(func.count()).select_from(ImportRowError).where(ImportRowError.job_id == summary.job_id)
        )
    assert total == 1


class _SecondRunner:
    """Moves the job's resume point behind the importer's back, as a second process would."""

    def started(self, start) -> None:
        pass

    def batch_committed(self, result) -> None:
        with unit_of_work() as uow:
            uow.session.execute(
                update(ImportJob).where(ImportJob.id == result.job_id).values(next_offset=ImportJob.next_offset + 1)
            )


# Exactly-once under two processes on one file: the compare-and-set on the resume point stops one
def test_a_second_process_on_the_same_job_is_refused(db_env, tmp_path: Path) -> None:
    people = fresh_people(20)
    path = write_csv(tmp_path / "twice.csv", people)
    with pytest.raises(ImportConcurrent):
        import_persons(path=path, actor=Actor.cli_operator(), batch_size=10, workers=0, observer=_SecondRunner())
    assert count_present(db_env.engine, [p[0] for p in people]) == 10  # the refused batch left nothing


# issue 22 item 8: a file saved in GBK (Excel's default on Chinese Windows) is refused with the way out
def test_a_gbk_header_hints_at_converting_the_file(db_env, tmp_path: Path) -> None:
    path = tmp_path / "gbk-header.csv"
    path.write_bytes("身份证号,姓名,手机,邮箱\n".encode("gbk"))
    exit_code, out = _run(str(path))
    assert exit_code == 1 and "IMPORT_HEADER_INVALID" in out
    assert "iconv -f GBK -t UTF-8" in out and out.strip().count("\n") == 0


# issue 22 item 8: a clean import exits 0, one with rejected rows exits 3 (EXIT_REJECTED_ROWS), so a
# scheduler can tell "all in" from "done, see the rejected rows"
def test_exit_code_tells_a_clean_import_from_one_with_rejected_rows(db_env, tmp_path: Path) -> None:
    people = fresh_people(3)
    assert _run(str(write_csv(tmp_path / "clean.csv", people[:2])))[0] == 0
    bad_checksum = people[2][0][:-1] + ("0" if people[2][0][-1] != "0" else "1")
    code, out = _run(str(write_csv(tmp_path / "mixed.csv", [people[2], (bad_checksum, "王五", "", "")])))
    assert code == EXIT_REJECTED_ROWS == 3, out
    assert "1 imported" in out and "1 rejected" in out
