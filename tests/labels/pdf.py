"""Just enough PDF reading to check what a label shows: page size, inflated streams, text.

pypdf is not a dependency; ReportLab's output is regular enough to read with a few patterns.
"""

from __future__ import annotations

import base64
import re
import zlib

_STREAM = re.compile(rb"<<([^<>]*?)>>\s*stream\r?\n(.*?)endstream", re.DOTALL)
_FONT = re.compile(rb"/BaseFont /([\w-]+)(?:(?!/BaseFont).)*?/Name /(F\d+)", re.DOTALL)
_TOKENS = re.compile(rb"/(F\d+)\s+[\d.]+\s+Tf|\((?:\\.|[^\\)])*\)\s*Tj", re.DOTALL)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def media_box(data: bytes) -> list[float]:
    found = re.findall(rb"/MediaBox \[([^\]]*)\]", data)
    assert len(found) == 1, "a label is one page"
    return [float(v) for v in found[0].split()]


def streams(data: bytes) -> list[bytes]:
    """Every stream's bytes, decoded (ReportLab writes ASCII85 over Flate)."""
    out = []
    for match in _STREAM.finditer(data):
        head, body = match.group(1), match.group(2)
        if b"ASCII85Decode" in head:
            body = base64.a85decode(body.strip().removesuffix(b"~>"))
        if b"FlateDecode" in head:
            body = zlib.decompress(body)
        out.append(body)
    return out


def everything(data: bytes) -> bytes:
    """The file with its streams inflated: where a plaintext would show if it were there."""
    return data + b"".join(streams(data))


def shown_text(data: bytes) -> list[str]:
    """The strings the page shows, decoded per font (CID fonts hold UCS-2 big-endian)."""
    cid = {name.decode() for base, name in _FONT.findall(data) if base == b"STSong-Light"}
    texts: list[str] = []
    for body in streams(data):
        font = ""
        for match in _TOKENS.finditer(body):
            if match.group(1):
                font = match.group(1).decode()
                continue
            raw = _unescape(match.group(0)[: match.group(0).rindex(b")")][1:])
            texts.append(raw.decode("utf-16-be") if font in cid else raw.decode("cp1252"))
    return texts


def _unescape(literal: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(literal):
        byte = literal[i : i + 1]
        if byte != b"\\":
            out += byte
            i += 1
            continue
        nxt = literal[i + 1 : i + 2]
        octal = re.match(rb"[0-7]{1,3}", literal[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(0), 8))
            i += 1 + len(octal.group(0))
        else:
            out += _ESCAPES.get(nxt, nxt)
            i += 2
    return bytes(out)
