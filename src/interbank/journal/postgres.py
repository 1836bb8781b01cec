"""The PostgreSQL journal backend: the same journal as SQLite, in a database server.

Chosen by URL: ``postgresql://user@host:port/dbname?schema=NAME`` (``schema`` is ours
and defaults to ``interbank``; every other query parameter goes to libpq unchanged).
One journal lives in one schema, in three tables: ``entries`` (seq bigint primary key,
timestamp_ns, payload bytea, hash bytea: one packed batch per row), ``snapshots`` (with
their bytes in ``snapshot_parts``) and ``metadata``. The hash chain is the one in
``chain.py``; nothing in the rows depends on the backend, so a journal copied row by
row between SQLite and PostgreSQL verifies the same.

Durability: the writer's session runs with ``synchronous_commit = on`` (set, then read
back) and refuses a server running with ``fsync = off``. A group of entries is appended
in ONE transaction, and ``append`` returns only after COMMIT has returned, i.e. after
the commit record was flushed to the server's WAL (and to synchronous standbys, if the
server has any configured). High availability is PostgreSQL's own replication; this
code never tries to replicate anything itself. Followers (``interbank.follower``) read
the same tables and are woken by a NOTIFY sent inside each append transaction.

One writer: the writer's session holds a session-level advisory lock keyed on the
schema (advisory locks are per database already), taken before anything is read or
written. A second writer gets JournalLockedError at open. The server drops the lock
when the session ends, so a writer that dies (even by SIGKILL) frees the journal as
soon as the server notices its connection is gone. Session-level locks need a direct
connection or session pooling: a transaction-pooling proxy would break them.

Losing the server: every operation turns a broken connection into
JournalUnavailableError at once (never a hang: TCP keepalives and ``tcp_user_timeout``
bound a silent network), drops the connection, and the next operation connects again
(at most once per ``reconnect_interval_ms``, so a stream of callers fails fast instead
of queueing on connect timeouts). A writer reconnecting must take the advisory lock
again; if its own previous session still holds it (the server has not yet noticed the
broken connection), it ends that session (``pg_terminate_backend``) so that the
transaction it may have left in flight is settled, committed or not, before the new
session reads the head. A lock held by anyone else is JournalLockedError.

It may import psycopg 3 and the journal's own modules; ``open_journal`` imports this
module only for a postgresql:// URL, so SQLite users need no driver.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from interbank.journal.backend import (
    FORMAT_VERSION,
    HASH_BYTES,
    HASH_DESCRIPTION,
    META_FORMAT_VERSION,
    META_HASH,
    ChainError,
    Entry,
    Head,
    JournalError,
    JournalFormatError,
    JournalLockedError,
    JournalNotDurableError,
    JournalNotFoundError,
    JournalUnavailableError,
    SnapshotInfo,
    SnapshotRecord,
    check_metadata,
)
from interbank.journal.chain import check_link

T = TypeVar("T")
Connection = psycopg.Connection[tuple[Any, ...]]

SCHEMA_DEFAULT = "interbank"
_SCHEMA_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,47}")  # lower case: no quoting surprises
_INT64_MAX = 2**63 - 1

# Advisory lock keys are two int4: a class for "interbank journal writer" and a key
# derived from the schema. A second class serialises the creation of the tables.
_LOCK_CLASS_WRITER = 0x69626B31  # "ibk1"
_LOCK_CLASS_CREATE = 0x69626B32  # "ibk2"

# Snapshot bytes are stored in parts: a bytea holds at most 1 GB, and a part of this
# size keeps the memory of one statement bounded on both sides.
SNAPSHOT_PART_BYTES = 32 * 1024 * 1024
SNAPSHOT_BYTES_MAX = 1 << 40


@dataclass(frozen=True, slots=True)
class PostgresSettings:
    """Limits of the PostgreSQL backend. Units are in the names."""

    # libpq's connect_timeout (it counts whole seconds, 2 at least).
    connect_timeout_s: int = 3
    # After a failed connect, operations fail at once for this long before the next try.
    reconnect_interval_ms: int = 250
    # A silent network (no RST, no answer) fails an operation after this long.
    tcp_user_timeout_ms: int = 10_000
    keepalives_idle_s: int = 5
    keepalives_interval_s: int = 2
    keepalives_count: int = 3
    # A reconnecting writer waits this long for its own previous session to go away.
    writer_lock_wait_ms_max: int = 5_000
    # Entries fetched per round trip when reading (one entry is up to ~540 KB).
    read_entries_per_fetch: int = 16

    def __post_init__(self) -> None:
        if self.connect_timeout_s < 2:
            raise ValueError("connect_timeout_s is at least 2 (libpq rounds lower values up)")
        if self.reconnect_interval_ms < 0 or self.writer_lock_wait_ms_max < 0:
            raise ValueError("reconnect_interval_ms and writer_lock_wait_ms_max are >= 0")
        if self.tcp_user_timeout_ms < 1000:
            raise ValueError("tcp_user_timeout_ms is at least 1000")
        if self.read_entries_per_fetch < 1:
            raise ValueError("read_entries_per_fetch is at least 1")


@dataclass(frozen=True, slots=True)
class PostgresLocation:
    """Where a journal lives: libpq connection parameters plus our schema."""

    conninfo: dict[str, str]  # for psycopg.connect, without ``schema``
    schema: str
    display: str  # a URL without the password, for messages

    @staticmethod
    def of(url: str) -> PostgresLocation:
        """Parse a postgresql:// URL; ValueError when it cannot name a journal."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        schemas = [value for key, value in query if key == "schema"]
        if len(schemas) > 1:
            raise ValueError("the URL gives schema= more than once")
        schema = schemas[0] if schemas else SCHEMA_DEFAULT
        if not _SCHEMA_PATTERN.fullmatch(schema):
            raise ValueError(
                f"schema {schema!r}: use lower-case letters, digits and _, at most 48 "
                "characters, not starting with a digit"
            )
        rest = [(key, value) for key, value in query if key != "schema"]
        libpq_url = urlunsplit(parts._replace(query=urlencode(rest)))
        try:
            conninfo = psycopg.conninfo.conninfo_to_dict(libpq_url)
        except psycopg.Error as error:
            raise ValueError(f"not a PostgreSQL URL libpq reads: {error}") from None
        values = {key: str(value) for key, value in conninfo.items() if value is not None}
        user = values.get("user", "")
        host = values.get("host", "")
        port = values.get("port", "")
        display = (
            f"{parts.scheme}://{user + '@' if user else ''}{host}{':' + port if port else ''}"
            f"/{values.get('dbname', '')}?schema={schema}"
        )
        return PostgresLocation(values, schema, display)


