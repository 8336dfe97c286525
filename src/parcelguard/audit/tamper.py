"""What a database administrator can do to the log, for the demo and the tests.

Rewrite one entry, recompute every subtree hash so that the log verifies internally again,
and delete the checkpoints the log already signed. Only a witness that cosigned an earlier
tree notices; that is the point this module exists to show. Nothing in the product calls it.
"""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa

from parcelguard.audit import merkle
from parcelguard.audit.entry import decode_entry, encode_entry
from parcelguard.storage.schema import (
    audit_checkpoints,
    audit_cosignatures,
    audit_entries,
    audit_nodes,
)


def rewrite_entry(
    engine: sa.Engine, index: int, *, keep_checkpoints: bool = False, **changes: str
) -> None:
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(audit_entries.c.seq, audit_entries.c.entry).order_by(audit_entries.c.seq)
        ).all()
        forged = encode_entry(replace(decode_entry(bytes(rows[index].entry)), **changes))  # type: ignore[arg-type]
        conn.execute(
            audit_entries.update().where(audit_entries.c.seq == index).values(entry=forged)
        )
        tree = merkle.MemoryHashes()
        nodes = tree.append(
            [merkle.leaf_hash(forged if r.seq == index else bytes(r.entry)) for r in rows]
        )
        conn.execute(audit_nodes.delete())
        conn.execute(
            audit_nodes.insert(), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in nodes]
        )
        if not keep_checkpoints:
            conn.execute(audit_cosignatures.delete())
            conn.execute(audit_checkpoints.delete())
