import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from parcelguard.audit.checkpoint import (
    MAX_TIMESTAMP,
    MAX_TREE_SIZE,
    Checkpoint,
    CheckpointError,
    CosignatureError,
    CosignatureVerifier,
    Cosigner,
    cosignature_message,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
    verify_cosignature,
)
from parcelguard.audit.note import (
    KeyFormatError,
    SignatureLine,
    Signer,
    UnverifiedNoteError,
    add_signatures,
    parse_signature_line,
)

# The example of the C2SP tlog-checkpoint and tlog-cosignature specifications.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_WITNESS_LINE = "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"

ROOT = hashlib.sha256(b"root").digest()
CHECKPOINT = Checkpoint("parcelguard.example/audit", 42, ROOT)
LOG = Signer.generate("parcelguard.example/audit")
WITNESS = Cosigner.generate("witness.example/w1")
TIME = 1_700_000_000


# --- body ---------------------------------------------------------------------------------------


def test_body_is_the_documented_format() -> None:
    root_b64 = base64.b64encode(ROOT).decode()
    assert CHECKPOINT.body() == f"parcelguard.example/audit\n42\n{root_b64}\n"
    extended = Checkpoint("o", 0, ROOT, ("ext one", "ext-two"))
    assert extended.body() == f"o\n0\n{root_b64}\next one\next-two\n"
    assert parse_checkpoint(extended.body()) == extended


def test_the_spec_example_parses() -> None:
    checkpoint = parse_checkpoint(SPEC_BODY)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert checkpoint.body() == SPEC_BODY


def test_extensions_given_as_a_list_become_a_tuple() -> None:
    checkpoint = Checkpoint("o", 1, ROOT, ["x"])  # type: ignore[arg-type]
    assert checkpoint.extensions == ("x",)
    assert hash(checkpoint) == hash(Checkpoint("o", 1, ROOT, ("x",)))


_ROOT_B64 = base64.b64encode(ROOT).decode()
_URLSAFE_ROOT = base64.urlsafe_b64encode(bytes(range(224, 256))).decode()  # has '-' and '_'


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (f"o\n007\n{_ROOT_B64}\n", "leading zeros"),
        (f"o\n00\n{_ROOT_B64}\n", "leading zeros"),
        (f"o\n-1\n{_ROOT_B64}\n", "not a decimal"),
        (f"o\n+5\n{_ROOT_B64}\n", "not a decimal"),
        (f"o\n 5\n{_ROOT_B64}\n", "not a decimal"),
        (f"o\n5_000\n{_ROOT_B64}\n", "not a decimal"),
        (f"o\n\uff15\n{_ROOT_B64}\n", "not a decimal"),  # fullwidth digit five
        (f"o\n0x10\n{_ROOT_B64}\n", "not a decimal"),
        (f"o\n{2**64}\n{_ROOT_B64}\n", "64 bits"),
        (f"o\n{'9' * 30}\n{_ROOT_B64}\n", "not a decimal"),
        (f"o\n5\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes, not 32"),
        (f"o\n5\n{base64.b64encode(ROOT + b'x').decode()}\n", "33 bytes, not 32"),
        ("o\n5\n\n", "root hash \\(line 3\\) is empty"),
        (f"o\n5\n{_ROOT_B64.rstrip('=')}\n", "base64"),
        (f"o\n5\n{_ROOT_B64[:-2]}N=\n", "canonical"),
        (f"o\n5\n{_URLSAFE_ROOT}\n", "base64"),
        (f"o\n5\n{_ROOT_B64}", "end with a newline"),
        (f"o\n5\n{_ROOT_B64}\n\n", "line 4\\) is empty"),
        (f"o\n5\n{_ROOT_B64}\nok\n\nafter\n", "line 5\\) is empty"),
        (f"o\r\n5\r\n{_ROOT_B64}\r\n", "carriage return"),
        (f"o\n5\r\n{_ROOT_B64}\n", "tree size \\(line 2\\) contains a carriage return"),
        (f"o\t\n5\n{_ROOT_B64}\n", "tab"),
        (f"\n5\n{_ROOT_B64}\n", "origin \\(line 1\\) is empty"),
        ("o\n5\n", "at least three lines"),
        ("", "end with a newline"),
        (f"\ud800\n5\n{_ROOT_B64}\n", "UTF-8"),
    ],
)
def test_malformed_bodies_are_refused(body: str, why: str) -> None:
    with pytest.raises(CheckpointError, match=why):
        parse_checkpoint(body)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("", 1, ROOT), "origin is empty"),
        (("a\nb", 1, ROOT), "newline"),
        (("o", -1, ROOT), "unsigned 64-bit"),
        (("o", MAX_TREE_SIZE + 1, ROOT), "unsigned 64-bit"),
        (("o", True, ROOT), "integer"),
        (("o", 1, ROOT[:31]), "32 bytes"),
        (("o", 1, ROOT, ("",)), "extension line 1 is empty"),
        (("o", 1, ROOT, ("a\rb",)), "carriage return"),
    ],
)
def test_invalid_checkpoints_cannot_be_built(args: tuple[object, ...], why: str) -> None:
    with pytest.raises(CheckpointError, match=why):
        Checkpoint(*args)  # type: ignore[arg-type]


