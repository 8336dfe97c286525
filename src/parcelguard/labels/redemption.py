"""Replay protection: a label token belongs to the first registered device that redeems it.

A photo of a label is a copy of its token. Binding the token on first redemption means the
copy is useless on any other handheld: the courier who holds the parcel scans it first, and
a colleague (or a buyer) scanning a photo later is refused with
``token_replayed_other_device``. The same device may redeem again, because couriers rescan.

Only registered, unrevoked devices can bind a token; otherwise anyone able to send one
request could bind every token in sight to a throwaway device and lock the couriers out.

The binding is one statement, ``INSERT ... ON CONFLICT DO NOTHING``, followed by a read of
the row in the same transaction. On SQLite the transaction holds the write lock from its
start; on PostgreSQL a concurrent insert of the same key waits for the first transaction and
then does nothing, and the read (a new snapshot under READ COMMITTED) sees the winner. Either
way exactly one device wins a race, and the loser is told so.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from parcelguard.labels.token import Reason, TokenClaims, TokenRejected
from parcelguard.storage import begin_write
from parcelguard.storage.schema import devices, label_token_redemptions

_MAX_DEVICE_ID = 64  # the width of ``devices.device_id``


def redeem(engine: Engine, claims: TokenClaims, device_id: str, now: datetime) -> None:
    """Bind the token to ``device_id`` on first use; refuse any other device afterwards.

    ``claims`` come from :meth:`LabelTokens.open`, which has already judged the token's
    authenticity and time. Raises :class:`TokenRejected` with ``device_not_registered``,
    ``device_revoked`` or ``token_replayed_other_device``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if not device_id or len(device_id) > _MAX_DEVICE_ID:
        raise TokenRejected(Reason.DEVICE_NOT_REGISTERED, "device id: not a registered device")
    with begin_write(engine) as conn:
        _check_device(conn, device_id, now)
        conn.execute(
            _insert_ignoring_conflict(conn).values(
                token_id=claims.token_id, device_id=device_id, first_redeemed_at=now
            )
        )
        bound = conn.execute(
            sa.select(label_token_redemptions.c.device_id).where(
                label_token_redemptions.c.token_id == claims.token_id
            )
        ).scalar_one()
    if bound != device_id:
        raise TokenRejected(
            Reason.REPLAYED_OTHER_DEVICE,
            f"label token of waybill {claims.waybill_no}: already redeemed by another device",
        )


def _check_device(conn: sa.Connection, device_id: str, now: datetime) -> None:
    row = conn.execute(
        sa.select(devices.c.revoked_at).where(devices.c.device_id == device_id)
    ).first()
    if row is None:
        raise TokenRejected(Reason.DEVICE_NOT_REGISTERED, f"device {device_id}: not registered")
    if row.revoked_at is not None and row.revoked_at <= now:
        raise TokenRejected(Reason.DEVICE_REVOKED, f"device {device_id}: revoked")


def _insert_ignoring_conflict(conn: sa.Connection) -> sa.Insert:
    table = label_token_redemptions
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["token_id"])
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=["token_id"])
    raise NotImplementedError(f"label redemption on {conn.dialect.name}")
