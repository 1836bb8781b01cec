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


# Reading is one pass over each record element's children into a tag -> element map
# (the first child with a tag, as ``find`` would pick it), then plain dict lookups.
# lxml's ``find`` runs the Python ElementPath machinery on every call (~1.2 µs), and
# the earlier reader called it ~40 times per transaction and built every location
# string up front; locations are now built only when there is something to report.
_NO_CHILDREN: dict[object, etree._Element] = {}


def _children(element: etree._Element | None) -> dict[object, etree._Element]:
    """The first child element of ``element`` per tag ({} for None)."""
    if element is None:
        return _NO_CHILDREN
    found: dict[object, etree._Element] = {}
    for child in element:
        found.setdefault(child.tag, child)  # comments key by their (function) tag
    return found


def _first(parent: etree._Element | None, tag: str) -> etree._Element | None:
    """The first child of ``parent`` with ``tag``: a short loop beats building a map
    when the caller wants one element of a few."""
    if parent is not None:
        for child in parent:
            if child.tag == tag:
                return child
    return None


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
    element: etree._Element | None,
    where: str,
    path: str,
    *,
    required: bool,
    length_max: int = TEXT35_LENGTH_MAX,
    pattern: re.Pattern[str] | None = None,
    codes: frozenset[str] | None = None,
) -> str | None:
    """The text of ``element`` (found at ``where``/``path``), checked; None when absent
    or refused (the finding is recorded)."""
    if element is None:
        if required:
            found.add("CH21", f"{where}/{path} is missing", f"{where}/{path}")
        return None
    value = element.text or ""
    if not value or len(value) > length_max:
        found.add(
            "CH16", f"{where}/{path} must have 1 to {length_max} characters", f"{where}/{path}"
        )
        return None
    if pattern is not None and pattern.fullmatch(value) is None:
        found.add(
            "CH16", f"{where}/{path} {value[:40]!r} is not of the required form", f"{where}/{path}"
        )
        return None
    if codes is not None and value not in codes:
        found.add(
            "CH16",
            f"{where}/{path} {value[:40]!r} is not one of {sorted(codes)}",
            f"{where}/{path}",
        )
        return None
    return value


def _amount(
    found: _Findings, element: etree._Element | None, where: str, path: str, *, required: bool
) -> Amount | None:
    if element is None:
        if required:
            found.add("CH21", f"{where}/{path} is missing", f"{where}/{path}")
        return None
    value = element.text or ""
    ccy = element.get("Ccy") or ""
    if AMOUNT_PATTERN.fullmatch(value) is None:
        found.add("CH16", f"{where}/{path} {value[:40]!r} is not an amount", f"{where}/{path}")
        return None
    if CURRENCY_PATTERN.fullmatch(ccy) is None:
        found.add("CH16", f"{where}/{path} has no three-letter Ccy", f"{where}/{path}/@Ccy")
        return None
    return Amount(value, ccy)


def _bic(
    found: _Findings, agent: etree._Element | None, t: dict[str, str], where: str, path: str
) -> str | None:
    """The BICFI of a financial institution element; None when it is named otherwise."""
    if agent is None:
        return None
    institution = _first(agent, t["FinInstnId"])
    if institution is None:
        found.add("CH21", f"{where}/{path}/FinInstnId is missing", f"{where}/{path}/FinInstnId")
        return None
    return _text(
        found,
        _first(institution, t["BICFI"]),
        where,
        f"{path}/FinInstnId/BICFI",
        required=False,
        pattern=BIC_PATTERN,
    )


def _party40_bic(
    found: _Findings, party: etree._Element | None, t: dict[str, str], where: str, path: str
) -> str | None:
    """A Party40Choice (camt.056/029 assigner, assignee): the agent's BIC if it has one."""
    agent = _first(party, t["Agt"])
    return None if agent is None else _bic(found, agent, t, where, f"{path}/Agt")


def read_header(element: etree._Element, definition: MessageDef) -> Header:
    """The header's fields; MessageRejected when one the network reads is malformed."""
    t = tags(definition.namespace)
    found = _Findings()
    kids = _children(element)
    sender = _header_party(found, kids.get(t["Fr"]), t, "Fr")
    receiver = _header_party(found, kids.get(t["To"]), t, "To")
    identifier = _text(found, kids.get(t["BizMsgIdr"]), "AppHdr", "BizMsgIdr", required=True)
    definition_text = _text(found, kids.get(t["MsgDefIdr"]), "AppHdr", "MsgDefIdr", required=True)
    created = _text(
        found, kids.get(t["CreDt"]), "AppHdr", "CreDt", required=True, pattern=DATE_TIME_PATTERN
    )
    duplicate_flag = kids.get(t["PssblDplct"])
    duplicate = duplicate_flag is not None and duplicate_flag.text in ("true", "1")
    found.raise_if_any()
    assert identifier is not None and definition_text is not None and created is not None
    return Header(definition, sender, receiver, identifier, definition_text, created, duplicate)


