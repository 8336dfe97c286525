import base64
import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parcelguard.audit.note import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    InvalidSignatureError,
    KeyFormatError,
    MalformedNoteError,
    NoteError,
    Signer,
    UnverifiedNoteError,
    Verifier,
    add_signatures,
    format_verifier_key,
    open_note,
    parse_signature_line,
)

# The example of Go's golang.org/x/mod/sumdb/note documentation and tests.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
GO_NOTE = GO_TEXT + "\n" + PETER_SIG
# Go's note_test.go: a second key and its signature of the same text.
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
# The example of the C2SP signed-note specification ("Verifier keys").
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

PETER = Verifier.from_key(GO_VKEY)
ENOCH = Verifier.from_key(ENOCH_VKEY)


# --- reference vectors --------------------------------------------------------------------------


def test_go_vector_verifies() -> None:
    assert PETER.name == "PeterNeumann"
    assert PETER.key_hash == 0xC74F20A3
    opened = open_note(GO_NOTE, [PETER])
    assert opened.body == GO_TEXT
    assert opened.verified_by == ["PeterNeumann"]
    assert opened.unknown == []
    assert open_note(GO_NOTE.encode(), [PETER]) == opened


def test_signer_from_go_skey_reproduces_the_go_note_and_keys() -> None:
    signer = Signer.from_signer_key(GO_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_hash == 0xC74F20A3
    assert signer.sign(GO_TEXT) == GO_NOTE  # Ed25519 is deterministic
    assert signer.verifier_key() == GO_VKEY
    assert signer.signer_key() == GO_SKEY
    assert signer.verifier() == PETER


def test_go_doubly_signed_note() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert ENOCH.key_hash == 0xAF0CFE78
    both = open_note(note, [PETER, ENOCH])
    assert both.verified_by == ["PeterNeumann", "EnochRoot"]
    assert both.unknown == []
    only_peter = open_note(note, [PETER])
    assert only_peter.verified_by == ["PeterNeumann"]
    assert only_peter.unknown == [("EnochRoot", 0xAF0CFE78)]
    assert only_peter.unknown_lines == [ENOCH_SIG]
    only_enoch = open_note(note, [ENOCH])
    assert only_enoch.verified_by == ["EnochRoot"]
    assert only_enoch.unknown == [("PeterNeumann", 0xC74F20A3)]


def test_c2sp_spec_vector_verifies() -> None:
    verifier = Verifier.from_key(SPEC_VKEY)
    assert verifier.key_hash == 0x530D903A
    assert verifier.verifier_key() == SPEC_VKEY
    opened = open_note(SPEC_NOTE, [verifier])
    assert opened.body == "This is an example message.\n"
    assert opened.verified_by == ["example.com/foo"]


def test_a_verifier_key_whose_base64_contains_a_plus() -> None:
    # From transparency-dev/formats tests: the key material itself holds a '+'.
    key = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
    verifier = Verifier.from_key(key)
    assert verifier.name == "TEST"
    assert verifier.verifier_key() == key


def test_a_cosignature_key_is_not_a_note_verifier() -> None:
    with pytest.raises(KeyFormatError, match=r"0x04.*CosignatureVerifier"):
        Verifier.from_key("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")


# --- keys ---------------------------------------------------------------------------------------


def _manglings(key: str) -> list[str]:
    """Every proper substring and every one-character increment, as Go's tests try them."""
    out = [key[i:j] for i in range(len(key) + 1) for j in range(i + 1, len(key) + 1)]
    out = [s for s in out if s != key]
    out += [key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))]
    return out


def test_mangled_verifier_keys_are_refused() -> None:
    for bad in _manglings(GO_VKEY):
        with pytest.raises(KeyFormatError):
            Verifier.from_key(bad)


def test_mangled_signer_keys_are_refused() -> None:
    for bad in _manglings(GO_SKEY):
        with pytest.raises(KeyFormatError):
            Signer.from_signer_key(bad)


