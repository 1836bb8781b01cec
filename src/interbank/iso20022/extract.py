"""The built-in structural check: read the fields the network uses, strictly.

Every field read is checked for presence (CH21), length, pattern and code list (CH16),
whether or not the XSDs are configured: without them this is the only check of the
fields that move money; with them it costs little and keeps the two modes equal on
everything the network reads. Findings reject the whole message (it cannot be read).
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree

from interbank.iso20022.catalog import MessageDef
from interbank.iso20022.model import (
    Amount,
    CancellationMessage,
    CancellationRequest,
    CreditTransfer,
    CreditTransferMessage,
    Header,
    InboundMessage,
    ResolutionMessage,
    ResolutionTransaction,
    ReturnMessage,
    ReturnTransaction,
)
from interbank.iso20022.reasons import MessageRejected, Rejection

BIC_PATTERN = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
UUID4_PATTERN = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}")
# ActiveCurrencyAndAmount: at most 18 digits, 5 of them after the point, not negative.
AMOUNT_PATTERN = re.compile(r"[0-9]{1,18}(?:\.[0-9]{0,5})?|\.[0-9]{1,5}")
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_TIME_PATTERN = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)
TIME_PATTERN = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})?")
COUNT_PATTERN = re.compile(r"[0-9]{1,15}")
CODE4_PATTERN = re.compile(r"[A-Z0-9]{4}")
SETTLEMENT_METHODS = frozenset({"INDA", "INGA", "COVE", "CLRG"})
INSTRUCTION_PRIORITIES = frozenset({"HIGH", "NORM"})
CANCELLATION_STATUSES = frozenset({"ACCR", "RJCR", "PDCR"})
TEXT35_LENGTH_MAX = 35
TEXT140_LENGTH_MAX = 140
_FINDINGS_MAX = 8

_NAMES = [
    "FIToFICstmrCdtTrf",
    "FICdtTrf",
    "PmtRtr",
    "FIToFIPmtCxlReq",
    "RsltnOfInvstgtn",
    "GrpHdr",
    "MsgId",
    "CreDtTm",
    "NbOfTxs",
    "SttlmInf",
    "SttlmMtd",
    "CdtTrfTxInf",
    "TxInf",
    "PmtId",
    "InstrId",
    "EndToEndId",
    "TxId",
    "UETR",
    "PmtTpInf",
    "InstrPrty",
    "IntrBkSttlmAmt",
    "IntrBkSttlmDt",
    "SttlmTmReq",
    "FrTm",
    "TillTm",
    "CLSTm",
    "InstgAgt",
    "InstdAgt",
    "Dbtr",
    "DbtrAgt",
    "Cdtr",
    "CdtrAgt",
    "Nm",
    "FinInstnId",
    "BICFI",
    "RtrId",
    "OrgnlGrpInf",
    "OrgnlMsgId",
    "OrgnlMsgNmId",
    "OrgnlInstrId",
    "OrgnlEndToEndId",
    "OrgnlTxId",
    "OrgnlUETR",
    "RtrdIntrBkSttlmAmt",
    "RtrRsnInf",
    "Rsn",
    "Cd",
    "Assgnmt",
    "Id",
    "Assgnr",
    "Assgne",
    "Agt",
    "Case",
    "Undrlyg",
    "CxlId",
    "OrgnlIntrBkSttlmAmt",
    "CxlRsnInf",
    "Sts",
    "Conf",
    "CxlDtls",
    "TxInfAndSts",
    "CxlStsId",
    "TxCxlSts",
    "CxlStsRsnInf",
    "Fr",
    "To",
    "FIId",
    "BizMsgIdr",
    "MsgDefIdr",
    "CreDt",
    "PssblDplct",
]


@lru_cache(maxsize=64)
def tags(namespace: str) -> dict[str, str]:
    """Clark names (``{ns}Tag``) of every element the network reads, in one namespace."""
    return {name: f"{{{namespace}}}{name}" for name in _NAMES}


class _Findings:
    """Collects structural findings; the message is rejected when there are any."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Rejection] = []

    def add(self, code: str, text: str, location: str) -> None:
        if len(self.items) < _FINDINGS_MAX:
            self.items.append(Rejection(code, text, location))

    def raise_if_any(self) -> None:
        if self.items:
            first = self.items[0]
            more = f" (and {len(self.items) - 1} more)" if len(self.items) > 1 else ""
            raise MessageRejected(Rejection(first.code, first.text + more, first.location))