def _header_party(
    found: _Findings, party: etree._Element | None, t: dict[str, str], path: str
) -> str | None:
    if party is None:
        found.add("CH21", f"AppHdr/{path} is missing", f"AppHdr/{path}")
        return None
    institution = _first(party, t["FIId"])
    return None if institution is None else _bic(found, institution, t, "AppHdr", f"{path}/FIId")


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


def _group(
    found: _Findings, body: etree._Element, t: dict[str, str]
) -> tuple[str, str, str, str, dict[object, etree._Element]]:
    """GrpHdr's message id, creation time, count and settlement method, and its children."""
    group = _first(body, t["GrpHdr"])
    if group is None:
        found.add("CH21", "GrpHdr is missing", "GrpHdr")
        found.raise_if_any()
    kids = _children(group)
    message_id = _text(found, kids.get(t["MsgId"]), "GrpHdr", "MsgId", required=True)
    created = _text(
        found, kids.get(t["CreDtTm"]), "GrpHdr", "CreDtTm", required=True, pattern=DATE_TIME_PATTERN
    )
    count = _text(
        found, kids.get(t["NbOfTxs"]), "GrpHdr", "NbOfTxs", required=True, pattern=COUNT_PATTERN
    )
    settlement = kids.get(t["SttlmInf"])
    if settlement is None:
        found.add("CH21", "GrpHdr/SttlmInf is missing", "GrpHdr/SttlmInf")
        method = None
    else:
        method = _text(
            found,
            _first(settlement, t["SttlmMtd"]),
            "GrpHdr",
            "SttlmInf/SttlmMtd",
            required=True,
            codes=SETTLEMENT_METHODS,
        )
    found.raise_if_any()
    assert message_id and created and count and method
    return message_id, created, count, method, kids


def _credit_transfers(
    body: etree._Element, definition: MessageDef, t: dict[str, str], transactions_max: int
) -> CreditTransferMessage:
    found = _Findings()
    message_id, created, count, method, _ = _group(found, body, t)
    customer = definition.name == "pacs.008"
    debit_name, credit_name = ("DbtrAgt", "CdtrAgt") if customer else ("Dbtr", "Cdtr")
    debit_tag, credit_tag = t[debit_name], t[credit_name]
    payment_ids, end_to_end_tag, uetr_tag = t["PmtId"], t["EndToEndId"], t["UETR"]
    amount_tag, date_tag, type_tag = t["IntrBkSttlmAmt"], t["IntrBkSttlmDt"], t["PmtTpInf"]
    times_tag, priority_tag = t["SttlmTmReq"], t["InstrPrty"]
    debtor_tag, creditor_tag = t["Dbtr"], t["Cdtr"]
    result: list[CreditTransfer] = []
    elements = _transactions(body, t["CdtTrfTxInf"], transactions_max, "CdtTrfTxInf")
    for index, tx in enumerate(elements, start=1):
        where = f"CdtTrfTxInf[{index}]"
        kids = _children(tx)
        ids = kids.get(payment_ids)
        if ids is None:
            found.add("CH21", f"{where}/PmtId is missing", f"{where}/PmtId")
        id_kids = _children(ids)
        end_to_end = _text(
            found, id_kids.get(end_to_end_tag), where, "PmtId/EndToEndId", required=True
        )
        uetr = _text(
            found,
            id_kids.get(uetr_tag),
            where,
            "PmtId/UETR",
            required=False,
            length_max=36,
            pattern=UUID4_PATTERN,
        )
        amount = _amount(found, kids.get(amount_tag), where, "IntrBkSttlmAmt", required=True)
        date = _text(
            found, kids.get(date_tag), where, "IntrBkSttlmDt", required=False, pattern=DATE_PATTERN
        )
        type_info = kids.get(type_tag)
        priority = None
        if type_info is not None:
            priority = _text(
                found,
                _first(type_info, priority_tag),
                where,
                "PmtTpInf/InstrPrty",
                required=False,
                codes=INSTRUCTION_PRIORITIES,
            )
        from_time = till_time = None
        times = kids.get(times_tag)
        if times is not None:
            time_kids = _children(times)
            from_time = _text(
                found,
                time_kids.get(t["FrTm"]),
                where,
                "SttlmTmReq/FrTm",
                required=False,
                pattern=TIME_PATTERN,
            )
            till_time = _text(
                found,
                time_kids.get(t["TillTm"]),
                where,
                "SttlmTmReq/TillTm",
                required=False,
                pattern=TIME_PATTERN,
            ) or _text(
                found,
                time_kids.get(t["CLSTm"]),
                where,
                "SttlmTmReq/CLSTm",
                required=False,
                pattern=TIME_PATTERN,
            )
        debit = kids.get(debit_tag)
        credit = kids.get(credit_tag)
        if debit is None:
            found.add("CH21", f"{where}/{debit_name} is missing", f"{where}/{debit_name}")
        if credit is None:
            found.add("CH21", f"{where}/{credit_name} is missing", f"{where}/{credit_name}")
        if customer:
            debtor_name = _party_name(kids.get(debtor_tag), t)
            creditor_name = _party_name(kids.get(creditor_tag), t)
        else:
            debtor_name = creditor_name = None
        if ids is None or amount is None or end_to_end is None:
            continue
        result.append(
            CreditTransfer(
                location=where,
                instruction_id=_text(
                    found, id_kids.get(t["InstrId"]), where, "PmtId/InstrId", required=False
                ),
                end_to_end_id=end_to_end,
                transaction_id=_text(
                    found, id_kids.get(t["TxId"]), where, "PmtId/TxId", required=False
                ),
                uetr=uetr,
                amount=amount,
                settlement_date=date,
                priority=priority,
                from_time=from_time,
                till_time=till_time,
                instructing_agent=_bic(found, kids.get(t["InstgAgt"]), t, where, "InstgAgt"),
                instructed_agent=_bic(found, kids.get(t["InstdAgt"]), t, where, "InstdAgt"),
                debit_party=_bic(found, debit, t, where, debit_name),
                credit_party=_bic(found, credit, t, where, credit_name),
                debtor_name=debtor_name,
                creditor_name=creditor_name,
            )
        )
    found.raise_if_any()
    return CreditTransferMessage(definition, message_id, created, count, method, tuple(result))


