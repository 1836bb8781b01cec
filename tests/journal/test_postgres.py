"""The PostgreSQL journal: round trip, tamper evidence, snapshots, the writer lock,
group commit, the node on it, and the database going away under load.

Every test works in a schema of its own (dropped afterwards), so parallel runs on one
database never share tables or writer locks. Faults are made without touching the
shared server: a TCP proxy on loopback that the test cuts and restores, and
``pg_terminate_backend`` on the writer's own session.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from interbank.engine import Batch, Command, EngineSettings, ResultCode, Transfer
from interbank.follower import Follower
from interbank.journal import (
    ChainError,
    Entry,
    Head,
    JournalFormatError,
    JournalLockedError,
    JournalNotFoundError,
    JournalUnavailableError,
    next_entry,
    open_journal,
)
from interbank.journal.postgres import PostgresJournal, PostgresLocation, PostgresSettings
from interbank.node import Node, NodeFailedError, NodeSettings, NodeUnavailableError, verify

pytestmark = pytest.mark.postgres

WriteJournal = Callable[..., list[str]]
MakeTransfers = Callable[[int, int, int], Batch]
EVERY_TWO_ENTRIES = NodeSettings(
    snapshot_every_commands=500, snapshots_kept_max=3, snapshot_on_close=False
)


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


@pytest.fixture
def db(pg_url: str) -> Iterator[str]:
    """A journal URL on a fresh schema (overrides the SQLite ``db`` of conftest.py, so
    ``write_journal`` writes to PostgreSQL here)."""
    schema = f"t_{uuid.uuid4().hex[:20]}"
    yield _with_schema(pg_url, schema)
    with psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


def _execute(db: str, statement: str, *args: object) -> list[tuple[Any, ...]]:
    """Run SQL in the journal's schema from a connection of the test's own."""
    location = PostgresLocation.of(db)
    with psycopg.connect(**location.conninfo, autocommit=True) as connection:  # type: ignore[arg-type]
        connection.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(location.schema)))
        cursor = connection.execute(statement, args or None)
        return cursor.fetchall() if cursor.description else []


def _journal_ids(db: str) -> Counter[int]:
    ids: Counter[int] = Counter()
    journal = open_journal(db)
    try:
        for entry in journal.read():
            batch = Batch.unpack(entry.payload)
            ids.update(batch.command_id(row) for row in range(len(batch)))
    finally:
        journal.close()
    return ids


def _chain(count: int, payload_bytes: int = 40) -> list[Entry]:
    entries: list[Entry] = []
    head = Head.genesis()
    for index in range(count):
        entry = next_entry(head, head.timestamp_ns + 7, bytes([index % 251]) * payload_bytes)
        entries.append(entry)
        head = Head.of(entry)
    return entries


# --- the backend -------------------------------------------------------------------------


def test_append_read_round_trip(db: str) -> None:
    entries = _chain(9, payload_bytes=3000)
    settings = PostgresSettings(read_entries_per_fetch=2)  # several pages per read
    journal = PostgresJournal.open(db, create=True, writer=True, settings=settings)
    try:
        assert journal.head() == Head.genesis()
        journal.append(entries[:1])
        journal.append(entries[1:6])  # one transaction for a group of five
        journal.append(entries[6:])
        assert journal.head() == Head.of(entries[-1])
        assert list(journal.read()) == entries
        assert list(journal.read(3, 5)) == entries[2:5]
        assert list(journal.read(10)) == []
        assert journal.entry(4) == entries[3] and journal.entry(10) is None
    finally:
        journal.close()
    reader = open_journal(db)
    try:
        assert list(reader.read()) == entries  # durable across connections
        assert reader.metadata()["format_version"] == "1"
    finally:
        reader.close()


def test_append_must_chain_onto_the_head(db: str) -> None:
    first, second = _chain(2)
    journal = open_journal(db, create=True, writer=True)
    try:
        journal.append([first])
        with pytest.raises(ChainError):
            journal.append([first])  # seq 1 again
        with pytest.raises(ChainError):
            journal.append([next_entry(Head.genesis(), 99, b"other")])
        forged = Entry(2, second.timestamp_ns, b"not what was hashed", second.hash)
        with pytest.raises(ChainError, match="hash"):
            journal.append([forged])
        assert journal.head() == Head.of(first)  # nothing half-written
        journal.append([second])
        assert journal.head().seq == 2
    finally:
        journal.close()


def test_opening_errors(db: str, pg_url: str) -> None:
    with pytest.raises(JournalNotFoundError, match="no journal"):
        open_journal(db)
    with pytest.raises(JournalFormatError, match="schema"):
        open_journal(_with_schema(pg_url, "Bad-Name"))
    started = time.monotonic()
    with pytest.raises(JournalUnavailableError, match="unreachable"):
        open_journal("postgresql://postgres@127.0.0.1:1/interbank_test", create=True)
    assert time.monotonic() - started < 2.0  # refused at once, not after a timeout

    schema = PostgresLocation.of(db).schema
    with psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        connection.execute(sql.SQL("CREATE TABLE {}.t (x int)").format(sql.Identifier(schema)))
    with pytest.raises(JournalFormatError, match="other tables"):
        open_journal(db, create=True)
    _execute(db, "DROP TABLE t")

    open_journal(db, create=True, writer=True).close()
    _execute(db, "UPDATE metadata SET value = '99' WHERE key = 'format_version'")
    with pytest.raises(JournalFormatError, match="version 99"):
        open_journal(db)


def test_the_writer_commits_durably(db: str) -> None:
    journal = open_journal(db, create=True, writer=True)
    try:
        assert isinstance(journal, PostgresJournal)
        with journal._session() as connection:
            row = connection.execute("SHOW synchronous_commit").fetchone()
        assert row == ("on",)
    finally:
        journal.close()
    storage = _execute(
        db,
        "SELECT attstorage FROM pg_attribute WHERE attrelid = 'entries'::regclass"
        " AND attname = 'payload'",
    )
    assert storage == [("e",)]  # out of line, uncompressed: no pglz on the commit path


def test_a_second_writer_is_refused(db: str) -> None:
    writer = open_journal(db, create=True, writer=True)
    try:
        with pytest.raises(JournalLockedError, match="open for writing"):
            open_journal(db, writer=True)
        with pytest.raises(JournalLockedError):
            Node.open(db)
        writer.append(_chain(1))
        reader = open_journal(db)  # readers take no lock
        try:
            assert reader.head().seq == 1
        finally:
            reader.close()
    finally:
        writer.close()
    open_journal(db, writer=True).close()  # the lock goes with the writer's session


def test_a_dead_writers_lock_is_released_and_it_is_fenced(db: str, pg_url: str) -> None:
    """The server frees the lock of a writer whose session dies (as with SIGKILL); a new
    writer takes over, and the old one, reconnecting, finds the lock taken."""
    first = open_journal(db, create=True, writer=True)
    assert isinstance(first, PostgresJournal)
    entries = _chain(2)
    first.append(entries[:1])
    _terminate(pg_url, first)
    second = _open_writer_when_free(db)
    try:
        second.append(entries[1:])
        with pytest.raises((JournalLockedError, JournalUnavailableError)):
            first.append([next_entry(Head.of(entries[0]), 10**6, b"fork")])
        time.sleep(first.settings.reconnect_interval_ms / 1000)
        with pytest.raises(JournalLockedError):
            first.head()
    finally:
        second.close()
        first.close()
    assert [e.seq for e in _chain_of(db)] == [1, 2]


def _terminate(pg_url: str, journal: PostgresJournal) -> None:
    """End the journal's session from another connection, as a crash would."""
    with psycopg.connect(pg_url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (journal._application_name,),
        ).fetchall()
    assert rows == [(True,)]


