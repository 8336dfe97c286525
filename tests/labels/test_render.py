"""The label as printed: page size, masked text only, a QR code that carries the token."""

import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import segno
from PIL import Image

from parcelguard.core.clock import carrier_day, today
from parcelguard.core.errors import BadInput
from parcelguard.core.masking import mask_address, mask_name, mask_phone
from parcelguard.core.waybill import NewWaybill
from parcelguard.labels.content import LabelContent, MaskedWaybill, read_masked
from parcelguard.labels.layout import (
    PAGE_HEIGHT_MM,
    PAGE_WIDTH_MM,
    QR_QUIET_MODULES,
    Fill,
    Layout,
    Rect,
    Stroke,
    Text,
    code128_modules,
    layout_label,
)
from parcelguard.labels.render import (
    CJK_FONT_FILES,
    LabelFontMissing,
    find_png_fonts,
    render_label,
)
from parcelguard.labels.token import LabelTokens
from parcelguard.vault import Vault
from tests.conftest import recent_waybills
from tests.labels.pdf import everything, media_box, shown_text

ISSUED = datetime(2026, 5, 6, 3, 30, tzinfo=UTC)
EXPIRES = ISSUED + timedelta(days=14)
MM = 72 / 25.4
HAVE_CJK_FONT = any(Path(p).is_file() for p in CJK_FONT_FILES)
needs_cjk_font = pytest.mark.skipif(
    not HAVE_CJK_FONT, reason="no CJK font for the PNG (apt-get install fonts-wqy-microhei)"
)


def label_of(w: NewWaybill, tokens: LabelTokens | None = None) -> LabelContent:
    tokens = tokens or LabelTokens(secrets.token_bytes(32))
    masked = MaskedWaybill(
        waybill_no=w.waybill_no,
        category=w.category,
        origin_site_id=w.origin_site_id,
        dest_site_id=w.dest_site_id,
        created_at=w.created_at,
        name_masked=mask_name(w.recipient_name),
        phone_masked=mask_phone(w.recipient_phone),
        address_masked=mask_address(w.recipient_address),
    )
    return LabelContent.of(masked, tokens.mint(w.waybill_no, ISSUED, EXPIRES), ISSUED, EXPIRES)


@pytest.fixture
def waybill() -> NewWaybill:
    return recent_waybills(3, seed=41833)[1]


@pytest.fixture
def label(waybill: NewWaybill) -> LabelContent:
    return label_of(waybill)


# -- reading the masks from the vault ----------------------------------------------------------


def test_the_vault_row_gives_the_masks_and_never_the_plaintext(vault: Vault) -> None:
    batch = recent_waybills(5)
    vault.put(batch)
    for w in batch:
        masked = read_masked(vault.engine, w.waybill_no)
        assert masked.name_masked == mask_name(w.recipient_name)
        assert masked.phone_masked == mask_phone(w.recipient_phone)
        assert masked.address_masked == mask_address(w.recipient_address)
        assert (masked.dest_site_id, masked.category) == (w.dest_site_id, w.category)
        assert w.recipient_phone not in repr(masked)
        assert w.recipient_name not in repr(masked)


def test_an_unknown_or_shredded_waybill_gets_no_label(vault: Vault) -> None:
    batch = recent_waybills(30)
    vault.put(batch)
    with pytest.raises(BadInput, match="waybill PG999999999999: not in the vault") as caught:
        read_masked(vault.engine, "PG999999999999")
    assert caught.value.code == "unknown_waybill"
    vault.shred(today())
    gone = next(w for w in batch if carrier_day(w.created_at) < today())
    with pytest.raises(BadInput, match=f"waybill {gone.waybill_no}: was shredded on ") as caught:
        read_masked(vault.engine, gone.waybill_no)
    assert caught.value.code == "shredded_waybill"


def test_a_canary_gets_no_label(vault: Vault) -> None:
    """Bait printed on a label would go out on a parcel; it is refused, naming the waybill."""
    from parcelguard.storage.schema import canaries

    batch = recent_waybills(2)
    vault.put(batch)
    bait = batch[0].waybill_no
    with vault.engine.begin() as conn:
        conn.execute(
            canaries.insert(),
            {
                "waybill_no": bait,
                "slice_kind": "station",
                "slice_value": "ST01",
                "planted_at": datetime.now(UTC),
            },
        )
    with pytest.raises(BadInput, match=f"waybill {bait}: is a canary record") as caught:
        read_masked(vault.engine, bait)
    assert caught.value.code == "canary_waybill"
    assert read_masked(vault.engine, batch[1].waybill_no).waybill_no == batch[1].waybill_no


# -- the PDF ------------------------------------------------------------------------------------


