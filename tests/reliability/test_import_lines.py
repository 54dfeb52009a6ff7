"""Every line of a person file is accounted for (issue 16; rules CH-4, ID-3, PER-1).

Each non-blank line after the header ends imported, already present, or rejected with its physical
line number and a code; a whole-file problem (encoding, header) refuses the file before anything is
written. The importer checks that accounting itself before it marks a job finished.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from sscard.audit import Actor
from sscard.cli.common import EXIT_REJECTED_ROWS
from sscard.cli.main import app
from sscard.db.session import unit_of_work
from sscard.identity.protected import ID_NUMBER
from sscard.imports.models import ImportJob, ImportRowError, ImportStatus
from sscard.jobs import person_import
from sscard.jobs.person_import import import_persons
from sscard.people.models import Person
from tests.imports.conftest import count_present, fresh_people

runner = CliRunner()
HEADER = "id_number,name,phone,email"


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["import", "persons", *args])
    return result.exit_code, result.output


def _summary(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def _write(path: Path, lines: list[str], *, newline: str = "\n", bom: bool = False) -> Path:
    data = newline.join(lines) + newline
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data.encode("utf-8"))
    return path


def _job(job_id: int) -> ImportJob:
    with unit_of_work() as uow:
        job = uow.session.get(ImportJob, job_id)
        assert job is not None
        return job


def _errors(job_id: int) -> list[tuple[int, str]]:
    with unit_of_work() as uow:
        rows = uow.session.execute(
            select(ImportRowError.line, ImportRowError.code)
            .where(ImportRowError.job_id == job_id)
            .order_by(ImportRowError.line)
        )
        return [(line, code) for line, code in rows]


def _jobs() -> int:
    with unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(ImportJob)) or 0)


def _quote_file(path: Path) -> tuple[Path, list[tuple[str, str, str, str]]]:
    """The reported case: 50 persons, line 12 ends inside an open quote (…,"张艳,,)."""
    people = fresh_people(50)
    lines = [HEADER]
    for i, p in enumerate(people):
        lines.append(f'{p[0]},"张艳,,' if i == 10 else ",".join(p))
    return _write(path, lines), people


# rule ID-3: an open quote costs its own line only — 49 imported, line 12 rejected, nothing vanishes
def test_unbalanced_quote_costs_its_line_only(db_env, tmp_path: Path) -> None:
    path, people = _quote_file(tmp_path / "quote.csv")
    code, out = _run(str(path), "--batch-size", "7")
    assert code == EXIT_REJECTED_ROWS, out
    assert "line 12: CSV_UNBALANCED_QUOTE — " in out
    assert "49 imported, 0 already present, 1 rejected of 50 rows" in out
    job_id = int(out.split("job ")[1].split(":")[0])
    assert _errors(job_id) == [(12, "CSV_UNBALANCED_QUOTE")]
    job = _job(job_id)
    assert job.status == ImportStatus.FINISHED and (job.imported, job.already_present, job.rejected) == (49, 0, 1)
    assert job.last_line == 51
    assert count_present(db_env.engine, [p[0] for i, p in enumerate(people) if i != 10]) == 49
    assert count_present(db_env.engine, [people[10][0]]) == 0
    code, again = _run(str(path))  # the file still has its rejected row: 3 again
    assert code == EXIT_REJECTED_ROWS and "already imported completely" in again and "49 imported" in again


# rule CH-4: a job an earlier version marked finished without accounting for every line is reopened
def test_finished_job_that_lost_lines_is_reopened(db_env, tmp_path: Path) -> None:
    path, people = _quote_file(tmp_path / "lost.csv")
    first = _summary(_run(str(path), "--json")[1])
    # Make it what the old importer left: 10 imported, line 12 rejected, the 39 after it vanished.
    lost = [p[0] for p in people[11:]]
    with unit_of_work() as uow:
        uow.session.execute(delete(Person).where(Person.id_number_bidx.in_([ID_NUMBER.index(i) for i in lost])))
        uow.session.execute(
            update(ImportJob).where(ImportJob.id == first["job_id"]).values(imported=10, already_present=0, rejected=1)
        )
    code, out = _run(str(path), "--json")
    assert code == EXIT_REJECTED_ROWS, out
    summary = _summary(out)
    assert summary["job_id"] == first["job_id"] and summary["reopened"] and not summary["previously_finished"]
    assert summary["job_totals"] == {"imported": 39, "already_present": 10, "rejected": 1}
    assert "was marked finished but accounts for 11 of the file's 50 data lines" in out
    assert count_present(db_env.engine, [p[0] for i, p in enumerate(people) if i != 10]) == 49
    assert _errors(first["job_id"]) == [(12, "CSV_UNBALANCED_QUOTE")]
    assert _job(first["job_id"]).status == ImportStatus.FINISHED


# rule ID-3: a file that is not UTF-8 is refused whole, naming its bad lines; nothing is imported
def test_non_utf8_file_is_refused_before_anything_is_imported(db_env, tmp_path: Path) -> None:
    people = fresh_people(6)
    path = tmp_path / "gbk.csv"
    body = [HEADER.encode()] + [",".join(p).encode("gb18030") for p in people[:3]]
    body += [",".join(p).encode() for p in people[3:]]
    body[2] = people[1][0].encode() + b",Li\xff,,"  # a stray byte in a pinyin name
    path.write_bytes(b"\n".join(body) + b"\n")
    jobs = _jobs()
    code, out = _run(str(path))
    assert code == 1
    assert out.strip().count("\n") == 0 and "Traceback" not in out
    assert "IMPORT_FILE_ENCODING" in out and "lines 2, 3, 4" in out and "nothing was imported" in out
    assert "iconv -f GBK -t UTF-8" in out  # issue 22 item 8: how to convert it
    assert not any(p[0] in out for p in people)  # rule ID-5: no ID in the message
    assert count_present(db_env.engine, [p[0] for p in people]) == 0
    assert _jobs() == jobs  # no job row either: a fixed file is simply imported


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("id_number,name,mobile,email", "phone"),
        ("身份证号,姓名,手机,邮箱", "id_number,name,phone,email"),
        ("id,name,phone,email,remark", "id_number"),
    ],
)
# rule PER-1: a wrong header refuses the whole file, naming the missing columns, before anything is written
def test_wrong_header_refuses_the_file(db_env, tmp_path: Path, header: str, missing: str) -> None:
    people = fresh_people(3)
    path = _write(tmp_path / "header.csv", [header] + [",".join(p) for p in people])
    jobs = _jobs()
    code, out = _run(str(path))
    assert code == 1 and out.strip().count("\n") == 0
    assert f"IMPORT_MISSING_COLUMNS: the header lacks column(s) {missing};" in out
    assert count_present(db_env.engine, [p[0] for p in people]) == 0 and _jobs() == jobs