def _open_writer_when_free(db: str) -> Any:
    for _ in range(200):
        try:
            return open_journal(db, writer=True)
        except JournalLockedError:
            time.sleep(0.01)  # the terminated session is still exiting
    raise AssertionError("the dead writer's lock was never released")


def _chain_of(db: str) -> list[Entry]:
    journal = open_journal(db)
    try:
        return list(journal.read())
    finally:
        journal.close()


# --- the hash chain and snapshots, as on SQLite -----------------------------------------


def test_a_clean_journal_verifies(write_journal: WriteJournal, db: str) -> None:
    digests = write_journal(entries=5)
    report = verify(db)
    assert report.ok, report.problems
    assert report.entries == 5 and report.digest == digests[5] == report.recovered_digest


@pytest.mark.parametrize("column", ["payload", "hash", "timestamp_ns"])
def test_tampering_is_found_at_its_seq(write_journal: WriteJournal, db: str, column: str) -> None:
    write_journal(entries=5)
    seq = 3
    ((stored,),) = _execute(db, f"SELECT {column} FROM entries WHERE seq = %s", seq)
    if isinstance(stored, bytes):
        at = len(stored) // 2
        changed: object = stored[:at] + bytes([stored[at] ^ 0x01]) + stored[at + 1 :]
    else:
        changed = stored + 1
    _execute(db, f"UPDATE entries SET {column} = %s WHERE seq = %s", changed, seq)
    report = verify(db)
    assert not report.ok and report.first_broken_seq == seq and report.entries == seq - 1
    assert any(f"entry {seq}" in problem for problem in report.problems)


