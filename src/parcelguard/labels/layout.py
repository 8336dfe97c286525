"""Where everything goes on a 100 × 150 mm label, as plain marks that any painter can draw.

The layout is computed once, in millimetres from the top-left corner, as filled rectangles,
outlines and text runs. The PDF painter and the PNG painter draw the very same marks, so the
picture in the docs is the label that gets printed, and tests can check the geometry (QR
size, quiet zones, what text is on the page) without parsing a PDF.

The order on the label is the order of a courier's glance: the barcode and number a scanner
wants, the destination site a sorter wants, then the recipient (masked per GB/T 41833-2022),
then the QR code that the delivering courier scans to call or navigate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Literal

import segno
from reportlab.graphics.barcode.code128 import Code128  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]

from parcelguard.core.clock import CARRIER_TZ
from parcelguard.labels.content import LabelContent

PAGE_WIDTH_MM = 100.0
PAGE_HEIGHT_MM = 150.0
MM_PER_PT = 25.4 / 72
MARGIN = 3.0
# QR: error correction Q (25 % of the symbol may be scuffed off a thermal label and still
# read), a quiet zone of 4 modules as ISO/IEC 18004 asks, and modules of at most 0.75 mm.
QR_ERROR = "q"
QR_QUIET_MODULES = 4
QR_MAX_MODULE_MM = 0.75
QR_MIN_SIZE_MM = 25.0
# Code 128: bars of 0.5 mm (4 dots at 203 dpi) when they fit, 10 modules of quiet zone.
BAR_MODULE_MM = 0.5
BAR_QUIET_MODULES = 10
BAR_HEIGHT_MM = 17.0

Font = Literal["sans_bold", "cjk", "cjk_bold"]
Anchor = Literal["start", "middle", "end"]
# The fonts of the PDF (and of the metrics this layout is computed with). STSong-Light is an
# Adobe CID font every PDF viewer and printer driver knows; nothing has to be embedded.
PDF_FONTS: dict[Font, str] = {
    "sans_bold": "Helvetica-Bold",
    "cjk": "STSong-Light",
    "cjk_bold": "STSong-Light",
}
CATEGORY_ZH = {
    "health": "保健品",
    "medicine": "药品",
    "collectibles": "收藏品",
    "apparel": "服饰",
    "electronics": "电子产品",
    "food": "食品",
    "books": "图书",
    "cosmetics": "化妆品",
    "household": "日用品",
    "documents": "文件",
    "other": "其他",
}
_UNITS = re.compile(r"\*+|[0-9A-Za-z\-]+|.", re.DOTALL)
_BREAK_AFTER = frozenset("省市区县旗镇乡街路道巷弄号村")
SCAN_CAPTION = "扫码派送 Scan to deliver"
MASKING_NOTE = "收件人信息已按 GB/T 41833-2022 隐藏 / Recipient data masked"


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle in millimetres, ``x``/``y`` its top-left corner."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class Fill:
    """Rectangles filled as one shape (a barcode, a QR code, a band), black or white."""

    rects: tuple[Rect, ...]
    role: str
    white: bool = False


@dataclass(frozen=True, slots=True)
class Stroke:
    """The outline of a rectangle, ``width`` millimetres thick."""

    rect: Rect
    width: float
    role: str


@dataclass(frozen=True, slots=True)
class Text:
    """One line of text; ``y`` is its baseline, ``size`` in points, ``max_width`` in mm."""

    x: float
    y: float
    text: str
    size: float
    font: Font
    role: str
    anchor: Anchor = "start"
    max_width: float | None = None
    white: bool = False


Mark = Fill | Stroke | Text


@dataclass(frozen=True, slots=True)
class QrPlacement:
    """Where the QR symbol sits and what it is, for painters and for tests."""

    x: float
    y: float
    module_mm: float
    version: int
    error: str
    matrix: tuple[tuple[bool, ...], ...]

    @property
    def size_mm(self) -> float:
        return len(self.matrix) * self.module_mm


@dataclass(frozen=True, slots=True)
class Layout:
    width: float
    height: float
    marks: tuple[Mark, ...]
    qr: QrPlacement

    def texts(self) -> list[str]:
        return [mark.text for mark in self.marks if isinstance(mark, Text)]

    def with_role(self, role: str) -> list[Mark]:
        return [mark for mark in self.marks if mark.role == role]


@cache
def register_pdf_fonts() -> None:
    """Make the CID font known to ReportLab (once per process)."""
    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONTS["cjk"]))


def text_width(text: str, font: Font, size: float) -> float:
    """Width in millimetres of ``text`` in the PDF font."""
    register_pdf_fonts()
    return float(pdfmetrics.stringWidth(text, PDF_FONTS[font], size)) * MM_PER_PT


def fit_size(text: str, font: Font, size: float, width: float, smallest: float = 6.0) -> float:
    """The largest size up to ``size`` at which ``text`` fits ``width`` mm."""
    natural = text_width(text, font, size)
    if natural <= width:
        return size
    return max(smallest, size * width / natural)


def qr_code(token: str) -> segno.QRCode:
    """The QR symbol of a token: never a Micro QR, error level fixed (no silent boost)."""
    return segno.make(token, error=QR_ERROR, micro=False, boost_error=False)


RIGHT = PAGE_WIDTH_MM - MARGIN


def layout_label(label: LabelContent) -> Layout:
    """The marks of one label, top to bottom in the order a courier reads them."""
    qr = _qr(label.token, x=MARGIN + 3.2, y=103.4, room=36.0)
    marks: list[Mark] = [
        Stroke(Rect(2, 2, PAGE_WIDTH_MM - 4, PAGE_HEIGHT_MM - 4), 0.5, "frame"),
        *_header(label),
        _rule(14),
        *_waybill_number(label),
        _rule(44),
        *_routing(label),
        _rule(62),
        *_recipient(label),
        _rule(100),
        *_token(label, qr),
    ]
    return Layout(PAGE_WIDTH_MM, PAGE_HEIGHT_MM, tuple(marks), qr)


def _header(label: LabelContent) -> list[Mark]:
    """Who carries the parcel, and a reverse-printed flag that this is a privacy label."""
    band = Rect(68, 4.5, RIGHT - 68 - 1, 8)
    return [
        Text(MARGIN + 1, 10.5, label.carrier, 15, "cjk_bold", "carrier", max_width=58),
        Fill((band,), "privacy_band"),
        Text(
            band.x + band.w / 2, 10.2, "隐私面单", 13, "cjk_bold", "privacy", "middle", white=True
        ),
    ]


def _waybill_number(label: LabelContent) -> list[Mark]:
    """Code 128 for the scanners, and the number in large print to read out on the phone."""
    top = 17.0
    bars, bars_width = _code128(label.waybill_no, RIGHT - MARGIN, top)
    size = fit_size(label.waybill_no, "sans_bold", 17, max(bars_width, 60))
    return [
        bars,
        Text(
            PAGE_WIDTH_MM / 2,
            top + BAR_HEIGHT_MM + 6.2,
            label.waybill_no,
            size,
            "sans_bold",
            "waybill_no",
            "middle",
        ),
    ]


def _routing(label: LabelContent) -> list[Mark]:
    """The destination site in reverse print, big enough for a sorter at arm's length."""
    dest = Rect(MARGIN, 45.5, 56, 15)
    column = dest.x + dest.w + 3
    width = RIGHT - column
    # No sender category: in the case, buyers picked the recipients of health products, and a
    # label is read by everyone who handles the parcel.
    return [
        Fill((dest,), "dest_band"),
        Text(dest.x + 2, 49.6, "目的站 DEST", 7, "cjk", "dest_caption", white=True),
        Text(
            dest.x + dest.w / 2,
            58.3,
            label.dest_site_id,
            fit_size(label.dest_site_id, "sans_bold", 24, dest.w - 4),
            "sans_bold",
            "dest_site",
            "middle",
            white=True,
        ),
        Text(column, 48.8, "始发站 FROM", 6.5, "cjk", "origin_caption"),
        Text(
            column,
            53.2,
            label.origin_site_id,
            fit_size(label.origin_site_id, "sans_bold", 11, width),
            "sans_bold",
            "origin_site",
        ),
    ]