# rule ID-5: a file without a header (the first line is a person) is refused without showing the ID
def test_missing_header_is_refused_without_personal_data(db_env, tmp_path: Path) -> None:
    people = fresh_people(3)
    path = _write(tmp_path / "noheader.csv", [",".join(p) for p in people])
    code, out = _run(str(path))
    assert code == 1 and out.strip().count("\n") == 0
    assert "the header lacks column(s) id_number,name,phone,email" in out
    assert not any(p[0] in out or (p[2] and p[2] in out) for p in people)
    assert count_present(db_env.engine, [p[0] for p in people]) == 0


# rule ID-3 / PER-1: a repeated line is already present (never a second person, never an error);
# the same ID with other data is rejected naming the first line
def test_duplicate_lines_within_a_file_and_across_runs(db_env, tmp_path: Path) -> None:
    people = fresh_people(5)
    lines = [HEADER] + [",".join(p) for p in people]
    lines.insert(4, ",".join(people[0]))  # line 5 repeats line 2
    lines.append(",".join(people[1]))  # line 8 repeats line 3 (another batch)
    lines.append(f"{people[2][0]},另一人,,")  # line 9: the ID of line 4 with another name
    path = _write(tmp_path / "dups.csv", lines)
    code, out = _run(str(path), "--json", "--batch-size", "3")
    assert code == EXIT_REJECTED_ROWS, out
    s = _summary(out)
    assert (s["imported"], s["already_present"], s["rejected"]) == (5, 2, 1)
    assert s["data_lines"] == 8
    assert _errors(s["job_id"]) == [(9, "DUPLICATE_IN_FILE")]
    # Across runs: another file with the same people (plus one new) inserts only the new one.
    more = fresh_people(1)
    other = _write(tmp_path / "dups2.csv", [HEADER] + [",".join(p) for p in people + more] + [",".join(more[0])])
    s2 = _summary(_run(str(other), "--json")[1])
    assert (s2["imported"], s2["already_present"], s2["rejected"]) == (1, 6, 0)
    with db_env.engine.connect() as conn:
        for p in people + more:
            assert (
                conn.scalar(
                    select(func.count()).select_from(Person).where(Person.id_number_bidx == ID_NUMBER.index(p[0]))
                )
                == 1
            )