def test_a_rewritten_entry_breaks_the_next_link(write_journal: WriteJournal, db: str) -> None:
    write_journal(entries=5)
    first, second = _chain_of(db)[:2]
    at = len(second.payload) // 2
    payload = second.payload[:at] + bytes([second.payload[at] ^ 0x01]) + second.payload[at + 1 :]
    forged = next_entry(Head.of(first), second.timestamp_ns, payload)
    _execute(db, "UPDATE entries SET payload = %s, hash = %s WHERE seq = 2", payload, forged.hash)
    report = verify(db)
    assert not report.ok and report.first_broken_seq == 3


def test_a_missing_entry_is_found(write_journal: WriteJournal, db: str) -> None:
    write_journal(entries=5)
    _execute(db, "DELETE FROM entries WHERE seq = 3")
    report = verify(db)
    assert not report.ok and report.first_broken_seq == 3


def test_recovery_from_a_snapshot_equals_full_replay(write_journal: WriteJournal, db: str) -> None:
    digests = write_journal(entries=9, rows=300, settings=EVERY_TWO_ENTRIES)
    journal = open_journal(db)
    try:
        seqs = [info.seq for info in journal.snapshots()]
    finally:
        journal.close()
    assert len(seqs) == 3 and seqs == sorted(seqs, reverse=True)  # older ones were dropped
    report = verify(db)
    assert report.ok, report.problems
    assert report.snapshot_seq == seqs[0] and report.recovered_digest == digests[9]
    with Node.open(db) as node:
        assert node.recovery.snapshot_seq == seqs[0]
        assert node.recovery.entries_replayed == 9 - seqs[0]
        assert node.engine.digest() == digests[9]
    assert _execute(db, "SELECT count(*) FROM snapshot_parts")[0][0] >= 3


@pytest.mark.parametrize("damage", ["bytes", "missing part", "digest"])
def test_a_damaged_snapshot_is_skipped(write_journal: WriteJournal, db: str, damage: str) -> None:
    digests = write_journal(entries=9, rows=300, settings=EVERY_TWO_ENTRIES)
    newest, older = (
        row[0] for row in _execute(db, "SELECT seq FROM snapshots ORDER BY seq DESC")[:2]
    )
    if damage == "bytes":
        _execute(db, "UPDATE snapshot_parts SET data = overlay(data placing '\\x00'::bytea"
                     " from 100) WHERE seq = %s", newest)  # fmt: skip
    elif damage == "missing part":
        _execute(db, "DELETE FROM snapshot_parts WHERE seq = %s", newest)
    else:
        _execute(db, "UPDATE snapshots SET digest = 'forged' WHERE seq = %s", newest)
    with Node.open(db) as node:
        assert node.recovery.snapshot_seq == older
        assert node.engine.digest() == digests[9]
        assert any(f"seq {newest}" in reason for reason in node.recovery.snapshots_skipped)