def _text(
    found: _Findings,
    parent: etree._Element | None,
    tag: str,
    where: str,
    *,
    required: bool,
    length_max: int = TEXT35_LENGTH_MAX,
    pattern: re.Pattern[str] | None = None,
    codes: frozenset[str] | None = None,
) -> str | None:
    name = tag.rpartition("}")[2]
    element = None if parent is None else parent.find(tag)
    if element is None:
        if required:
            found.add("CH21", f"{where}/{name} is missing", f"{where}/{name}")
        return None
    value = element.text or ""
    if not value or len(value) > length_max:
        found.add(
            "CH16", f"{where}/{name} must have 1 to {length_max} characters", f"{where}/{name}"
        )
        return None
    if pattern is not None and pattern.fullmatch(value) is None:
        found.add(
            "CH16", f"{where}/{name} {value[:40]!r} is not of the required form", f"{where}/{name}"
        )
        return None
    if codes is not None and value not in codes:
        found.add(
            "CH16",
            f"{where}/{name} {value[:40]!r} is not one of {sorted(codes)}",
            f"{where}/{name}",
        )
        return None
    return value


def _amount(
    found: _Findings, parent: etree._Element, tag: str, where: str, *, required: bool
) -> Amount | None:
    name = tag.rpartition("}")[2]
    element = parent.find(tag)
    if element is None:
        if required:
            found.add("CH21", f"{where}/{name} is missing", f"{where}/{name}")
        return None
    value = element.text or ""
    ccy = element.get("Ccy") or ""
    if AMOUNT_PATTERN.fullmatch(value) is None:
        found.add("CH16", f"{where}/{name} {value[:40]!r} is not an amount", f"{where}/{name}")
        return None
    if CURRENCY_PATTERN.fullmatch(ccy) is None:
        found.add("CH16", f"{where}/{name} has no three-letter Ccy", f"{where}/{name}/@Ccy")
        return None
    return Amount(value, ccy)


def _bic(
    found: _Findings, agent: etree._Element | None, t: dict[str, str], where: str
) -> str | None:
    """The BICFI of a financial institution element; None when it is named otherwise."""
    if agent is None:
        return None
    institution = agent.find(t["FinInstnId"])
    if institution is None:
        found.add("CH21", f"{where}/FinInstnId is missing", f"{where}/FinInstnId")
        return None
    return _text(
        found, institution, t["BICFI"], f"{where}/FinInstnId", required=False, pattern=BIC_PATTERN
    )


def _party40_bic(
    found: _Findings, party: etree._Element | None, t: dict[str, str], where: str
) -> str | None:
    """A Party40Choice (camt.056/029 assigner, assignee): the agent's BIC if it has one."""
    if party is None:
        return None
    agent = party.find(t["Agt"])
    return None if agent is None else _bic(found, agent, t, f"{where}/Agt")


def read_header(element: etree._Element, definition: MessageDef) -> Header:
    """The header's fields; MessageRejected when one the network reads is malformed."""
    t = tags(definition.namespace)
    found = _Findings()
    sender = _header_party(found, element.find(t["Fr"]), t, "AppHdr/Fr")
    receiver = _header_party(found, element.find(t["To"]), t, "AppHdr/To")
    identifier = _text(found, element, t["BizMsgIdr"], "AppHdr", required=True)
    definition_text = _text(found, element, t["MsgDefIdr"], "AppHdr", required=True)
    created = _text(found, element, t["CreDt"], "AppHdr", required=True, pattern=DATE_TIME_PATTERN)
    duplicate = element.findtext(t["PssblDplct"]) in ("true", "1")
    found.raise_if_any()
    assert identifier is not None and definition_text is not None and created is not None
    return Header(definition, sender, receiver, identifier, definition_text, created, duplicate)


