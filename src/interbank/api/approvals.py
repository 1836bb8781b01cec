"""Maker-checker for operator changes: one operator proposes, another approves.

A proposal holds one administrative command in its JSON form (docs/commands.md). Its
record (who proposed what, when) is written durably to this store, a SQLite file
beside the journal (``<db>.approvals``), and its SHA-256 is journaled with a
``RecordMessage`` from the operator's institution, so the journal's hash chain vouches
for every proposal and decision the store holds, the same way it vouches for received
ISO 20022 messages. An approval by a different operator (another certificate holder)
journals its own record and the command in one entry; a rejection journals its record.

The store is the only state the service keeps beside the journal and the views; it
is small (one row per proposal) and read by listings and by the approver.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS proposals (
    proposal_id TEXT PRIMARY KEY, created_ns INTEGER NOT NULL, maker_bic TEXT NOT NULL,
    maker_holder TEXT NOT NULL, command TEXT NOT NULL, record_sha256 TEXT NOT NULL,
    status TEXT NOT NULL, checker_holder TEXT, decided_ns INTEGER, decision_sha256 TEXT,
    result TEXT);
CREATE INDEX IF NOT EXISTS proposals_status ON proposals (status, created_ns);
CREATE TABLE IF NOT EXISTS records (
    sha256 TEXT PRIMARY KEY, proposal_id TEXT NOT NULL, bytes BLOB NOT NULL);
"""

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
# The operator's institution could not journal the record (not a participant, say):
# the proposal never took effect and cannot be approved.
REFUSED = "refused"
STATUSES = (PENDING, APPROVED, REJECTED, REFUSED)


@dataclass(frozen=True, slots=True)
class Proposal:
    proposal_id: str
    created_ns: int
    maker_bic: str
    maker_holder: str
    command: dict[str, Any]  # the command in its JSON form
    record_sha256: str
    status: str
    checker_holder: str | None = None
    decided_ns: int | None = None
    decision_sha256: str | None = None
    result: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "proposal_id": self.proposal_id,
            "created_ns": self.created_ns,
            "maker_bic": self.maker_bic,
            "maker": self.maker_holder,
            "command": self.command,
            "record_sha256": self.record_sha256,
            "status": self.status,
            "checker": self.checker_holder,
            "decided_ns": self.decided_ns,
            "decision_sha256": self.decision_sha256,
            "result": self.result,
        }


def record_bytes(record: dict[str, Any]) -> tuple[bytes, str]:
    """The canonical bytes of a proposal or decision record, and their SHA-256."""
    data = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return data, hashlib.sha256(data).hexdigest()


class ApprovalStore:
    """Proposals and the exact bytes of every record journaled for them. Thread-safe."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._connection.execute("PRAGMA journal_mode=WAL")
            # A record is durable here before its hash is journaled (as the archive is).
            self._connection.execute("PRAGMA synchronous=FULL")
            self._connection.executescript(_SCHEMA)

    @staticmethod
    def beside(db: str) -> ApprovalStore:
        return ApprovalStore(db.removeprefix("sqlite://") + ".approvals")

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def add(self, proposal: Proposal, data: bytes) -> None:
        with self._lock:
            c = self._connection
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute(
                    "INSERT INTO proposals VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        proposal.proposal_id,
                        proposal.created_ns,
                        proposal.maker_bic,
                        proposal.maker_holder,
                        json.dumps(proposal.command),
                        proposal.record_sha256,
                        proposal.status,
                        None,
                        None,
                        None,
                        None,
                    ),
                )
                c.execute(
                    "INSERT OR IGNORE INTO records VALUES (?,?,?)",
                    (proposal.record_sha256, proposal.proposal_id, data),
                )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def keep_record(self, proposal_id: str, sha256: str, data: bytes) -> None:
        """Store a decision record's bytes (before its hash is journaled)."""
        with self._lock:
            self._connection.execute(
                "INSERT OR IGNORE INTO records VALUES (?,?,?)", (sha256, proposal_id, data)
            )

    def decide(
        self,
        proposal_id: str,
        status: str,
        checker_holder: str | None,
        decided_ns: int,
        decision_sha256: str | None,
        result: dict[str, Any] | None,
    ) -> bool:
        """Move a pending proposal to ``status``; False when it was no longer pending."""
        assert status in STATUSES and status != PENDING
        with self._lock:
            cursor = self._connection.execute(
                "UPDATE proposals SET status = ?, checker_holder = ?, decided_ns = ?, "
                "decision_sha256 = ?, result = ? WHERE proposal_id = ? AND status = ?",
                (
                    status,
                    checker_holder,
                    decided_ns,
                    decision_sha256,
                    None if result is None else json.dumps(result),
                    proposal_id,
                    PENDING,
                ),
            )
            return cursor.rowcount == 1

    def get(self, proposal_id: str) -> Proposal | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT * FROM proposals WHERE proposal_id = ?", (proposal_id,)
            ).fetchone()
        return None if row is None else _proposal(row)

    def listing(self, status: str | None, after_ns: int, limit: int) -> list[Proposal]:
        """Proposals created after ``after_ns`` (oldest first), of one status or all."""
        query = "SELECT * FROM proposals WHERE created_ns > ?"
        values: list[object] = [after_ns]
        if status is not None:
            query += " AND status = ?"
            values.append(status)
        query += " ORDER BY created_ns, proposal_id LIMIT ?"
        values.append(limit)
        with self._lock:
            rows = self._connection.execute(query, values).fetchall()
        return [_proposal(row) for row in rows]

    def record(self, sha256: str) -> bytes | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT bytes FROM records WHERE sha256 = ?", (sha256,)
            ).fetchone()
        return None if row is None else bytes(row[0])


def _proposal(row: tuple[Any, ...]) -> Proposal:
    return Proposal(
        proposal_id=row[0],
        created_ns=row[1],
        maker_bic=row[2],
        maker_holder=row[3],
        command=json.loads(row[4]),
        record_sha256=row[5],
        status=row[6],
        checker_holder=row[7],
        decided_ns=row[8],
        decision_sha256=row[9],
        result=None if row[10] is None else json.loads(row[10]),
    )