_SCHEMA_SQL = (
    "CREATE SCHEMA IF NOT EXISTS {schema}",
    """CREATE TABLE {schema}.metadata (
        key text PRIMARY KEY,
        value text NOT NULL
    )""",
    """CREATE TABLE {schema}.entries (
        seq bigint PRIMARY KEY CHECK (seq >= 1),
        timestamp_ns bigint NOT NULL,
        payload bytea NOT NULL,
        hash bytea NOT NULL
    )""",
    # Out of line and uncompressed. A packed batch of 8190 transfers is ~540 KB, and
    # pglz compression of it cost ~32 ms per append on the 2-core box against ~4 ms
    # stored as it is (lz4: ~8.6 ms, and slower reads); disk is cheaper than the commit.
    "ALTER TABLE {schema}.entries ALTER COLUMN payload SET STORAGE EXTERNAL",
    """CREATE TABLE {schema}.snapshots (
        seq bigint PRIMARY KEY CHECK (seq >= 1),
        digest text NOT NULL,
        size_bytes bigint NOT NULL,
        parts integer NOT NULL,
        data_sha256 bytea NOT NULL
    )""",
    """CREATE TABLE {schema}.snapshot_parts (
        seq bigint NOT NULL REFERENCES {schema}.snapshots (seq) ON DELETE CASCADE,
        part integer NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (seq, part)
    )""",
    "ALTER TABLE {schema}.snapshot_parts ALTER COLUMN data SET STORAGE EXTERNAL",
)


