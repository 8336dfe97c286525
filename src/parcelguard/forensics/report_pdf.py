"""The case report as a bilingual PDF: a rendering of the JSON report and nothing else.

The PDF is drawn from the same dictionary that is written as ``report.json``, so that what
an investigator reads and what a court's expert can check by machine never disagree. Every
heading and label is given in Chinese and English; the figures are language-neutral. Text
uses ReportLab's CID font STSong-Light (as the labels do), so no font file is shipped and
Latin and Chinese share one face. Charts are ReportLab's own vector graphics.

Nothing personal is in the report's dictionary (blind-index matching yields waybill numbers,
accounts and counts), so nothing personal can reach the PDF.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart  # type: ignore[import-untyped]
from reportlab.graphics.shapes import Drawing, String  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable  # type: ignore[import-untyped]

from parcelguard.labels.layout import PDF_FONTS, register_pdf_fonts

_FONT = PDF_FONTS["cjk"]
_WIDTH = A4[0] - 36 * mm

_TITLE = ParagraphStyle("title", fontName=_FONT, fontSize=17, leading=23, spaceAfter=4 * mm)
_H1 = ParagraphStyle("h1", fontName=_FONT, fontSize=13, leading=18, spaceBefore=5 * mm)
_BODY = ParagraphStyle("body", fontName=_FONT, fontSize=9, leading=13)
_SMALL = ParagraphStyle("small", fontName=_FONT, fontSize=7.5, leading=10, textColor=colors.grey)
_CELL = ParagraphStyle("cell", fontName=_FONT, fontSize=8, leading=10)

SEVERITY_TEXT: Mapping[str, tuple[str, str]] = {
    "none": ("未达“情节严重”", "below “serious”"),
    "serious": ("情节严重", "serious"),
    "especially_serious": ("情节特别严重", "especially serious"),
}


# Characters the CID font's Adobe-GB1 set lacks, drawn as their nearest ASCII.
_NOT_IN_FONT = str.maketrans({"\u2212": "-", "\u2192": "->", "\u2264": "<=", "\u2265": ">="})


def _esc(value: object) -> str:
    text = "" if value is None else str(value).translate(_NOT_IN_FONT)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _p(text: str, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(text, style)


def _heading(zh: str, en: str) -> Paragraph:
    return _p(f"{_esc(zh)}　<font size=10 color='#555555'>{_esc(en)}</font>", _H1)


def _table(
    rows: Sequence[Sequence[object]], widths: Sequence[float], *, header: bool = True
) -> Table:
    cells = [[_p(_esc(cell), _CELL) for cell in row] for row in rows]
    table = Table(cells, colWidths=list(widths), repeatRows=1 if header else 0)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")))
    table.setStyle(TableStyle(style))
    return table


def _bar_chart(title: str, counts: Sequence[tuple[str, int]]) -> Flowable:
    """A vertical bar chart of labelled counts (at most 24 bars: the largest, in given order)."""
    counts = list(counts)[:24]
    drawing = Drawing(_WIDTH, 62 * mm)
    drawing.add(String(0, 58 * mm, title, fontName=_FONT, fontSize=9))
    if not counts:
        drawing.add(String(0, 30 * mm, "—", fontName=_FONT, fontSize=9))
        return drawing
    chart = VerticalBarChart()
    chart.x, chart.y = 12 * mm, 14 * mm
    chart.width, chart.height = _WIDTH - 16 * mm, 40 * mm
    chart.data = [[value for _, value in counts]]
    chart.bars[0].fillColor = colors.HexColor("#3b6ea5")
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontName = _FONT
    chart.valueAxis.labels.fontSize = 7
    chart.categoryAxis.categoryNames = [label for label, _ in counts]
    chart.categoryAxis.labels.fontName = _FONT
    chart.categoryAxis.labels.fontSize = 6.5
    chart.categoryAxis.labels.angle = 40 if len(counts) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(counts) > 8 else "n"
    drawing.add(chart)
    return drawing


def _leading_number(label: str) -> float:
    digits = "".join(itertools.takewhile(lambda ch: ch.isdigit() or ch == ".", label))
    return float(digits) if digits else float("inf")


def _pct(value: object) -> str:
    return f"{float(value) * 100:.1f}%" if isinstance(value, int | float) else "—"


def _int(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else _esc(value)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _story(report: Mapping[str, Any]) -> list[Flowable]:
    return [
        *_summary(report),
        *_file_section(_mapping(report.get("ingest"))),
        *_match_section(_mapping(report.get("match"))),
        *_accounts_section(_mapping(report.get("attribution"))),
        *_legal_section(_mapping(report.get("legal"))),
        _evidence_section(_mapping(report.get("evidence"))),
    ]


def _severity(assessment: Mapping[str, Any]) -> tuple[str, str]:
    return SEVERITY_TEXT.get(str(assessment.get("severity")), ("—", "—"))


def _summary(report: Mapping[str, Any]) -> list[Flowable]:
    ingest = _mapping(report.get("ingest"))
    match = _mapping(report.get("match"))
    source = _mapping(report.get("source"))
    severity = _severity(_mapping(_mapping(report.get("legal")).get("assessment")))
    story: list[Flowable] = [
        _p(f"泄露案件报告　Leak case report: {_esc(report.get('case'))}", _TITLE),
        _p(
            f"文件 File: {_esc(source.get('file_name'))}　SHA-256: {_esc(source.get('sha256'))}<br/>"
            f"首次出现 First seen: {_esc(report.get('first_seen'))}　"
            f"生成 Generated: {_esc(report.get('generated_at'))}",
            _SMALL,
        ),
        _heading("结论", "Findings"),
        _p(
            f"文件共 {_int(ingest.get('rows_read'))} 行数据，去重后 {_int(ingest.get('person_records'))} "
            f"名自然人，其中 {_int(match.get('matched_persons'))} 名是本公司的收件人"
            f"（{_int(match.get('matched_waybills'))} 个运单）。法律评估：{severity[0]}。<br/>"
            f"The file holds {_int(ingest.get('rows_read'))} data rows, "
            f"{_int(ingest.get('person_records'))} distinct persons after deduplication, of whom "
            f"{_int(match.get('matched_persons'))} are this carrier's recipients "
            f"({_int(match.get('matched_waybills'))} waybills). Legal assessment: {severity[1]}."
        ),
    ]
    attribution = _mapping(report.get("attribution"))
    sources = set(attribution.get("sources") or [])
    for account in attribution.get("accounts") or []:
        if account.get("employee_id") not in sources:
            continue
        story.append(
            _p(
                f"来源账号 Source account: {_esc(account.get('employee_id'))} "
                f"({_esc(account.get('role'))}, {_esc(account.get('site_id'))})：单独解释 alone "
                f"explains {_pct(account.get('alone_share'))} "
                f"[{_pct(account.get('alone_share_low'))}–{_pct(account.get('alone_share_high'))}]，"
                f"共解释 explains {_pct(account.get('share'))}"
            )
        )
    return story


def _file_section(ingest: Mapping[str, Any]) -> list[Flowable]:
    rejected = _mapping(ingest.get("rows_rejected"))
    story: list[Flowable] = [
        _heading("文件与识别", "The file and what was recognised"),
        _table(
            [
                ["项目 Item", "数值 Value"],
                ["编码 Encoding", _mapping(ingest.get("encoding")).get("name")],
                ["数据行 Data rows", _int(ingest.get("rows_read"))],
                ["拒收行 Rows rejected", _int(rejected.get("total"))],
                [
                    "重复（第十一条）Duplicates excluded (Art. 11)",
                    _int(ingest.get("duplicates_excluded")),
                ],
                ["不实记录 Untrue records excluded", _int(ingest.get("untrue_excluded"))],
                ["自然人 Distinct persons", _int(ingest.get("person_records"))],
                ["虚拟号记录 Virtual-number records", _int(ingest.get("virtual_number_records"))],
            ],
            [_WIDTH * 0.6, _WIDTH * 0.4],
        ),
    ]
    by_reason = _mapping(rejected.get("by_reason"))
    if by_reason:
        story.append(Spacer(1, 2 * mm))
        story.append(
            _table(
                [["拒收原因 Reason", "行数 Rows"]]
                + [[reason, _int(n)] for reason, n in sorted(by_reason.items())],
                [_WIDTH * 0.6, _WIDTH * 0.4],
            )
        )
    return story


_CHARTS = (
    ("by_province", "按目的省份", "By destination province"),
    ("by_created_month", "按运单创建月份", "By waybill creation month"),
    ("by_category", "按寄件人类别", "By sender category"),
    (
        "freshness_histogram",
        "泄露时记录的新鲜度（天）",
        "Age of the records when they leaked (days)",
    ),
)


def _match_section(match: Mapping[str, Any]) -> list[Flowable]:
    story: list[Flowable] = [
        _heading(
            "与本公司运单匹配（盲索引，未解密）",
            "Matched to our waybills (blind index, nothing decrypted)",
        )
    ]
    for key, zh, en in _CHARTS:
        counts = match.get(key)
        if isinstance(counts, Mapping) and counts:
            pairs = [(str(label), int(n)) for label, n in counts.items()]
            if key == "by_province":
                pairs.sort(key=lambda pair: -pair[1])
            elif key == "freshness_histogram":
                pairs.sort(key=lambda pair: _leading_number(pair[0]))
            story.append(_bar_chart(f"{zh}　{en}", pairs))
    freshness = _mapping(match.get("freshness_days"))
    if freshness:
        story.append(
            _p(
                "新鲜度 Freshness (days): "
                + "　".join(f"{_esc(k)} {_esc(v)}" for k, v in freshness.items())
            )
        )
    canaries = match.get("canaries") or []
    if canaries:
        story.append(
            _p(
                f"命中诱饵记录 Canary records hit: {len(canaries)}"
                "（不计入真实人数 never counted as real）"
            )
        )
    return story


def _accounts_section(attribution: Mapping[str, Any]) -> list[Flowable]:
    rows: list[list[object]] = [
        [
            "账号 Account",
            "岗位 Role",
            "站点 Site",
            "查看 Revealed",
            "单独解释 Alone",
            "份额 Share (95%)",
            "证据条目 Evidence",
        ]
    ]
    for account in list(attribution.get("accounts") or [])[:15]:
        rows.append(
            [
                account.get("employee_id"),
                account.get("role"),
                account.get("site_id"),
                _int(account.get("revealed")),
                _int(account.get("alone")),
                f"{_pct(account.get('alone_share'))} "
                f"[{_pct(account.get('alone_share_low'))}–{_pct(account.get('alone_share_high'))}]",
                _int(len(account.get("evidence_sequences") or [])),
            ]
        )
    return [
        _heading("来源账号排名", "Accounts ranked by the share they alone explain"),
        _table(rows, [_WIDTH * w for w in (0.2, 0.14, 0.16, 0.1, 0.1, 0.18, 0.12)]),
        _p(
            f"无法解释的记录 Records no account explains: {_int(attribution.get('unexplained'))}",
            _SMALL,
        ),
    ]


def _legal_section(legal: Mapping[str, Any]) -> list[Flowable]:
    assessment = _mapping(legal.get("assessment"))
    severity = _severity(assessment)
    reason = _mapping(legal.get("category_reason"))
    story: list[Flowable] = [
        _heading(
            "法律评估（法释〔2017〕10号）",
            "Legal assessment (Judicial Interpretation [2017] No. 10)",
        ),
        _p(
            f"运单记录归类 Waybill records counted as: {_esc(legal.get('category'))}<br/>"
            f"{_esc(reason.get('zh'))}<br/>{_esc(reason.get('en'))}",
            _SMALL,
        ),
        _p(f"整个文件 The whole file: {severity[0]} / {severity[1]}"),
        *_assessment_flowables(assessment),
    ]
    for employee_id, assessed in _mapping(legal.get("accounts")).items():
        account_assessment = _mapping(assessed)
        shown = _severity(account_assessment)
        story.append(
            _p(
                f"账号 {_esc(employee_id)} 履职中获取的记录 Records account {_esc(employee_id)} "
                f"obtained in its duties: {shown[0]} / {shown[1]}"
            )
        )
        story += _assessment_flowables(account_assessment, notes=False)
    return story


def _evidence_section(evidence: Mapping[str, Any]) -> Flowable:
    return KeepTogether(
        [
            _heading("证据", "Evidence"),
            _p(
                f"审计日志证据包 Audit evidence bundle: {_esc(evidence.get('file'))}，"
                f"{_int(evidence.get('entries'))} 条目 entries，树大小 tree size "
                f"{_int(evidence.get('tree_size'))}，日志 log {_esc(evidence.get('origin'))}。<br/>"
                "离线校验 Verify offline: parcelguard audit verify-bundle "
                f"{_esc(evidence.get('file'))} --pubkey {_esc(evidence.get('verifier_key_file'))}"
                "<br/>公钥应与日志公布的公钥核对 Check the key against the log's published key "
                "(parcelguard audit pubkey)."
            ),
        ]
    )


def _assessment_flowables(assessment: Mapping[str, Any], *, notes: bool = True) -> list[Flowable]:
    """The reasons with their clauses, then the arithmetic per category and the sums."""
    out: list[Flowable] = []
    for given in assessment.get("reasons") or []:
        reason = _mapping(given)
        out.append(
            _p(
                f"• {_esc(reason.get('clause'))}: {_esc(reason.get('zh'))}<br/>"
                f"　{_esc(reason.get('en'))}",
                _CELL,
            )
        )
    arithmetic = _mapping(assessment.get("arithmetic"))
    rows: list[list[object]] = [
        ["类别 Category", "条款 Item", "计数 Counted", "严重标准 Serious at", "比例 Share"]
    ]
    for category in arithmetic.get("categories") or []:
        line = _mapping(category)
        rows.append(
            [
                f"{line.get('category_zh')} {line.get('category')}",
                line.get("item"),
                _int(line.get("counted")),
                _int(line.get("serious_threshold")),
                line.get("serious_share_exact") or line.get("serious_share"),
            ]
        )
    if len(rows) > 1:
        rows.append(["合计 Sum of shares", "", "", "", arithmetic.get("serious_sum_exact")])
        out.append(_table(rows, [_WIDTH * w for w in (0.3, 0.14, 0.16, 0.2, 0.2)]))
    if arithmetic.get("halved_for_duties"):
        out.append(
            _p(
                "履职中获取，标准减半 Obtained in duties: standards halved (Art. 5 para. 1 item 8)",
                _SMALL,
            )
        )
    for noted in (assessment.get("notes") or []) if notes else []:
        note = _mapping(noted)
        out.append(
            _p(
                f"{_esc(note.get('clause'))}: {_esc(note.get('zh'))} / {_esc(note.get('en'))}",
                _SMALL,
            )
        )
    return out


def write_report_pdf(report: Mapping[str, Any], path: Path) -> None:
    """Render ``report`` to ``path`` atomically (a half-written PDF is never left behind)."""
    register_pdf_fonts()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    os.close(fd)
    try:
        document = SimpleDocTemplate(
            tmp,
            pagesize=A4,
            leftMargin=18 * mm,
            rightMargin=18 * mm,
            topMargin=16 * mm,
            bottomMargin=16 * mm,
            title=f"ParcelGuard leak case {report.get('case')}",
            author="ParcelGuard",
            invariant=True,
        )
        document.build(_story(report))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