def _party_name(party: etree._Element | None, t: dict[str, str]) -> str | None:
    element = _first(party, t["Nm"])
    name = None if element is None else element.text
    return name[:TEXT140_LENGTH_MAX] if name else None


def _original_group(
    found: _Findings, kids: dict[object, etree._Element], t: dict[str, str], where: str
) -> tuple[str | None, str | None]:
    group = kids.get(t["OrgnlGrpInf"])
    if group is None:
        return None, None
    group_kids = _children(group)
    return (
        _text(
            found, group_kids.get(t["OrgnlMsgId"]), where, "OrgnlGrpInf/OrgnlMsgId", required=True
        ),
        _text(
            found,
            group_kids.get(t["OrgnlMsgNmId"]),
            where,
            "OrgnlGrpInf/OrgnlMsgNmId",
            required=True,
        ),
    )


def _reason(kids: dict[object, etree._Element], info_tag: str, t: dict[str, str]) -> str | None:
    reason = _first(kids.get(info_tag), t["Rsn"])
    code_element = _first(reason, t["Cd"])
    code = None if code_element is None else code_element.text or ""
    return code if code and len(code) <= TEXT35_LENGTH_MAX else None


def _original_uetr(
    found: _Findings, kids: dict[object, etree._Element], t: dict[str, str], where: str
) -> str | None:
    return _text(
        found,
        kids.get(t["OrgnlUETR"]),
        where,
        "OrgnlUETR",
        required=False,
        length_max=36,
        pattern=UUID4_PATTERN,
    )


def _returns(
    body: etree._Element, definition: MessageDef, t: dict[str, str], transactions_max: int
) -> ReturnMessage:
    found = _Findings()
    message_id, created, count, method, group = _group(found, body, t)
    group_instructing = _bic(found, group.get(t["InstgAgt"]), t, "GrpHdr", "InstgAgt")
    group_instructed = _bic(found, group.get(t["InstdAgt"]), t, "GrpHdr", "InstdAgt")
    result: list[ReturnTransaction] = []
    for index, tx in enumerate(_transactions(body, t["TxInf"], transactions_max, "TxInf"), 1):
        where = f"TxInf[{index}]"
        kids = _children(tx)
        original_message, original_name = _original_group(found, kids, t, where)
        amount = _amount(
            found, kids.get(t["RtrdIntrBkSttlmAmt"]), where, "RtrdIntrBkSttlmAmt", required=True
        )
        if amount is None:
            continue
        result.append(
            ReturnTransaction(
                location=where,
                return_id=_text(found, kids.get(t["RtrId"]), where, "RtrId", required=False),
                original_message_id=original_message,
                original_message_name=original_name,
                original_instruction_id=_text(
                    found, kids.get(t["OrgnlInstrId"]), where, "OrgnlInstrId", required=False
                ),
                original_end_to_end_id=_text(
                    found, kids.get(t["OrgnlEndToEndId"]), where, "OrgnlEndToEndId", required=False
                ),
                original_transaction_id=_text(
                    found, kids.get(t["OrgnlTxId"]), where, "OrgnlTxId", required=False
                ),
                original_uetr=_original_uetr(found, kids, t, where),
                amount=amount,
                settlement_date=_text(
                    found,
                    kids.get(t["IntrBkSttlmDt"]),
                    where,
                    "IntrBkSttlmDt",
                    required=False,
                    pattern=DATE_PATTERN,
                ),
                instructing_agent=_bic(found, kids.get(t["InstgAgt"]), t, where, "InstgAgt")
                or group_instructing,
                instructed_agent=_bic(found, kids.get(t["InstdAgt"]), t, where, "InstdAgt")
                or group_instructed,
                reason_code=_reason(kids, t["RtrRsnInf"], t),
            )
        )
    found.raise_if_any()
    return ReturnMessage(definition, message_id, created, count, method, tuple(result))