class PostgresJournal:
    """A journal in one PostgreSQL schema. See the module docstring for durability."""

    def __init__(
        self,
        location: PostgresLocation,
        settings: PostgresSettings,
        writer: bool,
    ) -> None:
        self._where = location
        self._settings = settings
        self._writer = writer
        # Unique per journal object: how a reconnecting writer recognises its own old
        # session (and nobody else's) among the server's sessions.
        role = "writer" if writer else "reader"
        self._application_name = f"interbank-{role}-{secrets.token_hex(6)}"[:63]
        # 32 bits of the schema's hash: two schemas that collide would only refuse to
        # have writers at the same time (a false JournalLockedError), never share one.
        self._lock_key = int.from_bytes(
            hashlib.sha256(location.schema.encode()).digest()[:4], "big", signed=True
        )
        self._channel = f"interbank_journal_{location.schema}"
        self._table_entries = sql.Identifier(location.schema, "entries")
        self._table_snapshots = sql.Identifier(location.schema, "snapshots")
        self._table_parts = sql.Identifier(location.schema, "snapshot_parts")
        self._table_metadata = sql.Identifier(location.schema, "metadata")
        # One connection, shared by the node's threads (whoever holds the writer role
        # appends) and used for one statement sequence at a time, hence the lock.
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._connect_failed_ns = 0
        self._connect_error = ""
        self._listener: Connection | None = None
        self._closed = False
        self._metadata: dict[str, str] = {}

    # --- opening -------------------------------------------------------------------

    @staticmethod
    def open(
        url: str,
        *,
        create: bool = False,
        writer: bool = False,
        metadata: Mapping[str, str] | None = None,
        settings: PostgresSettings | None = None,
    ) -> PostgresJournal:
        try:
            location = PostgresLocation.of(url)
        except ValueError as error:
            raise JournalFormatError(f"{_without_password(url)}: {error}") from None
        journal = PostgresJournal(location, settings or PostgresSettings(), writer)
        try:
            with journal._session() as connection:
                if not journal._tables_exist(connection):
                    if not create:
                        raise JournalNotFoundError(
                            f"no journal at {location.display} (create one with "
                            "`interbank init` or create=True)"
                        )
                    journal._initialise(connection, metadata or {})
                journal._metadata = journal._read_metadata(connection)
            check_metadata(journal._metadata, location.display)
        except BaseException:
            journal.close()
            raise
        return journal

    @property
    def location(self) -> str:
        return self._where.display

    @property
    def schema(self) -> str:
        return self._where.schema

    @property
    def settings(self) -> PostgresSettings:
        return self._settings

    def metadata(self) -> dict[str, str]:
        return dict(self._metadata)

    def _tables_exist(self, connection: Connection) -> bool:
        schema = self._where.schema
        row = connection.execute(
            "SELECT to_regclass(format('%%I.%%I', %s::text, 'metadata')) IS NOT NULL,"
            " (SELECT count(*) FROM pg_tables WHERE schemaname = %s)",
            (schema, schema),
        ).fetchone()
        assert row is not None
        has_metadata, tables = row
        if not has_metadata and tables:
            raise JournalFormatError(
                f"{self.location}: schema {schema} holds other tables, not an interbank journal"
            )
        return bool(has_metadata)

    def _initialise(self, connection: Connection, metadata: Mapping[str, str]) -> None:
        """Create the tables and write the metadata, all in one transaction."""
        assert META_FORMAT_VERSION not in metadata and META_HASH not in metadata
        schema = sql.Identifier(self._where.schema)
        with connection.transaction():
            # A reader's session is read-only by default; creating is its one write.
            connection.execute("SET TRANSACTION READ WRITE")
            # Two processes creating the same journal at once: the second waits here,
            # then finds the tables and leaves them alone.
            connection.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS_CREATE, self._lock_key)
            )
            if self._tables_exist(connection):
                return
            for statement in _SCHEMA_SQL:
                connection.execute(sql.SQL(statement).format(schema=schema))
            values = {META_FORMAT_VERSION: str(FORMAT_VERSION), META_HASH: HASH_DESCRIPTION}
            values.update(metadata)
            with connection.cursor() as cursor:
                cursor.executemany(
                    sql.SQL("INSERT INTO {} (key, value) VALUES (%s, %s)").format(
                        self._table_metadata
                    ),
                    sorted(values.items()),
                )

    def _read_metadata(self, connection: Connection) -> dict[str, str]:
        rows = connection.execute(
            sql.SQL("SELECT key, value FROM {}").format(self._table_metadata)
        ).fetchall()
        return {str(key): str(value) for key, value in rows}

    # --- the connection ------------------------------------------------------------

    @contextmanager
    def _session(self) -> Iterator[Connection]:
        """The connection, under the lock, with database errors turned into ours.

        A connection that broke is dropped here; the next call connects again.
        """
        with self._lock:
            if self._closed:
                raise JournalError(f"{self.location}: the journal is closed")
            connection = self._connection
            if connection is None or not _alive(connection):
                connection = self._reconnect()
            try:
                yield connection
            except psycopg.Error as error:
                if (
                    connection.broken
                    or connection.closed
                    or isinstance(error, psycopg.OperationalError)
                ):
                    self._drop_connection()
                    raise JournalUnavailableError(
                        f"{self.location}: the database connection was lost: {_first_line(error)}"
                    ) from error
                raise JournalError(f"{self.location}: {_first_line(error)}") from error

    def _reading(self, work: Callable[[Connection], T]) -> T:
        """Run a read. A connection that died while idle but was not seen dead yet (the
        server ended it a moment ago) costs one retry on a fresh one, not an error;
        reads are safe to repeat. Writes are never repeated here: the node decides."""
        try:
            with self._session() as connection:
                return work(connection)
        except JournalUnavailableError:
            if self._connect_failed_ns:
                raise  # connecting failed: the database is away, say so at once
        with self._session() as connection:
            return work(connection)

    def _reconnect(self) -> Connection:
        """A fresh connection, set up for reading or writing (called under the lock)."""
        self._drop_connection()
        interval_ns = self._settings.reconnect_interval_ms * 1_000_000
        # A monotonic clock for pacing reconnects only; nothing reaches engine state.
        now_ns = time.monotonic_ns()
        if self._connect_failed_ns and now_ns - self._connect_failed_ns < interval_ns:
            raise JournalUnavailableError(
                f"{self.location} is unreachable ({self._connect_error}); retrying in at "
                f"most {self._settings.reconnect_interval_ms} ms"
            )
        try:
            connection = self._connect()
        except psycopg.Error as error:
            self._connect_failed_ns = time.monotonic_ns()
            self._connect_error = _first_line(error)
            raise JournalUnavailableError(
                f"{self.location} is unreachable: {self._connect_error}"
            ) from None
        self._connect_failed_ns = 0
        try:
            if self._writer:
                self._prepare_writer(connection)
            else:
                # Readers (verify, replay, followers) cannot write by mistake.
                connection.execute("SET default_transaction_read_only = on")
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _connect(self, purpose: str = "") -> Connection:
        settings = self._settings
        params: dict[str, object] = dict(self._where.conninfo)
        params.setdefault("connect_timeout", str(settings.connect_timeout_s))
        params.setdefault("keepalives", "1")
        params.setdefault("keepalives_idle", str(settings.keepalives_idle_s))
        params.setdefault("keepalives_interval", str(settings.keepalives_interval_s))
        params.setdefault("keepalives_count", str(settings.keepalives_count))
        params.setdefault("tcp_user_timeout", str(settings.tcp_user_timeout_ms))
        # The listener gets a name of its own: a reconnecting writer ends sessions that
        # carry exactly its name, and must not take the listener for one of them.
        params["application_name"] = (self._application_name + purpose)[:63]
        return psycopg.connect(autocommit=True, **params)  # type: ignore[arg-type]

    def _prepare_writer(self, connection: Connection) -> None:
        """Durable commits, a server that fsyncs, and the journal's writer lock."""
        connection.execute("SET synchronous_commit = on")
        row = connection.execute(
            "SELECT current_setting('synchronous_commit'), current_setting('fsync')"
        ).fetchone()
        assert row is not None
        synchronous_commit, fsync = row
        if synchronous_commit != "on":
            raise JournalNotDurableError(
                f"{self.location}: synchronous_commit is {synchronous_commit}, not on"
            )
        if fsync != "on":
            raise JournalNotDurableError(
                f"{self.location}: the server runs with fsync = off, so a commit does not "
                "survive a crash of the machine; refusing to write a journal there"
            )
        self._take_writer_lock(connection)

    def _take_writer_lock(self, connection: Connection) -> None:
        if self._try_writer_lock(connection):
            return
        # Held. If by our own earlier session (its connection broke, the server has not
        # noticed yet), end it: its open transaction must be settled before we read the
        # head. Anyone else's lock is a second writer.
        deadline_ns = time.monotonic_ns() + self._settings.writer_lock_wait_ms_max * 1_000_000
        while True:
            stale = connection.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE application_name = %s AND pid <> pg_backend_pid()",
                (self._application_name,),
            ).fetchall()
            if not stale:
                if self._try_writer_lock(connection):
                    return
                raise JournalLockedError(
                    f"{self.location} is open for writing by another process (a node "
                    "holds its advisory lock)"
                )
            for (pid,) in stale:
                connection.execute("SELECT pg_terminate_backend(%s)", (pid,))
            if time.monotonic_ns() > deadline_ns:
                raise JournalUnavailableError(
                    f"{self.location}: the previous session of this writer is still there "
                    f"after {self._settings.writer_lock_wait_ms_max} ms"
                )
            time.sleep(0.02)
            if self._try_writer_lock(connection):
                return

    def _try_writer_lock(self, connection: Connection) -> bool:
        row = connection.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_CLASS_WRITER, self._lock_key)
        ).fetchone()
        assert row is not None
        return bool(row[0])

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(psycopg.Error):  # already broken: nothing more to release
                connection.close()

    # --- entries -------------------------------------------------------------------

    def head(self) -> Head:
        query = sql.SQL("SELECT seq, timestamp_ns, hash FROM {} ORDER BY seq DESC LIMIT 1")
        row = self._reading(
            lambda connection: connection.execute(
                query.format(self._table_entries), binary=True
            ).fetchone()
        )
        if row is None:
            return Head.genesis()
        seq, timestamp_ns, entry_hash = row
        entry = _entry_of((seq, timestamp_ns, b"", entry_hash))
        return Head(entry.seq, entry.hash, entry.timestamp_ns)

    def append(self, entries: Sequence[Entry]) -> None:
        assert entries, "an append carries at least one entry"
        assert self._writer, "append needs a journal opened with writer=True"
        for before, after in itertools.pairwise(entries):
            assert after.seq == before.seq + 1, "entries of one append are contiguous"
        if entries[-1].seq > _INT64_MAX or entries[-1].timestamp_ns > _INT64_MAX:
            raise JournalError(f"{self.location}: seq or timestamp beyond a PostgreSQL bigint")
        first = entries[0]
        insert = sql.SQL(
            "INSERT INTO {} (seq, timestamp_ns, payload, hash) VALUES (%s, %s, %b, %b)"
        ).format(self._table_entries)
        rows = [(e.seq, e.timestamp_ns, e.payload, e.hash) for e in entries]
        with self._session() as connection, connection.transaction():
            # The head, read inside the transaction under the writer lock: the group
            # must chain onto it (this also re-checks the first link's hash).
            row = connection.execute(
                sql.SQL("SELECT seq, timestamp_ns, hash FROM {} ORDER BY seq DESC LIMIT 1").format(
                    self._table_entries
                ),
                binary=True,
            ).fetchone()
            head = Head.genesis()
            if row is not None:
                stored = _entry_of((row[0], row[1], b"", row[2]))
                head = Head(stored.seq, stored.hash, stored.timestamp_ns)
            if head.seq + 1 != first.seq:
                raise ChainError(first.seq, f"append after {head.seq}: not the head")
            check_link(head, first)
            if len(rows) == 1:
                connection.execute(insert, rows[0])
            else:
                # executemany runs in pipeline mode: one round trip for the group.
                with connection.cursor() as cursor:
                    cursor.executemany(insert, rows)
            # Delivered to listening followers at COMMIT, and only if it commits.
            connection.execute("SELECT pg_notify(%s, %s)", (self._channel, str(entries[-1].seq)))
        # Leaving the transaction block committed it; with synchronous_commit = on the
        # commit record is flushed to the WAL by then.

    def read(self, seq_first: int = 1, seq_last: int | None = None) -> Iterator[Entry]:
        assert seq_first >= 1
        seq_stop = _INT64_MAX if seq_last is None else min(seq_last, _INT64_MAX)
        page = self._settings.read_entries_per_fetch
        query = sql.SQL(
            "SELECT seq, timestamp_ns, payload, hash FROM {}"
            " WHERE seq >= %s AND seq <= %s ORDER BY seq LIMIT %s"
        ).format(self._table_entries)
        seq_next = seq_first
        # Keyset pages, each its own statement: a long replay neither holds all payloads
        # in memory nor keeps a transaction open; entries never change, so pages agree.
        while seq_next <= seq_stop:
            params = (seq_next, seq_stop, page)
            rows = self._reading(
                lambda connection, params=params: connection.execute(  # type: ignore[misc]
                    query, params, binary=True
                ).fetchall()
            )
            for row in rows:
                yield _entry_of(row)
            if len(rows) < page:
                return
            seq_next = int(rows[-1][0]) + 1

    def entry(self, seq: int) -> Entry | None:
        if not 1 <= seq <= _INT64_MAX:
            return None
        query = sql.SQL("SELECT seq, timestamp_ns, payload, hash FROM {} WHERE seq = %s")
        row = self._reading(
            lambda connection: connection.execute(
                query.format(self._table_entries), (seq,), binary=True
            ).fetchone()
        )
        return None if row is None else _entry_of(row)

    # --- snapshots -----------------------------------------------------------------

    def save_snapshot(self, record: SnapshotRecord, snapshots_kept_max: int) -> None:
        assert snapshots_kept_max >= 1
        assert self._writer, "snapshots are written by the writer"
        size_bytes = len(record.data)
        if size_bytes > SNAPSHOT_BYTES_MAX:
            raise ValueError(f"snapshot of {size_bytes} bytes is over {SNAPSHOT_BYTES_MAX}")
        view = memoryview(record.data)
        parts = [
            (record.seq, index, view[start : start + SNAPSHOT_PART_BYTES])
            for index, start in enumerate(range(0, max(size_bytes, 1), SNAPSHOT_PART_BYTES))
        ]
        with self._session() as connection, connection.transaction():
            connection.execute(
                sql.SQL("DELETE FROM {} WHERE seq = %s").format(self._table_snapshots),
                (record.seq,),
            )
            connection.execute(
                sql.SQL(
                    "INSERT INTO {} (seq, digest, size_bytes, parts, data_sha256)"
                    " VALUES (%s, %s, %s, %s, %b)"
                ).format(self._table_snapshots),
                (record.seq, record.digest, size_bytes, len(parts), record.data_sha256),
            )
            for part in parts:  # one at a time: a part is up to 32 MiB
                connection.execute(
                    sql.SQL("INSERT INTO {} (seq, part, data) VALUES (%s, %s, %b)").format(
                        self._table_parts
                    ),
                    part,
                )
            connection.execute(
                sql.SQL(
                    "DELETE FROM {table} WHERE seq NOT IN"
                    " (SELECT seq FROM {table} ORDER BY seq DESC LIMIT %s)"
                ).format(table=self._table_snapshots),
                (snapshots_kept_max,),
            )

    def snapshots(self) -> list[SnapshotInfo]:
        query = sql.SQL("SELECT seq, digest, size_bytes FROM {} ORDER BY seq DESC")
        rows = self._reading(
            lambda connection: connection.execute(query.format(self._table_snapshots)).fetchall()
        )
        return [SnapshotInfo(int(seq), str(digest), int(size)) for seq, digest, size in rows]

    def load_snapshot(self, seq: int) -> SnapshotRecord | None:
        if not 1 <= seq <= _INT64_MAX:
            return None

        def fetch(connection: Connection) -> tuple[tuple[Any, ...] | None, list[tuple[Any, ...]]]:
            row = connection.execute(
                sql.SQL(
                    "SELECT seq, digest, size_bytes, parts, data_sha256 FROM {} WHERE seq = %s"
                ).format(self._table_snapshots),
                (seq,),
                binary=True,
            ).fetchone()
            if row is None:
                return None, []
            part_rows = connection.execute(
                sql.SQL("SELECT part, data FROM {} WHERE seq = %s ORDER BY part").format(
                    self._table_parts
                ),
                (seq,),
                binary=True,
            ).fetchall()
            return row, part_rows

        row, part_rows = self._reading(fetch)
        if row is None:
            return None
        seq_stored, digest, size_bytes, parts, data_sha256 = row
        if not isinstance(data_sha256, bytes) or len(data_sha256) != HASH_BYTES:
            return None  # damaged beyond reading: treated like a missing snapshot
        if [part for part, _ in part_rows] != list(range(int(parts))):
            return None  # a part is missing
        data = b"".join(bytes(chunk) for _, chunk in part_rows)
        if len(data) != size_bytes:
            return None
        return SnapshotRecord(int(seq_stored), str(digest), data, data_sha256)

    # --- followers -----------------------------------------------------------------

    def wait_for_append(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a NOTIFY from an append; False on timeout.

        The first call starts listening and returns True at once: the caller reads
        after that, so no append between its last read and the LISTEN is missed.
        """
        listener = self._listener
        if listener is None or listener.closed or listener.broken:
            self._listener = None
            try:
                listener = self._connect("-listen")
                listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            except psycopg.Error as error:
                raise JournalUnavailableError(
                    f"{self.location}: cannot listen for appends: {_first_line(error)}"
                ) from None
            self._listener = listener
            return True
        woken = False
        try:
            for _ in listener.notifies(timeout=timeout_s, stop_after=1):
                woken = True
            if woken:  # drain what queued up meanwhile: one read covers them all
                for _ in listener.notifies(timeout=0.0):
                    pass
        except psycopg.Error as error:
            self._listener = None
            listener.close()
            raise JournalUnavailableError(
                f"{self.location}: lost the connection that listens for appends: "
                f"{_first_line(error)}"
            ) from None
        return woken

    # --- closing -------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._closed = True
            # Closing the session releases the advisory lock with it.
            self._drop_connection()
            listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(psycopg.Error):
                listener.close()


def _entry_of(row: Sequence[object]) -> Entry:
    """An Entry from a row, or ChainError when the row was mangled outside interbank."""
    seq, timestamp_ns, payload, entry_hash = row
    assert isinstance(seq, int)
    if isinstance(payload, memoryview):
        payload = bytes(payload)
    if not isinstance(payload, bytes) or not isinstance(entry_hash, bytes):
        raise ChainError(seq, "the payload or hash is not stored as bytes")
    if len(entry_hash) != HASH_BYTES:
        raise ChainError(seq, f"the stored hash has {len(entry_hash)} bytes, not {HASH_BYTES}")
    if not isinstance(timestamp_ns, int) or timestamp_ns < 1:
        raise ChainError(seq, "the timestamp is not a positive integer")
    if seq < 1:
        raise ChainError(seq, "the seq is not positive")
    return Entry(seq, timestamp_ns, payload, entry_hash)


def _alive(connection: Connection) -> bool:
    """False when the connection is known dead or its socket shows the server ended it.

    Reading what is pending on the socket does not block: a session the server ended
    while it was idle (restart, pg_terminate_backend, a proxy gone) is found here,
    before a statement is sent on it.
    """
    if connection.closed or connection.broken:
        return False
    pgconn = connection.pgconn
    try:
        # Twice: the first read may return the server's farewell message, and only the
        # next one sees the end of the stream behind it.
        pgconn.consume_input()
        pgconn.consume_input()
    except psycopg.OperationalError:
        return False
    return pgconn.status == psycopg.pq.ConnStatus.OK


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
