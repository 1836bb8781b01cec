"""The view store: one SQLite file beside the journal (``<db>.views``).

Two kinds of tables:

- the archive (``messages``, ``message_ids``, ``payments``, ``history``, ``outbox``):
  primary data that the journal does not hold (the bytes as received, who sent what,
  the message references of each payment). It is written with ``synchronous=FULL``
  before a message's commands are submitted, so nothing acknowledged is missing here.
- projections (``outcomes``, ``entries``, ``journaled_messages``): derived from applied
  journal entries only (engine events, result codes, and the RecordMessage rows that
  put each message's SHA-256 into the hash chain); dropped and re-derived by replaying
  the journal whenever ``applied_seq`` is not the journal's head (after a crash between
  the journal append and the view update, or a failed update). The replay itself is
  the node side's (``interbank.view_feed``): this module reads no journal. Payment ids
  are UETRs as 128-bit integers, so tracking by UETR is tracking by command id.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from interbank.engine import Batch, BatchResult, Engine, Event, ResultCode
from interbank.engine.commands import (
    Kind,
    LsmRun,
    PaymentQueued,
    PaymentRejected,
    PaymentSettled,
    RecordMessage,
    TransferSettled,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    sha256 TEXT PRIMARY KEY, received_ns INTEGER NOT NULL, direction TEXT NOT NULL,
    sender TEXT, receiver TEXT, msg_def TEXT, msg_id TEXT, status TEXT NOT NULL,
    reason TEXT, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS message_ids (
    sender TEXT NOT NULL, msg_id TEXT NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (sender, msg_id));
CREATE TABLE IF NOT EXISTS payments (
    payment_id TEXT PRIMARY KEY, uetr TEXT NOT NULL, kind TEXT NOT NULL,
    debit_bic TEXT, credit_bic TEXT, currency TEXT, amount_minor INTEGER,
    end_to_end_id TEXT, instruction_id TEXT, transaction_id TEXT, msg_id TEXT,
    sha256 TEXT NOT NULL, received_ns INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS payments_uetr ON payments (uetr);
CREATE TABLE IF NOT EXISTS history (
    uetr TEXT NOT NULL, at_ns INTEGER NOT NULL, event TEXT NOT NULL, detail TEXT,
    sha256 TEXT);
CREATE INDEX IF NOT EXISTS history_uetr ON history (uetr);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, to_bic TEXT NOT NULL, msg_def TEXT NOT NULL,
    sha256 TEXT NOT NULL, uetr TEXT, created_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outcomes (
    payment_id TEXT NOT NULL, at_ns INTEGER NOT NULL, seq INTEGER NOT NULL,
    event TEXT NOT NULL, reason TEXT, detail TEXT, run_id INTEGER);
CREATE INDEX IF NOT EXISTS outcomes_payment ON outcomes (payment_id);
CREATE TABLE IF NOT EXISTS entries (
    account_id INTEGER NOT NULL, at_ns INTEGER NOT NULL, seq INTEGER NOT NULL,
    command_id TEXT NOT NULL, amount_minor INTEGER NOT NULL, counter_account_id INTEGER,
    kind TEXT NOT NULL, run_id INTEGER);
CREATE INDEX IF NOT EXISTS entries_account ON entries (account_id, at_ns);
CREATE TABLE IF NOT EXISTS journaled_messages (
    sha256 TEXT PRIMARY KEY, seq INTEGER NOT NULL, at_ns INTEGER NOT NULL,
    sender TEXT NOT NULL, command_id TEXT NOT NULL, code INTEGER NOT NULL) WITHOUT ROWID;
"""
_PROJECTION_TABLES = ("outcomes", "entries", "journaled_messages")
_APPLIED_SEQ = "applied_seq"


def uetr_of(command_id: int) -> str:
    """The UETR text (lower-case UUID) of a 128-bit command id."""
    return str(uuid.UUID(int=command_id))


def _id_key(command_id: int) -> str:
    return f"{command_id:032x}"


@dataclass(frozen=True, slots=True)
class ArchivedMessage:
    sha256: str
    received_ns: int
    direction: str  # "in" or "out"
    sender: str | None
    receiver: str | None
    msg_def: str | None
    msg_id: str | None
    status: str  # the verdict: ACCEPTED, or the reason code of the rejection
    reason: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """What a message said about one payment (or return), kept with the archive."""

    payment_id: int
    uetr: str  # the payment's UETR; for a return, the original's
    kind: str  # "payment" or "return"
    debit_bic: str | None
    credit_bic: str | None
    currency: str | None
    amount_minor: int | None
    end_to_end_id: str | None
    instruction_id: str | None
    transaction_id: str | None
    msg_id: str | None
    sha256: str
    received_ns: int


