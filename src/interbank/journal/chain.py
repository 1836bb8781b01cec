"""The hash chain: what makes a journal tamper-evident.

``hash = sha256(prev_hash || seq || timestamp_ns || payload)`` with ``prev_hash`` 32
bytes (32 zero bytes before the first entry), ``seq`` and ``timestamp_ns`` as unsigned
64-bit little-endian integers, and the payload (a packed batch) as it is stored. The
widths are fixed, so no two different (seq, timestamp, payload) triples hash the same
input. Changing any byte of an entry changes its hash and so every hash after it.
"""

from __future__ import annotations

import hashlib
import struct

from interbank.journal.backend import HASH_BYTES, ChainError, Entry, Head

_PREFIX = struct.Struct("<32sQQ")  # prev_hash, seq, timestamp_ns
_U64_MAX = 2**64 - 1


def entry_hash(prev_hash: bytes, seq: int, timestamp_ns: int, payload: bytes) -> bytes:
    assert len(prev_hash) == HASH_BYTES
    assert 1 <= seq <= _U64_MAX and 1 <= timestamp_ns <= _U64_MAX
    hasher = hashlib.sha256(_PREFIX.pack(prev_hash, seq, timestamp_ns))
    hasher.update(payload)
    return hasher.digest()


def next_entry(head: Head, timestamp_ns: int, payload: bytes) -> Entry:
    """The entry that follows ``head``. Timestamps rise strictly along the chain."""
    assert timestamp_ns > head.timestamp_ns, (timestamp_ns, head.timestamp_ns)
    seq = head.seq + 1
    return Entry(seq, timestamp_ns, payload, entry_hash(head.hash, seq, timestamp_ns, payload))


def check_link(head: Head, entry: Entry) -> None:
    """Raise ChainError unless ``entry`` is the valid successor of ``head``."""
    if entry.seq != head.seq + 1:
        raise ChainError(head.seq + 1, f"missing: the next entry found is {entry.seq}")
    if entry.hash != entry_hash(head.hash, entry.seq, entry.timestamp_ns, entry.payload):
        raise ChainError(entry.seq, "the stored hash does not match the entry's content")
    if entry.timestamp_ns <= head.timestamp_ns:
        raise ChainError(entry.seq, "the timestamp does not rise after the previous entry")