# --- the node on PostgreSQL --------------------------------------------------------------


@pytest.fixture
def pg_node(
    db: str, engine_settings: EngineSettings, setup_commands: list[Command]
) -> Iterator[Node]:
    with Node.open(db, create=True, engine_settings=engine_settings) as node:
        assert all(r.ok for r in node.submit(setup_commands))
        yield node


def test_group_commit_from_threads(pg_node: Node, db: str, make_transfers: MakeTransfers) -> None:
    threads_count, submissions, rows = 8, 15, 4
    seq_before = pg_node.head.seq
    failures: list[BaseException] = []

    def client(thread: int) -> None:
        try:
            for step in range(submissions):
                id_first = 2_000_000 + (thread * submissions + step) * rows
                result = pg_node.submit_batch(make_transfers(id_first, rows, thread * 100 + step))
                assert len(result) == rows and not result.replayed.any()
        except BaseException as error:
            failures.append(error)

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not failures
    entries = pg_node.head.seq - seq_before
    assert entries < threads_count * submissions  # callers shared entries
    digest = pg_node.engine.digest()
    pg_node.close()
    ids = _journal_ids(db)
    assert sum(1 for i in ids if i >= 2_000_000) == threads_count * submissions * rows
    report = verify(db)
    assert report.ok and report.digest == digest


def test_resubmission_is_idempotent_also_after_restart(pg_node: Node, db: str) -> None:
    first = pg_node.submit([Transfer(77, 100, 101, 1_000)])
    assert first[0].ok and not first[0].replayed
    again = pg_node.submit([Transfer(77, 100, 101, 1_000)])
    assert again[0].ok and again[0].replayed
    other = pg_node.submit([Transfer(77, 100, 101, 999)])
    assert other[0].code == ResultCode.ID_REUSED and other[0].reason == "DUPL"
    balance = pg_node.engine.account(100).balance_minor  # type: ignore[union-attr]
    pg_node.close()
    with Node.open(db) as node:
        after_restart = node.submit([Transfer(77, 100, 101, 1_000)])
        assert after_restart[0].ok and after_restart[0].replayed
        assert node.engine.account(100).balance_minor == balance  # type: ignore[union-attr]
    assert _journal_ids(db)[77] == 4  # every submission is journaled; one took effect
    assert verify(db).ok


# --- faults ----------------------------------------------------------------------------