@dataclass(frozen=True, slots=True)
class Outcome:
    payment_id: int
    at_ns: int
    seq: int
    event: str  # queued, settled, rejected, cancelled
    reason: str | None
    detail: str | None
    run_id: int | None


@dataclass(frozen=True, slots=True)
class JournaledMessage:
    """Where a received message's SHA-256 entered the journal (a RecordMessage row)."""

    sha256: str
    seq: int
    at_ns: int
    sender: str
    command_id: int
    code: int  # the engine's result for the RecordMessage (0: recorded)


@dataclass(frozen=True, slots=True)
class Entry:
    account_id: int
    at_ns: int
    seq: int
    command_id: int
    amount_minor: int  # signed: credits positive
    counter_account_id: int | None
    kind: str
    run_id: int | None


class ViewStore:
    """The archive and the projections. Thread-safe (one connection, one lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            c = self._connection
            # A new store gets 16 KiB pages (an existing one keeps its own): a received
            # message is ~2.5 KB, which on 4 KiB pages takes a page of its own; on 16 KiB
            # pages archiving a thousand of them costs half the CPU and half the writes.
            c.execute("PRAGMA page_size=16384")
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=FULL")
            c.executescript(_SCHEMA)
            row = c.execute("SELECT value FROM meta WHERE key = ?", (_APPLIED_SEQ,)).fetchone()
        # Kept in memory (this process is the store's only writer), so projecting an entry
        # does not first read the meta table back.
        self._applied_seq = 0 if row is None else int(row[0])
        # Set when an update arrived out of order (a hook call was lost): the projections
        # are stale until the journal is replayed into them (interbank.view_feed).
        self.stale = False

    @staticmethod
    def beside(db: str) -> ViewStore:
        """The view store of the network at ``db`` (a SQLite path)."""
        path = db.removeprefix("sqlite://")
        return ViewStore(path + ".views")

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    # --- the archive -----------------------------------------------------------------

    def archive(
        self,
        messages: Sequence[ArchivedMessage],
        message_ids: Iterable[tuple[str, str, str]] = (),
        payments: Iterable[PaymentRecord] = (),
        history: Iterable[tuple[str, int, str, str | None, str | None]] = (),
        outbox: Iterable[tuple[str, str, str, str | None, int]] = (),
    ) -> None:
        """Write received (or sent) messages and what they say, durably, in one transaction.

        A message already archived (same bytes) is kept as first written.
        """
        with self._lock:
            c = self._connection
            c.execute("BEGIN IMMEDIATE")
            try:
                c.executemany(
                    "INSERT OR IGNORE INTO messages VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            m.sha256,
                            m.received_ns,
                            m.direction,
                            m.sender,
                            m.receiver,
                            m.msg_def,
                            m.msg_id,
                            m.status,
                            m.reason,
                            m.data,
                        )
                        for m in messages
                    ],
                )
                c.executemany("INSERT OR IGNORE INTO message_ids VALUES (?,?,?)", message_ids)
                c.executemany(
                    "INSERT OR IGNORE INTO payments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            _id_key(p.payment_id),
                            p.uetr,
                            p.kind,
                            p.debit_bic,
                            p.credit_bic,
                            p.currency,
                            p.amount_minor,
                            p.end_to_end_id,
                            p.instruction_id,
                            p.transaction_id,
                            p.msg_id,
                            p.sha256,
                            p.received_ns,
                        )
                        for p in payments
                    ],
                )
                c.executemany("INSERT INTO history VALUES (?,?,?,?,?)", history)
                c.executemany(
                    "INSERT INTO outbox (to_bic, msg_def, sha256, uetr, created_ns) "
                    "VALUES (?,?,?,?,?)",
                    outbox,
                )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def message(self, sha256: str) -> ArchivedMessage | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT * FROM messages WHERE sha256 = ?", (sha256,)
            ).fetchone()
        return None if row is None else ArchivedMessage(*row)

    def message_id_owner(self, sender: str, msg_id: str) -> str | None:
        """The sha256 of the message this sender first sent under ``msg_id``."""
        with self._lock:
            row = self._connection.execute(
                "SELECT sha256 FROM message_ids WHERE sender = ? AND msg_id = ?",
                (sender, msg_id),
            ).fetchone()
        return None if row is None else str(row[0])

    def message_id_owners(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """``message_id_owner`` for many (sender, msg_id) pairs, a few queries in all."""
        found: dict[tuple[str, str], str] = {}
        pairs = list(dict.fromkeys(keys))
        with self._lock:
            for at in range(0, len(pairs), 400):  # SQLite binds at most 999 values
                chunk = pairs[at : at + 400]
                marks = ",".join("(?,?)" for _ in chunk)
                # A join, not "(sender, msg_id) IN (VALUES ...)": SQLite scans the whole
                # table for that form (a cost growing with every message ever received)
                # but searches the primary key for each pair of this one.
                rows = self._connection.execute(
                    f"SELECT m.sender, m.msg_id, m.sha256 FROM (VALUES {marks}) AS k "
                    "JOIN message_ids AS m ON m.sender = k.column1 AND m.msg_id = k.column2",
                    [v for pair in chunk for v in pair],
                ).fetchall()
                found.update({(str(a), str(b)): str(c) for a, b, c in rows})
        return found

    def message_headers(self, sha256s: Iterable[str]) -> dict[str, tuple[str | None, str | None]]:
        """(message definition, sender) of archived messages by SHA-256, without bytes."""
        found: dict[str, tuple[str | None, str | None]] = {}
        keys = list(dict.fromkeys(sha256s))
        with self._lock:
            for at in range(0, len(keys), 500):  # SQLite binds at most 999 values
                chunk = keys[at : at + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._connection.execute(
                    f"SELECT sha256, msg_def, sender FROM messages WHERE sha256 IN ({marks})",
                    chunk,
                ).fetchall()
                found.update({str(sha): (d, f) for sha, d, f in rows})
        return found

    def payment(self, payment_id: int) -> PaymentRecord | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT * FROM payments WHERE payment_id = ?", (_id_key(payment_id),)
            ).fetchone()
        return None if row is None else _payment(row)

    def payments_of_uetr(self, uetr: str) -> list[PaymentRecord]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT * FROM payments WHERE uetr = ? ORDER BY received_ns", (uetr,)
            ).fetchall()
        return [_payment(row) for row in rows]

    def history(self, uetr: str) -> list[tuple[int, str, str | None, str | None]]:
        """(at_ns, event, detail, sha256) of a UETR's archived history, oldest first."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT at_ns, event, detail, sha256 FROM history WHERE uetr = ? "
                "ORDER BY at_ns, rowid",
                (uetr,),
            ).fetchall()
        return [(int(a), str(e), d, s) for a, e, d, s in rows]

    def outbox(self, bic: str) -> list[tuple[int, str, str, str | None, int]]:
        """(id, msg_def, sha256, uetr, created_ns) of messages routed to ``bic``."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT id, msg_def, sha256, uetr, created_ns FROM outbox WHERE to_bic = ? "
                "ORDER BY id",
                (bic,),
            ).fetchall()
        return [(int(i), str(m), str(s), u, int(c)) for i, m, s, u, c in rows]

    # --- projections -----------------------------------------------------------------

    @property
    def applied_seq(self) -> int:
        """The last journal entry the projections hold."""
        return self._applied_seq

    def apply(
        self, seq: int, batch: Batch, result: BatchResult, events: Sequence[Event], engine: Engine
    ) -> None:
        """Project one applied journal entry, in one transaction. Call in entry order,
        right after the engine applied it (``engine`` is read for why payments wait)."""
        if self.stale or seq != self._applied_seq + 1:
            self.stale = True  # an entry was missed: only a replay can fill the gap
            return
        outcomes, entries, journaled = _project(seq, batch, result, events, engine)
        with self._lock:
            c = self._connection
            # Projections are rebuilt from the journal after a crash, so their commit
            # need not wait for the disk; the archive's next FULL commit syncs the WAL
            # with these frames in it.
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("BEGIN IMMEDIATE")
            try:
                if outcomes:
                    c.executemany("INSERT INTO outcomes VALUES (?,?,?,?,?,?,?)", outcomes)
                if entries:
                    c.executemany("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?)", entries)
                if journaled:
                    # The first entry that journaled a message keeps it (a re-send's
                    # RecordMessage is an idempotent replay with no effect).
                    c.executemany(
                        "INSERT OR IGNORE INTO journaled_messages VALUES (?,?,?,?,?,?)", journaled
                    )
                c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_APPLIED_SEQ, str(seq)))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                self.stale = True
                raise
            finally:
                c.execute("PRAGMA synchronous=FULL")
        self._applied_seq = seq

    def restart_projections(self, journal_head_seq: int) -> int:
        """Prepare a replay of the journal into the projections; the seq after which
        entries must be projected (entries up to it are already here).

        Everything is dropped and re-derived from seq 1 when the projections are stale
        (an entry was missed) or belong to a longer journal than this one.
        """
        applied = self._applied_seq
        if self.stale or applied > journal_head_seq:
            applied = 0
        with self._lock:
            c = self._connection
            c.execute("BEGIN IMMEDIATE")
            try:
                if applied == 0:
                    for table in _PROJECTION_TABLES:
                        c.execute(f"DELETE FROM {table}")
                c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_APPLIED_SEQ, str(applied)))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        self._applied_seq = applied
        self.stale = False
        return applied

    def journaled(self, sha256: str) -> JournaledMessage | None:
        """Where the message with this SHA-256 was journaled (None: it never was)."""
        with self._lock:
            row = self._connection.execute(
                "SELECT * FROM journaled_messages WHERE sha256 = ?", (sha256,)
            ).fetchone()
        if row is None:
            return None
        return JournaledMessage(row[0], row[1], row[2], row[3], int(row[4], 16), row[5])

    def journaled_all(self) -> list[JournaledMessage]:
        """Every journaled message, in journal order."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT * FROM journaled_messages ORDER BY seq, sha256"
            ).fetchall()
        return [JournaledMessage(r[0], r[1], r[2], r[3], int(r[4], 16), r[5]) for r in rows]

    def outcomes(self, payment_id: int) -> list[Outcome]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT * FROM outcomes WHERE payment_id = ? ORDER BY seq, rowid",
                (_id_key(payment_id),),
            ).fetchall()
        return [Outcome(int(r[0], 16), r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def entries(self, account_id: int, from_ns: int, until_ns: int) -> list[Entry]:
        """Entries on an account with from_ns <= at_ns < until_ns, in order."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT * FROM entries WHERE account_id = ? AND at_ns >= ? AND at_ns < ? "
                "ORDER BY at_ns, seq, rowid",
                (account_id, from_ns, until_ns),
            ).fetchall()
        return [Entry(r[0], r[1], r[2], int(r[3], 16), r[4], r[5], r[6], r[7]) for r in rows]

    def balance_before(self, account_id: int, at_ns: int) -> int:
        """The account's balance just before ``at_ns``: the sum of its earlier entries."""
        with self._lock:
            row = self._connection.execute(
                "SELECT COALESCE(SUM(amount_minor), 0) FROM entries "
                "WHERE account_id = ? AND at_ns < ?",
                (account_id, at_ns),
            ).fetchone()
        return int(row[0])


def _payment(row: tuple[object, ...]) -> PaymentRecord:
    values = list(row)
    values[0] = int(str(values[0]), 16)
    return PaymentRecord(*values)  # type: ignore[arg-type]


_ENTRY_KINDS = {
    Kind.TRANSFER: "transfer",
    Kind.POST_HOLD: "hold",
    Kind.ISSUE: "issue",
    Kind.REDEEM: "redeem",
    Kind.PAYMENT: "payment",
}


_Rows = list[tuple[object, ...]]


def _project(
    seq: int, batch: Batch, result: BatchResult, events: Sequence[Event], engine: Engine
) -> tuple[_Rows, _Rows, _Rows]:
    """(outcomes, entries, journaled_messages) rows of one applied entry."""
    outcomes: _Rows = []
    entries: _Rows = []
    journaled: _Rows = []
    ts = result.timestamp_ns
    kinds, codes, fresh = batch.kind, result.codes, result.replayed == 0
    # Payments refused at entry carry no event: their result code is their outcome. The
    # rows are picked with numpy: an entry of a thousand messages has two thousand rows.
    refused = (kinds == Kind.PAYMENT) & fresh & (codes != ResultCode.OK)
    refused &= codes != ResultCode.QUEUED
    for row in np.flatnonzero(refused).tolist():
        code = ResultCode(int(codes[row]))
        outcomes.append(
            (_id_key(batch.command_id(row)), ts, seq, "rejected", code.reason, code.text, None)
        )
    for row in np.flatnonzero((kinds == Kind.RECORD_MESSAGE) & fresh).tolist():
        record = batch.admin[row]
        assert isinstance(record, RecordMessage)
        journaled.append(
            (
                record.message_sha256,
                seq,
                ts,
                record.sender_bic,
                _id_key(record.id),
                int(codes[row]),
            )
        )
    for event in events:
        if isinstance(event, PaymentQueued):
            view = engine.waiting(event.payment_id)
            reason, text = (view.reason, view.text) if view is not None else (None, None)
            outcomes.append(
                (_id_key(event.payment_id), event.timestamp_ns, seq, "queued", reason, text, None)
            )
        elif isinstance(event, PaymentSettled):
            key = _id_key(event.payment_id)
            outcomes.append(
                (
                    key,
                    event.timestamp_ns,
                    seq,
                    "settled",
                    None,
                    event.currency,
                    event.run_id or None,
                )
            )
            entries.append(
                (
                    event.debit_account_id,
                    event.timestamp_ns,
                    seq,
                    key,
                    -event.amount_minor,
                    event.credit_account_id,
                    "payment",
                    event.run_id or None,
                )
            )
            entries.append(
                (
                    event.credit_account_id,
                    event.timestamp_ns,
                    seq,
                    key,
                    event.amount_minor,
                    event.debit_account_id,
                    "payment",
                    event.run_id or None,
                )
            )
        elif isinstance(event, PaymentRejected):
            name = "cancelled" if event.code == ResultCode.CANCELLED else "rejected"
            outcomes.append(
                (
                    _id_key(event.payment_id),
                    event.timestamp_ns,
                    seq,
                    name,
                    event.code.reason,
                    event.code.text,
                    None,
                )
            )
        elif isinstance(event, TransferSettled):
            key = _id_key(event.command_id)
            kind = _ENTRY_KINDS.get(event.kind, "transfer")
            entries.append(
                (
                    event.debit_account_id,
                    event.timestamp_ns,
                    seq,
                    key,
                    -event.amount_minor,
                    event.credit_account_id,
                    kind,
                    None,
                )
            )
            entries.append(
                (
                    event.credit_account_id,
                    event.timestamp_ns,
                    seq,
                    key,
                    event.amount_minor,
                    event.debit_account_id,
                    kind,
                    None,
                )
            )
        elif isinstance(event, LsmRun):
            continue  # each payment of the run has its own PaymentSettled with the run id
    return outcomes, entries, journaled


@dataclass(frozen=True, slots=True)
class TrackEvent:
    """One step in a payment's life, for ``interbank iso track``."""

    at_ns: int
    event: str  # received, refused, queued, settled, rejected, cancelled, returned, forwarded
    detail: str
    sha256: str | None = None  # the message this step is about, when there is one
    run_id: int | None = None  # the liquidity-saving run that settled it (None: at entry)


def track(views: ViewStore, uetr: str) -> list[TrackEvent]:
    """A UETR's life: messages received and routed, where each message's hash entered
    the journal, and what the engine did with the payment and any return of it, oldest
    first (a step and the one it caused may share a timestamp: the stable sort keeps
    received before journaled before settled)."""
    steps = [
        TrackEvent(at, event, detail or "", sha) for at, event, detail, sha in views.history(uetr)
    ]
    records = views.payments_of_uetr(uetr)
    shas = [*(s.sha256 for s in steps if s.sha256), *(r.sha256 for r in records)]
    headers = views.message_headers(shas)
    for record in records:
        definition, sender = headers.get(record.sha256, (None, None))
        event = "received" if record.kind == "payment" else "return received"
        detail = f"{definition or record.kind} {record.msg_id} from {sender or record.debit_bic}"
        steps.append(TrackEvent(record.received_ns, event, detail, record.sha256))
    for sha in dict.fromkeys(shas):
        journaled = views.journaled(sha)
        if journaled is not None:
            detail = f"message SHA-256 {sha} in journal entry {journaled.seq}"
            steps.append(TrackEvent(journaled.at_ns, "journaled", detail, sha))
    for record in records:
        for outcome in views.outcomes(record.payment_id):
            event = outcome.event
            if record.kind == "return":
                event = {"settled": "returned"}.get(event, f"return {event}")
            detail = outcome.detail or ""
            if outcome.reason:
                detail = f"{outcome.reason}: {detail}"
            if outcome.event == "settled":
                how = f"in liquidity-saving run {outcome.run_id}" if outcome.run_id else "at entry"
                detail = f"{record.amount_minor} minor units of {record.currency} {how}"
            steps.append(TrackEvent(outcome.at_ns, event, detail, record.sha256, outcome.run_id))
    return sorted(steps, key=lambda s: s.at_ns)
