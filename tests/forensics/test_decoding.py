"""The encoding of a leaked file is decided on evidence, reported, and transcoded in a stream."""

from __future__ import annotations

import io
import os

import pytest

from parcelguard.core.errors import BadInput
from parcelguard.forensics.decoding import (
    SAMPLE_BYTES,
    Utf8Transcoder,
    detect_encoding,
    read_samples,
)

TEXT = "收件人,联系方式,地址详情\n张三,13812345678,湖北省荆州市沙市区北京路12号\n" * 20


def decide(data: bytes):
    handle = io.BytesIO(data)
    return detect_encoding(read_samples(handle, len(data)), source="leak.csv")


def transcode(data: bytes, block: int = 7) -> tuple[str, int]:
    decision = decide(data)
    transcoder = Utf8Transcoder(decision)
    out = b"".join(transcoder.feed(data[i : i + block]) for i in range(0, len(data), block))
    out += transcoder.feed(b"", final=True)
    return out.decode("utf-8"), transcoder.replaced


@pytest.mark.parametrize(
    ("codec", "name"),
    [("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16-le"), ("utf-16-be", None)],
)
def test_a_bom_decides_and_is_the_evidence(codec: str, name: str | None) -> None:
    data = TEXT.encode(codec)
    if name is None:  # Python's utf-16-be writes no BOM: add one as exporters do
        data, name = b"\xfe\xff" + data, "utf-16-be"
    decision = decide(data)
    assert (decision.name, decision.decision, decision.bom) == (name, "bom", True)
    assert "byte order mark" in decision.evidence
    assert transcode(data) == (TEXT, 0)


def test_utf16_without_bom_is_recognised_by_its_nul_pattern() -> None:
    data = TEXT.encode("utf-16-le")
    decision = decide(data)
    assert (decision.name, decision.decision, decision.bom) == (
        "utf-16-le",
        "utf-16-pattern",
        False,
    )
    assert transcode(data) == (TEXT, 0)


def test_plain_utf8_is_decided_by_strict_decoding() -> None:
    decision = decide(TEXT.encode())
    assert (decision.name, decision.decision) == ("utf-8", "strict-utf-8")
    assert decision.confidence >= 0.99
    assert "non-ASCII" in decision.evidence


def test_gbk_is_chosen_by_charset_normalizer_and_reported_as_gbk() -> None:
    data = TEXT.encode("gbk")
    decision = decide(data)
    assert (decision.name, decision.decision) == ("gbk", "charset-normalizer")
    assert decision.confidence > 0.9
    assert "charset-normalizer" in decision.evidence
    assert transcode(data) == (TEXT, 0)


def test_gb18030_when_characters_outside_gbk_are_there() -> None:
    text = TEXT.replace("张三", "张𠀀")  # an Extension B character: four bytes in GB18030
    data = text.encode("gb18030")
    decision = decide(data)
    assert decision.name == "gb18030"
    assert transcode(data) == (text, 0)


def test_an_empty_file_is_bad_input() -> None:
    with pytest.raises(BadInput, match=r"^leak.csv: empty$"):
        decide(b"")


@pytest.mark.parametrize(
    "data",
    [b"\x00\x01\x02\x03" * 1000, os.urandom(4096) + b"\x00", bytes(range(1, 9)) * 500],
)
def test_a_binary_file_is_not_text(data: bytes) -> None:
    with pytest.raises(BadInput, match="not a text file or spreadsheet"):
        decide(data)


@pytest.mark.parametrize(
    "data",
    [
        ("これは日本語のテキストです。カタカナ、ひらがな。" * 40).encode("shift_jis"),
        ("Ça été très économique à Noël, déjà vu. " * 40).encode("latin-1"),
    ],
)
def test_an_unknown_encoding_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(BadInput, match="unknown encoding"):
        decide(data)


def test_a_file_that_is_ascii_at_the_head_but_gbk_later_is_gbk() -> None:
    head = ("name,phone\n" + "zhang,13812345678\n" * 40_000).encode()
    tail = TEXT.encode("gbk") * 200
    data = head + tail
    assert len(head) > SAMPLE_BYTES
    assert decide(data).name == "gbk"


def test_wrong_bytes_mid_file_become_replacement_characters_and_are_counted() -> None:
    good = TEXT.encode()
    data = good[:100] + b"\xff\xfe" + good[100:]
    decision = decide(good)
    transcoder = Utf8Transcoder(decision)
    out = b"".join(transcoder.feed(data[i : i + 64]) for i in range(0, len(data), 64))
    out += transcoder.feed(b"", final=True)
    text = out.decode()
    assert transcoder.replaced == 2
    assert text.replace("\ufffd", "") == TEXT


def test_valid_utf8_passes_through_whatever_the_block_boundaries() -> None:
    data = TEXT.encode()
    for block in (1, 2, 3, 5, 4096):
        assert transcode(data, block) == (TEXT, 0)
