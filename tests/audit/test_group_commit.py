"""Group commit: concurrent callers share transactions; each gets its own durable index."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from parcelguard.admin import open_audit_log
from parcelguard.audit.entry import decode_entry
from parcelguard.audit.group_commit import GroupCommitter
from parcelguard.config import Settings
from parcelguard.core.errors import BadInput
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


def test_a_failed_transaction_fails_every_caller_in_it(settings: Settings) -> None:
    log = open_audit_log(settings)
    bad = entries(1)[0].__class__(0, 0, actor="E1", action="reveal", waybill_no="13812345678")
    with GroupCommitter(log) as committer:
        with pytest.raises(BadInput, match="looks like a phone number"):
            committer.append(bad)
        assert committer.append(entries(1)[0]) == 0  # the committer keeps working
    assert log.head().tree_size == 1