def test_the_pdf_is_one_100_by_150_mm_page(label: LabelContent, tmp_path: Path) -> None:
    out = tmp_path / "label.pdf"
    render_label(label, out)
    x0, y0, x1, y1 = media_box(out.read_bytes())
    assert (x0, y0) == (0, 0)
    assert x1 / MM == pytest.approx(100, abs=0.01)
    assert y1 / MM == pytest.approx(150, abs=0.01)
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed, not left


def test_the_pdf_shows_the_masks_and_not_the_plaintext(
    waybill: NewWaybill, label: LabelContent, tmp_path: Path
) -> None:
    out = tmp_path / "label.pdf"
    layout = render_label(label, out)
    data = out.read_bytes()
    shown = shown_text(data)
    assert label.name_masked in shown
    assert label.phone_masked in shown
    assert label.waybill_no in shown
    assert label.dest_site_id in shown
    assert label.origin_site_id in shown
    assert "扫码派送 Scan to deliver" in shown
    lines = [m.text for m in layout.with_role("address_masked") if isinstance(m, Text)]
    assert "".join(lines) == label.address_masked
    assert all(line in shown for line in lines)
    whole = everything(data)
    for form in ("utf-8", "utf-16-be"):
        assert waybill.recipient_name.encode(form) not in whole
        assert waybill.recipient_phone.encode(form) not in whole
        assert waybill.recipient_address.encode(form) not in whole
    assert waybill.recipient_phone[3:9].encode() not in whole  # the six hidden digits
    hidden = waybill.recipient_address[len(label.address_masked) - 4 :]
    assert hidden.encode("utf-16-be") not in whole  # the unit and room part
    assert label.token.encode() not in whole  # only the QR's modules carry it


def test_every_mark_lies_on_the_page(label: LabelContent) -> None:
    for mark in layout_label(label).marks:
        rects = (
            mark.rects
            if isinstance(mark, Fill)
            else [mark.rect]
            if isinstance(mark, Stroke)
            else []
        )
        for r in rects:
            assert r.x >= 0, mark.role
            assert r.x + r.w <= PAGE_WIDTH_MM, mark.role
            assert r.y >= 0, mark.role
            assert r.y + r.h <= PAGE_HEIGHT_MM, mark.role
        if isinstance(mark, Text):
            assert 0 < mark.y < PAGE_HEIGHT_MM, mark.role


def test_the_qr_code_is_the_token_at_a_scannable_size(label: LabelContent) -> None:
    layout = layout_label(label)
    qr = layout.qr
    # No QR decoder is installed, so re-encode with segno and compare module by module.
    expected = segno.make(label.token, error="q", micro=False, boost_error=False)
    assert qr.version == expected.version == 8  # 100 characters, byte mode, level Q
    assert qr.error == "q"
    assert [list(map(bool, row)) for row in expected.matrix] == [list(r) for r in qr.matrix]
    assert drawn_matrix(layout) == [list(r) for r in qr.matrix]
    assert qr.size_mm >= 25
    assert qr.module_mm >= 0.5  # 4 dots a module on a 203 dpi print head


def test_nothing_else_is_drawn_in_the_qr_quiet_zone(label: LabelContent) -> None:
    layout = layout_label(label)
    qr = layout.qr
    quiet = QR_QUIET_MODULES * qr.module_mm
    zone = Rect(qr.x - quiet, qr.y - quiet, qr.size_mm + 2 * quiet, qr.size_mm + 2 * quiet)
    for mark in layout.marks:
        if mark.role == "qr":
            continue
        if isinstance(mark, Fill):
            for r in mark.rects:
                assert not overlaps(r, zone), mark.role
        if isinstance(mark, Stroke):
            assert not overlaps(Rect(mark.rect.x, mark.rect.y, mark.width, mark.width), zone)
            assert mark.rect.x + mark.width <= zone.x  # the frame runs left of the zone
        if isinstance(mark, Text):
            above = mark.y + 0.3 * mark.size / MM < zone.y  # baseline plus descent
            below = mark.y - mark.size / MM > zone.y + zone.h
            beside = mark.x > zone.x + zone.w
            assert above or below or beside, mark.role


def test_the_barcode_is_code_128_of_the_waybill_number(label: LabelContent) -> None:
    layout = layout_label(label)
    (bars,) = layout.with_role("barcode")
    assert isinstance(bars, Fill)
    modules = code128_modules(label.waybill_no)
    unit = bars.rects[0].w / modules[0][1]
    assert unit == pytest.approx(0.5)
    assert [(round((r.x - bars.rects[0].x) / unit), round(r.w / unit)) for r in bars.rects] == (
        modules
    )
    # Start code B (211214), ... stop (2331112): Code 128's fixed ends.
    assert modules[:3] == [(0, 2), (3, 1), (6, 1)]
    assert modules[-4:] == [(n + modules[-4][0], w) for n, w in [(0, 2), (5, 3), (9, 1), (11, 2)]]


