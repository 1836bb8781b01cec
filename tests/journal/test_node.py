"""The node: group commit, results in order, idempotency, restart, failures."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interbank.engine import (
    Batch,
    Command,
    CommandFormatError,
    Engine,
    EngineSettings,
    OpenAccount,
    RegisterParticipant,
    ResultCode,
    Role,
    SuspendParticipant,
    Transfer,
)
from interbank.journal import JournalNotFoundError, open_journal
from interbank.node import (
    Node,
    NodeClosedError,
    NodeFailedError,
    NodeSettings,
    SettingsMismatchError,
    replay,
    verify,
)

NO_SNAPSHOT_ON_CLOSE = NodeSettings(snapshot_on_close=False)
MakeTransfers = Callable[[int, int, int], Batch]


def _journal_ids(db: str) -> Counter[int]:
    """How often each command id occurs in the journal's entries."""
    ids: Counter[int] = Counter()
    journal = open_journal(db)
    try:
        for entry in journal.read():
            batch = Batch.unpack(entry.payload)
            ids.update(batch.command_id(row) for row in range(len(batch)))
    finally:
        journal.close()
    return ids


def _wait_for_queue(node: Node, requests: int) -> None:
    """Until ``requests`` requests are queued (the test holds the writer role meanwhile)."""
    for _ in range(5000):
        if len(node._state.queue) >= requests:
            return
        time.sleep(0.001)
    raise AssertionError("callers did not queue up")


@pytest.fixture
def node(db: str, engine_settings: EngineSettings, setup_commands: list[Command]) -> Iterator[Node]:
    with Node.open(db, create=True, engine_settings=engine_settings) as opened:
        assert all(r.ok for r in opened.submit(setup_commands))
        yield opened


def test_open_refuses_a_missing_journal(db: str) -> None:
    with pytest.raises(JournalNotFoundError):
        Node.open(db)


def test_engine_settings_are_kept_with_the_journal(
    db: str, engine_settings: EngineSettings
) -> None:
    Node.open(db, create=True, engine_settings=engine_settings).close()
    with Node.open(db) as node:  # the stored settings, not the defaults
        assert node.engine.settings == engine_settings
    with pytest.raises(SettingsMismatchError):
        Node.open(db, engine_settings=type(engine_settings)())
    Node.open(db, create=True).close()  # create on an existing journal just opens it


def test_closed_node_refuses(node: Node, make_transfers: MakeTransfers) -> None:
    node.close()
    with pytest.raises(NodeClosedError):
        node.submit_batch(make_transfers(10_000, 3, 1))
    node.close()  # twice is fine


def test_threads_are_joined_into_one_entry(
    node: Node, db: str, make_transfers: MakeTransfers
) -> None:
    """Callers queued while the writer is busy ride on one entry, each with its results."""
    threads_n = 6
    results: dict[int, list[int]] = {}
    seq_before = node.head.seq

    def caller(k: int) -> None:
        batch = make_transfers(10_000 + 100 * k, 10 + k, k)
        result = node.submit_batch(batch)
        results[k] = [r.command_id for r in result.results()]

    with node.quiesced():  # hold the writer role so that everyone queues up
        threads = [threading.Thread(target=caller, args=(k,)) for k in range(threads_n)]
        for thread in threads:
            thread.start()
        _wait_for_queue(node, threads_n)
    for thread in threads:
        thread.join()
    assert node.head.seq == seq_before + 1  # one entry, one fsync for all six
    for k in range(threads_n):
        assert results[k] == list(range(10_000 + 100 * k, 10_000 + 100 * k + 10 + k))


def test_concurrent_callers_get_their_own_results(
    node: Node, db: str, make_transfers: MakeTransfers
) -> None:
    threads_n, calls_n = 8, 25
    acked: dict[int, list[int]] = {k: [] for k in range(threads_n)}
    errors: list[BaseException] = []

    def caller(k: int) -> None:
        try:
            for call in range(calls_n):
                id_first = 1_000_000 * (k + 1) + 100 * call
                rows = 1 + (call * 7 + k) % 60
                result = node.submit_batch(make_transfers(id_first, rows, k * 1000 + call))
                ids = [r.command_id for r in result.results()]
                assert ids == list(range(id_first, id_first + rows))
                assert not any(r.replayed for r in result.results())
                acked[k].extend(ids)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    live_digest = node.engine.digest()
    node.close()
    in_journal = _journal_ids(db)
    acked_ids = [i for ids in acked.values() for i in ids]
    assert all(in_journal[i] == 1 for i in acked_ids)  # every acknowledged id, exactly once
    transfers_in_journal = {i for i in in_journal if i >= 1_000_000}
    assert transfers_in_journal == set(acked_ids)  # and nothing that was not acknowledged
    report = verify(db)
    assert report.ok and report.digest == live_digest