def test_go_bad_verifier_keys_are_refused() -> None:
    # Go refuses this one for its length; its base64 is not canonical either, which we see first.
    with pytest.raises(KeyFormatError, match="base64"):
        Verifier.from_key(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        )
    with pytest.raises(KeyFormatError, match="type 0x65"):
        Verifier.from_key("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_a_well_hashed_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(KeyFormatError, match="32 bytes"):
        Verifier.from_key(format_verifier_key("short", 0x01, bytes(31)))


def test_uppercase_key_hash_is_refused() -> None:
    with pytest.raises(KeyFormatError, match="lowercase"):
        Verifier.from_key(GO_VKEY.replace("c74f20a3", "C74F20A3"))


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u00a0b", "a\u2003b", "a\nb"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(KeyFormatError):
        Signer.generate(name)


def test_generated_keys_round_trip_and_hide_the_seed() -> None:
    signer = Signer.generate("parcelguard.example/audit")
    again = Signer.from_signer_key(signer.signer_key())
    assert again.verifier_key() == signer.verifier_key()
    assert Verifier.from_key(signer.verifier_key()) == signer.verifier()
    assert signer.signer_key().split("+", 4)[4] not in repr(signer)  # the seed may hold "+"
    assert "PRIVATE" not in repr(signer)


# --- tampering ----------------------------------------------------------------------------------


def test_changing_one_body_byte_is_forgery() -> None:
    tampered = GO_NOTE.replace("cryptography", "cryptographY")
    with pytest.raises(InvalidSignatureError, match=r"PeterNeumann\+c74f20a3 does not verify"):
        open_note(tampered, [PETER])


def test_changing_one_signature_byte_is_forgery() -> None:
    start = GO_NOTE.index("x08go/") + 20  # well past the 4-byte key hash
    replacement = "A" if GO_NOTE[start] != "A" else "B"
    tampered = GO_NOTE[:start] + replacement + GO_NOTE[start + 1 :]
    with pytest.raises(InvalidSignatureError, match="does not verify"):
        open_note(tampered, [PETER])


def test_a_known_key_with_a_bad_signature_fails_even_when_another_verifies() -> None:
    start = ENOCH_SIG.index("rwz+") + 20
    bad_enoch = ENOCH_SIG[:start] + "ABCD" + ENOCH_SIG[start + 4 :]
    note = GO_TEXT + "\n" + PETER_SIG + bad_enoch
    with pytest.raises(InvalidSignatureError, match=r"EnochRoot\+af0cfe78"):
        open_note(note, [PETER, ENOCH])
    # With Enoch unknown, the same line is merely carried along.
    assert open_note(note, [PETER]).unknown_lines == [bad_enoch]


def test_a_signature_of_the_wrong_length_from_a_known_key_is_forgery() -> None:
    payload = base64.b64decode(PETER_SIG.rsplit(maxsplit=1)[-1])[:-1]
    line = f"— PeterNeumann {base64.b64encode(payload).decode()}\n"
    with pytest.raises(InvalidSignatureError):
        open_note(GO_TEXT + "\n" + line, [PETER])


def test_swapping_the_key_name_leaves_no_known_signature() -> None:
    renamed = GO_NOTE.replace("— PeterNeumann", "— EnochRoot")
    with pytest.raises(UnverifiedNoteError, match=r"no signature by a known key.*EnochRoot\+c74f"):
        open_note(renamed, [PETER, ENOCH])


def test_changing_the_key_hash_leaves_no_known_signature() -> None:
    tampered = GO_NOTE.replace("x08go", "xxxxx")
    with pytest.raises(UnverifiedNoteError, match="no signature by a known key"):
        open_note(tampered, [PETER])


def test_a_note_by_unknown_keys_only_is_refused() -> None:
    with pytest.raises(UnverifiedNoteError, match="known: none given"):
        open_note(GO_NOTE, [])
    with pytest.raises(UnverifiedNoteError):
        open_note(GO_NOTE, [ENOCH])


def test_ambiguous_trusted_keys_are_refused() -> None:
    # A 32-bit hash collision between two keys of one name cannot be built here, so fake one:
    # such a list means the trust configuration is wrong, and nothing is verified against it.
    impostor = Signer.generate("PeterNeumann").verifier()
    object.__setattr__(impostor, "key_hash", PETER.key_hash)
    with pytest.raises(NoteError, match="share the name and hash"):
        open_note(GO_NOTE, [PETER, impostor])


def test_the_same_verifier_twice_is_fine() -> None:
    assert open_note(GO_NOTE, [PETER, Verifier.from_key(GO_VKEY)]).verified_by == ["PeterNeumann"]


# --- malformed notes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("note", "why"),
    [
        (GO_TEXT, "no blank line"),
        (GO_TEXT + "\n", "no signature lines"),
        (GO_TEXT + "\n" + PETER_SIG[:-1], "does not end with a newline"),
        ("\x01" + GO_NOTE, "control character U\\+0001"),
        (GO_NOTE.replace("\n", "\r\n", 1), "control character U\\+000D"),
        (
            GO_TEXT
            + "\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
            "base64",
        ),
        (GO_NOTE + "Unexpected line.\n", "does not start with"),
        (GO_TEXT + "\n— PeterNeumann\n", "no space after the name"),
        (GO_TEXT + "\n— a+b AAAAAAA=\n", "contains '\\+'"),
        (GO_TEXT + "\n— PeterNeumann AAAA\n", "too short"),
        (GO_TEXT + "\n— PeterNeumann AAAAAAA\n", "not valid base64"),
        (GO_TEXT + "\n— PeterNeumann AAAAAAB=\n", "not canonical"),
        (
            GO_TEXT + "\n- PeterNeumann " + PETER_SIG.rsplit(maxsplit=1)[-1] + "\n",
            "does not start with",
        ),
        ("\ud800" + GO_NOTE, "UTF-8"),
    ],
)
def test_malformed_notes_are_refused(note: str, why: str) -> None:
    with pytest.raises(MalformedNoteError, match=why):
        open_note(note, [PETER])


