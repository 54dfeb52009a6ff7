"""The statement PDF: Chinese by default with its CJK font embedded, English on request (rule INS-4)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date

import pytest

from sscard.statements import fonts
from sscard.statements.data import MEDICAL, PENSION, DeclarationRow, LegRow, assemble_statement
from sscard.statements.errors import StatementFontMissing
from sscard.statements.render import Holder, render_statement, yuan

CODE = "7K3M-9QXD-2HBT-WC4R-NZ8F"


def _pdf(lang: str = "zh") -> bytes:
    legs = [LegRow(PENSION, "contribution", date(2024, m, 1), 80_000) for m in range(1, 13)]
    legs += [
        LegRow(PENSION, "opening", date(2023, 12, 31), 123_456),
        LegRow(MEDICAL, "settlement", date(2024, 6, 1), -5),
    ]
    decl = [
        DeclarationRow("北京示例科技有限公司", "91110000MA01234567", date(2024, m, 1), 1_000_000) for m in range(1, 13)
    ]
    data = assemble_statement(person_id=1, year=2024, region_code="110105", legs=legs, declarations=decl)
    return render_statement(data, Holder("张三丰", "1101**********1234"), code=CODE, lang=lang)  # type: ignore[arg-type]


# rule INS-4: amounts are integer fen printed as yuan, never through a float
def test_yuan() -> None:
    assert [yuan(v) for v in (0, 5, -5, 123_456, 100_000_000)] == ["0.00", "0.05", "-0.05", "1,234.56", "1,000,000.00"]


# rule INS-4: every font of the statement is embedded (a subset of the CJK TrueType face), none merely named
def test_font_embedded() -> None:
    pdf = _pdf()
    assert b"/FontFile2" in pdf  # TrueType outlines inside the file
    font_dicts = re.findall(rb"/BaseFont /([A-Za-z0-9+\-]+)", pdf)
    assert font_dicts and all(re.match(rb"[A-Z]{6}\+", name) for name in font_dicts), font_dicts  # subsets only
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) not installed; .ci/run installs it")
    path = "/tmp/statement-font-check.pdf"  # noqa: S108 - a scratch file for the external tool
    with open(path, "wb") as handle:
        handle.write(pdf)
    out = subprocess.run(["pdffonts", path], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert out, "pdffonts lists no font"
    for line in out:
        cols = line.split()
        assert "TrueType" in line and cols[-5:-3] == ["yes", "yes"], line  # emb, sub


# rule INS-4: Chinese by default, English on request; the same input always gives the same bytes
def test_languages_and_determinism() -> None:
    zh, en = _pdf("zh"), _pdf("en")
    assert zh == _pdf("zh") and zh != en
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed; .ci/run installs it")
    text = {}
    for lang, pdf in (("zh", zh), ("en", en)):
        path = f"/tmp/statement-text-{lang}.pdf"  # noqa: S108
        with open(path, "wb") as handle:
            handle.write(pdf)
        text[lang] = subprocess.run(["pdftotext", path, "-"], capture_output=True, text=True, check=True).stdout
    assert "社会保险个人权益记录单" in text["zh"] and "养老保险个人账户" in text["zh"] and CODE in text["zh"]
    assert "1,234.56" in text["zh"] and "10,834.56" in text["zh"]  # opening, closing of the pension account
    assert "Personal Account Statement 2024" in text["en"] and "Closing balance" in text["en"] and CODE in text["en"]
    assert "张三丰" in text["en"]  # the name as registered, in either language


def test_missing_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # rule INS-4: no download at run time; a missing font package is named, not a traceback
    monkeypatch.delenv(fonts.ENV, raising=False)
    monkeypatch.setattr(fonts, "CANDIDATES", (str(tmp_path / "none.ttc"),))
    with pytest.raises(StatementFontMissing, match="fonts-wqy-microhei"):
        fonts.font_path()
    monkeypatch.setenv(fonts.ENV, str(tmp_path / "missing.ttf"))
    with pytest.raises(StatementFontMissing, match="not a file"):
        fonts.font_path()