def _run_threads(target: Callable[[int], None], threads_n: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(k: int) -> None:
        try:
            target(k)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a caller hangs"
    return errors


def test_quiesced_and_snapshot_get_their_turn_under_load(
    node: Node, make_transfers: MakeTransfers
) -> None:
    """A steady stream of callers never keeps quiesced() or snapshot() out."""
    stop = threading.Event()
    turns: list[int] = []

    def caller(k: int) -> None:
        call = 0
        while not stop.is_set():
            node.submit_batch(make_transfers(1_000_000 * (k + 1) + 10 * call, 10, call))
            call += 1

    def reader(k: int) -> None:
        if k > 0:
            caller(k)
            return
        for _ in range(20):
            with node.quiesced() as engine:
                turns.append(engine.commands_applied)
            node.snapshot()
        stop.set()

    assert not _run_threads(reader, 5)
    assert len(turns) == 20 and turns == sorted(turns)


def test_close_commits_what_is_queued(node: Node, db: str, make_transfers: MakeTransfers) -> None:
    answered: dict[int, int] = {}

    def caller(k: int) -> None:
        answered[k] = node.submit_batch(make_transfers(10_000 + 100 * k, 7, k)).ok_count()

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(4)]
    closer = threading.Thread(target=node.close)
    with node.quiesced():
        for thread in threads:
            thread.start()
        _wait_for_queue(node, 4)
        closer.start()
        while node._role_waiters == 0:
            time.sleep(0.001)
    for thread in [*threads, closer]:
        thread.join(timeout=60)
    assert answered == {0: 7, 1: 7, 2: 7, 3: 7}  # answered, not refused
    assert all(_journal_ids(db)[10_000 + 100 * k + 6] == 1 for k in range(4))


def test_backpressure_keeps_every_caller_served(
    db: str,
    engine_settings: EngineSettings,
    setup_commands: list[Command],
    make_transfers: MakeTransfers,
) -> None:
    settings = NodeSettings(batch_size_max=10, submit_queue_commands_max=20, linger_us=50)
    with Node.open(db, create=True, settings=settings, engine_settings=engine_settings) as node:
        node.submit(setup_commands)

        def caller(k: int) -> None:
            for call in range(15):
                id_first = 1_000_000 * (k + 1) + 10 * call
                result = node.submit_batch(make_transfers(id_first, 1 + (call + k) % 10, call))
                assert result.results()[0].command_id == id_first

        assert not _run_threads(caller, 8)
    assert verify(db).ok


def test_a_big_batch_is_cut_into_entries_in_order(
    db: str, engine_settings: EngineSettings, setup_commands: list[Command]
) -> None:
    settings = NodeSettings(batch_size_max=100, snapshot_on_close=False)
    with Node.open(db, create=True, settings=settings, engine_settings=engine_settings) as node:
        node.submit(setup_commands)
        seq = node.head.seq
        rows = 1050
        flags = np.zeros(rows, dtype=np.uint8)
        flags[95:105] = 1  # a chain across the first cut: rows 95..105 (105 ends it)
        batch = make_linked(2_000_000, rows, flags)
        result = node.submit_batch(batch)
        assert [r.command_id for r in result.results()] == list(range(2_000_000, 2_000_000 + rows))
        assert result.ok_count() == rows
        assert node.head.seq == seq + 11  # 95 + ten parts of at most 100
        journal = open_journal(db)
        sizes = [len(Batch.unpack(e.payload)) for e in journal.read(seq + 1)]
        journal.close()
        assert sizes[0] == 95 and sum(sizes) == rows and max(sizes) <= 100
        too_long = np.zeros(300, dtype=np.uint8)
        too_long[10:200] = 1
        with pytest.raises(ValueError, match="longer than batch_size_max"):
            node.submit_batch(make_linked(3_000_000, 300, too_long))
        assert node.head.seq == seq + 11  # refused before anything was committed


def make_linked(id_first: int, rows: int, flags: np.ndarray) -> Batch:
    accounts = np.arange(rows, dtype=np.int64) % 4 + 100
    return Batch.of_transfers(
        np.zeros(rows, dtype=np.uint64),
        np.arange(id_first, id_first + rows, dtype=np.uint64),
        accounts,
        (accounts - 100 + 1) % 4 + 100,
        np.full(rows, 5, dtype=np.int64),
        linked=flags,
    )