def _assignment(
    found: _Findings, body: etree._Element, t: dict[str, str]
) -> tuple[str, str | None, str | None, str]:
    assignment = _first(body, t["Assgnmt"])
    if assignment is None:
        found.add("CH21", "Assgnmt is missing", "Assgnmt")
        found.raise_if_any()
    kids = _children(assignment)
    identifier = _text(found, kids.get(t["Id"]), "Assgnmt", "Id", required=True)
    assigner = _party40_bic(found, kids.get(t["Assgnr"]), t, "Assgnmt", "Assgnr")
    assignee = _party40_bic(found, kids.get(t["Assgne"]), t, "Assgnmt", "Assgne")
    if t["Assgnr"] not in kids:
        found.add("CH21", "Assgnmt/Assgnr is missing", "Assgnmt/Assgnr")
    if t["Assgne"] not in kids:
        found.add("CH21", "Assgnmt/Assgne is missing", "Assgnmt/Assgne")
    created = _text(
        found,
        kids.get(t["CreDtTm"]),
        "Assgnmt",
        "CreDtTm",
        required=True,
        pattern=DATE_TIME_PATTERN,
    )
    found.raise_if_any()
    assert identifier is not None and created is not None
    return identifier, assigner, assignee, created


def _cancellations(
    body: etree._Element, definition: MessageDef, t: dict[str, str], transactions_max: int
) -> CancellationMessage:
    found = _Findings()
    identifier, assigner, assignee, created = _assignment(found, body, t)
    case = _first(body, t["Case"])
    case_id = None
    if case is not None:
        case_id = _text(found, _first(case, t["Id"]), "Case", "Id", required=True)
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
        kids = _children(tx)
        original_message, original_name = _original_group(found, kids, t, where)
        result.append(
            CancellationRequest(
                location=where,
                cancellation_id=_text(found, kids.get(t["CxlId"]), where, "CxlId", required=False),
                original_message_id=original_message,
                original_message_name=original_name,
                original_instruction_id=_text(
                    found, kids.get(t["OrgnlInstrId"]), where, "OrgnlInstrId", required=False
                ),
                original_end_to_end_id=_text(
                    found, kids.get(t["OrgnlEndToEndId"]), where, "OrgnlEndToEndId", required=False
                ),
                original_transaction_id=_text(
                    found, kids.get(t["OrgnlTxId"]), where, "OrgnlTxId", required=False
                ),
                original_uetr=_original_uetr(found, kids, t, where),
                original_amount=_amount(
                    found,
                    kids.get(t["OrgnlIntrBkSttlmAmt"]),
                    where,
                    "OrgnlIntrBkSttlmAmt",
                    required=False,
                ),
                reason_code=_reason(kids, t["CxlRsnInf"], t),
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
    status = _first(body, t["Sts"])
    confirmation = None
    if status is None:
        found.add("CH21", "Sts is missing", "Sts")
    else:
        confirmation_element = _first(status, t["Conf"])
        if confirmation_element is not None:
            confirmation = confirmation_element.text or ""
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
        kids = _children(tx)
        original_message, _ = _original_group(found, kids, t, where)
        result.append(
            ResolutionTransaction(
                location=where,
                cancellation_status_id=_text(
                    found, kids.get(t["CxlStsId"]), where, "CxlStsId", required=False
                ),
                original_message_id=original_message,
                original_end_to_end_id=_text(
                    found, kids.get(t["OrgnlEndToEndId"]), where, "OrgnlEndToEndId", required=False
                ),
                original_uetr=_original_uetr(found, kids, t, where),
                status=_text(
                    found,
                    kids.get(t["TxCxlSts"]),
                    where,
                    "TxCxlSts",
                    required=False,
                    codes=CANCELLATION_STATUSES,
                ),
                reason_code=_reason(kids, t["CxlStsRsnInf"], t),
            )
        )
    found.raise_if_any()
    return ResolutionMessage(
        definition, identifier, assigner, assignee, created, confirmation, tuple(result)
    )
