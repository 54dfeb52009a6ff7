"""The statement PDF (INS-4), Chinese by default, English on request, with its font embedded.

Rendering is deterministic (reportlab's ``invariant`` mode: fixed creation date and document id), so
the same statement data, holder and language always give the same bytes: a PDF handed in for checking
can be compared byte for byte with a fresh rendering (``sscard statements verify CODE --pdf FILE``).
"""

from __future__ import annotations

import io
from functools import lru_cache

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from sscard.statements.data import MEDICAL, PENSION, Holder, Lang, StatementData
from sscard.statements.fonts import register_font

_LABELS: dict[str, dict[Lang, str]] = {
    "title": {"zh": "社会保险个人权益记录单（{year}年度）", "en": "Social Insurance Personal Account Statement {year}"},
    "subtitle": {
        "zh": "基本养老保险和基本医疗保险个人账户 · 免费提供",
        "en": "Basic pension and basic medical insurance personal accounts · free of charge",
    },
    "name": {"zh": "姓名", "en": "Name"},
    "id": {"zh": "公民身份号码", "en": "Citizen ID"},
    "region": {"zh": "参保地区代码", "en": "Region code"},
    "period": {"zh": "记录期间", "en": "Period"},
    "period_value": {"zh": "{year}年1月1日至{year}年12月31日", "en": "1 January to 31 December {year}"},
    "accounts": {"zh": "一、个人账户（单位：元）", "en": "1. Personal accounts (yuan)"},
    "item": {"zh": "项目", "en": "Item"},
    PENSION: {"zh": "养老保险个人账户", "en": "Pension account"},
    MEDICAL: {"zh": "医疗保险个人账户", "en": "Medical account"},
    "opening_fen": {"zh": "上年末余额", "en": "Opening balance"},
    "credits_fen": {"zh": "本年记入", "en": "Credits"},
    "interest_fen": {"zh": "本年记息", "en": "Interest"},
    "debits_fen": {"zh": "本年支出", "en": "Debits"},
    "closing_fen": {"zh": "本年末余额", "en": "Closing balance"},
    "monthly": {"zh": "二、按月记入（单位：元）", "en": "2. Credits by month (yuan)"},
    "month": {"zh": "月份", "en": "Month"},
    "month_value": {"zh": "{month}月", "en": "{year}-{month:02d}"},
    "total": {"zh": "合计", "en": "Total"},
    "employers": {"zh": "三、缴费单位及申报月份", "en": "3. Employers and months declared"},
    "employer": {"zh": "单位名称", "en": "Employer"},
    "uscc": {"zh": "统一社会信用代码", "en": "Credit code"},
    "months": {"zh": "申报月份", "en": "Months"},
    "remarks": {"zh": "备注", "en": "Remarks"},
    "self_paid": {"zh": "个人缴费（灵活就业）", "en": "Own contribution (flexible work)"},
    "late": {"zh": "补报：{months}", "en": "late: {months}"},
    "corrected": {"zh": "更正：{months}", "en": "corrected: {months}"},
    "no_declarations": {"zh": "本年度无缴费申报记录。", "en": "No declarations in this year."},
    "verify": {"zh": "四、真伪核验", "en": "4. Verification"},
    "code": {"zh": "核验码", "en": "Verification code"},
    "digest": {"zh": "内容摘要", "en": "Content digest"},
    "how": {
        "zh": "核验方法：访问 /api/v1/statements/verify/核验码 或运行 sscard statements verify 核验码，"
        "核验结果中的年度、姓名（脱敏）及两个账户的五项合计应与本单完全一致；不一致或查无此码的，本单无效。",
        "en": "To verify: open /api/v1/statements/verify/CODE or run sscard statements verify CODE; the year, "
        "the (masked) name and both accounts' five totals it returns must equal those printed here. "
        "A statement whose code is unknown or whose figures differ is not genuine.",
    },
}


def _t(key: str, lang: Lang, **values: object) -> str:
    return _LABELS[key][lang].format(**values)