def test_invalid_utf8_bytes_are_refused() -> None:
    with pytest.raises(MalformedNoteError, match="not UTF-8"):
        open_note(b"\xff" + GO_NOTE.encode(), [PETER])


def test_too_many_signatures_are_refused() -> None:
    assert open_note(GO_TEXT + "\n" + PETER_SIG * MAX_SIGNATURES, [PETER]).verified_by
    with pytest.raises(MalformedNoteError, match="more than 100 signatures"):
        open_note(GO_TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1), [PETER])


def test_notes_over_one_mebibyte_are_refused() -> None:
    signer = Signer.generate("big")
    body = ("x" * 1000 + "\n") * 1000
    assert open_note(signer.sign(body), [signer.verifier()]).body == body
    huge = ("x" * 1000 + "\n") * 1100
    with pytest.raises(MalformedNoteError, match="larger than"):
        signer.sign(huge)
    forged = huge + "\n" + PETER_SIG
    with pytest.raises(MalformedNoteError, match="larger than"):
        open_note(forged, [PETER])
    with pytest.raises(MalformedNoteError, match="larger than"):
        open_note(forged.encode(), [PETER])
    multibyte = "\u4e2d" * (MAX_NOTE_BYTES // 3) + "\n\n" + PETER_SIG  # chars < limit < bytes
    with pytest.raises(MalformedNoteError, match="larger than"):
        open_note(multibyte, [PETER])


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("no newline", "end with a newline"),
        ("", "end with a newline"),
        ("carriage\r\n", "U\\+000D"),
        ("tab\there\n", "U\\+0009"),
        ("\ud800\n", "UTF-8"),
    ],
)
def test_signing_a_bad_body_is_refused(body: str, why: str) -> None:
    with pytest.raises(MalformedNoteError, match=why):
        Signer.generate("k").sign(body)


def test_bodies_with_blank_lines_and_signature_look_alikes_round_trip() -> None:
    signer = Signer.generate("k")
    for body in ["\n", "a\n\nb\n", "a\n\n", "— k AAAA\n\n— k AAAA\n"]:
        opened = open_note(signer.sign(body), [signer.verifier()])
        assert opened.body == body


@given(
    st.text(
        st.characters(blacklist_categories=["Cs", "Cc"]) | st.just("\n"),
        max_size=200,
    )
)
def test_any_body_round_trips(text: str) -> None:
    body = text + "\n"
    signer = Signer.from_signer_key(GO_SKEY)
    opened = open_note(signer.sign(body), [PETER])
    assert opened.body == body
    assert opened.verified_by == ["PeterNeumann"]


# --- adding signatures --------------------------------------------------------------------------


def test_add_signatures_appends_cosigner_lines() -> None:
    log = Signer.from_signer_key(GO_SKEY)
    other = Signer.generate("witness.example/w1")
    note = add_signatures(log.sign(GO_TEXT), [other.signature_line(GO_TEXT)])
    assert note.startswith(GO_NOTE)
    both = open_note(note, [PETER, other.verifier()])
    assert both.verified_by == ["PeterNeumann", "witness.example/w1"]
    only_log = open_note(note, [PETER])
    assert only_log.unknown == [("witness.example/w1", other.key_hash)]
    # Unknown lines pass through unchanged to the next reader.
    assert add_signatures(GO_NOTE, only_log.unknown_lines) == note


def test_add_signatures_is_idempotent_and_refuses_conflicts() -> None:
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert add_signatures(note, [ENOCH_SIG, ENOCH_SIG.rstrip("\n")]) == note
    conflicting = parse_signature_line(ENOCH_SIG)
    conflicting = dataclasses.replace(conflicting, signature=bytes(64))
    with pytest.raises(
        NoteError, match=r"already has a different signature by EnochRoot\+af0cfe78"
    ):
        add_signatures(note, [conflicting.text])


def test_add_signatures_refuses_bad_lines_and_bad_notes() -> None:
    with pytest.raises(MalformedNoteError):
        add_signatures(GO_NOTE, ["not a signature line\n"])
    with pytest.raises(MalformedNoteError):
        add_signatures(GO_TEXT, [ENOCH_SIG])
    with pytest.raises(MalformedNoteError, match="more than 100"):
        add_signatures(
            GO_NOTE,
            [Signer.generate(f"w{i}").signature_line(GO_TEXT) for i in range(MAX_SIGNATURES)],
        )


def test_parse_signature_line() -> None:
    line = parse_signature_line(PETER_SIG)
    assert (line.name, line.key_hash, len(line.signature)) == ("PeterNeumann", 0xC74F20A3, 64)
    assert line.text == PETER_SIG
    assert parse_signature_line(PETER_SIG.rstrip("\n")) == line