def _recipient(label: LabelContent) -> list[Mark]:
    """The GB/T 41833 masks of name, phone and address, and nothing else of the recipient."""
    marker = Rect(MARGIN + 0.5, 64.5, 8.5, 8.5)
    left = marker.x + marker.w + 3
    phone_size = fit_size(label.phone_masked, "sans_bold", 18, 44)
    phone_width = text_width(label.phone_masked, "sans_bold", phone_size)
    name_room = RIGHT - phone_width - 4 - left
    return [
        Fill((marker,), "recipient_marker"),
        Text(
            marker.x + marker.w / 2,
            71.3,
            "收",
            18,
            "cjk_bold",
            "recipient_mark",
            "middle",
            white=True,
        ),
        Text(RIGHT, 71.3, label.phone_masked, phone_size, "sans_bold", "phone_masked", "end"),
        Text(
            left,
            71.3,
            label.name_masked,
            fit_size(label.name_masked, "cjk_bold", 20, name_room),
            "cjk_bold",
            "name_masked",
        ),
        *_address(label.address_masked, left, 80.5, RIGHT - left, bottom=94.5),
        Text(PAGE_WIDTH_MM / 2, 98.2, MASKING_NOTE, 6.5, "cjk", "masking_note", "middle"),
    ]


def _token(label: LabelContent, qr: QrPlacement) -> list[Mark]:
    """The QR token with its caption, who may scan it, and how long it is good for."""
    side = qr.x + qr.size_mm + QR_QUIET_MODULES * qr.module_mm + 2
    width = RIGHT - side
    expiry, issued = _local(label.expires_at), _local(label.issued_at)
    return [
        _qr_fill(qr),
        Text(
            qr.x + qr.size_mm / 2,
            # below the quiet zone: the whole em of the caption, not just its baseline
            qr.y + qr.size_mm + QR_QUIET_MODULES * qr.module_mm + 8 * MM_PER_PT + 0.2,
            SCAN_CAPTION,
            8,
            "cjk_bold",
            "scan_caption",
            "middle",
        ),
        Text(side, 111, "仅限登记终端扫码", 10, "cjk_bold", "devices_only", max_width=width),
        Text(side, 116, "Registered carrier devices only", 7, "cjk", "devices_only_en"),
        Text(side, 124, "有效期至 Valid until", 7, "cjk", "expiry_caption"),
        Text(
            side, 130.5, expiry, fit_size(expiry, "sans_bold", 13, width), "sans_bold", "expires_at"
        ),
        Text(side, 137.5, "打印 Printed", 7, "cjk", "issued_caption"),
        Text(
            side, 142.5, issued, fit_size(issued, "sans_bold", 9, width), "sans_bold", "issued_at"
        ),
    ]


