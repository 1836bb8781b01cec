"""An append-only log of an institution's decisions in a SQLite file.

The reserve pool and the development bank each keep one (``<db>.reserve``,
``<db>.lending``) beside the network's journal: every decision is one row, appended in
order and never updated or deleted, so an institution's state is a fold over its rows.
Decisions that move money are recorded before their commands reach the network, so
after a crash the institution knows what it asked for and re-sends it under the same
command ids (the engine answers a re-send with its first result). One implementation
serves both institutions; it imports only the standard library.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

STORE_FORMAT = "1"
# A decision's payload is small JSON; a bigger one is a bug, not data.
PAYLOAD_BYTES_MAX = 1 << 20

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY,
    on_date TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""


class StoreError(RuntimeError):
    """The record store cannot be used (another format, another network's store)."""


@dataclass(frozen=True, slots=True)
class Decision:
    seq: int
    on: date
    kind: str
    subject: str
    payload: dict[str, Any]


class DecisionStore:
    """Append-only decisions with a namespace that makes its owner's command ids unique."""

    def __init__(self, connection: sqlite3.Connection, location: str) -> None:
        self._connection = connection
        self.location = location
        self._connection.executescript(_SCHEMA)
        with self.transaction():
            found = dict(self._connection.execute("SELECT key, value FROM meta").fetchall())
            if not found:
                # The namespace is drawn once, when the store is made: the network's
                # engine never sees randomness, only the ids derived from it.
                self._connection.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("format", STORE_FORMAT), ("namespace", uuid.uuid4().hex)],
                )
            elif found.get("format") != STORE_FORMAT:
                raise StoreError(f"{location} has record format {found.get('format')!r}")
        self.namespace: str = self.meta("namespace") or ""

    @staticmethod
    def open(path: str) -> DecisionStore:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        return DecisionStore(connection, path)

    @staticmethod
    def in_memory() -> DecisionStore:
        return DecisionStore(sqlite3.connect(":memory:", isolation_level=None), ":memory:")

    def scratch_copy(self) -> DecisionStore:
        """An in-memory copy (same namespace and decisions), for dry runs and what-ifs."""
        target = sqlite3.connect(":memory:", isolation_level=None)
        self._connection.backup(target)
        return DecisionStore(target, ":memory: (copy of " + self.location + ")")

    def close(self) -> None:
        self._connection.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic, durable group of rows; IMMEDIATE so two writers queue, not race."""
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        self._connection.execute("COMMIT")

    def meta(self, key: str) -> str | None:
        row = self._connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._connection.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def append(self, on: date, kind: str, subject: str, payload: dict[str, Any]) -> Decision:
        """Append one decision (inside ``transaction()``); its seq is the next one."""
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        assert len(text) <= PAYLOAD_BYTES_MAX, (kind, len(text))
        cursor = self._connection.execute(
            "INSERT INTO decisions (on_date, kind, subject, payload) VALUES (?, ?, ?, ?)",
            (on.isoformat(), kind, subject, text),
        )
        seq = cursor.lastrowid
        assert seq is not None
        return Decision(seq, on, kind, subject, json.loads(text))

    def decisions(self, seq_after: int = 0) -> list[Decision]:
        rows = self._connection.execute(
            "SELECT seq, on_date, kind, subject, payload FROM decisions WHERE seq > ? ORDER BY seq",
            (seq_after,),
        ).fetchall()
        return [
            Decision(int(seq), date.fromisoformat(on), kind, subject, json.loads(payload))
            for seq, on, kind, subject, payload in rows
        ]

    def count(self) -> int:
        return int(self._connection.execute("SELECT count(*) FROM decisions").fetchone()[0])
