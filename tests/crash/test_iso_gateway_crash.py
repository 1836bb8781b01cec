"""The gateway archives a message's bytes, then journals its commands, then projects the
views. SIGKILL between archive and journal, and between journal and projection: after
a restart every acknowledged message is in the journal exactly once, the views catch up
with the journal, and a re-sent message gets the idempotent answer (see
``iso_gateway_driver`` for the child and its kill points)."""

from __future__ import annotations

import hashlib
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `import iso_gateway_driver`

import iso_gateway_driver as driver

from interbank.engine import Batch, Engine, Kind
from interbank.engine.commands import RecordMessage
from interbank.journal import engine_settings_of, open_journal
from interbank.node import replay, verify
from interbank.views import ViewStore, track

KILLED = -signal.SIGKILL


def journaled_once(db: str) -> tuple[Counter[str], Counter[int], int]:
    """Replaying the journal: RecordMessage rows per message hash and Payment rows per
    payment id that took effect (not idempotent replays), and the journal's head."""
    backend = open_journal(db)
    try:
        head = backend.head().seq
        engine = Engine(engine_settings_of(backend.metadata(), backend.location))
        records: Counter[str] = Counter()
        payments: Counter[int] = Counter()
        for entry in backend.read(1, head):
            batch = Batch.unpack(entry.payload)
            result = engine.apply(batch, entry.timestamp_ns)
            for row in range(len(batch)):
                if result.replayed[row]:
                    continue
                if batch.kind[row] == Kind.RECORD_MESSAGE:
                    record = batch.admin[row]
                    assert isinstance(record, RecordMessage)
                    records[record.message_sha256] += 1
                elif batch.kind[row] == Kind.PAYMENT:
                    payments[batch.command_id(row)] += 1
        return records, payments, head
    finally:
        backend.close()


@pytest.mark.slow
def test_sigkill_around_the_journal_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "crash.db")
    groups = [[hashlib.sha256(m).hexdigest() for m in group] for group in driver.script()]
    every = [sha for group in groups for sha in group]
    size = driver.GROUP_MESSAGES

    # 1. Killed right after group 3 was archived, before it reached the journal.
    first = driver.run_child(db, "archive:3")
    assert first.returncode == KILLED, first.stderr
    assert [sha for sha, _, _ in first.acks] == every[: 2 * size]
    records, _, _ = journaled_once(db)
    assert all(records[sha] == 1 for sha in every[: 2 * size])
    views = ViewStore(db + ".views")
    for sha in groups[2]:  # archived (the bytes are safe) but never journaled
        assert views.message(sha) is not None and views.journaled(sha) is None
        assert records[sha] == 0
    views.close()

    # 2. Re-sends everything; killed after group 5's entry is durable, before the views
    # project it and before anyone hears an answer.
    second = driver.run_child(db, "projection:5")
    assert second.returncode == KILLED, second.stderr
    assert [sha for sha, _, _ in second.acks] == every[: 4 * size]
    records, _, head = journaled_once(db)
    assert all(records[sha] == 1 for sha in every[: 5 * size])  # group 5: journaled
    assert all(records[sha] == 0 for sha in groups[5])
    views = ViewStore(db + ".views")
    assert views.applied_seq == head - 1  # the projection of the last entry was lost
    views.close()

    # 3. Re-sends everything, unharmed: each message is answered as it was before.
    third = driver.run_child(db)
    assert third.returncode == 0, third.stderr
    assert [sha for sha, _, _ in third.acks] == every
    assert {(kind, status) for _, kind, status in third.acks} == {("pacs.002", "ACSC")}
    answered_before = {sha: (kind, status) for sha, kind, status in first.acks + second.acks}
    for sha, kind, status in third.acks:
        assert answered_before.get(sha, (kind, status)) == (kind, status)

    # Exactly once in the journal: each message's record and each payment took effect
    # once, however often it was sent; the chain and the replayed state hold.
    records, payments, head = journaled_once(db)
    assert set(records) == set(every) and set(records.values()) == {1}
    assert len(payments) == len(every) and set(payments.values()) == {1}
    assert verify(db).ok
    engine, _ = replay(db)
    payee = engine.account(driver.PAYEE_ACCOUNT)
    assert payee is not None
    assert payee.balance_minor == sum(driver.amount_minor(n) for n in range(len(every)))

    # The views caught up with the journal, the lost projection of group 5 included.
    views = ViewStore(db + ".views")
    try:
        assert views.applied_seq == head and not views.stale
        for n in range(len(every)):
            uetr = f"{n:08x}-0000-4000-8000-000000000000"
            events = [step.event for step in track(views, uetr)]
            assert events.count("settled") == 1 and "journaled" in events, (n, events)
            assert views.journaled(every[n]) is not None
    finally:
        views.close()
