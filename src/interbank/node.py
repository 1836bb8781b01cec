"""The node: the single writer loop in front of the engine.

For every group of commands it does, in this order: stamp (the one clock read in the
system), append to the journal (durable on return), apply to the engine, answer. A
caller therefore hears a result only after its command is durable, and replaying the
journal rebuilds exactly the state the callers were answered from.

Group commit without a writer thread: the first caller that finds no writer at work
becomes the writer (the "leader"), takes every queued request up to
``batch_size_max`` commands, commits them as one journal entry, and hands results to
their callers; callers that arrive meanwhile queue up and ride on the next entry.
When its own request is answered, the leader hands the writer role to the owner of
the oldest queued request. A single-threaded caller therefore pays no thread hand-off
at all, and many threads share one fsync per entry. Each waiting caller sleeps on its
own event, so an entry wakes exactly the callers it answers (no thundering herd).
It may import ``journal``, ``engine`` and ``views``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import typing
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType

import numpy as np

from interbank.engine import (
    Batch,
    BatchResult,
    Command,
    CommandFormatError,
    Engine,
    EngineSettings,
    Event,
    Result,
)
from interbank.engine.batch import FLAG_LINKED
from interbank.engine.commands import COMMAND_OF
from interbank.journal import (
    META_ENGINE_SETTINGS,
    Entry,
    Head,
    JournalBackend,
    JournalError,
    JournalUnavailableError,
    Recovery,
    ReplayStats,
    SnapshotRecord,
    VerifyReport,
    engine_settings_json,
    engine_settings_of,
    next_entry,
    open_journal,
    recover,
    replay_journal,
    settings_agree,
    verify_journal,
)

_LINGER_US_MAX = 1_000_000

# Called by the writer after each entry is durable and applied, before its callers are
# answered: (seq, batch, result, events). Views use it to stay current; they must also
# be rebuildable from the journal alone, because a crash may fall between the append and
# this call, and an exception here is logged, never allowed to stop payments.
AppliedHook = typing.Callable[[int, Batch, BatchResult, list[Event]], None]


@dataclass(frozen=True, slots=True)
class NodeSettings:
    """Limits of the writer loop. Units are in the names."""

    # Commands in one journal entry (one engine batch, one transaction). 8190 keeps an
    # entry's packed batch near 540 KB.
    batch_size_max: int = 8190
    # How long a writer waits for more callers to fill a group, when others are about.
    linger_us: int = 200
    # Write a snapshot after this many commands since the last one.
    snapshot_every_commands: int = 1_000_000
    # Snapshots kept in the journal; older ones are dropped (the entries never are).
    snapshots_kept_max: int = 3
    # Commands waiting for the writer; further callers block until there is room.
    submit_queue_commands_max: int = 1 << 20
    # Write a snapshot on a clean close, so the next open replays nothing.
    snapshot_on_close: bool = True
    # Groups of at least this many commands are appended on a journal thread while the
    # engine applies them (results still wait for the append). Measured on SQLite with
    # synchronous=FULL: +22% acknowledged commands/s at 8190 per group, even at 2048,
    # and a loss at 1000 and below, where the thread hand-off costs more than it saves.
    append_overlap_rows_min: int = 4096

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size_max <= 1 << 20:
            raise ValueError("batch_size_max is between 1 and 1048576 commands")
        if not 0 <= self.linger_us <= _LINGER_US_MAX:
            raise ValueError(f"linger_us is between 0 and {_LINGER_US_MAX}")
        if self.snapshot_every_commands < 1:
            raise ValueError("snapshot_every_commands is at least 1")
        if self.snapshots_kept_max < 1:
            raise ValueError("snapshots_kept_max is at least 1")
        if self.append_overlap_rows_min < 1:
            raise ValueError("append_overlap_rows_min is at least 1 (a huge value disables it)")
        if self.submit_queue_commands_max < self.batch_size_max:
            raise ValueError("submit_queue_commands_max must hold at least one full batch")


class NodeError(Exception):
    """Base of the node's own errors; the message is meant for an operator."""


class NodeClosedError(NodeError):
    """The node was closed; nothing more is accepted."""


class NodeFailedError(NodeError):
    """The node stopped itself after an error that left its state uncertain.

    Nothing acknowledged is lost: reopening the journal recovers the durable state.
    """


