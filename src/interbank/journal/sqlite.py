"""The SQLite journal backend (the embedded default: one file, nothing else to run).

Durability: the database runs in WAL mode with ``synchronous=FULL``, so SQLite fsyncs
the write-ahead log at every commit; ``append`` returns only after that commit, so an
acknowledged command survives a process kill and a power loss (given a disk that
honours fsync). ``synchronous=NORMAL`` would be faster and is deliberately not used:
in WAL mode it can lose the last commits on power loss.

One entry is one row ``(seq, timestamp_ns, payload, hash)`` holding one packed batch,
not one row per command: a batch of 8190 transfers is one insert and one fsync.

A writer holds an exclusive ``flock`` on ``<db>-writer.lock`` for as long as it is
open, so two node processes cannot both extend the same chain. The kernel drops the
lock when the process dies, even by SIGKILL. Readers (verify, replay, followers) take
no lock and see the entries committed so far.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence

from interbank.journal.backend import (
    FORMAT_VERSION,
    HASH_BYTES,
    HASH_DESCRIPTION,
    META_FORMAT_VERSION,
    META_HASH,
    ChainError,
    Entry,
    Head,
    JournalFormatError,
    JournalLockedError,
    JournalNotFoundError,
    SnapshotInfo,
    SnapshotRecord,
    check_metadata,
)

# Big pages keep a packed batch of ~8k commands (~540 KB) in few overflow pages.
# page_size only takes effect when the file is created.
_PAGE_SIZE_BYTES = 65536
# Checkpoint the WAL into the database after this many pages (64 MiB at 64 KiB pages)
# instead of SQLite's 1000: fewer, larger checkpoints on the commit path.
_WAL_AUTOCHECKPOINT_PAGES = 1024
# SQLite refuses values longer than its compile-time SQLITE_MAX_LENGTH (1e9 bytes).
SNAPSHOT_BYTES_MAX = 1_000_000_000 - 1024
_READ_ROWS_PER_FETCH = 64

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS metadata (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS entries (
        seq INTEGER PRIMARY KEY,
        timestamp_ns INTEGER NOT NULL,
        payload BLOB NOT NULL,
        hash BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS snapshots (
        seq INTEGER PRIMARY KEY,
        digest TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        data_sha256 BLOB NOT NULL,
        data BLOB NOT NULL
    )""",
)