def _rule(y: float) -> Fill:
    return Fill((Rect(2, y - 0.2, PAGE_WIDTH_MM - 4, 0.4),), "rule")


def _local(moment: datetime) -> str:
    """Carrier time (Beijing), minute precision: what a courier reads at the door."""
    return moment.astimezone(CARRIER_TZ).strftime("%Y-%m-%d %H:%M") + " (UTC+8)"


def code128_modules(value: str) -> list[tuple[int, int]]:
    """Bars of the Code 128 symbol of ``value`` as (start, width) in modules, no quiet zone.

    ReportLab chooses the code sets (set C packs the digits of ``PG316508274413`` in
    pairs) and computes the check symbol; its ``decomposed`` string spells the symbol as bar
    (upper case) and space (lower case) widths.
    """
    symbol = Code128(value, barWidth=1, quiet=False, humanReadable=False)
    symbol.validate()
    symbol.encode()
    symbol.decompose()
    bars: list[tuple[int, int]] = []
    position = 0
    for char in str(symbol.decomposed):
        width = ord(char.lower()) - ord("a") + 1
        if char.isupper():
            bars.append((position, width))
        position += width
    return bars


def _code128(value: str, room: float, top: float) -> tuple[Fill, float]:
    bars = code128_modules(value)
    modules = bars[-1][0] + bars[-1][1]
    module = min(BAR_MODULE_MM, room / (modules + 2 * BAR_QUIET_MODULES))
    width = modules * module
    left = (PAGE_WIDTH_MM - width) / 2
    rects = tuple(Rect(left + start * module, top, w * module, BAR_HEIGHT_MM) for start, w in bars)
    return Fill(rects, "barcode"), width