def _header_party(
    found: _Findings, party: etree._Element | None, t: dict[str, str], where: str
) -> str | None:
    if party is None:
        found.add("CH21", f"{where} is missing", where)
        return None
    institution = party.find(t["FIId"])
    return None if institution is None else _bic(found, institution, t, f"{where}/FIId")


def read_document(
    element: etree._Element, definition: MessageDef, transactions_max: int
) -> InboundMessage:
    """The message the network reads from an accepted document type."""
    t = tags(definition.namespace)
    body = element[0] if len(element) else None
    if body is None or not isinstance(body.tag, str):
        raise MessageRejected(Rejection("CH21", "the Document is empty", "Document"))
    name = definition.name
    if name in ("pacs.008", "pacs.009"):
        expected = t["FIToFICstmrCdtTrf"] if name == "pacs.008" else t["FICdtTrf"]
        _expect_body(body, expected)
        return _credit_transfers(body, definition, t, transactions_max)
    if name == "pacs.004":
        _expect_body(body, t["PmtRtr"])
        return _returns(body, definition, t, transactions_max)
    if name == "camt.056":
        _expect_body(body, t["FIToFIPmtCxlReq"])
        return _cancellations(body, definition, t, transactions_max)
    if name == "camt.029":
        _expect_body(body, t["RsltnOfInvstgtn"])
        return _resolutions(body, definition, t, transactions_max)
    raise MessageRejected(Rejection("FF01", f"{definition} is not a message the network reads"))


def _expect_body(body: etree._Element, expected: str) -> None:
    if body.tag != expected:
        raise MessageRejected(
            Rejection(
                "CH17",
                f"the Document holds {body.tag.rpartition('}')[2]}, expected "
                f"{expected.rpartition('}')[2]}",
                "Document",
            )
        )


def _transactions(
    body: etree._Element, tag: str, transactions_max: int, where: str
) -> list[etree._Element]:
    count = 0
    elements: list[etree._Element] = []
    for element in body.iterchildren(tag):
        count += 1  # noqa: SIM113
        if count > transactions_max:
            raise MessageRejected(
                Rejection("FF01", f"more than {transactions_max} transactions in one message")
            )
        elements.append(element)
    if not elements:
        raise MessageRejected(Rejection("CH21", f"{where} has no transaction", where))
    return elements


def _group(found: _Findings, body: etree._Element, t: dict[str, str]) -> tuple[str, str, str, str]:
    group = body.find(t["GrpHdr"])
    if group is None:
        found.add("CH21", "GrpHdr is missing", "GrpHdr")
        found.raise_if_any()
    assert group is not None
    message_id = _text(found, group, t["MsgId"], "GrpHdr", required=True)
    created = _text(found, group, t["CreDtTm"], "GrpHdr", required=True, pattern=DATE_TIME_PATTERN)
    count = _text(found, group, t["NbOfTxs"], "GrpHdr", required=True, pattern=COUNT_PATTERN)
    settlement = group.find(t["SttlmInf"])
    if settlement is None:
        found.add("CH21", "GrpHdr/SttlmInf is missing", "GrpHdr/SttlmInf")
        method = None
    else:
        method = _text(
            found,
            settlement,
            t["SttlmMtd"],
            "GrpHdr/SttlmInf",
            required=True,
            codes=SETTLEMENT_METHODS,
        )
    found.raise_if_any()
    assert message_id and created and count and method
    return message_id, created, count, method


