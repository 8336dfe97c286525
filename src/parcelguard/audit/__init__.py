"""The tamper-evident audit log: an append-only Merkle tree (RFC 9162) over audit entries.

Every reveal of recipient data leaves an entry, and the log's signed roots let anyone outside
the carrier check that no entry was later altered or dropped. :mod:`parcelguard.audit.merkle`
is the pure tree arithmetic; it reads stored subtree hashes through a small protocol so the
log never rebuilds its tree and a proof costs one batched read of O(log n) hashes.
"""