def test_a_long_address_shrinks_then_is_cut_with_an_ellipsis(label: LabelContent) -> None:
    long = replace(label, address_masked="湖北省荆州市沙市区" * 30 + "****")
    lines = [m for m in layout_label(long).marks if m.role == "address_masked"]
    assert isinstance(lines[-1], Text)
    assert lines[-1].text.endswith("…")
    assert all(isinstance(m, Text) and m.y <= 95 for m in lines)  # above the masking note


def test_the_token_is_not_in_the_repr(label: LabelContent) -> None:
    assert label.token not in repr(label)
    assert label.name_masked in repr(label)


def test_bad_targets_write_nothing(label: LabelContent, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="does not exist"):
        render_label(label, tmp_path / "missing" / "label.pdf")
    with pytest.raises(BadInput, match="is a folder"):
        render_label(label, tmp_path)
    with pytest.raises(LabelFontMissing, match="no such font file"):
        render_label(label, tmp_path / "a.pdf", tmp_path / "a.png", png_font=tmp_path / "x.ttf")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_label_is_replaced_whole(label: LabelContent, tmp_path: Path) -> None:
    out = tmp_path / "label.pdf"
    out.write_bytes(b"old")
    render_label(label, out)
    assert out.read_bytes().startswith(b"%PDF-")
    assert [p.name for p in tmp_path.iterdir()] == ["label.pdf"]


# -- the PNG ------------------------------------------------------------------------------------


@needs_cjk_font
def test_the_png_is_the_same_label_at_203_dpi(label: LabelContent, tmp_path: Path) -> None:
    png = tmp_path / "label.png"
    layout = render_label(label, tmp_path / "label.pdf", png)
    image = Image.open(png).convert("L")
    assert image.size == (round(100 * 203 / 25.4), round(150 * 203 / 25.4))
    qr = layout.qr
    scale = 203 / 25.4
    sampled = [
        [
            image.getpixel(
                (
                    round((qr.x + (c + 0.5) * qr.module_mm) * scale),
                    round((qr.y + (r + 0.5) * qr.module_mm) * scale),
                )
            )
            < 128
            for c in range(len(qr.matrix))
        ]
        for r in range(len(qr.matrix))
    ]
    assert sampled == [list(row) for row in qr.matrix]
    (bars,) = layout.with_role("barcode")
    assert isinstance(bars, Fill)
    row = round((bars.rects[0].y + bars.rects[0].h / 2) * scale)
    left, right = bars.rects[0].x, bars.rects[-1].x + bars.rects[-1].w
    dark = [
        image.getpixel((round((left + (i + 0.5) * 0.5) * scale), row)) < 128
        for i in range(round((right - left) / 0.5))
    ]
    expected = [False] * len(dark)
    for start, width in code128_modules(label.waybill_no):
        expected[start : start + width] = [True] * width
    assert dark == expected


@needs_cjk_font
def test_the_png_qr_decodes_to_the_token_when_a_decoder_is_installed(
    label: LabelContent, tmp_path: Path
) -> None:
    zxingcpp = pytest.importorskip("zxingcpp")
    png = tmp_path / "label.png"
    render_label(label, tmp_path / "label.pdf", png)
    found = {str(r.format): r.text for r in zxingcpp.read_barcodes(Image.open(png))}
    assert label.token in found.values()
    assert label.waybill_no in found.values()


def test_without_a_cjk_font_the_png_is_refused_before_anything_is_written(
    label: LabelContent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("parcelguard.labels.render.CJK_FONT_FILES", ())
    with pytest.raises(LabelFontMissing, match="fonts-wqy-microhei"):
        render_label(label, tmp_path / "label.pdf", tmp_path / "label.png")
    assert list(tmp_path.iterdir()) == []


@needs_cjk_font
def test_the_fonts_found_can_draw_chinese() -> None:
    fonts = find_png_fonts()
    assert fonts.cjk.is_file()
    assert fonts.latin_bold.is_file()


# -- helpers ------------------------------------------------------------------------------------


def drawn_matrix(layout: Layout) -> list[list[bool]]:
    """Rebuild the module matrix from the rectangles the painters draw."""
    qr = layout.qr
    size = len(qr.matrix)
    grid = [[False] * size for _ in range(size)]
    (fill,) = layout.with_role("qr")
    assert isinstance(fill, Fill)
    for r in fill.rects:
        row = round((r.y - qr.y) / qr.module_mm)
        first = round((r.x - qr.x) / qr.module_mm)
        for col in range(first, first + round(r.w / qr.module_mm)):
            assert not grid[row][col], "rectangles overlap"
            grid[row][col] = True
    return grid


def overlaps(a: Rect, b: Rect) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h
