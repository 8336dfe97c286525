"""The JSON shape of heads and proofs, shared by the command line and the HTTP API.

Hashes as hex, the entry's exact bytes as base64: the contract of issue 5's commands, so an
investigator's script reads ``parcelguard audit prove --json`` and ``GET /v1/audit/proof``
alike.
"""

from __future__ import annotations

import base64


def hexed(result: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in result.items():
        if key == "entry" and isinstance(value, bytes):
            out[key] = base64.b64encode(value).decode("ascii")
        elif isinstance(value, bytes):
            out[key] = value.hex()
        elif isinstance(value, list):
            out[key] = [v.hex() if isinstance(v, bytes) else v for v in value]
        else:
            out[key] = value
    return out