origins = st.text(
    st.characters(blacklist_categories=["Cc", "Cs", "Zs", "Zl", "Zp"]), min_size=1, max_size=60
)


@given(
    origins,
    st.integers(0, MAX_TREE_SIZE),
    st.binary(min_size=32, max_size=32),
    st.lists(st.text(st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1), max_size=3),
)
def test_checkpoints_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    assert parse_checkpoint(checkpoint.body()) == checkpoint


@given(origins, st.integers(0, MAX_TREE_SIZE))
def test_signed_checkpoints_round_trip(origin: str, size: int) -> None:
    checkpoint = Checkpoint(origin, size, ROOT)
    opened, note = open_checkpoint(sign_checkpoint(LOG, checkpoint), LOG.verifier())
    assert opened == checkpoint
    assert note.verified_by == [LOG.name]


# --- signed checkpoints -------------------------------------------------------------------------


def test_open_checkpoint_needs_the_logs_own_signature() -> None:
    impostor = Signer.generate(LOG.name)
    with pytest.raises(UnverifiedNoteError, match="no signature by a known key"):
        open_checkpoint(sign_checkpoint(impostor, CHECKPOINT), LOG.verifier())


def test_open_checkpoint_refuses_a_signed_body_that_is_not_a_checkpoint() -> None:
    with pytest.raises(CheckpointError, match="leading zeros"):
        open_checkpoint(LOG.sign(f"o\n01\n{_ROOT_B64}\n"), LOG.verifier())


def test_open_checkpoint_checks_the_origin_when_asked() -> None:
    note = sign_checkpoint(LOG, CHECKPOINT)
    assert open_checkpoint(note, LOG.verifier(), origin=CHECKPOINT.origin)[0] == CHECKPOINT
    with pytest.raises(CheckpointError, match=r"not 'other\.example/log'"):
        open_checkpoint(note, LOG.verifier(), origin="other.example/log")


# --- cosignatures -------------------------------------------------------------------------------


def test_cosignature_message_is_the_documented_one() -> None:
    message = cosignature_message(parse_checkpoint(SPEC_BODY), 1679315147)
    assert message == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )


def test_cosign_and_verify() -> None:
    line = WITNESS.cosign(CHECKPOINT, TIME)
    assert verify_cosignature(line, CHECKPOINT, WITNESS.verifier_key()) == TIME
    assert verify_cosignature(line.rstrip("\n"), CHECKPOINT, WITNESS.verifier()) == TIME


def test_cosignature_line_layout() -> None:
    line = WITNESS.cosign(CHECKPOINT, TIME)
    assert line.startswith("— witness.example/w1 ")
    assert line.endswith("\n")
    payload = base64.b64decode(line.split()[-1])
    assert len(payload) == 4 + 8 + 64
    assert int.from_bytes(payload[:4], "big") == WITNESS.key_hash
    assert int.from_bytes(payload[4:12], "big") == TIME
    # The Ed25519 signature is over exactly the documented message.
    Ed25519PublicKey.from_public_bytes(WITNESS.public_key).verify(
        payload[12:], cosignature_message(CHECKPOINT, TIME)
    )


def test_cosigner_key_hash_uses_type_0x04() -> None:
    expected = hashlib.sha256(b"witness.example/w1\n\x04" + WITNESS.public_key).digest()[:4]
    assert WITNESS.key_hash == int.from_bytes(expected, "big")
    typed = base64.b64decode(WITNESS.verifier_key().split("+", 2)[2])
    assert typed == b"\x04" + WITNESS.public_key
    assert WITNESS.verifier_key().split("+")[1] == expected.hex()
    assert CosignatureVerifier.from_key(WITNESS.verifier_key()) == WITNESS.verifier()


def test_an_external_cosignature_verifier_key_parses() -> None:
    # A type 0x04 key from transparency-dev/formats' tests: checks our 0x04 key hash.
    key = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
    verifier = CosignatureVerifier.from_key(key)
    assert (verifier.name, verifier.key_hash) == ("remora.n621.de", 0xDA77ADE7)
    assert verifier.verifier_key() == key


def test_the_spec_example_cosignature_is_framed_as_we_frame_ours() -> None:
    # The specification publishes no witness key, so only the framing can be checked:
    # key hash, then the time of its signed-message example, then 64 signature bytes.
    line = parse_signature_line(SPEC_WITNESS_LINE)
    assert line.name == "witness.example.com/w1"
    assert len(line.signature) == 8 + 64
    assert int.from_bytes(line.signature[:8], "big") == 1679315147


