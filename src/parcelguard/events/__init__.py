"""The event exchange format: the one module that reads, writes and validates it.

The simulator writes worlds with :func:`write_folder`, detection and evaluation read them
with :func:`read_folder`, and :func:`validate_folder` tells a carrier what is wrong with
an export before anything else reads it. :data:`TABLES` is the format itself, as data.
"""

from parcelguard.events.io import read_folder, write_folder, write_folder_chunks
from parcelguard.events.schema import EVENT_TABLES, TABLES
from parcelguard.events.validate import validate_folder

__all__ = [
    "EVENT_TABLES",
    "TABLES",
    "read_folder",
    "validate_folder",
    "write_folder",
    "write_folder_chunks",
]
