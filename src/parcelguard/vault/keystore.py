"""Data keys and the blind-index key in the database, always wrapped by the KEK.

Nonce accounting happens here: before any field is sealed, the encryptions it will spend are
reserved on its data key in the same transaction as the rows, so a crash or a rollback can
only over-count, never under-count. A key whose budget is spent is never used again and a
fresh key for the same day takes over (rotation within a day).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from parcelguard.core.errors import KeyError_
from parcelguard.storage.schema import data_keys, index_keys, shred_events
from parcelguard.vault.fields import data_key_context, index_key_context
from parcelguard.vault.keys import KeyProvider, new_key

BLIND_INDEX = "blind_index"


@dataclass(frozen=True, slots=True)
class Reservation:
    """``count`` encryptions granted on ``key_id``; ``wrapped`` is its wrapped material."""

    key_id: str
    wrapped: bytes
    count: int


def ensure_index_key(conn: sa.Connection, provider: KeyProvider, now: datetime) -> bool:
    """Create the blind-index key if the store has none; True if it was created."""
    exists = conn.execute(
        sa.select(index_keys.c.key_id).where(index_keys.c.purpose == BLIND_INDEX)
    ).first()
    if exists is not None:
        return False
    key_id = "ik-" + secrets.token_hex(8)
    conn.execute(
        index_keys.insert().values(
            purpose=BLIND_INDEX,
            key_id=key_id,
            kek_id=provider.kek_id,
            wrapped_key=provider.wrap(new_key(), index_key_context(key_id)),
            created_at=now,
        )
    )
    return True


def load_index_key(conn: sa.Connection, provider: KeyProvider) -> bytes:
    row = conn.execute(
        sa.select(index_keys.c.key_id, index_keys.c.wrapped_key).where(
            index_keys.c.purpose == BLIND_INDEX
        )
    ).first()
    if row is None:
        raise KeyError_("the store has no blind-index key (run `parcelguard init`)")
    return provider.unwrap(row.wrapped_key, index_key_context(row.key_id))


def reserve(
    conn: sa.Connection,
    provider: KeyProvider,
    day: date,
    encryptions: int,
    budget: int,
    now: datetime,
    unit: int = 1,
) -> list[Reservation]:
    """Reserve ``encryptions`` nonces for ``day``, rotating to new keys as budgets run out.

    Grants come in whole ``unit``s (the encryptions of one waybill), so no waybill is split
    across two keys; a key with less than a unit left is retired.
    """
    if budget < unit or encryptions % unit:
        raise ValueError("the nonce budget must hold at least one unit, and requests whole units")
    grants: list[Reservation] = []
    remaining = encryptions
    while remaining > 0:
        current = conn.execute(
            sa.select(data_keys.c.key_id, data_keys.c.wrapped_key, data_keys.c.encryptions)
            .where(
                data_keys.c.key_day == day,
                data_keys.c.destroyed_at.is_(None),
                data_keys.c.encryptions + unit <= budget,
            )
            .order_by(data_keys.c.created_at.desc(), data_keys.c.key_id)
            .limit(1)
        ).first()
        if current is None:
            key_id, wrapped, used = _create_data_key(conn, provider, day, now), None, 0
        else:
            key_id, wrapped, used = current.key_id, current.wrapped_key, current.encryptions
        take = min(remaining, (budget - used) // unit * unit)
        updated = conn.execute(
            data_keys.update()
            .where(data_keys.c.key_id == key_id, data_keys.c.encryptions + take <= budget)
            .values(encryptions=data_keys.c.encryptions + take)
            .returning(data_keys.c.wrapped_key)
        ).first()
        if updated is None:  # a concurrent writer spent it first; look again
            continue
        grants.append(Reservation(key_id, wrapped or updated.wrapped_key, take))
        remaining -= take
    return grants


def _create_data_key(conn: sa.Connection, provider: KeyProvider, day: date, now: datetime) -> str:
    key_id = f"dk-{day:%Y%m%d}-{secrets.token_hex(6)}"
    conn.execute(
        data_keys.insert().values(
            key_id=key_id,
            key_day=day,
            kek_id=provider.kek_id,
            wrapped_key=provider.wrap(new_key(), data_key_context(key_id)),
            encryptions=0,
            created_at=now,
        )
    )
    return key_id


def shred_horizon(conn: sa.Connection) -> date | None:
    """The latest ``--before`` ever shredded: no day before it may hold data again."""
    horizon: date | None = conn.execute(sa.select(sa.func.max(shred_events.c.before_day))).scalar()
    return horizon


def destroy_before(conn: sa.Connection, before: date, now: datetime) -> list[str]:
    """Destroy every live data key of a day before ``before``; returns their ids."""
    ids = [
        row.key_id
        for row in conn.execute(
            sa.select(data_keys.c.key_id).where(
                data_keys.c.key_day < before, data_keys.c.destroyed_at.is_(None)
            )
        )
    ]
    if ids:
        conn.execute(
            data_keys.update()
            .where(data_keys.c.key_id.in_(ids))
            .values(wrapped_key=None, destroyed_at=now)
        )
    return ids
