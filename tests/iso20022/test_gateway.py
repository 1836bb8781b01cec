"""End to end through the node: settle, queue, reject, re-send, DU01, cancel, track,
statement, fuzzed input, and views rebuilt from the journal."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from pathlib import Path

from interbank.iso20022 import build
from interbank.iso20022.gateway import Gateway
from interbank.iso20022.reports import statement
from interbank.view_feed import catch_up
from interbank.views import ViewStore, track

from .conftest import BANK_A, BANK_B, new_uetr

CREATED = "2026-11-28T10:00:00Z"


def message(msg_id: str, *amounts: str, uetrs: list[str] | None = None) -> bytes:
    uetrs = uetrs or [new_uetr() for _ in amounts]
    payments = [
        build.Payment(u, f"E2E-{n}", a, "CNY", BANK_A, BANK_B)
        for n, (u, a) in enumerate(zip(uetrs, amounts, strict=True))
    ]
    return build.credit_transfer(
        sender=BANK_A, message_id=msg_id, created=CREATED, payments=payments
    )


def test_settle_queue_reject_in_one_message(gateway: Gateway) -> None:
    uetrs = [new_uetr(), new_uetr(), new_uetr()]
    reply = gateway.receive(message("M1", "100.00", "5000.00", "1.001", uetrs=uetrs))
    assert (reply.kind, reply.status) == ("pacs.002", "PART")
    text = reply.xml.decode()
    assert text.count("<TxSts>ACSC</TxSts>") == 1 and "<TxSts>PDNG</TxSts>" in text
    assert "<Cd>CH20</Cd>" in text
    assert gateway.validator.check(reply.xml).valid
    assert [s.event for s in track(gateway.views, uetrs[0])] == ["received", "journaled", "settled"]
    assert "queued" in [s.event for s in track(gateway.views, uetrs[1])]
    again = gateway.receive(message("M1", "100.00", "5000.00", "1.001", uetrs=uetrs))
    assert again.status == "PART"  # the same bytes: idempotent, same answer
    other = gateway.receive(message("M1", "1.00"))
    assert (other.status, other.reasons[0].code) == ("RJCT", "DU01")
    cancel = build.cancellation_request(
        sender=BANK_A,
        assignee="IBNKCHZZ",
        message_id="C1",
        created=CREATED,
        cancellations=[build.Cancellation(uetrs[1], "X1")],
    )
    answer = gateway.receive(cancel)
    assert (answer.kind, answer.status) == ("camt.029", "CNCL")
    assert "cancelled" in [s.event for s in track(gateway.views, uetrs[1])]
    with gateway.node.quiesced() as engine:
        day = dt.datetime.now(dt.UTC).date()
        camt053 = statement(gateway.views, engine, BANK_A, "CNY", day, "IBNKCHZZ")
    assert isinstance(camt053, bytes) and gateway.validator.check(camt053).valid


def test_fuzzed_samples_always_get_an_answer(gateway: Gateway) -> None:
    rng = random.Random(7)
    base = message("FZ", "1.00")
    for n in range(150):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[at] = rng.randrange(256)
            elif choice < 0.7:
                del data[at : at + rng.randint(1, 20)]
            else:
                data[at:at] = rng.choice([b"<", b"&", b"<!DOCTYPE x>", b"\x00", b"</x>"])
        reply = gateway.receive(bytes(data).replace(b"FZ", f"FZ{n}".encode()))
        assert reply.kind in ("pacs.002", "admi.002")
        assert reply.xml


def test_views_rebuild_from_the_journal(gateway: Gateway, tmp_path: Path) -> None:
    uetr = new_uetr()
    gateway.receive(message("RB", "10.00", uetrs=[uetr]))
    before = [(s.event, s.at_ns) for s in track(gateway.views, uetr)]
    db = str(tmp_path / "net.db")
    fresh = ViewStore(tmp_path / "copy.views")
    fresh.archive([], payments=gateway.views.payments_of_uetr(uetr))
    assert catch_up(fresh, db) >= 1
    assert [o.event for o in fresh.outcomes(uuid.UUID(uetr).int)] == ["settled"]
    assert before[-1][0] == "settled"
    fresh.close()
