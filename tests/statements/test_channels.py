"""Statements through the portal, the public verification route and the CLI (rule INS-4)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from sscard.cli.main import app as cli
from sscard.db.session import unit_of_work
from sscard.statements import codes
from sscard.statements.service import CODE, get_statement
from tests.credentials.query_password.factories import make_holder
from tests.statements.factories import YEAR, Contributor, fresh_district, year_of_contributions

NEW_PASSWORD = "Qz7#statements-2024"


def _holder_with_statement(client) -> tuple[str, object, str]:
    """(bearer token of a holder whose password is changed, their contributor, their code)."""
    region = fresh_district()
    with unit_of_work() as uow:
        person, number, initial = make_holder(uow)
        contributor = Contributor(uow, region=region, person=person)
        contributor.id_number = number
        year_of_contributions(contributor)
    from sscard.audit import Actor, Channel
    from sscard.jobs.statements import generate_statements

    generate_statements(year=YEAR, region=region, actor=Actor.system(Channel.CLI), workers=0)
    token = client.post("/api/v1/portal/login", json={"id_number": number, "password": initial}).json()["access_token"]
    r = client.post("/api/v1/portal/password", json={"old_password": initial, "new_password": NEW_PASSWORD},
                    headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert r.status_code == 204, r.text
    token = client.post("/api/v1/portal/login", json={"id_number": number, "password": NEW_PASSWORD}).json()[
        "access_token"
    ]
    with unit_of_work() as uow:
        row = get_statement(uow, person_id=person.id, year=YEAR)
        assert row is not None
        code = codes.group(CODE.open(row.code_enc))
    return token, contributor, code


# rule INS-4: the holder lists and downloads their statements in the portal, free, in Chinese or English
def test_portal_statements(client) -> None:
    token, contributor, _ = _holder_with_statement(client)
    auth = {"Authorization": f"Bearer {token}"}
    listed = client.get("/api/v1/portal/statements", headers=auth)
    assert listed.status_code == 200, listed.text
    (entry,) = listed.json()
    assert entry["year"] == YEAR and entry["download_url"] == f"/api/v1/portal/statements/{YEAR}.pdf"
    assert entry["downloaded_at"] is None
    pdf = client.get(entry["download_url"], headers=auth)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    en = client.get(entry["download_url"], params={"lang": "en"}, headers=auth)
    assert en.status_code == 200 and en.content.startswith(b"%PDF-") and en.content != pdf.content
    assert client.get("/api/v1/portal/statements").status_code == 401
    missing = client.get(f"/api/v1/portal/statements/{YEAR - 1}.pdf", headers=auth)
    assert missing.status_code == 404 and missing.json()["code"] == "STATEMENT_NOT_FOUND"
    assert client.get("/api/v1/portal/statements", headers=auth).json()[0]["downloaded_at"] is not None


# rule INS-4: anyone may verify a code without a session; the answer holds no ID, only year, masked name, totals
def test_public_verify(client) -> None:
    _, contributor, code = _holder_with_statement(client)
    r = client.get(f"/api/v1/statements/verify/{code}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["genuine"] is True and body["year"] == YEAR and body["name_masked"] == "黄*"
    assert body["accounts"]["pension_personal"]["credits_fen"] == 12 * 80_000
    assert body["accounts"]["medical_personal"]["closing_fen"] == 12 * 20_000
    from sscard.identity import mask_id_number

    number = contributor.id_number
    assert (
        "id_number" not in r.text and number not in r.text and mask_id_number(number) not in r.text
    )  # not even masked
    unknown = client.get(f"/api/v1/statements/verify/{codes.new_code()}")
    assert unknown.status_code == 404 and unknown.json()["code"] == "STATEMENT_NOT_GENUINE"
    bad = client.get("/api/v1/statements/verify/hello")
    assert bad.status_code == 422 and bad.json()["code"] == "STATEMENT_CODE_INVALID"


# rule INS-4: `statements show` writes one person's statement (issued then if need be); `verify` checks a code
def test_cli_show_and_verify(db_env, tmp_path) -> None:
    region = fresh_district()
    with unit_of_work() as uow:
        contributor = Contributor(uow, region=region)
        year_of_contributions(contributor)
    runner = CliRunner()
    out = tmp_path / "s.pdf"
    args = ["statements", "show", "--id", contributor.id_number, "--year", str(YEAR), "--out", str(out), "--lang", "en"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-")
    with unit_of_work() as uow:
        row = get_statement(uow, person_id=contributor.person.id, year=YEAR)
        assert row is not None  # issued by `show`, since no batch had run
        code = codes.group(CODE.open(row.code_enc))
    verified = runner.invoke(cli, ["statements", "verify", code, "--pdf", str(out), "--json"])
    assert verified.exit_code == 0, verified.output
    answer = json.loads(verified.stdout)
    assert answer["genuine"] and answer["pdf_intact"] is True and answer["year"] == YEAR
    out.write_bytes(out.read_bytes() + b"\n% appended")
    tampered = runner.invoke(cli, ["statements", "verify", code, "--pdf", str(out), "--json"])
    assert tampered.exit_code == 1 and json.loads(tampered.stdout)["pdf_intact"] is False
    unknown = runner.invoke(cli, ["statements", "verify", codes.new_code()])
    assert unknown.exit_code == 1 and "STATEMENT_NOT_GENUINE" in unknown.output
    nobody = runner.invoke(
        cli, ["statements", "show", "--id", "11010519491231002X", "--year", str(YEAR), "--out", str(out)]
    )
    assert nobody.exit_code == 1
