"""The network's usage rules: what an ISO-valid message must also be to settle here.

These need no state: BICs (ISO 9362, checked with schwifty), currencies and their
decimals (``money``), the settlement method, UETRs, dates, and that the sender in the
header is the instructing agent whose account is debited. Rules that need state
(duplicate message ids, accounts, the original of a return) are the gateway's.
A group finding rejects every transaction of the message; a transaction finding only
that transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache

from schwifty import BIC
from schwifty.exceptions import SchwiftyException

from interbank.iso20022.extract import BIC_PATTERN
from interbank.iso20022.model import (
    Amount,
    CancellationMessage,
    CreditTransferMessage,
    Header,
    InboundMessage,
    ResolutionMessage,
    ReturnMessage,
)
from interbank.iso20022.payment_ids import carries_uetr, legacy_uetr
from interbank.iso20022.reasons import Rejection
from interbank.iso20022.settings import IsoSettings
from interbank.money import MoneyError, parse_amount

SETTLEMENT_METHOD_NETWORK = "CLRG"


@dataclass(frozen=True, slots=True)
class RuleFindings:
    group: tuple[Rejection, ...] = ()
    transactions: dict[int, Rejection] = field(default_factory=dict)


def canonical_bic(bic: str) -> str:
    """A BIC11 whose branch is XXX names the same party as its BIC8."""
    return bic[:8] if len(bic) == 11 and bic.endswith("XXX") else bic


@lru_cache(maxsize=4096)
def bic_valid(bic: str) -> bool:
    """ISO 9362 form and a real country code (schwifty); cached: BICs repeat."""
    if BIC_PATTERN.fullmatch(bic) is None:
        return False
    try:
        BIC(bic)
    except SchwiftyException:
        return False
    return True


def amount_minor(amount: Amount) -> tuple[int, Rejection | None]:
    """Minor units of an amount, or the rejection (AM03, AM12, CH20, AM02, AM01)."""
    try:
        minor = parse_amount(amount.text, amount.currency)
    except MoneyError as error:
        return 0, Rejection(error.reason_code, error.text)
    if minor == 0:
        return 0, Rejection("AM01", "the amount is zero")
    return minor, None


def check(
    message: InboundMessage, header: Header | None, settings: IsoSettings, today: dt.date
) -> RuleFindings:
    group: list[Rejection] = []
    sender = _sender(header, settings, group)
    if isinstance(message, CreditTransferMessage):
        return _credit_transfers(message, sender, settings, today, group)
    if isinstance(message, ReturnMessage):
        return _returns(message, sender, today, settings, group)
    if isinstance(message, CancellationMessage | ResolutionMessage):
        if (
            sender is not None
            and message.assigner is not None
            and canonical_bic(message.assigner) != sender
        ):
            group.append(
                Rejection(
                    "AGNT",
                    f"the assigner {message.assigner} is not the sender {sender}",
                    "Assgnmt/Assgnr",
                )
            )
        if message.assigner is None:
            group.append(
                Rejection("CH21", "the assigner must be an agent with a BIC", "Assgnmt/Assgnr")
            )
        transactions: dict[int, Rejection] = {}
        derivable = isinstance(message, CancellationMessage) and not carries_uetr(
            message.definition
        )
        for index, tx in enumerate(message.transactions):
            if tx.original_uetr is not None:
                continue
            if not derivable:
                transactions[index] = Rejection(
                    "CH21", "OrgnlUETR is missing: the network finds payments by UETR", tx.location
                )
            elif tx.original_end_to_end_id is None or tx.original_transaction_id is None:  # type: ignore[union-attr]
                # A version without OrgnlUETR names the payment by the ids it was sent with.
                transactions[index] = Rejection(
                    "CH21",
                    "OrgnlEndToEndId and OrgnlTxId are needed to find a payment sent without "
                    "a UETR",
                    tx.location,
                )
        if isinstance(message, ResolutionMessage) and not message.transactions:
            group.append(Rejection("CH21", "CxlDtls/TxInfAndSts is missing", "CxlDtls"))
        return RuleFindings(tuple(group), transactions)
    raise AssertionError(f"no rules for {type(message).__name__}")


def _sender(header: Header | None, settings: IsoSettings, group: list[Rejection]) -> str | None:
    if header is None:
        group.append(
            Rejection(
                "CH21",
                "the business application header (AppHdr) is missing: it names the sender",
                "AppHdr",
            )
        )
        return None
    if header.from_bic is None:
        group.append(
            Rejection(
                "CH21",
                "the header's sender must be a financial institution with a BIC",
                "AppHdr/Fr",
            )
        )
        return None
    if not bic_valid(header.from_bic):
        group.append(
            Rejection("RC01", f"the sender {header.from_bic} is not a valid BIC", "AppHdr/Fr")
        )
        return None
    if settings.require_header_to_network and (
        header.to_bic is None or canonical_bic(header.to_bic) != canonical_bic(settings.network_bic)
    ):
        group.append(
            Rejection(
                "AGNT",
                f"the header must be addressed to the network {settings.network_bic}",
                "AppHdr/To",
            )
        )
    return canonical_bic(header.from_bic)


def _date_finding(
    text: str | None, today: dt.date, settings: IsoSettings, where: str
) -> Rejection | None:
    if text is None:
        return None
    try:
        date = dt.date.fromisoformat(text)
    except ValueError:
        return Rejection("DT01", f"{text} is not a calendar date", where)
    if date < today:
        return Rejection("DT01", f"the settlement date {text} has passed", where)
    if (date - today).days > settings.settlement_date_days_ahead_max:
        return Rejection(
            "DT01",
            f"the settlement date {text} is more than "
            f"{settings.settlement_date_days_ahead_max} days ahead",
            where,
        )
    return None


def _count_finding(stated: str, counted: int) -> Rejection | None:
    if int(stated) != counted:
        return Rejection(
            "AM18", f"NbOfTxs says {stated} but the message holds {counted}", "GrpHdr/NbOfTxs"
        )
    return None


def _party_finding(bic: str | None, role: str, where: str) -> Rejection | None:
    if bic is None:
        return Rejection("RC01", f"the {role} must be identified by a BIC (BICFI)", where)
    if not bic_valid(bic):
        return Rejection("RC01", f"the {role} {bic} is not a valid BIC", where)
    return None


def _credit_transfers(
    message: CreditTransferMessage,
    sender: str | None,
    settings: IsoSettings,
    today: dt.date,
    group: list[Rejection],
) -> RuleFindings:
    counted = _count_finding(message.number_of_transactions, len(message.transactions))
    if counted is not None:
        group.append(counted)
    if message.settlement_method != SETTLEMENT_METHOD_NETWORK:
        group.append(
            Rejection(
                "AG03",
                f"settlement method {message.settlement_method} is not "
                f"offered: the network settles CLRG",
                "GrpHdr/SttlmInf/SttlmMtd",
            )
        )
    debit_role, credit_role = (
        ("debtor agent", "creditor agent")
        if message.definition.name == "pacs.008"
        else ("debtor", "creditor")
    )
    transactions: dict[int, Rejection] = {}
    seen: set[str] = set()
    # Versions before 08 have no UETR element: the payment is known by an id derived from
    # the sender and its PmtId (payment_ids), which then needs the TxId.
    derived = not carries_uetr(message.definition)
    for index, tx in enumerate(message.transactions):
        where = tx.location
        finding: Rejection | None = None
        key = tx.uetr
        if key is None and derived and tx.transaction_id is not None:
            key = legacy_uetr(sender or "", tx.instruction_id, tx.end_to_end_id, tx.transaction_id)
        if key is None and derived:
            finding = Rejection(
                "CH21",
                "PmtId/TxId is missing: a payment without a UETR is known by its sender's ids",
                f"{where}/PmtId/TxId",
            )
        elif key is None:
            finding = Rejection(
                "CH21", "PmtId/UETR is missing: every payment needs one", f"{where}/PmtId/UETR"
            )
        elif key in seen:
            if tx.uetr is not None:
                finding = Rejection(
                    "DUPL", f"UETR {key} appears twice in the message", f"{where}/PmtId/UETR"
                )
            else:
                finding = Rejection(
                    "DUPL", "the same PmtId appears twice in the message", f"{where}/PmtId"
                )
        else:
            finding = (
                _party_finding(tx.debit_party, debit_role, where)
                or _party_finding(tx.credit_party, credit_role, where)
                or _agent_finding(
                    tx.instructing_agent,
                    tx.instructed_agent,
                    tx.debit_party,
                    tx.credit_party,
                    sender,
                    debit_role,
                    where,
                )
                or amount_minor(tx.amount)[1]
                or _date_finding(tx.settlement_date, today, settings, f"{where}/IntrBkSttlmDt")
            )
        if key is not None:
            seen.add(key)
        if finding is not None:
            if not finding.location:
                finding = Rejection(finding.code, finding.text, f"{where}/IntrBkSttlmAmt")
            transactions[index] = finding
    return RuleFindings(tuple(group), transactions)


def _agent_finding(
    instructing: str | None,
    instructed: str | None,
    debit: str | None,
    credit: str | None,
    sender: str | None,
    debit_role: str,
    where: str,
) -> Rejection | None:
    if instructing is None:
        return Rejection("CH21", "InstgAgt with a BIC is required", f"{where}/InstgAgt")
    if sender is not None and canonical_bic(instructing) != sender:
        return Rejection(
            "AGNT",
            f"the instructing agent {instructing} is not the sender {sender}",
            f"{where}/InstgAgt",
        )
    if debit is not None and canonical_bic(debit) != canonical_bic(instructing):
        return Rejection(
            "AGNT",
            f"the {debit_role} {debit} is not the instructing agent "
            f"{instructing}: a participant pays only from its own account",
            where,
        )
    if (
        instructed is not None
        and credit is not None
        and canonical_bic(instructed) != canonical_bic(credit)
    ):
        return Rejection(
            "AGNT",
            f"the instructed agent {instructed} must be the credited participant {credit}",
            f"{where}/InstdAgt",
        )
    return None


def _returns(
    message: ReturnMessage,
    sender: str | None,
    today: dt.date,
    settings: IsoSettings,
    group: list[Rejection],
) -> RuleFindings:
    counted = _count_finding(message.number_of_transactions, len(message.transactions))
    if counted is not None:
        group.append(counted)
    if message.settlement_method != SETTLEMENT_METHOD_NETWORK:
        group.append(
            Rejection(
                "AG03",
                f"settlement method {message.settlement_method} is not "
                f"offered: the network settles CLRG",
                "GrpHdr/SttlmInf/SttlmMtd",
            )
        )
    transactions: dict[int, Rejection] = {}
    for index, tx in enumerate(message.transactions):
        where = tx.location
        finding: Rejection | None
        if tx.original_uetr is None:
            finding = Rejection(
                "CH21", "OrgnlUETR is missing: a return names its original", f"{where}/OrgnlUETR"
            )
        elif tx.instructing_agent is None:
            finding = Rejection("CH21", "InstgAgt with a BIC is required", f"{where}/InstgAgt")
        elif sender is not None and canonical_bic(tx.instructing_agent) != sender:
            finding = Rejection(
                "AGNT",
                f"the instructing agent {tx.instructing_agent} is not the sender {sender}",
                f"{where}/InstgAgt",
            )
        else:
            finding = amount_minor(tx.amount)[1] or _date_finding(
                tx.settlement_date, today, settings, f"{where}/IntrBkSttlmDt"
            )
            if finding is not None and not finding.location:
                finding = Rejection(finding.code, finding.text, f"{where}/RtrdIntrBkSttlmAmt")
        if finding is not None:
            transactions[index] = finding
    return RuleFindings(tuple(group), transactions)
