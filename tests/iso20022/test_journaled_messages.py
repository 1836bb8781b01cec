"""Each accepted message's SHA-256 is journaled (RecordMessage) in the same entry as its
transactions, so the hash chain vouches for the bytes the view store keeps: tracking
shows where, and an archive altered after the fact is caught against the journal."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from pathlib import Path

from interbank.engine import Batch
from interbank.engine.commands import Payment, RecordMessage
from interbank.iso20022 import build
from interbank.iso20022.gateway import Gateway, message_record_id
from interbank.journal import open_journal
from interbank.view_feed import audit_archive, catch_up, message_evidence
from interbank.views import ViewStore, track

from .conftest import BANK_A, BANK_B, new_uetr, open_network

CREATED = "2026-11-28T10:00:00Z"


def pacs008(msg_id: str, *uetrs: str, amount: str = "10.00") -> bytes:
    return build.credit_transfer(
        sender=BANK_A,
        message_id=msg_id,
        created=CREATED,
        payments=[build.Payment(u, f"E2E-{u[:8]}", amount, "CNY", BANK_A, BANK_B) for u in uetrs],
    )


def entry_commands(db: str, seq: int) -> list[object]:
    backend = open_journal(db)
    try:
        entry = backend.entry(seq)
        assert entry is not None
        batch = Batch.unpack(entry.payload)
        return [batch.command(row) for row in range(len(batch))]
    finally:
        backend.close()


def test_the_hash_is_journaled_with_the_transactions(gateway: Gateway, tmp_path: Path) -> None:
    db = str(tmp_path / "net.db")
    uetrs = [new_uetr(), new_uetr()]
    data = pacs008("J1", *uetrs)
    reply = gateway.receive(data)
    assert reply.status == "ACSC"
    sha = hashlib.sha256(data).hexdigest()
    journaled = gateway.views.journaled(sha)
    assert journaled is not None and journaled.sender == BANK_A and journaled.code == 0
    commands = entry_commands(db, journaled.seq)
    # One entry: the message's record first, then each of its payments.
    assert commands[0] == RecordMessage(message_record_id(sha), BANK_A, sha)
    assert [c.id for c in commands[1:] if isinstance(c, Payment)] == [
        uuid.UUID(u).int for u in uetrs
    ]
    steps = track(gateway.views, uetrs[0])
    assert [s.event for s in steps] == ["received", "journaled", "settled"]
    assert f"journal entry {journaled.seq}" in steps[1].detail and steps[1].sha256 == sha
    assert message_evidence(gateway.views, db, sha).intact


def test_a_re_send_is_journaled_again_but_keeps_its_first_entry(
    gateway: Gateway, tmp_path: Path
) -> None:
    data = pacs008("J2", new_uetr())
    first = gateway.receive(data)
    seq = gateway.views.journaled(first.sha256).seq  # type: ignore[union-attr]
    again = gateway.receive(data)
    assert again.status == first.status == "ACSC"
    assert gateway.views.journaled(first.sha256).seq == seq  # type: ignore[union-attr]
    # The re-sent RecordMessage reached the journal as an idempotent replay: rebuilding
    # the projections from the journal alone gives the same first entry.
    fresh = ViewStore(tmp_path / "rebuilt.views")
    catch_up(fresh, str(tmp_path / "net.db"))
    assert fresh.journaled(first.sha256).seq == seq  # type: ignore[union-attr]
    fresh.close()


def test_refused_messages_are_archived_but_not_journaled(gateway: Gateway) -> None:
    duplicate_id = pacs008("J3", new_uetr())
    gateway.receive(duplicate_id)
    other = gateway.receive(pacs008("J3", new_uetr(), amount="2.00"))
    assert (other.status, other.reasons[0].code) == ("RJCT", "DU01")
    assert gateway.views.message(other.sha256) is not None
    assert gateway.views.journaled(other.sha256) is None
    broken = gateway.receive(b"<Document>")
    assert broken.kind == "admi.002" and gateway.views.journaled(broken.sha256) is None


def test_an_altered_archive_is_caught_against_the_journal(tmp_path: Path) -> None:
    db = str(tmp_path / "net.db")
    uetr = new_uetr()
    with open_network(db) as gateway:
        data = pacs008("J4", uetr)
        sha = gateway.receive(data).sha256
        untouched = gateway.receive(pacs008("J5", new_uetr())).sha256
    # Someone edits the stored message in place: the amount, keeping its key.
    views_path = db + ".views"
    with sqlite3.connect(views_path) as connection:
        connection.execute(
            "UPDATE messages SET bytes = ? WHERE sha256 = ?",
            (data.replace(b">10.00<", b">99.00<"), sha),
        )
    views = ViewStore(views_path)
    try:
        evidence = message_evidence(views, db, sha)
        assert not evidence.intact
        assert evidence.journaled_sha256 == sha and evidence.stored_sha256 != sha
        assert "altered" in evidence.text
        assert message_evidence(views, db, untouched).intact
        assert [e.sha256 for e in audit_archive(views, db)] == [sha]
    finally:
        views.close()
    # A message deleted from the archive is caught by the audit too.
    with sqlite3.connect(views_path) as connection:
        connection.execute("DELETE FROM messages WHERE sha256 = ?", (untouched,))
    views = ViewStore(views_path)
    try:
        problems = {e.sha256: e for e in audit_archive(views, db)}
        assert set(problems) == {sha, untouched}
        assert problems[untouched].stored_sha256 is None
    finally:
        views.close()
