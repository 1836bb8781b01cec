"""Followers: engines that tail a journal another process writes, and can take over.

A follower opens the journal read-only (it takes no writer lock), recovers from the
newest snapshot that proves itself, then applies each new entry once the writer has
committed it, checking the entry's link in the hash chain first. Its state is
therefore always the state after some durable entry of the primary, and its digest at
seq N equals the primary's at seq N. On PostgreSQL it is woken by the NOTIFY that each
append sends inside its transaction (polling every ``poll_interval_ms`` stays as the
fallback and bounds every wait); on SQLite it polls.

Promotion makes it the writer: it takes the journal's writer lock (refused with
JournalLockedError while the primary still holds it), applies whatever the primary
committed after the follower's last read, and continues the chain as a ``Node`` without
replaying the journal again. Fencing is the lock: once promoted, the old primary
cannot append even if it comes back.

It may import ``journal``, ``engine`` and ``node`` (the promoted follower is a Node).
It reads a monotonic clock only to pace its waits and reports; nothing it reads
reaches engine state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from interbank.engine import Engine
from interbank.journal import (
    Entry,
    Head,
    JournalBackend,
    JournalUnavailableError,
    Recovery,
    apply_entry,
    check_link,
    engine_settings_of,
    open_journal,
    recover,
)
from interbank.node import AppliedHook, Node, NodeSettings

_POLL_INTERVAL_MS_MAX = 60_000


class FollowerError(Exception):
    """The follower cannot go on (an entry that chains but does not apply, a promoted
    or closed follower asked to follow); the message is meant for an operator."""


@dataclass(frozen=True, slots=True)
class FollowerSettings:
    """Limits of a follower. Units are in the names."""

    # Longest wait between two reads of the journal (with NOTIFY, the usual wake-up is
    # the notification; this bounds the wait if one is missed or the listener is down).
    poll_interval_ms: int = 200
    # Entries applied per catch_up call, so a long catch-up still reports progress and
    # answers a promotion request between steps.
    entries_per_step_max: int = 256
    # Status reports while entries keep coming, at most one per this interval (each
    # computes the engine digest). Reaching the head is always reported.
    report_interval_ms: int = 1_000

    def __post_init__(self) -> None:
        if not 1 <= self.poll_interval_ms <= _POLL_INTERVAL_MS_MAX:
            raise ValueError(f"poll_interval_ms is between 1 and {_POLL_INTERVAL_MS_MAX}")
        if self.entries_per_step_max < 1:
            raise ValueError("entries_per_step_max is at least 1")
        if self.report_interval_ms < 0:
            raise ValueError("report_interval_ms is at least 0")


@dataclass(frozen=True, slots=True)
class FollowerStatus:
    """Where a follower stands: its head in the chain and the digest of its state."""

    location: str
    head_seq: int
    head_hash: str  # hex
    timestamp_ns: int  # the head entry's timestamp (0 before the first entry)
    digest: str  # Engine.digest() after head_seq
    snapshot_seq: int  # the snapshot the follower recovered from (0: none)
    entries_applied: int  # since it recovered
    commands_applied: int
    listening: bool  # woken by NOTIFY (PostgreSQL); False: polling
    reachable: bool  # the last read of the journal worked


class Follower:
    """An engine kept equal to a journal's head. Use ``Follower.open``.

    Not thread-safe: one thread follows (``catch_up``/``wait`` or ``run``); others may
    read ``status()`` only from that thread's callbacks.
    """

    def __init__(
        self, db: str, backend: JournalBackend, recovery: Recovery, settings: FollowerSettings
    ) -> None:
        self._db = db
        self._backend = backend
        self._settings = settings
        self._engine = recovery.engine
        self._head = recovery.head
        self._snapshot_seq = recovery.snapshot_seq
        self._entries_applied = 0
        self._commands_applied = 0
        self._commands_since_snapshot = recovery.commands_replayed
        self._listening = False
        self._reachable = True
        self._done = False  # closed or promoted
        self.recovery = recovery

    @staticmethod
    def open(db: str, *, settings: FollowerSettings | None = None) -> Follower:
        """Open the journal at ``db`` read-only and recover the state of its head."""
        backend = open_journal(db)
        try:
            engine_settings = engine_settings_of(backend.metadata(), backend.location)
            recovery = recover(backend, engine_settings)
        except BaseException:
            backend.close()
            raise
        return Follower(db, backend, recovery, settings or FollowerSettings())

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def head(self) -> Head:
        return self._head

    @property
    def settings(self) -> FollowerSettings:
        return self._settings

    def status(self) -> FollowerStatus:
        return FollowerStatus(
            location=self._backend.location,
            head_seq=self._head.seq,
            head_hash=self._head.hash_hex,
            timestamp_ns=self._head.timestamp_ns,
            digest=self._engine.digest(),
            snapshot_seq=self._snapshot_seq,
            entries_applied=self._entries_applied,
            commands_applied=self._commands_applied,
            listening=self._listening,
            reachable=self._reachable,
        )

    # --- following -----------------------------------------------------------------

    def catch_up(self, entries_max: int | None = None) -> int:
        """Apply the entries after the head, at most ``entries_max`` (default: one
        step); the number applied. Fewer than asked means the head was reached.

        Raises ChainError when an entry does not chain (the journal was altered: stop),
        FollowerError when one chains but the engine refuses it, and
        JournalUnavailableError when the database is away (entries applied before stay
        applied; call again later).
        """
        self._raise_if_done()
        count_max = self._settings.entries_per_step_max if entries_max is None else entries_max
        assert count_max >= 1
        applied = 0
        try:
            for entry in self._backend.read(self._head.seq + 1, self._head.seq + count_max):
                self._apply(entry)
                applied += 1
        except JournalUnavailableError:
            self._reachable = False
            raise
        self._reachable = True
        return applied

    def catch_up_all(self) -> int:
        """Apply entries until the head is reached; the number applied."""
        applied = 0
        while True:
            step = self.catch_up()
            applied += step
            if step < self._settings.entries_per_step_max:
                return applied

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until an append may have happened (True) or ``timeout_s`` passed
        (default: the poll interval). Never raises for an unreachable database: the next
        ``catch_up`` reports that."""
        self._raise_if_done()
        poll_s = self._settings.poll_interval_ms / 1000
        timeout_s = poll_s if timeout_s is None else min(timeout_s, poll_s)
        wait_for_append = getattr(self._backend, "wait_for_append", None)
        if wait_for_append is None:
            time.sleep(timeout_s)  # SQLite: nothing to listen to
            return False
        try:
            woken = bool(wait_for_append(timeout_s))
        except JournalUnavailableError:
            self._listening = False
            time.sleep(timeout_s)  # the listener reconnects at the next wait
            return False
        self._listening = True
        return woken

    def run(
        self,
        report: Callable[[str, FollowerStatus], None],
        *,
        stop: Callable[[], bool],
        once: bool = False,
    ) -> None:
        """Follow until ``stop()`` is true (checked at least every poll interval), or,
        with ``once``, until the head is reached. ``report(event, status)`` hears
        "caught_up" when the head is reached after new entries (and at the start),
        "advanced" while catching up (at most every ``report_interval_ms``),
        "unreachable" when the database goes away and "reachable" when it is back.
        """
        report_interval_ns = self._settings.report_interval_ms * 1_000_000
        reported_ns = time.monotonic_ns()
        reported_seq: int | None = None  # the head of the last report
        away = False  # "unreachable" was reported and "reachable" not yet
        while not stop():
            try:
                applied = self.catch_up()
            except JournalUnavailableError:
                if once:
                    raise
                if not away:
                    report("unreachable", self.status())
                    away = True
                self.wait()
                continue
            if away:
                report("reachable", self.status())
                away = False
            caught_up = applied < self._settings.entries_per_step_max
            if caught_up:
                if self._head.seq != reported_seq:
                    report("caught_up", self.status())
                    reported_seq = self._head.seq
                    reported_ns = time.monotonic_ns()
                if once:
                    return
                self.wait()
            elif time.monotonic_ns() - reported_ns >= report_interval_ns:
                report("advanced", self.status())
                reported_seq = self._head.seq
                reported_ns = time.monotonic_ns()

    def _apply(self, entry: Entry) -> None:
        check_link(self._head, entry)
        try:
            commands = apply_entry(self._engine, entry)
        except Exception as error:
            self._done = True  # the engine may hold part of the entry: its state is unknown
            raise FollowerError(
                f"journal entry {entry.seq} chains but cannot be applied: "
                f"{type(error).__name__}: {error}; `interbank verify` tells more"
            ) from error
        self._head = Head.of(entry)
        self._entries_applied += 1
        self._commands_applied += commands
        self._commands_since_snapshot += commands

    # --- promotion -----------------------------------------------------------------

    def promote(
        self, settings: NodeSettings | None = None, *, on_applied: AppliedHook | None = None
    ) -> Node:
        """Become the writer: take the writer lock, apply what the primary committed
        since the last read, and return a Node that continues the chain.

        Raises JournalLockedError while another writer holds the journal; the follower
        is then unchanged and may go on following.
        """
        self._raise_if_done()
        settings = settings or NodeSettings()
        if settings.batch_size_max > self._engine.settings.batch_commands_max:
            raise ValueError(
                f"batch_size_max {settings.batch_size_max} is over the engine's "
                f"batch_commands_max {self._engine.settings.batch_commands_max}"
            )
        writer = open_journal(self._db, writer=True)
        try:
            # The writer lock is ours: nothing more can be committed behind our back, so
            # reading to the end gives the final head.
            entries_before = self._entries_applied
            for entry in writer.read(self._head.seq + 1):
                self._apply(entry)
            recovery = Recovery(
                engine=self._engine,
                head=self._head,
                snapshot_seq=self._snapshot_seq,
                entries_replayed=self._entries_applied - entries_before,
                commands_replayed=self._commands_since_snapshot,
                snapshots_skipped=(),
            )
            assert self._engine.timestamp_ns == self._head.timestamp_ns
            node = Node(writer, recovery, settings, on_applied)
        except BaseException:
            writer.close()
            raise
        self._done = True
        self._backend.close()
        return node

    def close(self) -> None:
        if not self._done:
            self._done = True
            self._backend.close()

    def _raise_if_done(self) -> None:
        if self._done:
            raise FollowerError("this follower was closed or promoted")