class NodeUnavailableError(NodeFailedError):
    """The journal's database cannot be reached: the batch was not acknowledged.

    It may or may not be durable; resubmitting it with the same ids is safe (the
    idempotency window answers what did commit). The node rebuilds its state from the
    journal by itself at the next submit once the database answers; no reopen needed.
    """


class SettingsMismatchError(NodeError):
    """The engine settings asked for differ from those the journal was written with."""


@dataclass(slots=True, eq=False)  # compared by identity (queue.remove)
class _Request:
    """One caller's batch (at most ``batch_size_max`` rows) waiting for its result."""

    batch: Batch
    result: BatchResult | None = None
    error: BaseException | None = None
    done: bool = False
    lead: bool = False  # the writer role was handed to this request's caller
    # Set when the request is answered, or when its caller is handed the writer role.
    wake: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True)
class _WriterState:
    """The writer's state. ``head`` and ``failure`` change only in the thread holding the
    writer role (``head`` under the condition too, for ``Node.head``); ``queue`` only
    under the condition."""

    head: Head
    commands_since_snapshot: int
    snapshot_seq: int
    failure: BaseException | None = None
    queue: deque[_Request] = field(default_factory=deque)


class Node:
    """A durable engine: journal + engine + the writer loop. Use ``Node.open``.

    Thread-safe: any number of threads may call ``submit``/``submit_batch``. ``engine``
    is the live engine for read-only views; reading it while other threads submit sees
    a state that may change under the reader, so take ``quiesced()`` for a stable read.
    """

    def __init__(
        self,
        backend: JournalBackend,
        recovery: Recovery,
        settings: NodeSettings,
        on_applied: AppliedHook | None = None,
    ) -> None:
        assert settings.batch_size_max <= recovery.engine.settings.batch_commands_max
        self._on_applied = on_applied
        self._backend = backend
        self._engine = recovery.engine
        self._settings = settings
        self.recovery = recovery
        self._state = _WriterState(
            head=recovery.head,
            commands_since_snapshot=recovery.commands_replayed,
            snapshot_seq=recovery.snapshot_seq,
        )
        # One lock guards the queue and the writer role. Callers with a queued request
        # sleep on the request's own event; these conditions wake the other waiters:
        # a leader lingering for arrivals, callers blocked by backpressure, and callers
        # of quiesced()/snapshot()/close() waiting for the writer role.
        self._lock = threading.Lock()
        self._role_free = threading.Condition(self._lock)
        self._arrival = threading.Condition(self._lock)
        self._space = threading.Condition(self._lock)
        self._queued_commands = 0
        self._writer_busy = False
        self._role_waiters = 0
        self._last_group_requests = 0
        self._closed = False
        # Created on the first big group (see _append_beside_apply); shut down by close().
        self._journal_thread: ThreadPoolExecutor | None = None

    # --- opening and closing -------------------------------------------------------

    @staticmethod
    def open(
        db: str,
        *,
        settings: NodeSettings | None = None,
        engine_settings: EngineSettings | None = None,
        create: bool = False,
        on_applied: AppliedHook | None = None,
    ) -> Node:
        """Open the journal at ``db`` (a SQLite path or a postgresql:// URL), recover the
        state, and be ready.

        ``create`` makes a new journal when there is none. ``engine_settings`` are
        stored in a new journal; for an existing one they default to the stored ones and
        must agree with them (SettingsMismatchError), because replay must compute what
        the writer computed.
        """
        settings = settings or NodeSettings()
        metadata = {META_ENGINE_SETTINGS: engine_settings_json(engine_settings or EngineSettings())}
        backend = open_journal(db, create=create, writer=True, metadata=metadata)
        try:
            stored = engine_settings_of(backend.metadata(), backend.location)
            if engine_settings is not None and not settings_agree(engine_settings, stored):
                raise SettingsMismatchError(
                    f"{db} was written with other engine settings than the ones given; "
                    "open it without engine settings to use the stored ones"
                )
            # check_invariants may differ: it changes what is checked, not what happens.
            chosen = engine_settings if engine_settings is not None else stored
            if settings.batch_size_max > chosen.batch_commands_max:
                raise ValueError(
                    f"batch_size_max {settings.batch_size_max} is over the engine's "
                    f"batch_commands_max {chosen.batch_commands_max}"
                )
            recovery = recover(backend, chosen)
        except BaseException:
            backend.close()
            raise
        if recovery.snapshots_skipped:
            log = logging.getLogger("interbank.node")
            for reason in recovery.snapshots_skipped:
                log.warning("recovery of %s skipped a snapshot: %s", db, reason)
        return Node(backend, recovery, settings, on_applied)

    def __enter__(self) -> Node:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Finish what is queued, write a snapshot (if set to) and close the journal."""
        with self._lock:
            if self._closed:
                return
            self._closed = True  # from now on nothing more is queued
            self._space.notify_all()  # callers blocked on backpressure give up
        with self._writer_role():
            state = self._state
            try:
                # Commit what was queued before the close: its callers are waiting.
                while self._state.queue:
                    self._commit_taken(self._take_group(linger=False))
                if (
                    self._settings.snapshot_on_close
                    and state.failure is None
                    and state.head.seq > state.snapshot_seq
                ):
                    self._write_snapshot()
            finally:
                if self._journal_thread is not None:
                    self._journal_thread.shutdown(wait=True)
                self._backend.close()

    # --- reading -------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def settings(self) -> NodeSettings:
        return self._settings

    @property
    def head(self) -> Head:
        """The last durable entry's seq, hash and timestamp."""
        with self._lock:
            return self._state.head

    @contextmanager
    def quiesced(self) -> Iterator[Engine]:
        """The engine, with no batch being applied until the block ends.

        For consistent reads (a digest with its seq, a statement). Do not submit from
        inside the block: the submit would wait for the block to end.
        """
        with self._writer_role():
            yield self._engine

    # --- submitting ----------------------------------------------------------------

    def submit(self, commands: Sequence[Command]) -> list[Result]:
        """Submit typed commands; one result per command, in order, once durable.

        Raises CommandFormatError (nothing submitted) when a command cannot be encoded.
        """
        if not commands:
            return []
        return self.submit_batch(Batch.of(commands)).results()

    def submit_batch(self, batch: Batch) -> BatchResult:
        """Submit a columnar batch; its results, in order, once all of it is durable.

        Raises CommandFormatError (nothing submitted) for an administrative command
        whose fields would not read back from the journal as they are.

        A batch longer than ``batch_size_max`` is cut into several entries, never
        inside a linked chain (a chain longer than ``batch_size_max`` is refused with
        ValueError before anything is submitted). The parts are committed one after
        the other; if a later part fails, the earlier ones stay committed.
        """
        rows = len(batch)
        if rows == 0:
            return _empty_result(self._state.head.timestamp_ns)
        batch = _journal_form(batch)
        cuts = self._cuts(batch)
        if len(cuts) == 2:
            return self._submit_part(batch)
        parts = [self._submit_part(batch.slice(a, b)) for a, b in itertools.pairwise(cuts)]
        return _joined(batch, parts)

    def _cuts(self, batch: Batch) -> list[int]:
        """Row offsets where the batch is cut into entries, from 0 to len(batch)."""
        rows = len(batch)
        size_max = self._settings.batch_size_max
        cuts = [0]
        if rows <= size_max:
            return [0, rows]
        linked = (batch.flags & FLAG_LINKED) != 0
        start = 0
        while rows - start > size_max:
            # The last row of a part must end a chain (carry no linked flag).
            chain_ends = np.flatnonzero(~linked[start : start + size_max])
            if len(chain_ends) == 0:
                raise ValueError(
                    f"a linked chain at row {start} is longer than batch_size_max "
                    f"({size_max} commands): it cannot settle in one entry"
                )
            start += int(chain_ends[-1]) + 1
            cuts.append(start)
        cuts.append(rows)
        assert all(b - a <= size_max for a, b in itertools.pairwise(cuts))
        return cuts

    def _submit_part(self, batch: Batch) -> BatchResult:
        rows = len(batch)
        assert 1 <= rows <= self._settings.batch_size_max
        request = _Request(batch)
        with self._lock:
            while (
                not self._closed
                and self._queued_commands + rows > self._settings.submit_queue_commands_max
            ):
                self._space.wait()
            self._raise_unless_open()
            self._state.queue.append(request)
            self._queued_commands += rows
            if self._writer_busy:
                self._arrival.notify()  # a lingering leader may now have a fuller group
            else:
                self._writer_busy = True
                request.lead = True
        if not request.lead:
            try:
                request.wake.wait()  # answered, or handed the writer role
            except BaseException:
                self._abandon(request)
                raise
        if request.lead and not request.done:
            self._lead(request)
        assert request.done
        if request.error is not None:
            raise request.error
        assert request.result is not None and len(request.result) == rows
        return request.result

    def _abandon(self, request: _Request) -> None:
        """The caller was interrupted while waiting: withdraw its request if still
        queued, and pass the writer role on if it was just handed to this caller."""
        with self._lock:
            queue = self._state.queue
            if request in queue:
                queue.remove(request)
                self._queued_commands -= len(request.batch)
            if request.lead and not request.done:
                self._release_role()

    def _lead(self, request: _Request) -> None:
        """Commit groups until ``request`` is answered, then pass the writer role on."""
        try:
            while not request.done:
                self._commit_taken(self._take_group(linger=True))
        finally:
            with self._lock:
                self._release_role()

    def _commit_taken(self, group: list[_Request]) -> None:
        try:
            self._commit_group(group)
        except BaseException as error:
            # Unexpected: stop, and let no caller of the group wait forever.
            if self._state.failure is None:
                self._state.failure = error
            unanswered = [r for r in group if not r.done]
            if unanswered:
                self._answer(unanswered, None, NodeFailedError(repr(error)))

    def _release_role(self) -> None:
        """Called with the lock held by the writer-role holder giving it up.

        Waiters for quiesced()/snapshot()/close() come first (else a steady stream of
        callers could keep them out forever); then the oldest queued request's caller.
        """
        assert self._writer_busy
        queue = self._state.queue
        if self._role_waiters > 0:
            self._writer_busy = False
            self._role_free.notify()
        elif queue:
            successor = queue[0]
            successor.lead = True  # the role passes straight on: _writer_busy stays
            successor.wake.set()
        else:
            self._writer_busy = False

    def _raise_unless_open(self) -> None:
        failure = self._state.failure
        # An unreachable journal is not fatal: the writer tries to recover (_recovered).
        if failure is not None and not isinstance(failure, JournalUnavailableError):
            raise NodeFailedError(
                f"the node stopped after an error: {self._state.failure!r}; reopen it"
            )
        if self._closed:
            raise NodeClosedError("the node is closed")

    def _take_group(self, *, linger: bool) -> list[_Request]:
        """Requests for the next entry, in arrival order (called by the writer)."""
        settings = self._settings
        with self._lock:
            queue = self._state.queue
            # Linger only after a shared entry: a lone caller would just wait. Stop once
            # as many requests are queued as shared the last entry (everyone is back).
            if linger and settings.linger_us > 0 and self._last_group_requests > 1:
                # A monotonic clock for scheduling only; it never reaches engine state.
                deadline_ns = time.monotonic_ns() + settings.linger_us * 1000
                while (
                    self._queued_commands < settings.batch_size_max
                    and len(queue) < self._last_group_requests
                ):
                    remaining_ns = deadline_ns - time.monotonic_ns()
                    if remaining_ns <= 0:
                        break
                    self._arrival.wait(remaining_ns / 1e9)
            group: list[_Request] = []
            rows = 0
            while queue and rows + len(queue[0].batch) <= settings.batch_size_max:
                request = queue.popleft()
                group.append(request)
                rows += len(request.batch)
                # A request ending inside an open chain must close its entry: joined to
                # the next caller's commands, its chain would swallow them.
                if request.batch.flags[-1] & FLAG_LINKED:
                    break
            assert group, "the writer's own request is queued and fits in an entry"
            self._queued_commands -= rows
            self._last_group_requests = len(group)
            self._space.notify_all()  # room for callers blocked on backpressure
            return group

    def _commit_group(self, group: list[_Request]) -> None:
        """Stamp, append, apply, answer: the writer loop's one step."""
        state = self._state
        if state.failure is not None and not self._recovered():
            self._answer(group, None, _stopped("the node stopped", state.failure))
            return
        batch = Batch.concat([request.batch for request in group])
        # The one clock read in the system. Strictly rising, even if the clock steps back.
        timestamp_ns = max(time.time_ns(), state.head.timestamp_ns + 1)
        payload = batch.pack()
        if batch.admin:
            # Administrative commands run in plain Python in the engine and may raise
            # on input it failed to refuse. Journaled first, such a batch would raise
            # again at every recovery: a journal no node can open. Applied first, it
            # only stops this node, and reopening recovers without it.
            result = self._apply_then_append(group, batch, timestamp_ns, payload)
        elif len(batch) >= self._settings.append_overlap_rows_min:
            result = self._append_beside_apply(group, batch, timestamp_ns, payload)
        else:
            result = self._append_then_apply(group, batch, timestamp_ns, payload)
        if result is None:
            return  # the group was answered with an error
        assert len(result) == len(batch)
        if self._on_applied is not None:
            try:
                self._on_applied(state.head.seq, batch, result, self._engine.events(batch, result))
            except Exception:
                logging.getLogger("interbank.node").exception(
                    "the applied hook failed at entry %d; views rebuild from the journal",
                    state.head.seq,
                )
        self._answer(group, result, None)
        state.commands_since_snapshot += len(batch)
        if state.commands_since_snapshot >= self._settings.snapshot_every_commands:
            try:
                self._write_snapshot()
            except Exception:
                # A snapshot only shortens recovery; a failed one must not stop payments.
                logging.getLogger("interbank.node").exception("snapshot failed")
                state.commands_since_snapshot = 0

    def _append_then_apply(
        self, group: list[_Request], batch: Batch, timestamp_ns: int, payload: bytes
    ) -> BatchResult | None:
        """The plain order: the engine sees the batch only once it is durable."""
        state = self._state
        entry = next_entry(state.head, timestamp_ns, payload)
        try:
            self._backend.append([entry])
        except BaseException as error:
            if self._append_undone(error):
                # Not journaled: callers may retry.
                unreachable = isinstance(error, JournalUnavailableError)
                answer = _stopped(f"entry {entry.seq}", error) if unreachable else error
                self._answer(group, None, answer)
            else:
                # The failure the node stopped on (the head check may have failed worse).
                stop = state.failure or error
                self._answer(group, None, _stopped(f"appending entry {entry.seq}", stop))
            return None
        with self._lock:
            state.head = Head.of(entry)
        try:
            return self._engine.apply(batch, timestamp_ns)
        except BaseException as error:
            # The entry is durable but the engine refused it: its state is unknown now.
            # Stop taking commands; reopening replays the journal (and meets the same
            # error there, which `interbank verify` then reports).
            state.failure = error
            self._answer(group, None, NodeFailedError(f"applying entry {entry.seq}: {error!r}"))
            return None

    def _apply_then_append(
        self, group: list[_Request], batch: Batch, timestamp_ns: int, payload: bytes
    ) -> BatchResult | None:
        """Apply first, journal after: an engine error never reaches the journal.

        Results are still released only after the append. If the append fails, the
        engine is ahead of the journal and the node stops (reopening recovers).
        """
        state = self._state
        try:
            result = self._engine.apply(batch, timestamp_ns)
        except BaseException as error:
            state.failure = error  # the engine may hold part of the batch: stop
            failure = NodeFailedError(
                f"the engine refused a batch, which was not journaled: {error!r}; reopen"
            )
            self._answer(group, None, failure)
            return None
        entry = next_entry(state.head, timestamp_ns, payload)
        try:
            self._backend.append([entry])
        except BaseException as error:
            state.failure = error
            self._answer(group, None, _stopped(f"appending entry {entry.seq}", error))
            return None
        with self._lock:
            state.head = Head.of(entry)
        return result

    def _append_beside_apply(
        self, group: list[_Request], batch: Batch, timestamp_ns: int, payload: bytes
    ) -> BatchResult | None:
        """Hash and append on the journal thread while this thread applies the batch.

        The fsync releases the GIL, so the two overlap; a group of 8190 transfers takes
        about max(apply, append) instead of their sum. Results are still released only
        after the append returned. The price: the engine holds the batch before it is
        durable, so if the append fails the engine is ahead of the journal, and the
        node must stop (reopening recovers the durable state).
        """
        state = self._state
        head = state.head
        if self._journal_thread is None:
            self._journal_thread = ThreadPoolExecutor(1, thread_name_prefix="interbank-journal")
        appended = self._journal_thread.submit(self._append_entry, head, timestamp_ns, payload)
        apply_error: BaseException | None = None
        result: BatchResult | None = None
        try:
            result = self._engine.apply(batch, timestamp_ns)
        except BaseException as error:
            apply_error = error
        try:
            entry = appended.result()  # durable from here on
        except BaseException as error:
            state.failure = error
            self._answer(group, None, _stopped(f"appending entry {head.seq + 1}", error))
            return None
        with self._lock:
            state.head = Head.of(entry)
        if apply_error is not None:
            state.failure = apply_error
            failure = NodeFailedError(f"applying entry {entry.seq}: {apply_error!r}")
            self._answer(group, None, failure)
            return None
        return result

    def _recovered(self) -> bool:
        """Called by the writer on a stopped node: rebuild the state from the durable
        journal if the stop was only an unreachable database; True when usable again.

        The engine may be ahead of the journal (an append beside apply failed) or behind
        it (an append committed but its answer was lost), so the state is recovered from
        the journal, never patched. Each attempt fails fast while the database is away.
        """
        state = self._state
        if not isinstance(state.failure, JournalUnavailableError):
            return False
        try:
            recovery = recover(self._backend, self._engine.settings)
        except BaseException as error:
            # Still unreachable: this group fails, the next tries again. Anything else
            # (the writer lock lost to another node, a broken chain) stops the node.
            state.failure = error
            return False
        self._engine = recovery.engine
        self.recovery = recovery
        with self._lock:
            state.head = recovery.head
        state.commands_since_snapshot = recovery.commands_replayed
        state.snapshot_seq = recovery.snapshot_seq
        state.failure = None
        logging.getLogger("interbank.node").warning(
            "the journal at %s answers again: state recovered at seq %d",
            self._backend.location,
            recovery.head.seq,
        )
        return True

    def _append_entry(self, head: Head, timestamp_ns: int, payload: bytes) -> Entry:
        entry = next_entry(head, timestamp_ns, payload)
        self._backend.append([entry])
        return entry

    def _append_undone(self, error: BaseException) -> bool:
        """After a failed append: True when the entry is surely not in the journal.

        Then its callers may be told the error and may retry. When that is not certain
        (or the entry is there after all), the node stops: it must neither answer
        commands that are not durable nor lose track of ones that are.
        """
        state = self._state
        try:
            head = self._backend.head()
        except BaseException as check_error:
            state.failure = check_error
            return False
        if head == state.head:
            return True
        state.failure = error  # it may be durable after all: never guess, stop
        return False

    def _answer(
        self, group: list[_Request], result: BatchResult | None, error: BaseException | None
    ) -> None:
        assert (result is None) != (error is None)
        offset = 0
        with self._lock:
            for request in group:
                rows = len(request.batch)
                if result is not None:
                    if len(group) == 1:
                        request.result = result
                    else:
                        request.result = _part(
                            result, request.batch, offset, offset + rows, offset == 0
                        )
                else:
                    request.error = error
                request.done = True
                request.wake.set()
                offset += rows

    # --- snapshots -----------------------------------------------------------------

    def snapshot(self) -> int:
        """Write a snapshot of the current state now; the seq it covers."""
        with self._writer_role():
            self._raise_unless_open()
            if self._state.failure is not None and not self._recovered():
                raise _stopped("no snapshot", self._state.failure)
            return self._write_snapshot()

    def _write_snapshot(self) -> int:
        """Called by the writer. The state is that after ``head.seq``, which is durable."""
        state = self._state
        if state.head.seq == 0:
            return 0  # an empty journal needs no snapshot: recovery starts from nothing
        assert self._engine.timestamp_ns == state.head.timestamp_ns
        data = self._engine.snapshot()
        record = SnapshotRecord.of(state.head.seq, self._engine.digest(), data)
        self._backend.save_snapshot(record, self._settings.snapshots_kept_max)
        state.commands_since_snapshot = 0
        state.snapshot_seq = state.head.seq
        return state.head.seq

    @contextmanager
    def _writer_role(self) -> Iterator[None]:
        """Hold the writer role (no group is committed meanwhile)."""
        with self._lock:
            self._role_waiters += 1
            try:
                while self._writer_busy:
                    self._role_free.wait()
            except BaseException:
                # Interrupted: if the role was freed for us, pass it on, lest it idle
                # while callers sleep in the queue.
                self._role_waiters -= 1
                if not self._writer_busy:
                    self._writer_busy = True
                    self._release_role()
                raise
            self._role_waiters -= 1
            self._writer_busy = True
        try:
            yield
        finally:
            with self._lock:
                self._release_role()