def _credit_transfers(
    body: etree._Element, definition: MessageDef, t: dict[str, str], transactions_max: int
) -> CreditTransferMessage:
    found = _Findings()
    message_id, created, count, method = _group(found, body, t)
    customer = definition.name == "pacs.008"
    debit_tag, credit_tag = (t["DbtrAgt"], t["CdtrAgt"]) if customer else (t["Dbtr"], t["Cdtr"])
    result: list[CreditTransfer] = []
    elements = _transactions(body, t["CdtTrfTxInf"], transactions_max, "CdtTrfTxInf")
    for index, tx in enumerate(elements, start=1):
        where = f"CdtTrfTxInf[{index}]"
        ids = tx.find(t["PmtId"])
        if ids is None:
            found.add("CH21", f"{where}/PmtId is missing", f"{where}/PmtId")
        end_to_end = _text(found, ids, t["EndToEndId"], f"{where}/PmtId", required=True)
        uetr = _text(
            found,
            ids,
            t["UETR"],
            f"{where}/PmtId",
            required=False,
            length_max=36,
            pattern=UUID4_PATTERN,
        )
        amount = _amount(found, tx, t["IntrBkSttlmAmt"], where, required=True)
        date = _text(found, tx, t["IntrBkSttlmDt"], where, required=False, pattern=DATE_PATTERN)
        type_info = tx.find(t["PmtTpInf"])
        priority = _text(
            found,
            type_info,
            t["InstrPrty"],
            f"{where}/PmtTpInf",
            required=False,
            codes=INSTRUCTION_PRIORITIES,
        )
        times = tx.find(t["SttlmTmReq"])
        from_time = _text(
            found, times, t["FrTm"], f"{where}/SttlmTmReq", required=False, pattern=TIME_PATTERN
        )
        till_time = _text(
            found, times, t["TillTm"], f"{where}/SttlmTmReq", required=False, pattern=TIME_PATTERN
        ) or _text(
            found, times, t["CLSTm"], f"{where}/SttlmTmReq", required=False, pattern=TIME_PATTERN
        )
        debit = tx.find(debit_tag)
        credit = tx.find(credit_tag)
        debit_name = debit_tag.rpartition("}")[2]
        credit_name = credit_tag.rpartition("}")[2]
        if debit is None:
            found.add("CH21", f"{where}/{debit_name} is missing", f"{where}/{debit_name}")
        if credit is None:
            found.add("CH21", f"{where}/{credit_name} is missing", f"{where}/{credit_name}")
        if customer:
            debtor_name = _party_name(tx.find(t["Dbtr"]), t)
            creditor_name = _party_name(tx.find(t["Cdtr"]), t)
        else:
            debtor_name = creditor_name = None
        if ids is None or amount is None or end_to_end is None:
            continue
        result.append(
            CreditTransfer(
                location=where,
                instruction_id=_text(found, ids, t["InstrId"], f"{where}/PmtId", required=False),
                end_to_end_id=end_to_end,
                transaction_id=_text(found, ids, t["TxId"], f"{where}/PmtId", required=False),
                uetr=uetr,
                amount=amount,
                settlement_date=date,
                priority=priority,
                from_time=from_time,
                till_time=till_time,
                instructing_agent=_bic(found, tx.find(t["InstgAgt"]), t, f"{where}/InstgAgt"),
                instructed_agent=_bic(found, tx.find(t["InstdAgt"]), t, f"{where}/InstdAgt"),
                debit_party=_bic(found, debit, t, f"{where}/{debit_name}"),
                credit_party=_bic(found, credit, t, f"{where}/{credit_name}"),
                debtor_name=debtor_name,
                creditor_name=creditor_name,
            )
        )
    found.raise_if_any()
    return CreditTransferMessage(definition, message_id, created, count, method, tuple(result))


def _party_name(party: etree._Element | None, t: dict[str, str]) -> str | None:
    if party is None:
        return None
    name = party.findtext(t["Nm"])
    return name[:TEXT140_LENGTH_MAX] if name else None


