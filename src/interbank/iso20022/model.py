"""What the network reads from each message: plain immutable records.

Texts are kept as received (amounts as their decimal text with the currency), so the
usage rules can say exactly what was wrong; ``location`` names the element a record
was read from, for reason texts.
"""

from __future__ import annotations

from dataclasses import dataclass

from interbank.iso20022.catalog import MessageDef


@dataclass(frozen=True, slots=True)
class Header:
    """The business application header (head.001)."""

    definition: MessageDef
    from_bic: str | None
    to_bic: str | None
    business_message_id: str
    message_definition: str
    created: str
    possible_duplicate: bool


@dataclass(frozen=True, slots=True)
class Amount:
    text: str
    currency: str


@dataclass(frozen=True, slots=True)
class CreditTransfer:
    """One transaction of a pacs.008 (customer) or pacs.009 (financial institution)."""

    location: str
    instruction_id: str | None
    end_to_end_id: str
    transaction_id: str | None
    uetr: str | None
    amount: Amount
    settlement_date: str | None
    priority: str | None  # InstrPrty: HIGH or NORM
    from_time: str | None  # SttlmTmReq/FrTm
    till_time: str | None  # SttlmTmReq/TillTm (or CLSTm)
    instructing_agent: str | None
    instructed_agent: str | None
    debit_party: str | None  # DbtrAgt (pacs.008) or Dbtr (pacs.009): the debited participant
    credit_party: str | None  # CdtrAgt (pacs.008) or Cdtr (pacs.009): the credited participant
    debtor_name: str | None
    creditor_name: str | None


@dataclass(frozen=True, slots=True)
class CreditTransferMessage:
    definition: MessageDef
    message_id: str
    created: str
    number_of_transactions: str
    settlement_method: str
    transactions: tuple[CreditTransfer, ...]


@dataclass(frozen=True, slots=True)
class ReturnTransaction:
    """One transaction of a pacs.004: money going back, linked to the original UETR."""

    location: str
    return_id: str | None
    original_message_id: str | None
    original_message_name: str | None
    original_instruction_id: str | None
    original_end_to_end_id: str | None
    original_transaction_id: str | None
    original_uetr: str | None
    amount: Amount
    settlement_date: str | None
    instructing_agent: str | None
    instructed_agent: str | None
    reason_code: str | None


@dataclass(frozen=True, slots=True)
class ReturnMessage:
    definition: MessageDef
    message_id: str
    created: str
    number_of_transactions: str
    settlement_method: str
    transactions: tuple[ReturnTransaction, ...]


@dataclass(frozen=True, slots=True)
class CancellationRequest:
    """One transaction of a camt.056: the sender asks to cancel an earlier payment."""

    location: str
    cancellation_id: str | None
    original_message_id: str | None
    original_message_name: str | None
    original_instruction_id: str | None
    original_end_to_end_id: str | None
    original_transaction_id: str | None
    original_uetr: str | None
    original_amount: Amount | None
    reason_code: str | None


@dataclass(frozen=True, slots=True)
class CancellationMessage:
    definition: MessageDef
    assignment_id: str
    assigner: str | None
    assignee: str | None
    created: str
    case_id: str | None
    transactions: tuple[CancellationRequest, ...]


@dataclass(frozen=True, slots=True)
class ResolutionTransaction:
    """One transaction of a camt.029: the answer to a cancellation request."""

    location: str
    cancellation_status_id: str | None
    original_message_id: str | None
    original_end_to_end_id: str | None
    original_uetr: str | None
    status: str | None  # ACCR, RJCR, PDCR
    reason_code: str | None


@dataclass(frozen=True, slots=True)
class ResolutionMessage:
    definition: MessageDef
    assignment_id: str
    assigner: str | None
    assignee: str | None
    created: str
    confirmation: str | None
    transactions: tuple[ResolutionTransaction, ...]


InboundMessage = CreditTransferMessage | ReturnMessage | CancellationMessage | ResolutionMessage
