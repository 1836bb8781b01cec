"""pacs.008.001.07 and pacs.009.001.07 carry no UETR: their payments are known by a
UUID v5 derived from the sender and its PmtId, which makes re-sends idempotent and lets
a camt.056.001.07 (no OrgnlUETR either) cancel them."""

from __future__ import annotations

import uuid

import pytest

from interbank.iso20022 import IsoSettings, Validator, build
from interbank.iso20022.gateway import Gateway
from interbank.iso20022.payment_ids import LEGACY_PAYMENT_NAMESPACE, legacy_uetr
from interbank.views import track

from .conftest import ACCOUNT_A, ACCOUNT_B, BANK_A, BANK_B, FUNDS_MINOR, new_uetr

CREATED = "2026-11-28T10:00:00Z"


def v07(
    msg_id: str,
    end_to_end_id: str,
    amount: str,
    *,
    definition: str = "pacs.008.001.07",
    instruction_id: str | None = "INSTR-1",
) -> bytes:
    # The builder writes no UETR for version 07 and uses the end-to-end id as TxId.
    payment = build.Payment(
        new_uetr(), end_to_end_id, amount, "CNY", BANK_A, BANK_B, instruction_id=instruction_id
    )
    return build.credit_transfer(
        sender=BANK_A, message_id=msg_id, created=CREATED, payments=[payment], definition=definition
    )


def balance(gateway: Gateway, account_id: int) -> int:
    view = gateway.node.engine.account(account_id)
    assert view is not None
    return view.balance_minor


def test_the_derived_id_is_a_fixed_uuid5() -> None:
    derived = legacy_uetr("YRCBCNSHXXX", "I", "E", "T")
    assert derived == str(uuid.uuid5(LEGACY_PAYMENT_NAMESPACE, "YRCBCNSH\x1fI\x1fE\x1fT"))
    assert uuid.UUID(derived).version == 5
    # Pinned: changing the namespace or the recipe would re-identify stored payments.
    assert str(LEGACY_PAYMENT_NAMESPACE) == str(
        uuid.uuid5(uuid.NAMESPACE_URL, "urn:interbank:iso20022:payment-id:v1")
    )
    assert legacy_uetr(BANK_A, None, "E", "T") != legacy_uetr(BANK_A, "I", "E", "T")


@pytest.mark.parametrize("definition", ["pacs.008.001.07", "pacs.009.001.07"])
def test_a_version_07_payment_settles_under_its_derived_id(
    gateway: Gateway, definition: str
) -> None:
    data = v07("V1", "E2E-V1", "25.00", definition=definition)
    reply = gateway.receive(data)
    assert (reply.kind, reply.status) == ("pacs.002", "ACSC"), reply.reasons
    assert gateway.validator.check(reply.xml).valid
    # The answer names the payment by the ids it was sent with; OrgnlUETR would need a
    # version-4 UUID, so the derived id is not written there.
    text = reply.xml.decode()
    assert "<OrgnlUETR>" not in text and "<OrgnlTxId>E2E-V1</OrgnlTxId>" in text
    derived = legacy_uetr(BANK_A, "INSTR-1", "E2E-V1", "E2E-V1")
    steps = track(gateway.views, derived)
    assert [s.event for s in steps] == ["received", "journaled", "settled"]
    assert balance(gateway, ACCOUNT_A) == FUNDS_MINOR - 2500
    assert balance(gateway, ACCOUNT_B) == 2500


def test_a_re_send_in_a_new_message_is_idempotent(gateway: Gateway) -> None:
    assert gateway.receive(v07("V2", "E2E-V2", "10.00")).status == "ACSC"
    again = gateway.receive(v07("V2-again", "E2E-V2", "10.00"))
    assert again.status == "ACSC"
    assert balance(gateway, ACCOUNT_B) == 1000  # paid once
    # The same ids for another amount: another payment under a used id.
    other = gateway.receive(v07("V2-other", "E2E-V2", "11.00"))
    assert (other.status, other.reasons[0].code) == ("RJCT", "DUPL")
    assert balance(gateway, ACCOUNT_B) == 1000


def test_the_same_ids_twice_in_one_message_are_dupl() -> None:
    payment = build.Payment(new_uetr(), "E2E-D", "1.00", "CNY", BANK_A, BANK_B)
    data = build.credit_transfer(
        sender=BANK_A,
        message_id="V3",
        created=CREATED,
        payments=[payment, payment],
        definition="pacs.008.001.07",
    )
    verdict = Validator(IsoSettings()).check(data, usage_rules=True)
    assert verdict.transaction_rejections[1].code == "DUPL"
    assert 0 not in verdict.transaction_rejections


def test_without_a_tx_id_there_is_nothing_to_derive_from() -> None:
    data = v07("V4", "E2E-V4", "1.00").replace(b"<TxId>E2E-V4</TxId>", b"")
    verdict = Validator(IsoSettings()).check(data, usage_rules=True)  # structural check only
    assert verdict.transaction_rejections[0].code == "CH21"
    assert "TxId" in verdict.transaction_rejections[0].text


def test_version_08_still_needs_its_uetr() -> None:
    data = build.credit_transfer(
        sender=BANK_A,
        message_id="V5",
        created=CREATED,
        payments=[build.Payment(new_uetr(), "E2E-V5", "1.00", "CNY", BANK_A, BANK_B)],
    )
    without = data.replace(data[data.index(b"<UETR>") : data.index(b"</UETR>") + 7], b"")
    verdict = Validator(IsoSettings()).check(without, usage_rules=True)
    assert verdict.transaction_rejections[0].code == "CH21"
    assert "UETR" in verdict.transaction_rejections[0].text


def test_a_camt056_v07_cancels_a_waiting_v07_payment_by_its_ids(gateway: Gateway) -> None:
    waiting = gateway.receive(v07("V6", "E2E-V6", "5000.00"))  # more than bank A holds
    assert waiting.status == "PDNG"
    cancel = build.cancellation_request(
        sender=BANK_A,
        assignee="IBNKCHZZ",
        message_id="C-V6",
        created=CREATED,
        cancellations=[build.Cancellation(new_uetr(), "X-V6", "E2E-V6", "V6")],
        definition="camt.056.001.07",
    )
    # Version 07 has no OrgnlUETR: name the original by its instruction and tx ids.
    cancel = cancel.replace(
        cancel[cancel.index(b"<OrgnlUETR>") : cancel.index(b"</OrgnlUETR>") + 12], b""
    )
    cancel = cancel.replace(
        b"<OrgnlEndToEndId>E2E-V6</OrgnlEndToEndId>",
        b"<OrgnlInstrId>INSTR-1</OrgnlInstrId><OrgnlEndToEndId>E2E-V6</OrgnlEndToEndId>"
        b"<OrgnlTxId>E2E-V6</OrgnlTxId>",
    )
    answer = gateway.receive(cancel)
    assert (answer.kind, answer.status) == ("camt.029", "CNCL"), answer.reasons
    assert gateway.validator.check(answer.xml).valid
    derived = legacy_uetr(BANK_A, "INSTR-1", "E2E-V6", "E2E-V6")
    assert "cancelled" in [s.event for s in track(gateway.views, derived)]
    # Without the tx id the original cannot be named: CH21, nothing cancelled.
    incomplete = cancel.replace(b"<OrgnlTxId>E2E-V6</OrgnlTxId>", b"").replace(b"C-V6", b"C-V7")
    refused = gateway.receive(incomplete)
    assert refused.reasons and refused.reasons[0].code == "CH21"