def _original_group(
    found: _Findings, tx: etree._Element, t: dict[str, str], where: str
) -> tuple[str | None, str | None]:
    group = tx.find(t["OrgnlGrpInf"])
    if group is None:
        return None, None
    return (
        _text(found, group, t["OrgnlMsgId"], f"{where}/OrgnlGrpInf", required=True),
        _text(found, group, t["OrgnlMsgNmId"], f"{where}/OrgnlGrpInf", required=True),
    )


def _reason(tx: etree._Element, info_tag: str, t: dict[str, str]) -> str | None:
    info = tx.find(info_tag)
    if info is None:
        return None
    reason = info.find(t["Rsn"])
    code = None if reason is None else reason.findtext(t["Cd"])
    return code if code and len(code) <= TEXT35_LENGTH_MAX else None


def _returns(
    body: etree._Element, definition: MessageDef, t: dict[str, str], transactions_max: int
) -> ReturnMessage:
    found = _Findings()
    message_id, created, count, method = _group(found, body, t)
    group = body.find(t["GrpHdr"])
    assert group is not None
    group_instructing = _bic(found, group.find(t["InstgAgt"]), t, "GrpHdr/InstgAgt")
    group_instructed = _bic(found, group.find(t["InstdAgt"]), t, "GrpHdr/InstdAgt")
    result: list[ReturnTransaction] = []
    for index, tx in enumerate(_transactions(body, t["TxInf"], transactions_max, "TxInf"), 1):
        where = f"TxInf[{index}]"
        original_message, original_name = _original_group(found, tx, t, where)
        amount = _amount(found, tx, t["RtrdIntrBkSttlmAmt"], where, required=True)
        if amount is None:
            continue
        result.append(
            ReturnTransaction(
                location=where,
                return_id=_text(found, tx, t["RtrId"], where, required=False),
                original_message_id=original_message,
                original_message_name=original_name,
                original_instruction_id=_text(found, tx, t["OrgnlInstrId"], where, required=False),
                original_end_to_end_id=_text(
                    found, tx, t["OrgnlEndToEndId"], where, required=False
                ),
                original_transaction_id=_text(found, tx, t["OrgnlTxId"], where, required=False),
                original_uetr=_text(
                    found,
                    tx,
                    t["OrgnlUETR"],
                    where,
                    required=False,
                    length_max=36,
                    pattern=UUID4_PATTERN,
                ),
                amount=amount,
                settlement_date=_text(
                    found, tx, t["IntrBkSttlmDt"], where, required=False, pattern=DATE_PATTERN
                ),
                instructing_agent=_bic(found, tx.find(t["InstgAgt"]), t, f"{where}/InstgAgt")
                or group_instructing,
                instructed_agent=_bic(found, tx.find(t["InstdAgt"]), t, f"{where}/InstdAgt")
                or group_instructed,
                reason_code=_reason(tx, t["RtrRsnInf"], t),
            )
        )
    found.raise_if_any()
    return ReturnMessage(definition, message_id, created, count, method, tuple(result))


def _assignment(
    found: _Findings, body: etree._Element, t: dict[str, str]
) -> tuple[str, str | None, str | None, str]:
    assignment = body.find(t["Assgnmt"])
    if assignment is None:
        found.add("CH21", "Assgnmt is missing", "Assgnmt")
        found.raise_if_any()
    assert assignment is not None
    identifier = _text(found, assignment, t["Id"], "Assgnmt", required=True)
    assigner = _party40_bic(found, assignment.find(t["Assgnr"]), t, "Assgnmt/Assgnr")
    assignee = _party40_bic(found, assignment.find(t["Assgne"]), t, "Assgnmt/Assgne")
    if assignment.find(t["Assgnr"]) is None:
        found.add("CH21", "Assgnmt/Assgnr is missing", "Assgnmt/Assgnr")
    if assignment.find(t["Assgne"]) is None:
        found.add("CH21", "Assgnmt/Assgne is missing", "Assgnmt/Assgne")
    created = _text(
        found, assignment, t["CreDtTm"], "Assgnmt", required=True, pattern=DATE_TIME_PATTERN
    )
    found.raise_if_any()
    assert identifier is not None and created is not None
    return identifier, assigner, assignee, created


