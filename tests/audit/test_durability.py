"""Durability: an acknowledged append survives kill -9; a full disk writes nothing partial."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import sqlalchemy as sa

from parcelguard.admin import open_audit_log
from parcelguard.config import Settings
from parcelguard.core.errors import StoreUnavailable
from tests.audit.test_log import entries

WRITER = textwrap.dedent(
    """
    import sys
    from parcelguard.admin import open_audit_log
    from parcelguard.config import Settings
    from tests.audit.test_log import entries

    log = open_audit_log(Settings.from_env())
    offset = 0
    while True:
        indices = log.append(entries(7, offset=offset))
        offset += 7
        print(indices[-1], flush=True)  # acknowledged: the transaction has committed
    """
)


def test_acknowledged_entries_survive_kill_9(env: dict[str, str], settings: Settings) -> None:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER],
        env={**os.environ, **env, "PYTHONPATH": root},
        stdout=subprocess.PIPE,
        text=True,
    )
    acknowledged = -1
    deadline = time.monotonic() + 60
    assert writer.stdout is not None
    while acknowledged < 300 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        acknowledged = int(line)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert acknowledged >= 300, "the writer did not get going"
    log = open_audit_log(settings)
    result = log.verify()
    assert result.ok, result
    assert result.tree_size > acknowledged  # every acknowledged entry is there
    assert result.tree_size % 7 == 0  # and no batch was half-written


def test_a_full_disk_fails_clearly_and_writes_nothing(settings: Settings) -> None:
    log = open_audit_log(settings)
    if log.engine.dialect.name != "sqlite":
        pytest.skip("the size-limited store is an SQLite file")
    log.append(entries(10))

    @sa.event.listens_for(log.engine, "connect")
    def _limit(dbapi_connection, _record) -> None:  # the file may not grow any further
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    log.engine.dispose()
    with pytest.raises(StoreUnavailable, match="is full"):
        log.append(entries(5_000, offset=10))
    log.engine.dispose()
    sa.event.remove(log.engine, "connect", _limit)
    result = log.verify()
    assert result.ok
    assert result.tree_size == 10