def test_a_note_key_is_not_a_cosignature_key() -> None:
    with pytest.raises(KeyFormatError, match="not a cosignature/v1 witness key"):
        CosignatureVerifier.from_key(LOG.verifier_key())


def test_cosignature_over_another_checkpoint_is_refused() -> None:
    line = WITNESS.cosign(CHECKPOINT, TIME)
    others = [
        Checkpoint(CHECKPOINT.origin, CHECKPOINT.size + 1, ROOT),
        Checkpoint(CHECKPOINT.origin, CHECKPOINT.size, hashlib.sha256(b"other").digest()),
        Checkpoint("other.example/log", CHECKPOINT.size, ROOT),
        Checkpoint(CHECKPOINT.origin, CHECKPOINT.size, ROOT, ("extension",)),
    ]
    for other in others:
        with pytest.raises(CosignatureError, match="does not verify for this checkpoint"):
            verify_cosignature(line, other, WITNESS.verifier())


def test_a_changed_timestamp_is_refused() -> None:
    parsed = parse_signature_line(WITNESS.cosign(CHECKPOINT, TIME))
    moved = (TIME + 1).to_bytes(8, "big") + parsed.signature[8:]
    forged = SignatureLine(parsed.name, parsed.key_hash, moved).text
    with pytest.raises(CosignatureError, match=f"time {TIME + 1}"):
        verify_cosignature(forged, CHECKPOINT, WITNESS.verifier())


def test_another_witness_or_a_renamed_line_is_refused() -> None:
    line = WITNESS.cosign(CHECKPOINT, TIME)
    other = Cosigner.generate("witness.example/w2")
    with pytest.raises(CosignatureError, match=r"not by witness\.example/w2"):
        verify_cosignature(line, CHECKPOINT, other.verifier())
    same_name = Cosigner.generate(WITNESS.name)
    with pytest.raises(CosignatureError, match="key hash"):
        verify_cosignature(line, CHECKPOINT, same_name.verifier())
    renamed = line.replace("witness.example/w1", "witness.example/w2")
    with pytest.raises(CosignatureError, match="key hash"):
        verify_cosignature(renamed, CHECKPOINT, other.verifier())


def test_a_plain_note_signature_is_not_a_cosignature() -> None:
    # A note signature (type 0x01) relabelled with the witness's name and key hash still has
    # no timestamp, so it is refused by its length before any cryptography.
    witness_as_note_key = parse_signature_line(LOG.sign(CHECKPOINT.body()).split("\n\n")[1])
    dressed = SignatureLine(WITNESS.name, WITNESS.key_hash, witness_as_note_key.signature).text
    with pytest.raises(CosignatureError, match="64 bytes after the key hash"):
        verify_cosignature(dressed, CHECKPOINT, WITNESS.verifier())
    with pytest.raises(CosignatureError, match="not a signature line"):
        verify_cosignature("garbage", CHECKPOINT, WITNESS.verifier())


def test_timestamps_out_of_range() -> None:
    assert verify_cosignature(WITNESS.cosign(CHECKPOINT, 0), CHECKPOINT, WITNESS.verifier()) == 0
    top = WITNESS.cosign(CHECKPOINT, MAX_TIMESTAMP)
    assert verify_cosignature(top, CHECKPOINT, WITNESS.verifier()) == MAX_TIMESTAMP
    for bad in (-1, MAX_TIMESTAMP + 1):
        with pytest.raises(CheckpointError, match="2\\^63"):
            WITNESS.cosign(CHECKPOINT, bad)
    parsed = parse_signature_line(top)
    over = (MAX_TIMESTAMP + 1).to_bytes(8, "big") + parsed.signature[8:]
    with pytest.raises(CosignatureError, match="above 2\\^63"):
        verify_cosignature(
            SignatureLine(parsed.name, parsed.key_hash, over).text,
            CHECKPOINT,
            WITNESS.verifier(),
        )


def test_cosignatures_travel_in_the_checkpoint_note() -> None:
    second = Cosigner.generate("witness.example/w2")
    note = add_signatures(
        sign_checkpoint(LOG, CHECKPOINT),
        [WITNESS.cosign(CHECKPOINT, TIME), second.cosign(CHECKPOINT, TIME + 5)],
    )
    checkpoint, opened = open_checkpoint(note, LOG.verifier())
    assert checkpoint == CHECKPOINT
    assert opened.verified_by == [LOG.name]
    assert opened.unknown == [(WITNESS.name, WITNESS.key_hash), (second.name, second.key_hash)]
    times = [
        verify_cosignature(line, checkpoint, key)
        for line, key in zip(opened.unknown_lines, [WITNESS.verifier(), second.verifier()])
    ]
    assert times == [TIME, TIME + 5]


def test_cosigner_repr_hides_the_private_key() -> None:
    assert (
        repr(WITNESS) == f"Cosigner(name='witness.example/w1', key_hash=0x{WITNESS.key_hash:08x})"
    )