def _cancellations(
    body: etree._Element, definition: MessageDef, t: dict[str, str], transactions_max: int
) -> CancellationMessage:
    found = _Findings()
    identifier, assigner, assignee, created = _assignment(found, body, t)
    case = body.find(t["Case"])
    case_id = None if case is None else _text(found, case, t["Id"], "Case", required=True)
    elements: list[etree._Element] = []
    for underlying in body.iterchildren(t["Undrlyg"]):
        elements.extend(underlying.iterchildren(t["TxInf"]))
        if len(elements) > transactions_max:
            raise MessageRejected(
                Rejection("FF01", f"more than {transactions_max} transactions in one message")
            )
    if not elements:
        raise MessageRejected(Rejection("CH21", "Undrlyg has no TxInf", "Undrlyg/TxInf"))
    result: list[CancellationRequest] = []
    for index, tx in enumerate(elements, 1):
        where = f"Undrlyg/TxInf[{index}]"
        original_message, original_name = _original_group(found, tx, t, where)
        result.append(
            CancellationRequest(
                location=where,
                cancellation_id=_text(found, tx, t["CxlId"], where, required=False),
                original_message_id=original_message,
                original_message_name=original_name,
                original_instruction_id=_text(found, tx, t["OrgnlInstrId"], where, required=False),
                original_end_to_end_id=_text(
                    found, tx, t["OrgnlEndToEndId"], where, required=False
                ),
                original_transaction_id=_text(found, tx, t["OrgnlTxId"], where, required=False),
                original_uetr=_text(
                    found,
                    tx,
                    t["OrgnlUETR"],
                    where,
                    required=False,
                    length_max=36,
                    pattern=UUID4_PATTERN,
                ),
                original_amount=_amount(found, tx, t["OrgnlIntrBkSttlmAmt"], where, required=False),
                reason_code=_reason(tx, t["CxlRsnInf"], t),
            )
        )
    found.raise_if_any()
    return CancellationMessage(
        definition, identifier, assigner, assignee, created, case_id, tuple(result)
    )


def _resolutions(
    body: etree._Element, definition: MessageDef, t: dict[str, str], transactions_max: int
) -> ResolutionMessage:
    found = _Findings()
    identifier, assigner, assignee, created = _assignment(found, body, t)
    status = body.find(t["Sts"])
    confirmation = None if status is None else status.findtext(t["Conf"])
    if status is None:
        found.add("CH21", "Sts is missing", "Sts")
    elements: list[etree._Element] = []
    for details in body.iterchildren(t["CxlDtls"]):
        elements.extend(details.iterchildren(t["TxInfAndSts"]))
        if len(elements) > transactions_max:
            raise MessageRejected(
                Rejection("FF01", f"more than {transactions_max} transactions in one message")
            )
    result: list[ResolutionTransaction] = []
    for index, tx in enumerate(elements, 1):
        where = f"CxlDtls/TxInfAndSts[{index}]"
        original_message, _ = _original_group(found, tx, t, where)
        result.append(
            ResolutionTransaction(
                location=where,
                cancellation_status_id=_text(found, tx, t["CxlStsId"], where, required=False),
                original_message_id=original_message,
                original_end_to_end_id=_text(
                    found, tx, t["OrgnlEndToEndId"], where, required=False
                ),
                original_uetr=_text(
                    found,
                    tx,
                    t["OrgnlUETR"],
                    where,
                    required=False,
                    length_max=36,
                    pattern=UUID4_PATTERN,
                ),
                status=_text(
                    found, tx, t["TxCxlSts"], where, required=False, codes=CANCELLATION_STATUSES
                ),
                reason_code=_reason(tx, t["CxlStsRsnInf"], t),
            )
        )
    found.raise_if_any()
    return ResolutionMessage(
        definition, identifier, assigner, assignee, created, confirmation, tuple(result)
    )