def yuan(fen: int) -> str:
    """Integer fen as yuan with thousands separators, e.g. -123456 -> "-1,234.56" (no float on the way)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def _months(months: tuple[int, ...]) -> str:
    """Months as ranges, e.g. (1, 2, 3, 5, 7, 8) -> "1-3, 5, 7-8"."""
    parts: list[str] = []
    start = prev = None
    for m in [*months, None]:
        if m is not None and prev is not None and m == prev + 1:
            prev = m
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = m
    return ", ".join(parts)


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    font = register_font()
    base = ParagraphStyle("st-base", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "title": ParagraphStyle("st-title", parent=base, fontSize=15, leading=20, alignment=1),
        "subtitle": ParagraphStyle(
            "st-sub", parent=base, fontSize=9, alignment=1, textColor=colors.HexColor("#444444")
        ),
        "h2": ParagraphStyle("st-h2", parent=base, fontSize=11, leading=15, spaceBefore=6, spaceAfter=3),
        "cell": base,
        "small": ParagraphStyle("st-small", parent=base, fontSize=8, leading=11, textColor=colors.HexColor("#333333")),
    }


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(
    rows: list[list[str]], widths: list[float], *, header: bool = True, right_from: int = 1, wrap: int | None = None
) -> Table:
    """A grid of plain strings (a Paragraph costs ten times a string to lay out: only column ``wrap``,
    the employer's name, may need more than one line)."""
    style = _styles()["cell"]
    data: list[list[str | Paragraph]] = [
        [Paragraph(_esc(c), style) if i == wrap and r else c for i, c in enumerate(row)] for r, row in enumerate(rows)
    ]
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1 if header else 0)
    commands = [
        ("FONTNAME", (0, 0), (-1, -1), register_font()),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#8899aa")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (right_from, 0), (-1, -1), "RIGHT"),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")))
    table.setStyle(TableStyle(commands))
    return table


def render_statement(data: StatementData, holder: Holder, *, code: str, lang: Lang = "zh") -> bytes:
    """The statement as PDF bytes: the same arguments always give the same bytes."""
    styles = _styles()
    font = register_font()
    year = data.year
    pension, medical = data.account(PENSION), data.account(MEDICAL)
    story = [
        Paragraph(_esc(_t("title", lang, year=year)), styles["title"]),
        Paragraph(_esc(_t("subtitle", lang)), styles["subtitle"]),
        Spacer(1, 4 * mm),
        _table(
            [
                [_t("name", lang), holder.name, _t("id", lang), holder.id_masked],
                [_t("region", lang), data.region_code, _t("period", lang), _t("period_value", lang, year=year)],
            ],
            [28, 57, 30, 71],
            header=False,
            right_from=4,
        ),
        Paragraph(_esc(_t("accounts", lang)), styles["h2"]),
        _table(
            [[_t("item", lang), _t(PENSION, lang), _t(MEDICAL, lang)]]
            + [
                [_t(key, lang), yuan(pension.totals()[key]), yuan(medical.totals()[key])]
                for key in ("opening_fen", "credits_fen", "interest_fen", "debits_fen", "closing_fen")
            ],
            [62, 62, 62],
        ),
        Paragraph(_esc(_t("monthly", lang)), styles["h2"]),
        _table(
            [[_t("month", lang), _t(PENSION, lang), _t(MEDICAL, lang)]]
            + [
                [
                    _t("month_value", lang, year=year, month=m + 1),
                    yuan(pension.credits_by_month[m]),
                    yuan(medical.credits_by_month[m]),
                ]
                for m in range(12)
            ]
            + [[_t("total", lang), yuan(pension.credits_fen), yuan(medical.credits_fen)]],
            [62, 62, 62],
        ),
        Paragraph(_esc(_t("employers", lang)), styles["h2"]),
    ]
    if data.employers:
        rows = [[_t("employer", lang), _t("uscc", lang), _t("months", lang), _t("remarks", lang)]]
        for employer in data.employers:
            remarks = []
            if employer.late_months:
                remarks.append(_t("late", lang, months=_months(employer.late_months)))
            if employer.corrected_months:
                remarks.append(_t("corrected", lang, months=_months(employer.corrected_months)))
            name = employer.name or _t("self_paid", lang)
            rows.append([name, employer.uscc or "-", _months(employer.months), "; ".join(remarks)])
        story.append(_table(rows, [66, 42, 34, 44], right_from=4, wrap=0))
    else:
        story.append(Paragraph(_esc(_t("no_declarations", lang)), styles["cell"]))
    story += [
        Paragraph(_esc(_t("verify", lang)), styles["h2"]),
        _table(
            [[_t("code", lang), code], [_t("digest", lang), data.content_digest()[:32]]],
            [40, 146],
            header=False,
            right_from=2,
        ),
        Spacer(1, 2 * mm),
        Paragraph(_esc(_t("how", lang)), styles["small"]),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=_t("title", lang, year=year),
        author="sscard",
        invariant=1,
        initialFontName=font,
    )
    doc.build(story)
    return buffer.getvalue()
