"""Which encoding a leaked text file is in, why we think so, and its bytes as UTF-8.

Files are sold as they were exported: UTF-8 with or without a BOM, GBK or GB18030 from
Chinese Excel, UTF-16 from "Unicode text" exports. The decision has to be reported with its
evidence, because a count of persons is only as good as the decoding behind it: a BOM is
proof; strict UTF-8 over samples from the head, middle and tail is near proof (other
encodings of Chinese text are almost never valid UTF-8); otherwise charset-normalizer
chooses among the encodings we accept, on the same samples.

Transcoding is streamed: :class:`Utf8Transcoder` turns raw blocks into UTF-8 blocks, valid
UTF-8 passing through untouched, and bytes that do not decode becoming U+FFFD so that the
reader can tell which lines were damaged instead of losing the file.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import BinaryIO

import charset_normalizer

from parcelguard.core.errors import BadInput

REPLACEMENT = "\ufffd"
SAMPLE_BYTES = 256 * 1024
SAMPLE_COUNT = 5

# (BOM, codec name, reported name). UTF-32 before UTF-16: FF FE 00 00 starts with FF FE.
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16-be"),
    (b"\x84\x31\x95\x33", "gb18030", "gb18030"),
)
# What charset-normalizer may choose from: the encodings leaked Chinese files come in. UTF-16
# without a BOM is decided by its NUL pattern before, never by a guess over a few bytes.
_CANDIDATES = ["utf_8", "gb18030", "gbk", "gb2312"]
_CODEC_OF = {
    "utf_8": "utf-8",
    "gb18030": "gb18030",
    "gbk": "gbk",
    "gb2312": "gbk",
    "utf_16_le": "utf-16-le",
    "utf_16_be": "utf-16-be",
}
# Control bytes that never occur in text (everything below 0x20 except \t \n \v \f \r, ESC).
_CONTROL = frozenset(range(0x20)) - {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B}
_MAX_CONTROL_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class EncodingDecision:
    """The encoding chosen, how (``bom``, ``utf-8``, ``charset-normalizer``) and on what evidence."""

    name: str
    codec: str
    decision: str
    confidence: float
    bom: bool
    bom_bytes: int
    evidence: str

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "decision": self.decision,
            "confidence": round(self.confidence, 3),
            "bom": self.bom,
            "evidence": self.evidence,
        }


def read_samples(handle: BinaryIO, size: int, *, count: int = SAMPLE_COUNT) -> list[bytes]:
    """Blocks from the head, the tail and evenly between: a file can change encoding midway.

    Offsets are even so that a UTF-16 sample stays aligned; every sample but the first may
    start inside a character, which the checks below allow for.
    """
    if size <= SAMPLE_BYTES * count:
        handle.seek(0)
        whole = handle.read()
        handle.seek(0)
        return [whole]
    samples: list[bytes] = []
    span = size - SAMPLE_BYTES
    for k in range(count):
        offset = (span * k // (count - 1)) & ~1
        handle.seek(offset)
        samples.append(handle.read(SAMPLE_BYTES))
    handle.seek(0)
    return samples


def detect_encoding(samples: list[bytes], *, source: str) -> EncodingDecision:
    """Decide the encoding from ``samples`` (the first from offset 0), or raise BadInput."""
    head = samples[0]
    if not head:
        raise BadInput(f"{source}: empty")
    for bom, codec, name in _BOMS:
        if head.startswith(bom):
            return EncodingDecision(
                name=name,
                codec=codec,
                decision="bom",
                confidence=1.0,
                bom=True,
                bom_bytes=len(bom),
                evidence=f"byte order mark {bom.hex(' ')} at the start of the file",
            )
    utf16 = _utf16_without_bom(head)
    if utf16 is not None:
        return utf16
    _refuse_binary(samples, source)
    utf8 = _strict_utf8(samples)
    if utf8 is not None:
        return utf8
    nearly = _nearly("utf-8", samples)
    if nearly is not None:
        return nearly
    return _charset_normalizer(samples, source)


def _utf16_without_bom(head: bytes) -> EncodingDecision | None:
    """UTF-16 of mostly ASCII or CJK text has NULs on one side: one byte in two, or a pattern."""
    sample = head[: len(head) & ~1]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    for codec, high, low in (("utf-16-le", odd_nul, even_nul), ("utf-16-be", even_nul, odd_nul)):
        if high >= 0.3 and low <= 0.02:
            try:
                text = sample.decode(codec)
            except UnicodeDecodeError:
                continue
            if _control_share(text) <= _MAX_CONTROL_SHARE:
                return EncodingDecision(
                    name=codec,
                    codec=codec,
                    decision="utf-16-pattern",
                    confidence=0.95,
                    bom=False,
                    bom_bytes=0,
                    evidence=f"no BOM; {high:.0%} of the {'odd' if codec.endswith('le') else 'even'} "
                    "bytes are NUL and the sample decodes as text",
                )
    return None


def _control_share(text: str) -> float:
    if not text:
        return 0.0
    controls = sum(1 for ch in text if ord(ch) in _CONTROL)
    return controls / len(text)


def _refuse_binary(samples: list[bytes], source: str) -> None:
    for sample in samples:
        if not sample:
            continue
        if b"\x00" in sample:
            raise BadInput(f"{source}: not a text file or spreadsheet (NUL bytes)")
        controls = sum(sample.count(bytes([c])) for c in _CONTROL)
        if controls / len(sample) > _MAX_CONTROL_SHARE:
            raise BadInput(f"{source}: not a text file or spreadsheet (control bytes)")


def _skip_continuation(sample: bytes) -> bytes:
    """A sample taken from the middle may start inside a character: skip its tail bytes."""
    start = 0
    while start < 3 and start < len(sample) and 0x80 <= sample[start] <= 0xBF:
        start += 1
    return sample[start:]


def _strict_utf8(samples: list[bytes]) -> EncodingDecision | None:
    non_ascii = 0
    for k, sample in enumerate(samples):
        trimmed = _skip_continuation(sample) if k else sample
        try:
            # Not final: a character cut by the sample's end is not an error.
            text = codecs.getincrementaldecoder("utf-8")("strict").decode(trimmed, final=False)
        except UnicodeDecodeError:
            return None
        non_ascii += sum(1 for ch in text if ord(ch) > 0x7F)
    sampled = sum(len(s) for s in samples)
    if non_ascii:
        evidence = (
            f"no BOM; {sampled:,} sampled bytes from {len(samples)} places decode as strict UTF-8 "
            f"({non_ascii:,} non-ASCII characters)"
        )
        confidence = 0.99
    else:
        evidence = f"no BOM; {sampled:,} sampled bytes are plain ASCII, read as UTF-8"
        confidence = 0.9
    return EncodingDecision(
        name="utf-8",
        codec="utf-8",
        decision="strict-utf-8",
        confidence=confidence,
        bom=False,
        bom_bytes=0,
        evidence=evidence,
    )


def _charset_normalizer(samples: list[bytes], source: str) -> EncodingDecision:
    # Samples are joined at line breaks so no multi-byte character is glued from two places.
    parts = [samples[0]] + [s[s.find(b"\n") + 1 :] if b"\n" in s else b"" for s in samples[1:]]
    joined = b"".join(p[: p.rfind(b"\n") + 1] if b"\n" in p else p for p in parts)
    best = charset_normalizer.from_bytes(joined, cp_isolation=_CANDIDATES).best()
    if best is None:
        for codec in ("gbk", "gb18030"):
            nearly = _nearly(codec, samples)
            if nearly is not None:
                return nearly
        raise BadInput(
            f"{source}: unknown encoding (not UTF-8, GBK, GB18030 or UTF-16); "
            "convert the file to UTF-8 and try again"
        )
    codec = _CODEC_OF.get(best.encoding, best.encoding)
    if codec == "gb18030" and _decodes(joined, "gbk"):
        codec = "gbk"  # GBK is the narrower claim, and every GBK byte means the same in GB18030
    elif codec == "gbk" and not _decodes(joined, "gbk"):
        codec = "gb18030"
    confidence = max(0.0, 1.0 - best.chaos)
    return EncodingDecision(
        name=codec,
        codec=codec,
        decision="charset-normalizer",
        confidence=confidence,
        bom=False,
        bom_bytes=0,
        evidence=(
            f"no BOM, not UTF-8; charset-normalizer on {len(joined):,} sampled bytes chose "
            f"{best.encoding} (chaos {best.chaos:.3f}, language {best.language}; could also be "
            f"{', '.join(best.could_be_from_charset)})"
        ),
    )


# A file is still in an encoding when only this share of its sampled characters is broken.
MAX_BROKEN_SHARE = 0.001


def _nearly(codec: str, samples: list[bytes]) -> EncodingDecision | None:
    """``codec`` when it decodes the samples but for a few broken sequences (a damaged file).

    The broken bytes are counted and reported; the reader marks their lines instead of
    refusing a file whose other millions of lines are fine.
    """
    text = "".join(
        codecs.getincrementaldecoder(codec)("replace").decode(
            _skip_continuation(s) if k else s, final=False
        )
        for k, s in enumerate(samples)
    )
    broken = text.count(REPLACEMENT)
    if not text or broken == 0 or broken > MAX_BROKEN_SHARE * len(text) + 2:
        return None
    non_ascii = sum(1 for ch in text if ord(ch) > 0x7F and ch != REPLACEMENT)
    if non_ascii == 0:
        return None
    return EncodingDecision(
        name=codec,
        codec=codec,
        decision=f"{codec}-with-errors",
        confidence=max(0.5, 1.0 - broken / max(1, non_ascii)),
        bom=False,
        bom_bytes=0,
        evidence=(
            f"no BOM; the samples decode as {codec} but for {broken} broken byte sequence(s) "
            f"among {len(text):,} characters ({non_ascii:,} non-ASCII); their cells are not read"
        ),
    )


def _decodes(data: bytes, codec: str) -> bool:
    try:
        codecs.getincrementaldecoder(codec)("strict").decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


class Utf8Transcoder:
    """Raw blocks in, UTF-8 blocks out; counts the characters that could not be decoded.

    For UTF-8 input a valid block is returned as it came (no copy through ``str``); only a
    block with a bad sequence is decoded with replacement and encoded again.
    """

    def __init__(self, decision: EncodingDecision) -> None:
        self.codec = decision.codec
        self._skip = decision.bom_bytes
        self._passthrough = decision.codec == "utf-8"
        self._decoder = codecs.getincrementaldecoder(decision.codec)("replace")
        self._pending = b""
        self.replaced = 0

    def feed(self, block: bytes, *, final: bool = False) -> bytes:
        if self._skip:
            cut = min(self._skip, len(block))
            block, self._skip = block[cut:], self._skip - cut
        if self._passthrough:
            return self._feed_utf8(block, final)
        text = self._decoder.decode(block, final=final)
        self.replaced += text.count(REPLACEMENT)
        return text.encode("utf-8")

    def _feed_utf8(self, block: bytes, final: bool) -> bytes:
        data = self._pending + block if self._pending else block
        cut = len(data) if final else _complete_utf8_end(data)
        self._pending = data[cut:]
        head = data[:cut]
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            text = head.decode("utf-8", "replace")
            self.replaced += text.count(REPLACEMENT)
            return text.encode("utf-8")
        return head


def _complete_utf8_end(data: bytes) -> int:
    """Where the last complete UTF-8 character ends (a split one waits for the next block)."""
    end = len(data)
    back = 0
    while back < 3 and end - back > 0 and 0x80 <= data[end - back - 1] <= 0xBF:
        back += 1
    lead_at = end - back - 1
    if lead_at < 0:
        return end
    lead = data[lead_at]
    need = 2 if 0xC0 <= lead < 0xE0 else 3 if 0xE0 <= lead < 0xF0 else 4 if lead >= 0xF0 else 1
    if lead >= 0xC0 and back + 1 < need:
        return lead_at
    return end