def _stopped(text: str, error: BaseException) -> NodeFailedError:
    """The error callers get when the node could not commit their group."""
    if isinstance(error, JournalUnavailableError):
        return NodeUnavailableError(
            f"{text}: {error}; not acknowledged: resubmit with the same ids once the "
            "database answers (the node then recovers by itself)"
        )
    return NodeFailedError(f"{text}: {error!r}")


# --- the boundary in front of the journal ------------------------------------------------


def _field_types(cls: type) -> tuple[tuple[str, tuple[type, ...]], ...]:
    """Each field of a command class with the types its annotation allows.

    A variable-length tuple (SettleSet's ``tuple[int, ...]``) is checked as a tuple: its
    arguments are not types (``...``), and ``Batch`` has already checked its items."""
    return tuple(
        (name, (tuple,) if typing.get_origin(hint) is tuple else typing.get_args(hint) or (hint,))
        for name, hint in typing.get_type_hints(cls).items()
    )


# Resolved once: typing.get_type_hints costs ~35 µs a call, which made every journaled
# administrative row (one RecordMessage per ISO 20022 message) cost more than a payment.
_FIELD_TYPES = MappingProxyType({cls: _field_types(cls) for cls in COMMAND_OF.values()})


def _journal_form(batch: Batch) -> Batch:
    """The batch as replay will read it back from the journal; CommandFormatError if none.

    Money rows are plain integer columns and read back as they are. Administrative rows
    travel as JSON inside the packed batch: a field that does not survive that (a role
    that is no Role, a list where a BIC goes, a float amount) would make the live engine
    and a replay see different commands, or make the entry unreadable, so it is refused
    here, before anything is stamped. The engine is then given the read-back commands,
    exactly what replay will give it.
    """
    if not batch.admin:
        return batch
    try:
        read_back = Batch.unpack(batch.pack())
    except (TypeError, ValueError) as error:
        raise CommandFormatError(
            "FF01", f"an administrative command cannot be journaled: {error}"
        ) from error
    for row, command in read_back.admin.items():
        for name, allowed in _FIELD_TYPES[type(command)]:
            value = getattr(command, name)
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                raise CommandFormatError(
                    "FF01",
                    f"{type(command).__name__}.{name} must be "
                    f"{' or '.join(t.__name__ for t in allowed)}, not {type(value).__name__}",
                    row,
                )
    assert len(read_back) == len(batch)
    return read_back


