"""The agency's store: an append-only, hash-chained, signed list of workflow records.

One SQLite file (``agency.db`` by default, kept beside the network's journal but never
inside it: the journal holds what changes money, this holds why). Each record is

    signed bytes = canonical JSON {seq, prev_hash, kind, author, recorded_at, body}
    signature    = Ed25519 by the author's key over the signed bytes
    hash         = sha256(signed bytes || signature)

and the next record carries that hash as its ``prev_hash`` (32 zero bytes before the
first). Changing a stored vote or rating breaks its signature; removing or reordering
records breaks the chain; only the author's private key can make a record that checks.
Bodies hold only strings, ints, bools, lists and objects: decimals travel as strings.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

GENESIS_PREV_HASH = bytes(32)
_BODY_CHARS_MAX = 1 << 20
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    author TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    body TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    signature BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS store_format (version INTEGER NOT NULL);
"""
STORE_FORMAT_VERSION = 1


class StoreError(Exception):
    """The store cannot be opened or written."""


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    kind: str
    author: str
    recorded_at: str  # ISO 8601 UTC, as the writer's clock read it
    body: dict[str, Any]
    prev_hash: bytes
    signature: bytes
    hash: bytes

    def signed_bytes(self) -> bytes:
        return signed_bytes(
            self.seq, self.prev_hash, self.kind, self.author, self.recorded_at, self.body
        )


def canonical_json(value: object) -> str:
    """One spelling per value: sorted keys, no spaces, UTF-8 kept; floats refused."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def signed_bytes(
    seq: int, prev_hash: bytes, kind: str, author: str, recorded_at: str, body: dict[str, Any]
) -> bytes:
    envelope = {
        "seq": seq,
        "prev_hash": prev_hash.hex(),
        "kind": kind,
        "author": author,
        "recorded_at": recorded_at,
        "body": body,
    }
    return canonical_json(envelope).encode("utf-8")


def record_hash(signed: bytes, signature: bytes) -> bytes:
    return hashlib.sha256(signed + signature).digest()


def _no_floats(value: object, where: str) -> None:
    if isinstance(value, float):
        raise StoreError(f"{where}: a float in a record body; write decimals as strings")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise StoreError(f"{where}: body keys are strings")
            _no_floats(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_floats(item, f"{where}[{i}]")


class RecordStore:
    """The SQLite file. One writer at a time (``BEGIN IMMEDIATE``); any number of readers."""

    def __init__(self, connection: sqlite3.Connection, path: str) -> None:
        self._db = connection
        self.path = path

    @staticmethod
    def open(path: str | Path, *, create: bool = False) -> RecordStore:
        file = Path(path)
        if not create and not file.exists():
            raise StoreError(f"no agency store at {file}; create one with: interbank rating init")
        if create and file.exists() and file.stat().st_size > 0:
            raise StoreError(f"{file} exists already; an agency store is created once")
        connection = sqlite3.connect(str(file), isolation_level=None, timeout=30)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            # A decision is acted on in the network right after it is recorded: it must
            # survive a crash first, as the journal's entries do.
            connection.execute("PRAGMA synchronous=FULL")
            if create:
                connection.executescript(_SCHEMA)
                connection.execute("INSERT INTO store_format VALUES (?)", (STORE_FORMAT_VERSION,))
            else:
                row = connection.execute("SELECT version FROM store_format").fetchone()
                if row is None or row[0] != STORE_FORMAT_VERSION:
                    raise StoreError(
                        f"{file}: not an agency store of format {STORE_FORMAT_VERSION}"
                    )
        except sqlite3.DatabaseError as error:
            connection.close()
            raise StoreError(f"{file} is not an agency store: {error}") from None
        except BaseException:
            connection.close()
            raise
        return RecordStore(connection, str(file))

    def close(self) -> None:
        self._db.close()

    def records(self, after_seq: int = 0) -> Iterator[Record]:
        rows = self._db.execute(
            "SELECT seq, kind, author, recorded_at, body, prev_hash, signature, hash "
            "FROM records WHERE seq > ? ORDER BY seq",
            (after_seq,),
        )
        for seq, kind, author, recorded_at, body, prev_hash, signature, digest in rows:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = {"unreadable_body": body}
            yield Record(
                seq,
                kind,
                author,
                recorded_at,
                parsed,
                bytes(prev_hash),
                bytes(signature),
                bytes(digest),
            )

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One write transaction: the caller reads the state, checks, then appends."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def head(self) -> tuple[int, bytes]:
        row = self._db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, GENESIS_PREV_HASH) if row is None else (int(row[0]), bytes(row[1]))

    def append(
        self,
        kind: str,
        author: str,
        body: dict[str, Any],
        key: Ed25519PrivateKey,
        recorded_at: str,
    ) -> Record:
        """Sign and append one record; call inside ``writing()``."""
        assert self._db.in_transaction, "append only inside writing()"
        _no_floats(body, kind)
        text = canonical_json(body)
        if len(text) > _BODY_CHARS_MAX:
            raise StoreError(f"a {kind} record is over {_BODY_CHARS_MAX} characters")
        last_seq, last_hash = self.head()
        seq = last_seq + 1
        signed = signed_bytes(seq, last_hash, kind, author, recorded_at, body)
        signature = key.sign(signed)
        digest = record_hash(signed, signature)
        self._db.execute(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, kind, author, recorded_at, text, last_hash, signature, digest),
        )
        return Record(
            seq, kind, author, recorded_at, json.loads(text), last_hash, signature, digest
        )
