"""Followers: tailing a journal on SQLite and PostgreSQL, chain checks, NOTIFY wake-ups,
promotion and fencing, and ``interbank follow`` end to end."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from interbank.cli import app
from interbank.engine import (
    AccountKind,
    Batch,
    Command,
    EngineSettings,
    Issue,
    OpenAccount,
    RegisterParticipant,
    Role,
)
from interbank.follower import Follower, FollowerError, FollowerSettings
from interbank.journal import ChainError, JournalLockedError, open_journal
from interbank.node import Node, NodeFailedError, NodeSettings, NodeUnavailableError, verify

SMALL_ENGINE = EngineSettings(
    idempotency_window_commands=1 << 16,
    accounts_max=256,
    participants_max=16,
    holds_max=1 << 10,
    batch_commands_max=1 << 14,
)
ACCOUNTS = (100, 101, 102)
NO_SNAPSHOT = NodeSettings(snapshot_on_close=False)


def network() -> list[Command]:
    commands: list[Command] = [
        RegisterParticipant(1, "CBEUDEFF", "Central bank", Role.CENTRAL_BANK, "EUR"),
        OpenAccount(2, 1, "CBEUDEFF", "EUR", AccountKind.ISSUANCE),
    ]
    for index, account_id in enumerate(ACCOUNTS):
        bic = f"BNK{chr(ord('A') + index)}DEFF"
        commands += [
            RegisterParticipant(10 + index, bic, f"Bank {index}", Role.DIRECT),
            OpenAccount(20 + index, account_id, bic, "EUR"),
            Issue(30 + index, account_id, 10**12),
        ]
    return commands


def transfers(id_first: int, rows: int, seed: int) -> Batch:
    rng = np.random.default_rng(seed)
    debit = rng.integers(0, len(ACCOUNTS), rows)
    credit = (debit + rng.integers(1, len(ACCOUNTS), rows)) % len(ACCOUNTS)
    return Batch.of_transfers(
        np.zeros(rows, dtype=np.uint64),
        np.arange(id_first, id_first + rows, dtype=np.uint64),
        (debit + ACCOUNTS[0]).astype(np.int64),
        (credit + ACCOUNTS[0]).astype(np.int64),
        rng.integers(1, 1_000, rows).astype(np.int64),
    )


def write(db: str, entries: int, *, id_first: int, settings: NodeSettings = NO_SNAPSHOT) -> str:
    """Append ``entries`` transfer entries (creating the network first if needed); the
    digest after them."""
    with Node.open(db, create=True, engine_settings=SMALL_ENGINE, settings=settings) as node:
        if node.head.seq == 0:
            node.submit(network())
        for step in range(entries):
            node.submit_batch(transfers(id_first + step * 50, 50, id_first + step))
        return node.engine.digest()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return str(tmp_path / "primary.db")


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[str]:
    schema = f"f_{uuid.uuid4().hex[:20]}"
    yield f"{pg_url}{'&' if '?' in pg_url else '?'}schema={schema}"
    with psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> str:
    name = "sqlite_db" if request.param == "sqlite" else "pg_db"
    return str(request.getfixturevalue(name))


# --- following ---------------------------------------------------------------------------


def test_a_follower_tails_the_primary_from_its_newest_snapshot(db: str) -> None:
    every_two = NodeSettings(snapshot_every_commands=100, snapshot_on_close=False)
    write(db, 4, id_first=1_000, settings=every_two)
    with Follower.open(db) as follower:
        assert follower.recovery.snapshot_seq > 0  # not replayed from the first entry
        with Node.open(db, settings=NO_SNAPSHOT) as node:
            for step in range(5):
                node.submit_batch(transfers(10_000 + step * 50, 50, step))
                applied = follower.catch_up_all()
                assert applied == 1
                assert follower.head == node.head
                assert follower.engine.digest() == node.engine.digest()
        status = follower.status()
        assert status.head_seq == node.head.seq and status.entries_applied == 5
        assert status.commands_applied == 250 and status.reachable


def test_a_follower_stops_at_an_altered_entry(sqlite_db: str) -> None:
    write(sqlite_db, 3, id_first=1_000)
    with Follower.open(sqlite_db) as follower:
        write(sqlite_db, 3, id_first=2_000)  # entries 5, 6, 7
        connection = sqlite3.connect(sqlite_db)
        connection.execute("UPDATE entries SET timestamp_ns = timestamp_ns + 1 WHERE seq = 6")
        connection.commit()
        connection.close()
        with pytest.raises(ChainError) as raised:
            follower.catch_up_all()
        assert raised.value.seq == 6
        assert follower.head.seq == 5  # everything before the altered entry applies


def test_a_follower_refuses_to_go_on_after_promotion(sqlite_db: str) -> None:
    write(sqlite_db, 1, id_first=1_000)
    follower = Follower.open(sqlite_db)
    follower.promote(NO_SNAPSHOT).close()
    with pytest.raises(FollowerError):
        follower.catch_up()


@pytest.mark.postgres
def test_notify_wakes_a_follower_long_before_its_poll_interval(pg_db: str) -> None:
    write(pg_db, 1, id_first=1_000)
    settings = FollowerSettings(poll_interval_ms=10_000)
    with Follower.open(pg_db, settings=settings) as follower:
        assert follower.wait() is True  # starts listening; the caller reads after it
        assert follower.catch_up_all() == 0
        timer = threading.Timer(0.2, write, args=(pg_db, 1), kwargs={"id_first": 2_000})
        timer.start()
        started = time.monotonic()
        woken = follower.wait(10.0)
        waited_s = time.monotonic() - started
        timer.join()
        assert woken and waited_s < 5.0
        assert follower.catch_up_all() == 1
        assert follower.status().listening


# --- promotion ---------------------------------------------------------------------------


def test_promotion_waits_for_the_primary_then_continues_its_chain(db: str) -> None:
    write(db, 2, id_first=1_000)
    follower = Follower.open(db)
    primary = Node.open(db, settings=NO_SNAPSHOT)
    try:
        with pytest.raises(JournalLockedError):
            follower.promote()
        primary.submit_batch(transfers(5_000, 50, 5))  # after the refused promotion
        follower.catch_up_all()  # still a follower
        primary.submit_batch(transfers(6_000, 50, 6))
        head = primary.head
    finally:
        primary.close()
    node = follower.promote(NO_SNAPSHOT)
    try:
        assert node.head == head  # the last entry came in at promotion
        with pytest.raises(JournalLockedError):
            Node.open(db)  # the promoted follower is the writer now
        result = node.submit_batch(transfers(7_000, 50, 7))
        assert result.ok_count() == 50
        assert node.head.seq == head.seq + 1
        digest = node.engine.digest()
    finally:
        node.close()
    report = verify(db)
    assert report.ok and report.digest == digest


@pytest.mark.postgres
def test_promotion_fences_a_primary_whose_session_died(pg_db: str, pg_url: str) -> None:
    write(pg_db, 1, id_first=1_000)
    follower = Follower.open(pg_db)
    primary = Node.open(pg_db, settings=NO_SNAPSHOT)
    try:
        application_name = primary._backend._application_name  # type: ignore[attr-defined]
        with psycopg.connect(pg_url, autocommit=True) as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (application_name,),
            )
        node = None
        for _ in range(200):  # until the server has ended the primary's session
            try:
                node = follower.promote(NO_SNAPSHOT)
                break
            except JournalLockedError:
                time.sleep(0.01)
        assert node is not None
        with node:
            node.submit_batch(transfers(2_000, 50, 2))
            time.sleep(0.3)  # past the old primary's reconnect pacing
            with pytest.raises(NodeFailedError) as raised:
                primary.submit_batch(transfers(3_000, 50, 3))
            assert not isinstance(raised.value, NodeUnavailableError)  # stopped for good
            digest = node.engine.digest()
    finally:
        primary.close()
    report = verify(pg_db)
    assert report.ok and report.digest == digest and report.head_seq == 3


# --- the command -------------------------------------------------------------------------

runner = CliRunner()


def test_follow_once_prints_the_head_and_the_digest(db: str) -> None:
    digest = write(db, 3, id_first=1_000)
    result = runner.invoke(app, ["follow", "--db", db, "--once", "--json"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["recovered", "caught_up", "stopped"]
    assert events[-1]["head_seq"] == 4 and events[-1]["digest"] == digest
    assert verify(db).digest == digest


def test_follow_refuses_a_missing_journal_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["follow", "--db", str(tmp_path / "none.db"), "--once"])
    assert result.exit_code == 3
    assert "no network" in result.output and "Traceback" not in result.output


def _read_lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def _next_event(lines: queue.Queue[str], event: str, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {event} line"
        record = json.loads(lines.get(timeout=remaining))
        if record["event"] == event:
            return record  # type: ignore[no-any-return]


def test_follow_tails_then_promotes_on_a_signal(db: str) -> None:
    write(db, 1, id_first=1_000)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "interbank.cli", "follow", "--db", db, "--json",
         "--poll-interval-ms", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        assert _next_event(lines, "caught_up")["head_seq"] == 2
        digest = write(db, 2, id_first=2_000)
        caught_up = _next_event(lines, "caught_up")
        while caught_up["head_seq"] < 4:
            caught_up = _next_event(lines, "caught_up")
        assert caught_up["digest"] == digest
        process.send_signal(signal.SIGUSR1)
        promoted = _next_event(lines, "promoted")
        assert promoted["head_seq"] == 4 and promoted["digest"] == digest
        with pytest.raises(JournalLockedError):
            open_journal(db, writer=True)  # the follower holds the network now
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    journal = open_journal(db, writer=True)  # released on exit
    try:
        assert journal.snapshots()[0].seq == 4  # closed cleanly, with a snapshot
    finally:
        journal.close()
    assert verify(db).ok