class LoopbackProxy:
    """A TCP proxy on 127.0.0.1 in front of the server, which the test can cut (every
    connection dropped, new ones refused) and restore on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self.port = 0

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.02)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        assert listener is not None and self._accepting is not None
        self._accepting.join()  # it stops once the listener is no longer current
        listener.close()  # new connections are refused from here on
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self._target, timeout=3)
            except OSError:
                client.close()
                continue
            for sock in (client, server):
                sock.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(1 << 16):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy(pg_url: str) -> Iterator[LoopbackProxy]:
    location = PostgresLocation.of(pg_url)
    proxy = LoopbackProxy(
        location.conninfo.get("host", "127.0.0.1"), int(location.conninfo.get("port", "5432"))
    )
    proxy.start()
    yield proxy
    with contextlib.suppress(AssertionError):
        proxy.cut()


def _via(db: str, proxy: LoopbackProxy) -> str:
    location = PostgresLocation.of(db)
    info = location.conninfo
    return (
        f"postgresql://{info.get('user', 'postgres')}@127.0.0.1:{proxy.port}/"
        f"{info['dbname']}?schema={location.schema}"
    )


class Load:
    """One client submitting transfer batches with fresh ids, as fast as it is answered;
    it keeps what was acknowledged, and what failed with how long the failure took."""

    def __init__(self, node: Node, make_transfers: MakeTransfers, id_first: int) -> None:
        self._node = node
        self._make = make_transfers
        self._id_next = id_first
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.acked: list[Batch] = []
        self.failed: list[tuple[Batch, float, BaseException]] = []

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()

    def wait_for_acks(self, more: int, timeout_s: float = 15.0) -> None:
        target = len(self.acked) + more
        deadline = time.monotonic() + timeout_s
        while len(self.acked) < target:
            assert time.monotonic() < deadline, f"acks stalled; failures: {self.failed[-1:]}"
            time.sleep(0.01)

    def wait_for_failures(self, count: int, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.failed) < count:
            assert time.monotonic() < deadline, "no write failed"
            time.sleep(0.01)

    def _run(self) -> None:
        step = 0
        while not self._stop.is_set():
            # Small and large batches: the node appends small ones before applying and
            # large ones (>= append_overlap_rows_min) beside the apply.
            rows = 30 if step % 2 else 150
            batch = self._make(self._id_next, rows, step)
            self._id_next += rows
            step += 1
            started = time.monotonic()
            try:
                self._node.submit_batch(batch)
            except NodeFailedError as error:
                self.failed.append((batch, time.monotonic() - started, error))
                time.sleep(0.01)
            else:
                self.acked.append(batch)


FAULT_NODE = NodeSettings(append_overlap_rows_min=100, snapshot_on_close=False)


def _ids(batches: list[Batch]) -> list[int]:
    return [batch.command_id(row) for batch in batches for row in range(len(batch))]


def _check_after_faults(db: str, node: Node, load: Load) -> None:
    """Failures were clear and fast; resubmitting them has one effect; nothing acked lost."""
    for _, seconds, error in load.failed:
        assert isinstance(error, NodeUnavailableError), error
        assert "resubmit with the same ids" in str(error)
        assert seconds < 1.0, f"a write took {seconds:.2f} s to fail"
    resubmitted = {}
    for batch, _, _ in load.failed:
        result = node.submit_batch(batch)  # the same ids: idempotent
        assert (result.codes == ResultCode.OK).all()
        for row in range(len(batch)):
            resubmitted[batch.command_id(row)] = bool(result.replayed[row])
    ids = _journal_ids(db)
    for command_id in _ids(load.acked):
        assert ids[command_id] == 1, command_id  # acknowledged: durable, exactly once
    for command_id, replayed in resubmitted.items():
        # Durable before the failure: the resubmission was answered from the window.
        assert ids[command_id] == (2 if replayed else 1), command_id


def test_the_node_rides_out_a_database_outage(
    db: str,
    proxy: LoopbackProxy,
    engine_settings: EngineSettings,
    setup_commands: list[Command],
    make_transfers: MakeTransfers,
) -> None:
    """The database goes away mid-load and comes back: writes fail fast with a clear
    error, nothing acknowledged is lost, and the same node goes on by itself; a
    follower (also behind the proxy) catches up to the primary's digest."""
    url = _via(db, proxy)
    node = Node.open(url, create=True, engine_settings=engine_settings, settings=FAULT_NODE)
    try:
        node.submit(setup_commands)
        follower = Follower.open(url)
        events: list[str] = []
        following = threading.Event()
        tail = threading.Thread(
            target=follower.run,
            args=(lambda event, status: events.append(event),),
            kwargs={"stop": following.is_set},
        )
        tail.start()
        try:
            with Load(node, make_transfers, 3_000_000) as load:
                load.wait_for_acks(10)
                proxy.cut()
                load.wait_for_failures(3)
                time.sleep(0.5)
                proxy.restore()
                load.wait_for_acks(10)  # the same node, not reopened
        finally:
            following.set()
            tail.join()
        assert len(load.failed) >= 3
        _check_after_faults(db, node, load)
        with node.quiesced() as engine:
            head, digest = node.head, engine.digest()
    finally:
        node.close()
    assert "unreachable" in events and "reachable" in events
    follower.catch_up_all()
    assert follower.head == head and follower.engine.digest() == digest
    follower.close()
    report = verify(db)
    assert report.ok and report.digest == digest


