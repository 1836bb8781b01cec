"""Snapshots: recovery from a snapshot equals a full replay; bad snapshots are skipped."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from interbank.journal import open_journal
from interbank.node import Node, NodeSettings, replay, verify

WriteJournal = Callable[..., list[str]]
EVERY_TWO_ENTRIES = NodeSettings(
    snapshot_every_commands=500, snapshots_kept_max=3, snapshot_on_close=False
)


def _snapshot_seqs(db: str) -> list[int]:
    journal = open_journal(db)
    try:
        return [info.seq for info in journal.snapshots()]
    finally:
        journal.close()


def _damage_snapshot(db: str, seq: int, sql: str, *args: object) -> None:
    connection = sqlite3.connect(db)
    try:
        connection.execute(sql + " WHERE seq = ?", (*args, seq))
        connection.commit()
    finally:
        connection.close()


def test_recovery_from_snapshot_equals_full_replay(write_journal: WriteJournal, db: str) -> None:
    digests = write_journal(entries=9, rows=300, settings=EVERY_TWO_ENTRIES)
    seqs = _snapshot_seqs(db)
    assert len(seqs) == 3 and seqs == sorted(seqs, reverse=True)  # older ones were dropped
    full, full_stats = replay(db)
    recovered, recovered_stats = replay(db, from_snapshot=True)
    assert full.digest() == recovered.digest() == digests[9]
    assert recovered_stats.snapshot_seq == seqs[0]
    assert recovered_stats.entries == 9 - seqs[0] < full_stats.entries == 9
    report = verify(db)
    assert report.ok, report.problems
    assert report.snapshot_seq == seqs[0] and report.recovered_digest == report.digest
    with Node.open(db) as node:
        assert node.recovery.snapshot_seq == seqs[0]
        assert node.engine.digest() == digests[9]


def test_replay_up_to_a_seq(write_journal: WriteJournal, db: str) -> None:
    digests = write_journal(entries=7, settings=EVERY_TWO_ENTRIES)
    for seq in range(8):
        engine, stats = replay(db, seq_last=seq)
        assert engine.digest() == digests[seq] and stats.seq_last == seq
        engine, _ = replay(db, seq_last=seq, from_snapshot=True)
        assert engine.digest() == digests[seq]


def test_a_damaged_snapshot_is_skipped(write_journal: WriteJournal, db: str) -> None:
    digests = write_journal(entries=9, settings=EVERY_TWO_ENTRIES)
    newest, older, _ = _snapshot_seqs(db)
    _damage_snapshot(db, newest, "UPDATE snapshots SET data = substr(data, 1, length(data) - 1)")
    report = verify(db)
    assert not report.ok  # the damage is reported, although the state is intact
    assert report.first_broken_seq is None and report.digest == report.recovered_digest
    assert report.snapshot_seq == older
    assert any(f"snapshot at seq {newest}" in problem for problem in report.problems)
    with Node.open(db) as node:
        assert node.recovery.snapshot_seq == older  # fell back one
        assert node.engine.digest() == digests[9]
        assert any("checksum" in reason for reason in node.recovery.snapshots_skipped)
    # The clean close wrote a fresh snapshot at the head in place of the damaged one.
    assert verify(db).ok


def test_a_consistent_but_misplaced_snapshot_is_skipped(
    write_journal: WriteJournal, db: str
) -> None:
    """Data, checksum and digest of an older snapshot moved to a newer seq: refused."""
    digests = write_journal(entries=9, settings=EVERY_TWO_ENTRIES)
    newest, older, oldest = _snapshot_seqs(db)
    _damage_snapshot(db, oldest, "UPDATE snapshots SET seq = ?", 100)  # park it
    _damage_snapshot(db, newest, "DELETE FROM snapshots")
    _damage_snapshot(db, 100, "UPDATE snapshots SET seq = ?", newest)
    assert not verify(db).ok
    with Node.open(db) as node:
        assert node.recovery.snapshot_seq == older
        assert node.engine.digest() == digests[9]


def test_a_snapshot_with_a_forged_digest_is_skipped(write_journal: WriteJournal, db: str) -> None:
    digests = write_journal(entries=9, settings=EVERY_TWO_ENTRIES)
    for seq in _snapshot_seqs(db):
        _damage_snapshot(db, seq, "UPDATE snapshots SET digest = ?", "0" * 64)
    with Node.open(db) as node:
        assert node.recovery.snapshot_seq == 0  # all refused: replayed from the first entry
        assert node.engine.digest() == digests[9]
        assert len(node.recovery.snapshots_skipped) == 3


def test_snapshot_now_and_on_close(write_journal: WriteJournal, db: str) -> None:
    write_journal(entries=3)
    assert _snapshot_seqs(db) == []
    with Node.open(db, settings=NodeSettings(snapshot_on_close=False)) as node:
        assert node.snapshot() == 3
    assert _snapshot_seqs(db) == [3]
    with Node.open(db) as node:  # snapshot_on_close, but nothing new since seq 3
        assert node.recovery.entries_replayed == 0
    assert _snapshot_seqs(db) == [3]