def _qr(token: str, x: float, y: float, room: float) -> QrPlacement:
    code = qr_code(token)
    matrix = tuple(tuple(bool(cell) for cell in row) for row in code.matrix)
    module = min(QR_MAX_MODULE_MM, room / len(matrix))
    if len(matrix) * module < QR_MIN_SIZE_MM:
        raise ValueError("the QR code would be smaller than 25 mm")
    quiet = QR_QUIET_MODULES * module
    return QrPlacement(
        x=max(x, 2 + quiet + 0.5),
        y=y,
        module_mm=module,
        version=int(code.version),
        error=str(code.error).lower(),
        matrix=matrix,
    )


def _qr_fill(qr: QrPlacement) -> Fill:
    """Dark modules, each row's runs merged: fewer shapes and no seams between modules."""
    rects: list[Rect] = []
    m = qr.module_mm
    for r, row in enumerate(qr.matrix):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            rects.append(Rect(qr.x + start * m, qr.y + r * m, (c - start) * m, m))
    return Fill(tuple(rects), "qr")


def _address(text: str, x: float, y: float, width: float, bottom: float) -> list[Text]:
    """The masked address over as few lines as fit, shrinking before truncating."""
    for size in (13.0, 12.0, 11.0, 10.0, 9.0, 8.0):
        lines = _wrap(text, "cjk_bold", size, width)
        leading = size * MM_PER_PT * 1.3
        if y + (len(lines) - 1) * leading <= bottom:
            break
    else:
        rows = int((bottom - y) / leading) + 1
        lines = lines[:rows]
        lines[-1] = lines[-1][:-1] + "…"
    return [
        Text(x, y + i * leading, line, size, "cjk_bold", "address_masked", max_width=width)
        for i, line in enumerate(lines)
    ]


def _wrap(text: str, font: Font, size: float, width: float) -> list[str]:
    """Greedy wrapping between characters (Chinese has no spaces to break at).

    A run of digits or Latin letters (``12号``, ``A座``) and the ``****`` of the mask are
    kept whole, and a full line breaks after its last place name part (市, 区, 路, 号 ...)
    when that is near the end, so a courier reads ``中山路176号`` / ``幸福家园****`` rather
    than ``幸福家`` / ``园****``.
    """
    lines: list[str] = []
    current: list[str] = []
    for unit in _UNITS.findall(text):
        if current and text_width("".join(current) + unit, font, size) > width:
            cut = _natural_break(current)
            lines.append("".join(current[:cut]).rstrip())
            current = current[cut:]
        current.append(unit if current else unit.lstrip())
    if current:
        lines.append("".join(current))
    return lines or [""]


def _natural_break(units: list[str], reach: int = 6) -> int:
    """Where to end a full line: after a place-name suffix among its last units, else at the end."""
    for i in range(len(units) - 1, max(0, len(units) - reach) - 1, -1):
        if units[i][-1] in _BREAK_AFTER and i + 1 < len(units):
            return i + 1
    return len(units)