def test_an_open_chain_does_not_swallow_the_next_caller(node: Node) -> None:
    """A request ending with the linked flag closes its entry; the next caller is unharmed."""
    open_chain = [Transfer(50, 100, 101, 5, linked=True)]
    plain = [Transfer(51, 101, 102, 5)]
    answers: dict[str, list[ResultCode]] = {}
    seq = node.head.seq

    def call(name: str, commands: list[Transfer]) -> None:
        answers[name] = [r.code for r in node.submit(commands)]

    with node.quiesced():
        first = threading.Thread(target=call, args=("open", open_chain))
        first.start()
        _wait_for_queue(node, 1)
        second = threading.Thread(target=call, args=("plain", plain))
        second.start()
        _wait_for_queue(node, 2)
    first.join()
    second.join()
    assert answers == {"open": [ResultCode.LINKED_CHAIN_OPEN], "plain": [ResultCode.OK]}
    assert node.head.seq == seq + 2


def test_resubmission_is_idempotent_also_after_restart(
    db: str, engine_settings: EngineSettings, setup_commands: list[Command]
) -> None:
    with Node.open(db, create=True, engine_settings=engine_settings) as node:
        node.submit(setup_commands)
        first = node.submit([Transfer(77, 100, 101, 1_000)])
        assert first[0].ok and not first[0].replayed
        balance = node.engine.account(100).balance_minor  # type: ignore[union-attr]
        again = node.submit([Transfer(77, 100, 101, 1_000)])
        assert again[0].ok and again[0].replayed
        assert node.engine.account(100).balance_minor == balance  # type: ignore[union-attr]
        other = node.submit([Transfer(77, 100, 101, 999)])
        assert other[0].code == ResultCode.ID_REUSED and other[0].reason == "DUPL"
    with Node.open(db) as node:
        after_restart = node.submit([Transfer(77, 100, 101, 1_000)])
        assert after_restart[0].ok and after_restart[0].replayed
        assert node.engine.account(100).balance_minor == balance  # type: ignore[union-attr]
    assert verify(db).ok


def test_restart_continues_the_chain(
    db: str,
    engine_settings: EngineSettings,
    setup_commands: list[Command],
    make_transfers: MakeTransfers,
) -> None:
    with Node.open(db, create=True, engine_settings=engine_settings) as node:
        node.submit(setup_commands)
        node.submit_batch(make_transfers(10_000, 50, 1))
        head = node.head
    with Node.open(db, settings=NO_SNAPSHOT_ON_CLOSE) as node:
        assert node.head == head
        node.submit_batch(make_transfers(20_000, 50, 2))
        assert node.head.seq == head.seq + 1 and node.head.timestamp_ns > head.timestamp_ns
        digest = node.engine.digest()
    report = verify(db)
    assert report.ok and report.digest == digest


def test_a_failed_append_is_answered_and_not_journaled(
    node: Node, db: str, make_transfers: MakeTransfers
) -> None:
    """In the plain order (append, then apply) a failed append leaves the node usable."""
    backend = node._backend
    real_append = backend.append

    def failing_append(entries: object) -> None:
        raise OSError("disk full")

    backend.append = failing_append  # type: ignore[method-assign]
    seq = node.head.seq
    with pytest.raises(OSError, match="disk full"):
        node.submit_batch(make_transfers(10_000, 5, 1))
    backend.append = real_append  # type: ignore[method-assign]
    assert node.head.seq == seq
    result = node.submit_batch(make_transfers(10_000, 5, 1))  # a retry is a first time
    assert result.ok_count() == 5 and not result.replayed.any()
    node.close()
    assert verify(db).ok


def test_a_failed_apply_stops_the_node_and_loses_nothing(
    node: Node, db: str, make_transfers
) -> None:
    engine = node.engine

    def failing_apply(batch: Batch, timestamp_ns: int) -> None:
        raise AssertionError("broken invariant")

    engine.apply = failing_apply  # type: ignore[method-assign]
    with pytest.raises(NodeFailedError):
        node.submit_batch(make_transfers(10_000, 5, 1))
    with pytest.raises(NodeFailedError):
        node.submit_batch(make_transfers(20_000, 5, 2))
    seq = node.head.seq
    node.close()
    assert _journal_ids(db)[10_000] == 1  # it was durable before the engine refused it
    with Node.open(db) as reopened:
        assert reopened.head.seq == seq
        assert reopened.engine.account(100) is not None


def test_a_failed_append_beside_apply_stops_the_node(
    db: str,
    engine_settings: EngineSettings,
    setup_commands: list[Command],
    make_transfers: MakeTransfers,
) -> None:
    """Appended beside apply, a failed append leaves the engine ahead: the node stops."""
    settings = NodeSettings(append_overlap_rows_min=1, snapshot_on_close=False)
    with Node.open(db, create=True, settings=settings, engine_settings=engine_settings) as node:
        node.submit(setup_commands)
        seq = node.head.seq

        def failing_append(entries: object) -> None:
            raise OSError("disk full")

        node._backend.append = failing_append  # type: ignore[method-assign]
        with pytest.raises(NodeFailedError, match="disk full"):
            node.submit_batch(make_transfers(10_000, 5, 1))
        with pytest.raises(NodeFailedError):
            node.submit_batch(make_transfers(20_000, 5, 2))
    assert _journal_ids(db)[10_000] == 0
    with Node.open(db) as reopened:  # the durable state, without the failed batch
        assert reopened.head.seq == seq
        result = reopened.submit_batch(make_transfers(10_000, 5, 1))
        assert result.ok_count() == 5 and not result.replayed.any()
    assert verify(db).ok


