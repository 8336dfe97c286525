"""ParcelGuard: recipient data behind one audited door.

The public API grows one capability at a time; see ``docs/`` for what each part promises.
"""

__version__ = "0.1.0"
