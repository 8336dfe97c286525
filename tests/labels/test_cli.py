"""``parcelguard label render``: JSON contract, errors that name the waybill, nothing leaked."""

import json
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parcelguard.admin import open_vault
from parcelguard.cli.label import app
from parcelguard.config import Settings
from parcelguard.core.clock import carrier_day, today
from parcelguard.core.waybill import NewWaybill
from parcelguard.labels.content import LabelContent
from parcelguard.labels.keys import label_key, label_key_path
from parcelguard.labels.layout import Layout
from parcelguard.labels.token import LabelTokens
from tests.conftest import recent_waybills
from tests.labels.pdf import everything, shown_text
from tests.labels.test_render import HAVE_CJK_FONT

runner = CliRunner()


def invoke(env: dict[str, str], *args: str):
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def last_json(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])


@pytest.fixture
def stored(settings: Settings) -> list[NewWaybill]:
    batch = recent_waybills(30)
    with open_vault(settings) as vault:
        vault.put(batch)
    return batch


def test_render_writes_the_label_and_reports_it(
    env: dict[str, str], settings: Settings, stored: list[NewWaybill], tmp_path: Path
) -> None:
    w = stored[-1]
    out = tmp_path / "label.pdf"
    result = invoke(env, "render", w.waybill_no, "--out", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    report = last_json(result.stdout)
    assert report["ok"] is True
    assert report["out"] == str(out)
    assert report["waybill_no"] == w.waybill_no
    assert report["token_length"] == 100
    assert report["qr_version"] == 8
    assert report["qr_error"] == "Q"
    issued = datetime.fromisoformat(str(report["issued_at"]))
    expires = datetime.fromisoformat(str(report["expires_at"]))
    assert expires - issued == timedelta(days=14)
    assert stat.S_IMODE(label_key_path(settings).stat().st_mode) == 0o600
    data = out.read_bytes()
    assert w.recipient_phone.encode() not in everything(data)
    assert w.recipient_name.encode("utf-16-be") not in everything(data)
    assert w.waybill_no in shown_text(data)
    for stream in (result.stdout, result.stderr):
        assert w.recipient_phone not in stream
        assert w.recipient_name not in stream


def test_the_printed_token_opens_with_the_label_key_to_this_waybill(
    env: dict[str, str],
    settings: Settings,
    stored: list[NewWaybill],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from parcelguard.labels import render

    drawn: list[LabelContent] = []
    real = render.render_label

    def spy(label: LabelContent, out: Path, png: Path | None = None, **kw: object) -> Layout:
        drawn.append(label)
        return real(label, out, png, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(render, "render_label", spy)
    w = stored[0]
    result = invoke(env, "render", w.waybill_no, "--out", str(tmp_path / "a.pdf"), "--json")
    assert result.exit_code == 0, result.stderr
    report = last_json(result.stdout)
    (label,) = drawn
    assert label.token not in result.stdout
    assert report["token_length"] == len(label.token)
    issued = datetime.fromisoformat(str(report["issued_at"]))
    claims = LabelTokens(label_key(settings, create=False)).open(label.token, issued)
    assert claims.waybill_no == w.waybill_no
    assert claims.issued_at == issued
    assert claims.expires_at == datetime.fromisoformat(str(report["expires_at"]))
    again = last_json(
        invoke(env, "render", w.waybill_no, "--out", str(tmp_path / "b.pdf"), "--json").stdout
    )
    assert again["ok"] is True  # the same key signs every label


def test_valid_days_sets_the_expiry(
    env: dict[str, str], stored: list[NewWaybill], tmp_path: Path
) -> None:
    w = stored[0]
    out = tmp_path / "label.pdf"
    result = invoke(env, "render", w.waybill_no, "--out", str(out), "--valid-days", "3", "--json")
    assert result.exit_code == 0, result.stderr
    report = last_json(result.stdout)
    issued = datetime.fromisoformat(str(report["issued_at"]))
    assert datetime.fromisoformat(str(report["expires_at"])) - issued == timedelta(days=3)
    bad = invoke(env, "render", w.waybill_no, "--out", str(out), "--valid-days", "0", "--json")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("parcelguard: --valid-days 0: must be 1 to 366")


def test_an_unknown_waybill_exits_2_naming_it(
    env: dict[str, str], stored: list[NewWaybill], tmp_path: Path
) -> None:
    out = tmp_path / "label.pdf"
    result = invoke(env, "render", "PG999999999999", "--out", str(out), "--json")
    assert result.exit_code == 2
    assert result.stderr == "parcelguard: waybill PG999999999999: not in the vault\n"
    assert last_json(result.stdout)["error"] == {
        "code": "unknown_waybill",
        "message": "waybill PG999999999999: not in the vault",
    }
    assert not out.exists()


def test_a_shredded_waybill_exits_2_saying_so(
    env: dict[str, str], settings: Settings, stored: list[NewWaybill], tmp_path: Path
) -> None:
    with open_vault(settings) as vault:
        vault.shred(today())
    gone = next(w for w in stored if carrier_day(w.created_at) < today())
    out = tmp_path / "label.pdf"
    result = invoke(env, "render", gone.waybill_no, "--out", str(out))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"parcelguard: waybill {gone.waybill_no}: was shredded on ")
    assert not out.exists()


def test_an_out_folder_that_does_not_exist_exits_2(
    env: dict[str, str], stored: list[NewWaybill], tmp_path: Path
) -> None:
    out = tmp_path / "nowhere" / "label.pdf"
    result = invoke(env, "render", stored[0].waybill_no, "--out", str(out))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


@pytest.mark.skipif(not HAVE_CJK_FONT, reason="no CJK font (apt-get install fonts-wqy-microhei)")
def test_png_is_written_beside_the_pdf(
    env: dict[str, str], stored: list[NewWaybill], tmp_path: Path
) -> None:
    out, png = tmp_path / "label.pdf", tmp_path / "label.png"
    result = invoke(env, "render", stored[0].waybill_no, "--out", str(out), "--png", str(png))
    assert result.exit_code == 0, result.stderr
    assert png.read_bytes().startswith(b"\x89PNG")
    assert str(png) in result.stdout
    assert "valid until" in result.stdout