def test_a_failed_apply_beside_the_append_stops_the_node(
    db: str,
    engine_settings: EngineSettings,
    setup_commands: list[Command],
    make_transfers: MakeTransfers,
) -> None:
    settings = NodeSettings(append_overlap_rows_min=1, snapshot_on_close=False)
    with Node.open(db, create=True, settings=settings, engine_settings=engine_settings) as node:
        node.submit(setup_commands)

        def failing_apply(batch: Batch, timestamp_ns: int) -> None:
            raise AssertionError("broken invariant")

        node.engine.apply = failing_apply  # type: ignore[method-assign]
        with pytest.raises(NodeFailedError, match="broken invariant"):
            node.submit_batch(make_transfers(10_000, 5, 1))
        seq = node.head.seq
    assert _journal_ids(db)[10_000] == 1  # durable: the append finished before the answer
    with Node.open(db) as reopened:
        assert reopened.head.seq == seq
    assert verify(db).ok


@pytest.mark.parametrize(
    "bad",
    [
        RegisterParticipant(900, "BNKZDEFF", "Bank Z", "member"),  # type: ignore[arg-type]
        RegisterParticipant(900, ["BNKZDEFF"], "Bank Z", Role.DIRECT),  # type: ignore[arg-type]
        OpenAccount(900, 900, "BNKADEFF", "EUR", credit_line_minor=5.0),  # type: ignore[arg-type]
        SuspendParticipant(900, {"bic": "BNKADEFF"}),  # type: ignore[arg-type]
    ],
    ids=["unknown role", "list as BIC", "float amount", "dict as BIC"],
)
def test_admin_commands_that_cannot_be_journaled_are_refused(
    node: Node, db: str, bad: Command
) -> None:
    """Else they would poison the journal: replay could not read or apply them."""
    seq = node.head.seq
    with pytest.raises(CommandFormatError, match="FF01"):
        node.submit([Transfer(901, 100, 101, 5), bad])
    assert node.head.seq == seq  # nothing stamped, nothing journaled
    assert node.submit([Transfer(901, 100, 101, 5)])[0].ok  # the node goes on
    node.close()
    assert verify(db).ok


def test_an_engine_error_on_admin_commands_never_reaches_the_journal(node: Node, db: str) -> None:
    """Batches with administrative rows are applied before they are journaled."""
    seq = node.head.seq

    def failing_apply(batch: Batch, timestamp_ns: int) -> None:
        raise TypeError("unhashable type: 'list'")

    node.engine.apply = failing_apply  # type: ignore[method-assign]
    with pytest.raises(NodeFailedError, match="not journaled"):
        node.submit([SuspendParticipant(900, "BNKADEFF")])
    node.close()
    assert _journal_ids(db)[900] == 0
    with Node.open(db) as reopened:
        assert reopened.head.seq == seq
        assert reopened.submit([SuspendParticipant(900, "BNKADEFF")])[0].ok
    assert verify(db).ok


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sizes=st.lists(st.integers(1, 400), min_size=1, max_size=6),
    batch_size_max=st.integers(1, 150),
    append_overlap_rows_min=st.sampled_from([1, 50, 10**9]),
)
def test_node_results_equal_one_engine_batch(
    tmp_path: Path,
    engine_settings: EngineSettings,
    setup_commands: list[Command],
    make_transfers: MakeTransfers,
    sizes: list[int],
    batch_size_max: int,
    append_overlap_rows_min: int,
) -> None:
    """However the node cuts and groups, results and state match applying it all at once."""
    key = (tuple(sizes), batch_size_max, append_overlap_rows_min)
    db = str(tmp_path / f"n{abs(hash(key))}.db")
    node_settings = NodeSettings(
        batch_size_max=batch_size_max,
        append_overlap_rows_min=append_overlap_rows_min,
        snapshot_on_close=False,
    )
    batches = []
    id_first = 10_000
    for k, size in enumerate(sizes):
        batches.append(make_transfers(id_first, size, k))
        id_first += size
    with Node.open(
        db, create=True, settings=node_settings, engine_settings=engine_settings
    ) as node:
        node.submit(setup_commands)
        codes = np.concatenate([node.submit_batch(b).codes for b in batches])
    engine = Engine(engine_settings)
    engine.execute_many(setup_commands, 1)
    expected = engine.apply(Batch.concat(batches), 2)
    assert np.array_equal(codes, expected.codes)
    replayed, _ = replay(db)
    assert replayed.accounts() == engine.accounts()