# rule ID-3: a BOM, CRLF line ends, blank lines and a last line without its newline change no line number
def test_bom_crlf_blank_lines_keep_physical_line_numbers(db_env, tmp_path: Path) -> None:
    people = fresh_people(6)
    bad_phone = (people[4][0], people[4][1], "12345", "")
    lines = [HEADER, ",".join(people[0]), "", ",".join(people[1]), "   ", ",".join(people[2]), ""]
    lines += [",".join(people[3]), ",".join(bad_phone), f'{people[5][0]},"张艳,,']
    path = tmp_path / "crlf.csv"
    # a BOM, CRLF everywhere, and no line end after the last line
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())
    code, out = _run(str(path), "--json", "--batch-size", "2")
    assert code == EXIT_REJECTED_ROWS, out
    s = _summary(out)
    assert (s["imported"], s["already_present"], s["rejected"]) == (4, 0, 2)
    assert count_present(db_env.engine, [p[0] for p in people[:4]]) == 4
    assert _job(s["job_id"]).last_line == 10
    assert [line for line, _ in _errors(s["job_id"])] == [9, 10]
    assert _errors(s["job_id"]) == [(9, "PHONE_INVALID"), (10, "CSV_UNBALANCED_QUOTE")]
    assert (s["data_lines"], s["blank_lines"]) == (6, 3)


# rule CH-4: the importer's own invariant — a job that cannot account for every line is not finished
def test_a_job_that_cannot_account_for_every_line_is_not_finished(
    db_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sscard.imports.errors import ImportUnaccounted  # here, so that the other tests also run on old code

    people = fresh_people(20)
    path = _write(tmp_path / "short.csv", [HEADER] + [",".join(p) for p in people])
    real_scan = person_import.scan_file

    def one_line_more(p: Path):  # the file "has" a line the reading never accounts for
        scan = real_scan(p)
        return type(scan)(scan.sha256, scan.size, scan.lines + 1, scan.blank_lines)

    monkeypatch.setattr(person_import, "scan_file", one_line_more)
    with pytest.raises(ImportUnaccounted, match=r"the file has 21 data lines .* 20 imported"):
        import_persons(path=path, actor=Actor.cli_operator(), batch_size=8, workers=0)
    with unit_of_work() as uow:
        job = uow.session.scalar(select(ImportJob).where(ImportJob.file_name == "short.csv"))
        assert job is not None and job.status == ImportStatus.RUNNING and job.finished_at is None
    code, out = _run(str(path))  # the CLI: resumes after the committed batches, then the same one-line refusal
    last = out.strip().splitlines()[-1]
    assert code == 1 and last.startswith("error IMPORT_UNACCOUNTED: ") and last.endswith("left unfinished")
    assert "Traceback" not in out
    with unit_of_work() as uow:
        assert uow.session.scalar(select(ImportJob.status).where(ImportJob.file_name == "short.csv")) == "running"


# rule CH-4: the line count the importer checks against (scan_file) and the reading (iter_chunks and
# prepare_chunk) agree on any content: every physical line after the header is a row or a blank line
@pytest.mark.parametrize("seed", range(20))
def test_scan_and_reading_agree_on_every_line(tmp_path: Path, seed: int) -> None:
    import random

    from sscard.imports.batches import prepare_chunk
    from sscard.imports.source import iter_chunks, read_header, scan_file

    rnd = random.Random(seed)
    pieces = ["", " ", "\r", "\t", '"', '""', ",", "a", "张", "110101199003074514", "\x0c", "\u3000"]
    lines = [HEADER] + ["".join(rnd.choices(pieces, k=rnd.randrange(0, 8))) for _ in range(rnd.randrange(0, 60))]
    ending = rnd.choice(["\n", "\r\n"])
    text = ending.join(lines) + rnd.choice(["", ending])
    path = tmp_path / "random.csv"
    path.write_bytes(text.encode())
    header = read_header(path)
    scan = scan_file(path, block=rnd.choice([7, 64, 1 << 20]))
    chunks = list(iter_chunks(path, start_offset=header.data_offset, first_line=2, lines_per_chunk=rnd.randrange(1, 9)))
    prepared = [prepare_chunk(c, header, seal=False) for c in chunks]
    assert scan.lines == 1 + sum(len(c.lines) for c in chunks)
    assert scan.blank_lines == sum(p.blank for p in prepared)
    assert scan.data_lines == sum(p.rows for p in prepared)
    assert chunks == [] or chunks[-1].end_offset == scan.size


# rule ID-3 (attack review): a control character (NUL) in a rejected field costs that line only; the
# rejection is recorded (PostgreSQL cannot store NUL in text) and the other lines import
def test_nul_in_a_rejected_field_costs_its_line_only(db_env, tmp_path: Path) -> None:
    people = fresh_people(6)
    lines = [HEADER] + [",".join(p) for p in people]
    lines[3] = f"{people[2][0]},{people[2][1]},,a\x00b@example.com"
    code, out = _run(str(_write(tmp_path / "nul.csv", lines)))
    assert code == EXIT_REJECTED_ROWS, out
    assert "5 imported, 0 already present, 1 rejected of 6 rows" in out
    job_id = int(out.split("job ")[1].split(":")[0])
    assert _errors(job_id) == [(4, "EMAIL_INVALID")]
    with unit_of_work() as uow:
        masked = uow.session.scalar(select(ImportRowError.value_masked).where(ImportRowError.job_id == job_id))
    assert masked is not None and "\x00" not in masked
