"""Draw a label: a 100 × 150 mm PDF for the thermal printer, and optionally a PNG of it.

Both are painted from the same :class:`~parcelguard.labels.layout.Layout`, so what the docs
show and what a reviewer looks at is what gets printed. The PDF uses ReportLab with the CID
font STSong-Light (no font file to ship); the PNG is drawn with Pillow, because ReportLab's
own bitmap renderer needs a Cairo binding that is not installed, and Pillow needs a CJK font
file from the system (``fonts-wqy-microhei`` on Debian), looked up before anything is written.

Files are written whole or not at all: each goes to a temporary file beside its target,
is flushed to disk and renamed over the target.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from parcelguard.core.errors import BadInput, ParcelGuardError
from parcelguard.labels.content import LabelContent
from parcelguard.labels.layout import (
    PDF_FONTS,
    Fill,
    Layout,
    Stroke,
    Text,
    layout_label,
    register_pdf_fonts,
    text_width,
)

__all__ = ["LabelContent", "LabelFontMissing", "find_png_fonts", "render_label"]

# A thermal label printer's resolution: the PNG shows what the print head can resolve.
DEFAULT_PNG_DPI = 203
# Fonts Pillow can draw Chinese with, in order of preference (Debian, then macOS, Windows).
CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
LATIN_BOLD_FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)


class LabelFontMissing(ParcelGuardError):
    """The PNG preview needs a font with Chinese glyphs and none was found (nothing written)."""

    code = "label_font_missing"


@dataclass(frozen=True, slots=True)
class PngFonts:
    cjk: Path
    latin_bold: Path


def find_png_fonts(cjk: Path | None = None) -> PngFonts:
    """The font files the PNG painter will use; ``cjk`` overrides the system search."""
    chosen = cjk if cjk is not None else _first_existing(CJK_FONT_FILES)
    if chosen is None or not chosen.is_file():
        where = f"{cjk}: no such font file" if cjk is not None else "no CJK font found"
        raise LabelFontMissing(
            f"PNG preview: {where}; install one (Debian: apt-get install fonts-wqy-microhei) "
            "or pass a .ttf/.ttc/.otf with Chinese glyphs"
        )
    return PngFonts(cjk=chosen, latin_bold=_first_existing(LATIN_BOLD_FONT_FILES) or chosen)


def render_label(
    label: LabelContent,
    out: Path,
    png: Path | None = None,
    *,
    png_dpi: int = DEFAULT_PNG_DPI,
    png_font: Path | None = None,
) -> Layout:
    """Write the label's PDF to ``out`` (and a PNG of it to ``png``); return its layout."""
    targets = [out] if png is None else [out, png]
    for target in targets:
        _check_target(target)
    fonts = find_png_fonts(png_font) if png is not None else None
    layout = layout_label(label)
    blobs = [_pdf_bytes(layout, label)]
    if png is not None and fonts is not None:
        blobs.append(_png_bytes(layout, fonts, png_dpi))
    _write_all_or_nothing(zip(targets, blobs, strict=True))
    return layout


# -- PDF -------------------------------------------------------------------------------------


def _pdf_bytes(layout: Layout, label: LabelContent) -> bytes:
    register_pdf_fonts()
    buffer = BytesIO()
    height = layout.height
    canvas = Canvas(buffer, pagesize=(layout.width * mm, height * mm), pageCompression=1)
    canvas.setTitle(f"ParcelGuard privacy label {label.waybill_no}")
    canvas.setAuthor(label.carrier)
    canvas.setCreator("ParcelGuard")
    canvas.setSubject("隐私面单 privacy label (GB/T 41833-2022)")
    for mark in layout.marks:
        if isinstance(mark, Fill):
            canvas.setFillGray(1 if mark.white else 0)
            path = canvas.beginPath()
            for r in mark.rects:
                path.rect(r.x * mm, (height - r.y - r.h) * mm, r.w * mm, r.h * mm)
            canvas.drawPath(path, stroke=0, fill=1)
        elif isinstance(mark, Stroke):
            r = mark.rect
            canvas.setStrokeGray(0)
            canvas.setLineWidth(mark.width * mm)
            canvas.rect(r.x * mm, (height - r.y - r.h) * mm, r.w * mm, r.h * mm, stroke=1, fill=0)
        else:
            _pdf_text(canvas, mark, height)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _pdf_text(canvas: Canvas, mark: Text, height: float) -> None:
    size = _fitted(mark, text_width(mark.text, mark.font, mark.size))
    width = text_width(mark.text, mark.font, size)
    x = mark.x - {"start": 0.0, "middle": width / 2, "end": width}[mark.anchor]
    gray = 1 if mark.white else 0
    # The text render mode and stroke colour are graphics state and outlive a text object:
    # save and restore them, or one bold white run would whiten the outlines of the next.
    canvas.saveState()
    text = canvas.beginText(x * mm, (height - mark.y) * mm)
    text.setFont(PDF_FONTS[mark.font], size)
    text.setFillGray(gray)
    if mark.font == "cjk_bold":
        # No bold Song face exists as a CID font: fill and stroke the glyphs to thicken them,
        # because hairline Song strokes break up on a 203 dpi print head.
        text.setTextRenderMode(2)
        text.setStrokeGray(gray)
        canvas.setLineWidth(size * 0.045)
    else:
        text.setTextRenderMode(0)
    text.textOut(mark.text)
    canvas.drawText(text)
    canvas.restoreState()


