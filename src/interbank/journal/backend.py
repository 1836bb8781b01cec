"""The journal's records, its storage interface and its errors.

A journal is an ordered list of entries; one entry is one packed command batch
(``Batch.pack()``) with the sequence number and the timestamp the writer stamped on
it, chained to the entry before it by a SHA-256 hash (see ``chain.py``). Snapshots of
the engine state are stored beside the entries so that recovery does not replay from
the first entry. ``JournalBackend`` is what a storage engine must provide: SQLite
(``sqlite.py``), the embedded default, and PostgreSQL (``postgres.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

# The on-disk format of the journal itself (tables, hash encoding, entry = packed
# batch). A node refuses a journal with another version instead of misreading it.
FORMAT_VERSION = 1

HASH_BYTES = 32
GENESIS_HASH = bytes(HASH_BYTES)  # prev_hash of the first entry

# Metadata keys written once, when the journal is created.
META_FORMAT_VERSION = "format_version"
META_ENGINE_SETTINGS = "engine_settings"  # JSON: replay must use the settings the writer used
META_HASH = "hash"
HASH_DESCRIPTION = "sha256(prev_hash[32] || seq u64le || timestamp_ns u64le || payload)"


class JournalError(Exception):
    """Base of the journal's errors; the message is meant for an operator."""


class JournalNotFoundError(JournalError):
    """The journal does not exist and the caller did not ask to create it."""


class JournalFormatError(JournalError):
    """The file or database is not a journal of a version this code can read."""


class BackendNotAvailableError(JournalError):
    """The database URL names a backend that this version does not have yet."""


class JournalLockedError(JournalError):
    """Another writer (another node process) holds this journal."""


class JournalUnavailableError(JournalError):
    """The journal's database cannot be reached now (a server backend lost its
    connection, or cannot connect). Transient: the same call may work once the database
    answers again. An append that fails so may or may not have committed; the head tells.
    """


class JournalNotDurableError(JournalError):
    """The database is set up so that a commit would not survive a crash (fsync off)."""


class ChainError(JournalError):
    """The hash chain does not hold from ``seq`` on: the journal was damaged or altered."""

    def __init__(self, seq: int, text: str) -> None:
        super().__init__(f"journal entry {seq}: {text}")
        self.seq = seq
        self.text = text


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal entry: a packed batch with its place in the chain."""

    seq: int
    timestamp_ns: int
    payload: bytes
    hash: bytes

    def __post_init__(self) -> None:
        assert self.seq >= 1, self.seq
        assert self.timestamp_ns >= 1, self.timestamp_ns
        assert len(self.hash) == HASH_BYTES


@dataclass(frozen=True, slots=True)
class Head:
    """The last entry's place in the chain; ``Head.genesis()`` before the first entry."""

    seq: int
    hash: bytes
    timestamp_ns: int

    def __post_init__(self) -> None:
        assert self.seq >= 0 and self.timestamp_ns >= 0
        assert len(self.hash) == HASH_BYTES
        assert self.seq > 0 or (self.hash == GENESIS_HASH and self.timestamp_ns == 0)

    @staticmethod
    def genesis() -> Head:
        return Head(0, GENESIS_HASH, 0)

    @staticmethod
    def of(entry: Entry) -> Head:
        return Head(entry.seq, entry.hash, entry.timestamp_ns)

    @property
    def hash_hex(self) -> str:
        return self.hash.hex()


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """What is known about a stored snapshot without loading its bytes."""

    seq: int  # the state after applying entries 1..seq
    digest: str  # Engine.digest() of that state, hex
    size_bytes: int


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    """A stored snapshot: ``Engine.snapshot()`` bytes with the seq and digest they cover.

    ``data_sha256`` guards the bytes themselves: a damaged blob is skipped before it
    is handed to ``Engine.restore`` at all.
    """

    seq: int
    digest: str
    data: bytes
    data_sha256: bytes

    def __post_init__(self) -> None:
        assert self.seq >= 1, self.seq
        assert len(self.data_sha256) == HASH_BYTES

    @staticmethod
    def of(seq: int, digest: str, data: bytes) -> SnapshotRecord:
        return SnapshotRecord(seq, digest, data, hashlib.sha256(data).digest())

    @property
    def intact(self) -> bool:
        return hashlib.sha256(self.data).digest() == self.data_sha256


class JournalBackend(Protocol):
    """Storage for one journal. One writer at a time; any number of readers.

    ``append`` is the only operation on the hot path: it stores a group of entries in
    ONE transaction and returns only when they are durable (they survive a power loss).
    Entries are never changed or deleted once appended.
    """

    @property
    def location(self) -> str:
        """Where the journal lives (a path or a URL without credentials), for messages."""
        ...

    def metadata(self) -> dict[str, str]:
        """The values written when the journal was created (format version, settings)."""
        ...

    def head(self) -> Head:
        """The last entry's seq, hash and timestamp (``Head.genesis()`` when empty)."""
        ...

    def append(self, entries: Sequence[Entry]) -> None:
        """Store ``entries`` (contiguous seqs following the head) in one durable transaction."""
        ...

    def read(self, seq_first: int = 1, seq_last: int | None = None) -> Iterator[Entry]:
        """Entries with seq from ``seq_first`` to ``seq_last`` (inclusive), in order."""
        ...

    def entry(self, seq: int) -> Entry | None: ...

    def save_snapshot(self, record: SnapshotRecord, snapshots_kept_max: int) -> None:
        """Store a snapshot durably, then drop all but the newest ``snapshots_kept_max``."""
        ...

    def snapshots(self) -> list[SnapshotInfo]:
        """The stored snapshots, newest first."""
        ...

    def load_snapshot(self, seq: int) -> SnapshotRecord | None: ...

    def close(self) -> None: ...


def check_metadata(metadata: Mapping[str, str], location: str) -> None:
    """Refuse a journal this code cannot read (JournalFormatError)."""
    version = metadata.get(META_FORMAT_VERSION)
    if version is None:
        raise JournalFormatError(f"{location} is not an interbank journal (no format version)")
    if version != str(FORMAT_VERSION):
        raise JournalFormatError(
            f"{location} has journal format version {version}; this version of interbank "
            f"reads version {FORMAT_VERSION}"
        )
