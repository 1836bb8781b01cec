"""The journal: the ordered, durable, hash-chained record of every command batch.

It owns how entries are stored (one packed batch per entry, appended a group at a
time in one durable transaction), the hash chain that makes them tamper-evident,
engine snapshots, and rebuilding engine state from them (recovery, replay, verify).
Storage sits behind ``JournalBackend``: SQLite is the embedded default, PostgreSQL
(``postgres.py``, psycopg 3, imported only for a postgresql:// URL) the second
implementation. It may import only ``interbank.engine`` types and ``interbank.money``
(and psycopg for PostgreSQL); it never reads a clock for anything that reaches engine
state (timestamps are stamped by the node's writer and stored in the entries).
"""

from __future__ import annotations

from collections.abc import Mapping

from interbank.journal.backend import (
    FORMAT_VERSION,
    GENESIS_HASH,
    META_ENGINE_SETTINGS,
    BackendNotAvailableError,
    ChainError,
    Entry,
    Head,
    JournalBackend,
    JournalError,
    JournalFormatError,
    JournalLockedError,
    JournalNotDurableError,
    JournalNotFoundError,
    JournalUnavailableError,
    SnapshotInfo,
    SnapshotRecord,
)
from interbank.journal.chain import check_link, entry_hash, next_entry
from interbank.journal.replay import (
    Recovery,
    ReplayStats,
    VerifyReport,
    apply_entry,
    engine_settings_json,
    engine_settings_of,
    recover,
    replay_journal,
    settings_agree,
    verify_journal,
)
from interbank.journal.sqlite import SqliteJournal

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_SQLITE_SCHEME = "sqlite://"  # optional: "sqlite:///abs/path" or "sqlite://rel/path"


def open_journal(
    db: str,
    *,
    create: bool = False,
    writer: bool = False,
    metadata: Mapping[str, str] | None = None,
) -> JournalBackend:
    """Open the journal at ``db``: a SQLite file path (or ``sqlite://`` + path), or a
    ``postgresql://`` URL (``?schema=NAME`` picks the schema, default ``interbank``).

    ``create`` makes a new journal when there is none (``metadata`` is written then,
    and only then). ``writer`` takes the journal's single-writer lock.
    """
    if db.startswith(_POSTGRES_SCHEMES):
        try:
            from interbank.journal.postgres import PostgresJournal
        except ImportError as error:
            raise BackendNotAvailableError(
                f"a postgresql:// journal needs psycopg 3 ({error}); install it with: "
                "pip install 'interbank[postgres]'"
            ) from None
        return PostgresJournal.open(db, create=create, writer=writer, metadata=metadata)
    if db.startswith(_SQLITE_SCHEME):
        db = db.removeprefix(_SQLITE_SCHEME)
    elif "://" in db:
        scheme = db.split("://", 1)[0]
        raise BackendNotAvailableError(
            f"unknown journal URL scheme {scheme!r}: give a SQLite file path or a postgresql:// URL"
        )
    return SqliteJournal.open(db, create=create, writer=writer, metadata=metadata)


__all__ = [
    "FORMAT_VERSION",
    "GENESIS_HASH",
    "META_ENGINE_SETTINGS",
    "BackendNotAvailableError",
    "ChainError",
    "Entry",
    "Head",
    "JournalBackend",
    "JournalError",
    "JournalFormatError",
    "JournalLockedError",
    "JournalNotDurableError",
    "JournalNotFoundError",
    "JournalUnavailableError",
    "Recovery",
    "ReplayStats",
    "SnapshotInfo",
    "SnapshotRecord",
    "SqliteJournal",
    "VerifyReport",
    "apply_entry",
    "check_link",
    "engine_settings_json",
    "engine_settings_of",
    "entry_hash",
    "next_entry",
    "open_journal",
    "recover",
    "replay_journal",
    "settings_agree",
    "verify_journal",
]
