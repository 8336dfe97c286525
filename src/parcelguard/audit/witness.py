"""The witness: a separate process, with its own key and its own small store, that cosigns
each new checkpoint only if it is consistent with the last one it cosigned.

A database administrator who rewrites history (even recomputing every hash so that the log
verifies internally) cannot make the new tree consistent with a root the witness already
cosigned: the witness raises an alarm on a fork or a rollback and cosigns nothing. Its state
is one JSON file written atomically; its key is a file of its own (mode 0600).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parcelguard.audit import merkle
from parcelguard.audit.checkpoint import Checkpoint, CheckpointError, Cosigner, open_checkpoint
from parcelguard.audit.note import NoteError, Verifier
from parcelguard.core.errors import KeyError_, ParcelGuardError
from parcelguard.vault.keys import read_secret_text, write_secret_text

_KEY_PREFIX = "PARCELGUARD+WITNESS+"


class WitnessAlarm(ParcelGuardError):
    """The log showed the witness a history that contradicts what it cosigned."""

    code = "witness_alarm"


@dataclass(frozen=True, slots=True)
class Outcome:
    action: str  # "cosigned", "unchanged" or "alarm"
    tree_size: int
    reason: str
    cosignature: str | None = None


class Witness:
    def __init__(self, home: Path, name: str, log_key: str, origin: str) -> None:
        self.home = home
        self.log_verifier = Verifier.from_key(log_key)
        self.origin = origin
        key_file = home / "witness.key"
        if not key_file.exists():
            seed = Ed25519PrivateKey.generate().private_bytes_raw()
            write_secret_text(key_file, _KEY_PREFIX + name + "+" + base64.b64encode(seed).decode())
        text = read_secret_text(key_file)
        if not text.startswith(_KEY_PREFIX):
            raise KeyError_(f"key file {key_file}: not a witness key")
        key_name, _, seed_b64 = text[len(_KEY_PREFIX) :].partition("+")  # names hold no "+"
        private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed_b64))
        self.cosigner = Cosigner(private, key_name)
        self.state_file = home / "state.json"

    def _state(self) -> dict[str, object] | None:
        if not self.state_file.exists():
            return None
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
            int(str(state["tree_size"]))
            bytes.fromhex(str(state["root_hash"]))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            # Never start over silently: that would let a rewritten history be cosigned.
            raise WitnessAlarm(
                f"{self.state_file}: unreadable witness state; restore it from a backup"
            ) from None
        return dict(state)

    def _save(self, state: dict[str, object]) -> None:
        tmp = self.state_file.with_name(f".state.{secrets.token_hex(6)}.tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.state_file)

    def observe(self, note: str, proof: list[bytes] | None, now: int) -> Outcome:
        """Check ``note`` (the log's newest checkpoint) against the last one cosigned.

        ``proof`` is the log's consistency proof from the last cosigned size to the new one
        (None for the first checkpoint the witness ever sees).
        """
        try:
            checkpoint, _ = open_checkpoint(note, self.log_verifier, origin=self.origin)
        except (NoteError, CheckpointError) as exc:
            raise WitnessAlarm(f"the log's checkpoint does not verify: {exc}") from None
        state = self._state()
        if state is not None:
            last_size = int(str(state["tree_size"]))
            last_root = bytes.fromhex(str(state["root_hash"]))
            self._check(last_size, last_root, checkpoint, proof or [])
            if checkpoint.size == last_size:
                return Outcome("unchanged", last_size, "no new entries")
        line = self.cosigner.cosign(checkpoint, now)
        self._save(
            {
                "tree_size": checkpoint.size,
                "root_hash": checkpoint.root_hash.hex(),
                "checkpoint": note,
                "cosignature": line,
            }
        )
        return Outcome("cosigned", checkpoint.size, "consistent with the last cosigned tree", line)

    def _check(self, last_size: int, last_root: bytes, new: Checkpoint, proof: list[bytes]) -> None:
        if new.size < last_size:
            raise WitnessAlarm(
                f"rollback: the log shows {new.size} entries, the witness cosigned {last_size}"
            )
        if new.size == last_size:
            if new.root_hash != last_root:
                raise WitnessAlarm(f"fork: two different roots for tree size {last_size}")
            return
        if last_size and not merkle.verify_consistency(
            last_size, new.size, last_root, new.root_hash, proof
        ):
            raise WitnessAlarm(
                f"fork: the tree of {new.size} entries does not extend the cosigned tree of "
                f"{last_size} (history before index {last_size} was rewritten)"
            )

    def last_size(self) -> int:
        state = self._state()
        return 0 if state is None else int(str(state["tree_size"]))
