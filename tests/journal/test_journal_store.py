"""The SQLite journal: round trip, hash chain, tamper evidence, opening errors."""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interbank.engine import Command
from interbank.journal import (
    GENESIS_HASH,
    BackendNotAvailableError,
    ChainError,
    Entry,
    Head,
    JournalFormatError,
    JournalLockedError,
    JournalNotFoundError,
    JournalUnavailableError,
    entry_hash,
    next_entry,
    open_journal,
)
from interbank.node import verify

WriteJournal = Callable[..., list[str]]


def test_hash_is_sha256_of_fixed_width_fields() -> None:
    payload = b"IBB1 some packed batch"
    expected = hashlib.sha256(
        GENESIS_HASH + struct.pack("<Q", 1) + struct.pack("<Q", 1_700_000_000_000_000_000) + payload
    ).digest()
    assert entry_hash(GENESIS_HASH, 1, 1_700_000_000_000_000_000, payload) == expected
    entry = next_entry(Head.genesis(), 1_700_000_000_000_000_000, payload)
    assert entry.seq == 1 and entry.hash == expected


payloads = st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=12)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(groups=st.lists(payloads, min_size=1, max_size=5), step_ns=st.integers(1, 10**9))
def test_append_read_round_trip(tmp_path: Path, groups: list[list[bytes]], step_ns: int) -> None:
    path = str(tmp_path / f"j{abs(hash((tuple(map(tuple, groups)), step_ns)))}.db")
    journal = open_journal(path, create=True, writer=True)
    written: list[Entry] = []
    head = Head.genesis()
    try:
        for group in groups:
            entries = []
            for payload in group:
                entry = next_entry(head, head.timestamp_ns + step_ns, payload)
                entries.append(entry)
                head = Head.of(entry)
            journal.append(entries)  # one transaction per group
            written.extend(entries)
            assert journal.head() == head
        assert list(journal.read()) == written
        assert list(journal.read(2, 3)) == written[1:3]
        assert journal.entry(len(written)) == written[-1]
        assert journal.entry(len(written) + 1) is None
    finally:
        journal.close()
    reopened = open_journal(path)
    try:
        assert list(reopened.read()) == written  # durable across connections
    finally:
        reopened.close()


def test_append_must_follow_the_head(db: str) -> None:
    journal = open_journal(db, create=True, writer=True)
    try:
        first = next_entry(Head.genesis(), 10, b"a")
        journal.append([first])
        with pytest.raises(ChainError):
            journal.append([first])  # seq 1 again
        assert journal.head() == Head.of(first)  # nothing half-written
        journal.append([next_entry(Head.of(first), 11, b"b")])
        assert journal.head().seq == 2
    finally:
        journal.close()


def test_opening_errors(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.db")
    with pytest.raises(JournalNotFoundError, match="no journal"):
        open_journal(missing)
    assert not Path(missing).exists()  # refusing must not leave an empty file behind
    with pytest.raises(JournalNotFoundError, match="no directory"):
        open_journal(str(tmp_path / "nowhere" / "x.db"), create=True)
    with pytest.raises(JournalUnavailableError, match="unreachable"):
        open_journal("postgresql://user@127.0.0.1:1/interbank")  # nothing listens on port 1
    with pytest.raises(BackendNotAvailableError, match="scheme"):
        open_journal("nats://localhost/journal")
    not_sqlite = tmp_path / "text.db"
    not_sqlite.write_text("hello, I am not a database" * 100)
    with pytest.raises(JournalFormatError):
        open_journal(str(not_sqlite))
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(JournalFormatError, match="not an interbank journal"):
        open_journal(str(other))


def test_one_writer_many_readers(db: str) -> None:
    writer = open_journal(db, create=True, writer=True)
    try:
        with pytest.raises(JournalLockedError):
            open_journal(db, writer=True)
        writer.append([next_entry(Head.genesis(), 5, b"x")])
        reader = open_journal("sqlite://" + db)
        try:
            assert reader.head().seq == 1
        finally:
            reader.close()
    finally:
        writer.close()
    open_journal(db, writer=True).close()  # the lock goes with the writer


def test_sqlite_runs_wal_with_full_sync(db: str) -> None:
    journal = open_journal(db, create=True, writer=True)
    journal.close()
    connection = sqlite3.connect(db)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        connection.close()


def _tamper(db: str, sql: str, *args: object) -> None:
    connection = sqlite3.connect(db)
    try:
        connection.execute(sql, args)
        connection.commit()
    finally:
        connection.close()


def test_a_clean_journal_verifies(
    write_journal: WriteJournal, db: str, setup_commands: list[Command]
) -> None:
    digests = write_journal(entries=5)
    report = verify(db)
    assert report.ok, report.problems
    assert report.entries == 5 and report.first_broken_seq is None
    assert report.digest == digests[5] == report.recovered_digest
    assert report.commands == len(setup_commands) + 4 * 300


@pytest.mark.parametrize("seq", [1, 3, 5])
@pytest.mark.parametrize("what", ["payload", "hash", "timestamp"])
def test_tampering_is_found_at_its_seq(
    write_journal: WriteJournal, db: str, seq: int, what: str
) -> None:
    write_journal(entries=5)
    column = {"payload": "payload", "hash": "hash", "timestamp": "timestamp_ns"}[what]
    connection = sqlite3.connect(db)
    (stored,) = connection.execute(f"SELECT {column} FROM entries WHERE seq = ?", (seq,)).fetchone()
    connection.close()
    if isinstance(stored, bytes):
        at = len(stored) // 2  # the middle of the packed batch or of the hash
        changed: object = stored[:at] + bytes([stored[at] ^ 0x01]) + stored[at + 1 :]
    else:
        changed = stored + 1
    _tamper(db, f"UPDATE entries SET {column} = ? WHERE seq = ?", changed, seq)
    report = verify(db)
    assert not report.ok
    assert report.first_broken_seq == seq
    assert report.entries == seq - 1
    assert any(f"entry {seq}" in problem for problem in report.problems)


def test_a_rewritten_entry_breaks_the_next_link(write_journal: WriteJournal, db: str) -> None:
    """Rewriting an entry with a fitting new hash is found at the next entry's link."""
    write_journal(entries=5)
    journal = open_journal(db)
    second = journal.entry(2)
    first = journal.entry(1)
    journal.close()
    assert first is not None and second is not None
    at = len(second.payload) // 2
    payload = second.payload[:at] + bytes([second.payload[at] ^ 0x01]) + second.payload[at + 1 :]
    forged = next_entry(Head.of(first), second.timestamp_ns, payload)
    _tamper(
        db, "UPDATE entries SET payload = ?, hash = ? WHERE seq = 2", forged.payload, forged.hash
    )
    report = verify(db)
    assert not report.ok and report.first_broken_seq == 3


def test_a_missing_entry_is_found(write_journal: WriteJournal, db: str) -> None:
    write_journal(entries=5)
    _tamper(db, "DELETE FROM entries WHERE seq = 3")
    report = verify(db)
    assert not report.ok and report.first_broken_seq == 3