def _fitted(mark: Text, natural_mm: float) -> float:
    """Shrink a text run that would overflow its ``max_width``."""
    if mark.max_width is None or natural_mm <= mark.max_width:
        return mark.size
    return mark.size * mark.max_width / natural_mm


# -- PNG -------------------------------------------------------------------------------------


def _png_bytes(layout: Layout, fonts: PngFonts, dpi: int) -> bytes:
    scale = dpi / 25.4

    def px(value: float) -> int:
        return round(value * scale)

    image = Image.new("L", (px(layout.width), px(layout.height)), 255)
    draw = ImageDraw.Draw(image)
    for mark in layout.marks:
        if isinstance(mark, Fill):
            for r in mark.rects:
                # Round both edges, not the size: adjacent modules then tile without gaps.
                box = (px(r.x), px(r.y), px(r.x + r.w) - 1, px(r.y + r.h) - 1)
                draw.rectangle(box, fill=255 if mark.white else 0)
        elif isinstance(mark, Stroke):
            r, width = mark.rect, max(1, px(mark.width))
            draw.rectangle((px(r.x), px(r.y), px(r.x + r.w), px(r.y + r.h)), outline=0, width=width)
        else:
            _png_text(draw, mark, fonts, dpi)
    buffer = BytesIO()
    image.save(buffer, format="PNG", dpi=(dpi, dpi), optimize=True)
    return buffer.getvalue()


def _png_text(draw: ImageDraw.ImageDraw, mark: Text, fonts: PngFonts, dpi: int) -> None:
    path = fonts.latin_bold if mark.font == "sans_bold" else fonts.cjk
    size_px = mark.size * dpi / 72
    font = _font(path, size_px)
    # The layout was fitted with the PDF's metrics; these glyphs may be a little wider.
    room = (mark.max_width or text_width(mark.text, mark.font, mark.size)) * dpi / 25.4
    natural = font.getlength(mark.text)
    if natural > room * 1.02:
        font = _font(path, size_px * room / natural)
    fill = 255 if mark.white else 0
    stroke = max(1, round(size_px * 0.03)) if mark.font == "cjk_bold" else 0
    anchor = {"start": "ls", "middle": "ms", "end": "rs"}[mark.anchor]
    position = (mark.x * dpi / 25.4, mark.y * dpi / 25.4)
    draw.text(
        position,
        mark.text,
        font=font,
        fill=fill,
        anchor=anchor,
        stroke_width=stroke,
        stroke_fill=fill,
    )


def _font(path: Path, size_px: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size=max(size_px, 4.0))


def _first_existing(candidates: Iterable[str]) -> Path | None:
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file():
            return path
    return None


# -- files -------------------------------------------------------------------------------------


def _check_target(path: Path) -> None:
    if path.is_dir():
        raise BadInput(f"{path}: is a folder; give a file name")
    if not path.parent.is_dir():
        raise BadInput(f"{path}: folder {path.parent} does not exist")


def _write_all_or_nothing(files: Iterable[tuple[Path, bytes]]) -> None:
    """Write every file to a temporary sibling first, then rename them all into place."""
    staged: list[tuple[str, Path]] = []
    try:
        for target, data in files:
            fd, temporary = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
            )
            staged.append((temporary, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o644)
        for temporary, target in staged:
            os.replace(temporary, target)
    except BaseException:
        for temporary, _ in staged:
            Path(temporary).unlink(missing_ok=True)
        raise
