"""PDF renderings of the key-management reports (reportlab).

Chinese text uses reportlab's built-in CID font ``STSong-Light`` (Adobe-GB1): the PDF references
the font by name and every reader supplies the glyphs, so no font file ships with the platform.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from sscard.key_register.reports import AuditReport, InventoryReport
from sscard.key_register.states import CARRIER_STATE_ZH, CARRIER_TYPE_ZH, CarrierState, CarrierType

FONT = "STSong-Light"
CHINA = timezone(timedelta(hours=8), "CST")
MAX_PDF_ROWS = 3000  # a longer period goes to the CSV; the PDF says so


@lru_cache(maxsize=1)
def _styles() -> dict[str, ParagraphStyle]:
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = ParagraphStyle("base", fontName=FONT, fontSize=8, leading=10, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=15, leading=20, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=11, leading=15, spaceBefore=8, spaceAfter=4),
        "meta": ParagraphStyle("meta", parent=base, fontSize=9, leading=12, textColor=colors.HexColor("#444444")),
        "cell": base,
        # Pure-ASCII cells (serials, labels, codes) read better in a Latin face than in STSong's.
        "latin": ParagraphStyle("latin", parent=base, fontName="Helvetica", fontSize=7.5),
        "alert": ParagraphStyle("alert", parent=base, fontSize=10, leading=13, textColor=colors.HexColor("#b00020")),
    }


def _p(text: Any, style: str = "cell") -> Paragraph:
    raw = str(text if text is not None else "")
    if style == "cell" and raw.isascii():
        style = "latin"
    escaped = raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Paragraph(escaped, _styles()[style])


def _table(header: Sequence[str], rows: list[list[Any]], widths: Sequence[float]) -> LongTable:
    data = [[_p(h) for h in header]] + [[_p(c) for c in row] for row in rows]
    table = LongTable(data, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")),
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#8899aa")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f5f7fa")]),
            ]
        )
    )
    return table


def _render(story: list[Flowable], *, title: str) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=title,
        author="sscard",
    )

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawRightString(document.pagesize[0] - 12 * mm, 6 * mm, f"{title}　第 {document.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _local(text_iso: str) -> str:
    """An ISO timestamp as Beijing time, to the second ("" stays "")."""
    if not text_iso:
        return ""
    return datetime.fromisoformat(text_iso).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def inventory_pdf(report: InventoryReport) -> bytes:
    """The inventory as a landscape A4 PDF: summary by type and state, carriers, devices, keys."""
    at = report.generated_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    story: list[Flowable] = [
        _p(f"密钥与密钥载体台账（地区 {report.region_code}）", "title"),
        _p(f"Key and key-carrier inventory　生成时间 {at}（北京时间）　数据来自系统记录", "meta"),
        _p("一、载体汇总 Summary", "h2"),
    ]
    states = list(CarrierState)
    rows = [
        [
            CARRIER_TYPE_ZH[CarrierType(t)],
            *[report.summary[t][s.value] for s in states],
            sum(report.summary[t].values()),
        ]
        for t in report.summary
    ]
    story.append(
        _table(["类型", *[CARRIER_STATE_ZH[s] for s in states], "合计"], rows, [32] + [24] * len(states) + [18])
    )
    story.append(_p("二、密钥载体 Carriers", "h2"))
    carrier_rows = []
    for c in report.carriers:
        d = c["deployment"]
        where = "" if d is None else f"{d['terminal'] or d['institution']}；{d['form']}/{d['mode']}；{d['environment']}"
        carrier_rows.append(
            [c["type_zh"], c["serial"], c["state_zh"], c["region"], c["holder"], c["location"],
             f"{c['receipt_no']}（{c['received_on']}）", c["usage_count"], "、".join(c["keys"]), where]
        )  # fmt: skip
    header = [
        "类型",
        "序列号",
        "状态",
        "地区",
        "持有人",
        "存放地点",
        "签收单（日期）",
        "使用次数",
        "所载密钥",
        "PSAM 部署",
    ]
    story.append(_table(header, carrier_rows or [["（无）"] + [""] * 9], [20, 26, 16, 14, 24, 30, 40, 14, 34, 55]))
    story.append(_p("三、密码设备 Cryptographic devices", "h2"))
    device_rows = [
        [
            d["model"],
            d["serial"],
            d["region"],
            d["certificate_no"],
            d["valid_until"],
            d["state"],
            d["problem"],
            d["location"],
        ]
        for d in report.devices
    ]
    header = ["型号", "序列号", "地区", "商用密码产品型号证书", "有效期至", "状态", "问题", "位置"]
    story.append(_table(header, device_rows or [["（无）"] + [""] * 7], [30, 30, 16, 40, 22, 18, 40, 77]))
    story.append(_p("四、密钥 Keys", "h2"))
    key_rows = [
        [k["label"], k.get("carrier", ""), k.get("carrier_state", k.get("state", "")), k["source"]] for k in report.keys
    ]
    story.append(
        _table(["密钥标识", "所在载体", "状态", "来源"], key_rows or [["（无）", "", "", ""]], [70, 60, 50, 40])
    )
    return _render(story, title=f"密钥台账 {report.region_code}")


def audit_pdf(report: AuditReport) -> bytes:
    """The audit report of a period as a landscape A4 PDF: integrity, summary, incidents, entries."""
    start = report.start.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    end = report.end.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    at = report.generated_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    story: list[Flowable] = [
        _p(f"密钥管理审计报告（地区 {report.region_code}）", "title"),
        _p(f"Key-management audit report　期间 {start} 至 {end}（北京时间）　生成时间 {at}", "meta"),
    ]
    if report.chain_ok:
        story.append(_p("审计日志哈希链校验：完整 (audit chain intact)", "meta"))
        if report.chain_checked_since is not None:
            since = report.chain_checked_since.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
            story.append(_p(f"其中 {since} 以前的记录由当时的全量校验确认（检查点）"
                            f" (entries before {since} were verified by that full check)", "meta"))  # fmt: skip
    else:
        story.append(_p(f"审计日志哈希链校验：发现异常 — {report.chain_problem}", "alert"))
    if report.anchored_since is None:
        story.append(_p("审计日志未锚定：没有库外锚定记录 (the chain has never been anchored outside the database)",
                        "alert"))  # fmt: skip
    else:
        since = report.anchored_since.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        latest = "" if report.anchor_latest_at is None else report.anchor_latest_at.astimezone(CHINA).strftime(
            "%Y-%m-%d %H:%M")  # fmt: skip
        n = report.anchor_latest_n
        story.append(_p(f"库外锚定：自 {since} 起，最近一次第 {n} 号 {latest}"
                        f" (anchored since {since}; latest anchor {n} at {latest})", "meta"))  # fmt: skip
    for gap in report.anchor_gaps:
        story.append(_p(f"锚定间隔过长 (anchor gap)：{_local(gap['from'])} 至 {_local(gap['to'])}", "alert"))
    story.append(_p("一、操作汇总 Summary by action", "h2"))
    results = sorted({r for counts in report.by_action.values() for r in counts})
    rows = [[a, *[c.get(r, 0) for r in results], sum(c.values())] for a, c in report.by_action.items()]
    widths = [70] + [22] * len(results) + [20]
    story.append(_table(["操作", *results, "合计"], rows or [["（无）"] + [""] * (len(results) + 1)], widths))
    story.append(_p("二、安全事件 Incidents", "h2"))
    incident_rows = [
        [i["id"], i["region"], i["kind"], i["state"], _local(i["reported_at"]), _local(i["closed_at"]), i["cause"]]
        for i in report.incidents
    ]
    header = ["编号", "地区", "类别", "状态", "报告时间", "结案时间", "原因"]
    story.append(_table(header, incident_rows or [["（无）"] + [""] * 6], [14, 16, 28, 18, 34, 34, 129]))
    story.append(_p(f"三、审计记录 Entries（共 {len(report.entries)} 条）", "h2"))
    shown = report.entries[:MAX_PDF_ROWS]
    if len(report.entries) > MAX_PDF_ROWS:
        story.append(_p(f"仅列出前 {MAX_PDF_ROWS} 条，完整记录见 CSV 版本。", "alert"))
    entry_rows = [
        [
            e["id"],
            _local(e["at"]),
            e["actor"],
            e["role"],
            e["region"],
            e["action"],
            e["subject"],
            e["result"],
            e["details"],
        ]
        for e in shown
    ]
    header = ["序号", "时间（北京）", "操作人", "角色", "地区", "操作", "对象", "结果", "详情"]
    story.append(_table(header, entry_rows or [["（无）"] + [""] * 8], [14, 30, 26, 24, 15, 32, 24, 15, 93]))
    story.append(Spacer(1, 4 * mm))
    return _render(story, title=f"审计报告 {report.region_code}")