class SqliteJournal:
    """A journal in one SQLite file. See the module docstring for durability."""

    def __init__(self, connection: sqlite3.Connection, path: str, lock_fd: int | None) -> None:
        self._connection = connection
        self._path = path
        self._lock_fd = lock_fd
        # The connection is shared by the node's threads (whoever holds the writer
        # role appends); sqlite3 objects are not safe for concurrent use, hence a lock.
        self._lock = threading.Lock()
        self._metadata = self._read_metadata()
        check_metadata(self._metadata, path)

    # --- opening -------------------------------------------------------------------

    @staticmethod
    def open(
        path: str,
        *,
        create: bool = False,
        writer: bool = False,
        metadata: Mapping[str, str] | None = None,
    ) -> SqliteJournal:
        exists = os.path.exists(path)
        if not exists and not create:
            raise JournalNotFoundError(
                f"no journal at {path} (create one with `interbank init` or create=True)"
            )
        directory = os.path.dirname(os.path.abspath(path))
        if not exists and not os.path.isdir(directory):
            raise JournalNotFoundError(
                f"cannot create a journal at {path}: no directory {directory}"
            )
        lock_fd = _take_writer_lock(path) if writer else None
        try:
            connection = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, cached_statements=64
            )
            try:
                if not _has_metadata_table(connection):
                    if not create:
                        raise JournalFormatError(f"{path} is not an interbank journal")
                    _initialise(connection, metadata or {})
                    _sync_directory(path)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                connection.execute(f"PRAGMA wal_autocheckpoint={_WAL_AUTOCHECKPOINT_PAGES}")
                (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
                (sync,) = connection.execute("PRAGMA synchronous").fetchone()
                assert mode == "wal" and sync == 2, (mode, sync)  # 2 == FULL
                return SqliteJournal(connection, path, lock_fd)
            except BaseException:
                connection.close()
                raise
        except sqlite3.DatabaseError as error:
            _release_writer_lock(lock_fd)
            raise JournalFormatError(f"{path} is not a readable journal: {error}") from error
        except BaseException:
            _release_writer_lock(lock_fd)
            raise

    @property
    def location(self) -> str:
        return self._path

    def metadata(self) -> dict[str, str]:
        return dict(self._metadata)

    def _read_metadata(self) -> dict[str, str]:
        with self._lock:
            rows = self._connection.execute("SELECT key, value FROM metadata").fetchall()
        return {str(key): str(value) for key, value in rows}

    # --- entries -------------------------------------------------------------------

    def head(self) -> Head:
        with self._lock:
            row = self._connection.execute(
                "SELECT seq, timestamp_ns, payload, hash FROM entries ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        if row is None:
            return Head.genesis()
        return Head.of(_entry_of(row))

    def append(self, entries: Sequence[Entry]) -> None:
        assert entries, "an append carries at least one entry"
        for before, after in itertools.pairwise(entries):
            assert after.seq == before.seq + 1, "entries of one append are contiguous"
        rows = [(e.seq, e.timestamp_ns, e.payload, e.hash) for e in entries]
        with self._lock:
            connection = self._connection
            try:
                # IMMEDIATE: take the write lock at BEGIN, so a second writer fails here
                # and not halfway through the group.
                connection.execute("BEGIN IMMEDIATE")
                (seq_last,) = connection.execute(
                    "SELECT COALESCE(MAX(seq), 0) FROM entries"
                ).fetchone()
                if seq_last + 1 != entries[0].seq:
                    raise ChainError(entries[0].seq, f"append after {seq_last}: not the head")
                connection.executemany(
                    "INSERT INTO entries (seq, timestamp_ns, payload, hash) VALUES (?, ?, ?, ?)",
                    rows,
                )
                connection.execute("COMMIT")  # with synchronous=FULL: the WAL is fsynced here
            except BaseException:
                # Leave no transaction open: head() must report what is really committed.
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    def read(self, seq_first: int = 1, seq_last: int | None = None) -> Iterator[Entry]:
        assert seq_first >= 1
        seq_stop = (2**63 - 1) if seq_last is None else seq_last
        # Its own cursor per call, fetched in slices, so a long replay does not hold
        # all payloads in memory; the lock is held per slice only.
        with self._lock:
            cursor = self._connection.execute(
                "SELECT seq, timestamp_ns, payload, hash FROM entries"
                " WHERE seq >= ? AND seq <= ? ORDER BY seq",
                (seq_first, seq_stop),
            )
        try:
            while True:
                with self._lock:
                    rows = cursor.fetchmany(_READ_ROWS_PER_FETCH)
                if not rows:
                    return
                for row in rows:
                    yield _entry_of(row)
        finally:
            cursor.close()

    def entry(self, seq: int) -> Entry | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT seq, timestamp_ns, payload, hash FROM entries WHERE seq = ?", (seq,)
            ).fetchone()
        return None if row is None else _entry_of(row)

    # --- snapshots -----------------------------------------------------------------

    def save_snapshot(self, record: SnapshotRecord, snapshots_kept_max: int) -> None:
        assert snapshots_kept_max >= 1
        if len(record.data) > SNAPSHOT_BYTES_MAX:
            raise ValueError(
                f"snapshot of {len(record.data)} bytes is over SQLite's value limit "
                f"({SNAPSHOT_BYTES_MAX} bytes)"
            )
        with self._lock:
            connection = self._connection
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    "INSERT OR REPLACE INTO snapshots (seq, digest, size_bytes, data_sha256, data)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (record.seq, record.digest, len(record.data), record.data_sha256, record.data),
                )
                connection.execute(
                    "DELETE FROM snapshots WHERE seq NOT IN"
                    " (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)",
                    (snapshots_kept_max,),
                )
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    def snapshots(self) -> list[SnapshotInfo]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT seq, digest, size_bytes FROM snapshots ORDER BY seq DESC"
            ).fetchall()
        return [SnapshotInfo(int(seq), str(digest), int(size)) for seq, digest, size in rows]

    def load_snapshot(self, seq: int) -> SnapshotRecord | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT seq, digest, data_sha256, data FROM snapshots WHERE seq = ?", (seq,)
            ).fetchone()
        if row is None:
            return None
        seq_stored, digest, data_sha256, data = row
        if not isinstance(data, bytes) or not isinstance(data_sha256, bytes):
            return None  # damaged beyond reading: treated like a missing snapshot
        if len(data_sha256) != HASH_BYTES or int(seq_stored) < 1:
            return None
        return SnapshotRecord(int(seq_stored), str(digest), data, data_sha256)

    def close(self) -> None:
        with self._lock:
            self._connection.close()
        _release_writer_lock(self._lock_fd)
        self._lock_fd = None


def _entry_of(row: tuple[object, ...]) -> Entry:
    """An Entry from a row, or ChainError when the row was mangled outside interbank."""
    seq, timestamp_ns, payload, entry_hash = row
    assert isinstance(seq, int)
    if not isinstance(payload, bytes) or not isinstance(entry_hash, bytes):
        raise ChainError(seq, "the payload or hash is not stored as a blob")
    if len(entry_hash) != HASH_BYTES:
        raise ChainError(seq, f"the stored hash has {len(entry_hash)} bytes, not {HASH_BYTES}")
    if not isinstance(timestamp_ns, int) or timestamp_ns < 1:
        raise ChainError(seq, "the timestamp is not a positive integer")
    return Entry(seq, timestamp_ns, payload, entry_hash)


def _has_metadata_table(connection: sqlite3.Connection) -> bool:
    row = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'metadata'"
    ).fetchone()
    return row is not None


def _initialise(connection: sqlite3.Connection, metadata: Mapping[str, str]) -> None:
    """Create the tables and write the metadata, all in one transaction."""
    assert META_FORMAT_VERSION not in metadata and META_HASH not in metadata
    connection.execute(f"PRAGMA page_size={_PAGE_SIZE_BYTES}")
    connection.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA:
            connection.execute(statement)
        values = {META_FORMAT_VERSION: str(FORMAT_VERSION), META_HASH: HASH_DESCRIPTION}
        values.update(metadata)
        connection.executemany(
            "INSERT INTO metadata (key, value) VALUES (?, ?)", sorted(values.items())
        )
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _sync_directory(path: str) -> None:
    """fsync the directory so a just-created journal file survives a power loss."""
    directory = os.path.dirname(os.path.abspath(path))
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _take_writer_lock(path: str) -> int:
    fd = os.open(path + "-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalLockedError(
            f"{path} is open for writing by another process (a node is running on it)"
        ) from None
    return fd


def _release_writer_lock(lock_fd: int | None) -> None:
    if lock_fd is not None:
        os.close(lock_fd)  # closing the descriptor drops the flock
