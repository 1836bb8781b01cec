"""Feeding the views from the journal: the node side of the views boundary.

The views (``interbank.views``) import engine types only, so what needs the journal
lives here: replaying entries into the projections when they lag the journal's head
(after a crash between an append and its projection, or a lost hook call), and proving
archived message bytes against the SHA-256 a RecordMessage put into the hash chain.
It may import ``journal``, ``engine`` and ``views``; only the node side (the gateway,
the CLI) imports it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from interbank.engine import Batch
from interbank.engine.commands import RecordMessage
from interbank.journal import engine_settings_of, open_journal, recover
from interbank.views import ViewStore


def catch_up(views: ViewStore, db: str) -> int:
    """Project the journal entries at ``db`` that the views do not hold yet; how many.

    The engine state each entry was applied to comes from the journal's newest good
    snapshot at or before the views' last entry, plus the entries after it, so a view
    that lags by one entry costs a snapshot restore, not a replay of the whole journal.
    """
    backend = open_journal(db)
    try:
        head = backend.head().seq
        if views.applied_seq == head and not views.stale:
            return 0
        applied = views.restart_projections(head)
        settings = engine_settings_of(backend.metadata(), backend.location)
        engine = recover(backend, settings, seq_last=applied).engine
        projected = 0
        for entry in backend.read(applied + 1, head):
            batch = Batch.unpack(entry.payload)
            result = engine.apply(batch, entry.timestamp_ns)
            views.apply(entry.seq, batch, result, engine.events(batch, result), engine)
            projected += 1
        assert views.applied_seq == head and not views.stale
        return projected
    finally:
        backend.close()


@dataclass(frozen=True, slots=True)
class MessageEvidence:
    """An archived message checked against the hash the journal holds for it."""

    sha256: str  # the archive's key for the message (the hash it was received with)
    seq: int | None  # the journal entry whose RecordMessage holds it (None: not journaled)
    journaled_sha256: str | None  # the hash that RecordMessage carries
    stored_sha256: str | None  # the hash of the bytes the archive holds now (None: none)

    @property
    def intact(self) -> bool:
        """True when the stored bytes are exactly the bytes the journal vouches for."""
        return self.journaled_sha256 is not None and self.stored_sha256 == self.journaled_sha256

    @property
    def text(self) -> str:
        if self.seq is None or self.journaled_sha256 is None:
            return f"message {self.sha256[:16]}… has no RecordMessage in the journal"
        if self.stored_sha256 is None:
            return f"message {self.sha256[:16]}… (journal entry {self.seq}): the archive lost it"
        if not self.intact:
            return (
                f"message {self.sha256[:16]}… was altered in the archive: its bytes hash to "
                f"{self.stored_sha256}, journal entry {self.seq} holds {self.journaled_sha256}"
            )
        return f"bytes match the SHA-256 in journal entry {self.seq}"


def message_evidence(views: ViewStore, db: str, sha256: str) -> MessageEvidence:
    """Check one archived message against its journal entry.

    The projection only says which entry to read; the hash compared is the one in that
    entry's RecordMessage (covered by the chain that ``interbank verify`` checks).
    """
    archived = views.message(sha256)
    stored = None if archived is None else hashlib.sha256(archived.data).hexdigest()
    journaled = views.journaled(sha256)
    if journaled is None:
        return MessageEvidence(sha256, None, None, stored)
    backend = open_journal(db)
    try:
        entry = backend.entry(journaled.seq)
    finally:
        backend.close()
    found = None
    if entry is not None:
        for command in Batch.unpack(entry.payload).admin.values():
            if isinstance(command, RecordMessage) and command.message_sha256 == sha256:
                found = command.message_sha256
                break
    return MessageEvidence(sha256, journaled.seq, found, stored)


def audit_archive(views: ViewStore, db: str) -> list[MessageEvidence]:
    """Every message the journal vouches for whose archived bytes do not match (empty:
    the archive holds exactly what was journaled). Reads the whole journal."""
    problems: list[MessageEvidence] = []
    backend = open_journal(db)
    try:
        seen: set[str] = set()
        for entry in backend.read(1, backend.head().seq):
            for command in Batch.unpack(entry.payload).admin.values():
                if not isinstance(command, RecordMessage) or command.message_sha256 in seen:
                    continue
                seen.add(command.message_sha256)
                archived = views.message(command.message_sha256)
                stored = None if archived is None else hashlib.sha256(archived.data).hexdigest()
                if stored != command.message_sha256:
                    problems.append(
                        MessageEvidence(
                            command.message_sha256, entry.seq, command.message_sha256, stored
                        )
                    )
    finally:
        backend.close()
    return problems