def test_the_node_recovers_when_its_session_is_killed(
    db: str,
    pg_url: str,
    engine_settings: EngineSettings,
    setup_commands: list[Command],
    make_transfers: MakeTransfers,
) -> None:
    """A session ended under load (between appends: replaced before the next one; in
    the middle of one: that batch fails fast and the node recovers by itself)."""
    node = Node.open(db, create=True, engine_settings=engine_settings, settings=FAULT_NODE)
    try:
        node.submit(setup_commands)
        backend = node._backend
        assert isinstance(backend, PostgresJournal)
        with Load(node, make_transfers, 4_000_000) as load:
            for _ in range(4):
                load.wait_for_acks(10)
                _terminate(pg_url, backend)
            load.wait_for_acks(10)
        _check_after_faults(db, node, load)
        with node.quiesced() as engine:
            digest = engine.digest()
    finally:
        node.close()
    report = verify(db)
    assert report.ok and report.digest == digest


def test_a_fenced_node_stops_for_good(
    db: str, pg_url: str, engine_settings: EngineSettings, setup_commands: list[Command]
) -> None:
    """A node whose session died while another writer took the journal must not write
    again (two writers would fork the chain): it stops instead of recovering."""
    node = Node.open(db, create=True, engine_settings=engine_settings)
    try:
        node.submit(setup_commands)
        backend = node._backend
        assert isinstance(backend, PostgresJournal)
        _terminate(pg_url, backend)
        other = _open_writer_when_free(db)
        try:
            for _ in range(3):
                time.sleep(backend.settings.reconnect_interval_ms / 1000)
                with pytest.raises(NodeFailedError) as raised:
                    node.submit([Transfer(90, 100, 101, 5)])
            assert not isinstance(raised.value, NodeUnavailableError)
            assert "JournalLockedError" in str(raised.value)
        finally:
            other.close()
    finally:
        node.close()
    assert _journal_ids(db)[90] == 0


@pytest.mark.parametrize("rows", [5, 200])  # appended before apply / beside apply
def test_a_commit_whose_answer_was_lost_is_found(
    db: str,
    pg_url: str,
    engine_settings: EngineSettings,
    setup_commands: list[Command],
    make_transfers: MakeTransfers,
    rows: int,
) -> None:
    """The server committed but the connection broke before the answer: the caller
    hears an error, the node finds the entry at recovery, and the caller's resubmission
    is answered from the idempotency window, with no second effect."""
    node = Node.open(db, create=True, engine_settings=engine_settings, settings=FAULT_NODE)
    try:
        node.submit(setup_commands)
        backend = node._backend
        assert isinstance(backend, PostgresJournal)
        real_append = backend.append

        def committed_then_cut(entries: Any) -> None:
            real_append(entries)
            _terminate(pg_url, backend)
            raise JournalUnavailableError("the database connection was lost (test)")

        backend.append = committed_then_cut  # type: ignore[method-assign]
        batch = make_transfers(5_000_000, rows, 1)
        with pytest.raises(NodeUnavailableError):
            node.submit_batch(batch)
        backend.append = real_append  # type: ignore[method-assign]
        again = node.submit_batch(batch)
        assert again.replayed.all() and (again.codes == ResultCode.OK).all()
        with node.quiesced() as engine:
            digest = engine.digest()
    finally:
        node.close()
    assert _journal_ids(db)[5_000_000] == 2  # two entries, one effect
    report = verify(db)
    assert report.ok and report.digest == digest