# --- results of parts of an entry --------------------------------------------------------


def _part(result: BatchResult, batch: Batch, start: int, stop: int, first: bool) -> BatchResult:
    """One caller's share of an entry's result (rows ``start`` to ``stop``).

    Holds that expired when the entry was applied belong to the entry, not to a
    caller; they are reported once, with the first caller's share.
    """
    codes = result.codes[start:stop]
    replayed = result.replayed[start:stop]
    return BatchResult(
        batch,
        codes,
        replayed,
        _settled(codes, replayed),
        result.timestamp_ns,
        list(result.expired_holds) if first else [],
    )


def _joined(batch: Batch, parts: list[BatchResult]) -> BatchResult:
    """The results of a batch that was committed as several entries, in row order."""
    codes = np.concatenate([part.codes for part in parts])
    replayed = np.concatenate([part.replayed for part in parts])
    expired = [hold for part in parts for hold in part.expired_holds]
    return BatchResult(
        batch, codes, replayed, _settled(codes, replayed), parts[-1].timestamp_ns, expired
    )


def _settled(codes: np.ndarray, replayed: np.ndarray) -> int:
    return int(np.count_nonzero((codes == 0) & (replayed == 0)))


def _empty_result(timestamp_ns: int) -> BatchResult:
    empty = np.zeros(0, dtype=np.uint8)
    return BatchResult(Batch.empty(), empty, empty.copy(), 0, timestamp_ns, [])


# --- whole-journal operations for the CLI and the benchmarks ------------------------------


def verify(db: str) -> VerifyReport:
    """Check the hash chain and the replayed digests of the journal at ``db``."""
    backend = open_journal(db)
    try:
        return verify_journal(backend)
    finally:
        backend.close()


def replay(
    db: str, *, seq_last: int | None = None, from_snapshot: bool = False
) -> tuple[Engine, ReplayStats]:
    """Rebuild the engine from the journal at ``db`` (from the first entry by default)."""
    backend = open_journal(db)
    try:
        return replay_journal(backend, seq_last=seq_last, from_snapshot=from_snapshot)
    finally:
        backend.close()


__all__ = [
    "JournalError",
    "Node",
    "NodeClosedError",
    "NodeError",
    "NodeFailedError",
    "NodeSettings",
    "NodeUnavailableError",
    "SettingsMismatchError",
    "replay",
    "verify",
]
