"""Group commit: concurrent callers share transactions; each gets its own durable index."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from parcelguard.admin import open_audit_log
from parcelguard.audit.entry import decode_entry
from parcelguard.audit.group_commit import GroupCommitter
from parcelguard.config import Settings
from parcelguard.core.errors import BadInput, StoreUnavailable
from tests.audit.test_log import entries


def test_concurrent_appends_share_transactions(settings: Settings) -> None:
    log = open_audit_log(settings)
    batch = entries(400)
    with GroupCommitter(log) as committer, ThreadPoolExecutor(16) as pool:
        indices = list(pool.map(committer.append, batch))
        batches = committer.batches
    assert sorted(indices) == list(range(400))
    assert batches < 400  # callers were grouped
    for entry, index in zip(batch, indices, strict=True):
        assert decode_entry(log.entry(index)).waybill_no == entry.waybill_no
    assert log.verify().ok


def test_a_bad_entry_is_refused_to_its_own_caller_alone(settings: Settings) -> None:
    log = open_audit_log(settings)
    bad = entries(1)[0].__class__(0, 0, actor="E1", action="reveal", waybill_no="13812345678")
    with GroupCommitter(log) as committer:
        pending = [committer.submit(entry) for entry in entries(20)]
        with pytest.raises(BadInput, match="looks like a phone number"):
            committer.submit(bad)
        pending += [committer.submit(entry) for entry in entries(20, offset=20)]
        assert sorted(done.result(timeout=30) for done in pending) == list(range(40))
    assert log.head().tree_size == 40
    assert log.verify().ok


def test_a_failed_transaction_fails_every_caller_in_it(settings: Settings) -> None:
    log = open_audit_log(settings)
    if log.engine.dialect.name != "sqlite":
        pytest.skip("the size-limited store is an SQLite file")
    log.append(entries(10))

    @sa.event.listens_for(log.engine, "connect")
    def _limit(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    log.engine.dispose()
    with GroupCommitter(log) as committer:
        pending = [committer.submit(entry) for entry in entries(3_000, offset=10)]
        for done in pending:
            with pytest.raises(StoreUnavailable, match="is full"):
                done.result(timeout=30)
    log.engine.dispose()
    sa.event.remove(log.engine, "connect", _limit)
    assert log.head().tree_size == 10
    assert log.verify().ok


def test_appenders_in_separate_connections_take_turns(settings: Settings) -> None:
    """Two servers (or a server and the CLI) appending to one store never collide."""

    logs = [open_audit_log(settings) for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: logs[i % 4].append(entries(5, offset=i * 5)), range(40)))
    assert sorted(index for batch in results for index in batch) == list(range(200))
    assert open_audit_log(settings).verify().ok
    for log in logs:
        log.engine.dispose()
