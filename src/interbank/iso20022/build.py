"""Building messages: every message the network sends, and the inbound types for tools.

Messages are written from templates with every text escaped, not through a tree: a
pacs.002 is a few string joins, which is what lets the gateway answer tens of
thousands of messages a second. Each builder's output is valid against its XSD (the
tests check every builder against the public schemas). Every outbound message is a
``BizMsg`` envelope holding a head.001.001.02 header from the network and the document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from interbank.iso20022.catalog import ISO_NAMESPACE_PREFIX, OUTBOUND
from interbank.money import format_amount

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
ADDITIONAL_INFO_LENGTH_MAX = 105  # StsRsnInf/AddtlInf is Max105Text
DESCRIPTION_LENGTH_MAX = 350


def iso_datetime(timestamp_ns: int) -> str:
    """ISO 8601 UTC with milliseconds and Z, as ISODateTime and CBPR+ want it."""
    moment = dt.datetime.fromtimestamp(timestamp_ns // 1_000_000_000, dt.UTC)
    millis = (timestamp_ns // 1_000_000) % 1000
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def iso_date(timestamp_ns: int) -> str:
    return dt.datetime.fromtimestamp(timestamp_ns // 1_000_000_000, dt.UTC).date().isoformat()


def _text(value: str, length_max: int = 35) -> str:
    value = value[:length_max]
    # Most ids and codes hold nothing to escape; three membership tests cost less than
    # escape()'s three replacements.
    if "&" in value or "<" in value or ">" in value:
        return escape(value)
    return value


def _agent(tag: str, bic: str) -> str:
    return f"<{tag}><FinInstnId><BICFI>{_text(bic, 11)}</BICFI></FinInstnId></{tag}>"


def _party40(tag: str, bic: str) -> str:
    return f"<{tag}><Agt><FinInstnId><BICFI>{_text(bic, 11)}</BICFI></FinInstnId></Agt></{tag}>"


def header(
    sender: str,
    receiver: str,
    message_id: str,
    definition: str,
    created: str,
    version: str = "head.001.001.02",
) -> str:
    """A business application header (head.001.001.02) as XML text."""
    return (
        f'<AppHdr xmlns="{ISO_NAMESPACE_PREFIX}{version}">'
        f"<Fr><FIId><FinInstnId><BICFI>{_text(sender, 11)}</BICFI></FinInstnId></FIId></Fr>"
        f"<To><FIId><FinInstnId><BICFI>{_text(receiver, 11)}</BICFI></FinInstnId></FIId></To>"
        f"<BizMsgIdr>{_text(message_id)}</BizMsgIdr><MsgDefIdr>{definition}</MsgDefIdr>"
        f"<CreDt>{created}</CreDt></AppHdr>"
    )


def envelope(app_header: str, document: str) -> bytes:
    return (XML_DECLARATION + "<BizMsg>" + app_header + document + "</BizMsg>").encode()


def _document(definition: str, body: str) -> str:
    return f'<Document xmlns="{ISO_NAMESPACE_PREFIX}{definition}">{body}</Document>'


# --- pacs.002: the status of each transaction ------------------------------------------


@dataclass(frozen=True, slots=True)
class TransactionStatus:
    """One TxInfAndSts: ACSC settled, PDNG waiting (with why), RJCT (with the reason)."""

    status: str
    uetr: str | None
    end_to_end_id: str | None
    instruction_id: str | None = None
    transaction_id: str | None = None
    reason: str | None = None
    text: str | None = None
    accepted_at: str | None = None


def pacs002(
    *,
    network_bic: str,
    to_bic: str,
    message_id: str,
    created: str,
    original_message_id: str,
    original_definition: str,
    transactions: Sequence[TransactionStatus],
    group_status: str | None = None,
    group_reason: str | None = None,
    group_text: str | None = None,
) -> bytes:
    """A pacs.002.001.10 status report in its envelope."""
    definition = OUTBOUND["pacs.002"]
    parts = [
        f"<FIToFIPmtStsRpt><GrpHdr><MsgId>{_text(message_id)}</MsgId>"
        f"<CreDtTm>{created}</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{_text(original_message_id)}</OrgnlMsgId>"
        f"<OrgnlMsgNmId>{_text(original_definition)}</OrgnlMsgNmId>"
    ]
    if group_status is not None:
        parts.append(f"<GrpSts>{group_status}</GrpSts>")
        if group_reason is not None:
            parts.append(_reason_info(group_reason, group_text))
    parts.append("</OrgnlGrpInfAndSts>")
    for tx in transactions:
        parts.append("<TxInfAndSts>")
        if tx.instruction_id:
            parts.append(f"<OrgnlInstrId>{_text(tx.instruction_id)}</OrgnlInstrId>")
        if tx.end_to_end_id:
            parts.append(f"<OrgnlEndToEndId>{_text(tx.end_to_end_id)}</OrgnlEndToEndId>")
        if tx.transaction_id:
            parts.append(f"<OrgnlTxId>{_text(tx.transaction_id)}</OrgnlTxId>")
        if tx.uetr:
            parts.append(f"<OrgnlUETR>{tx.uetr}</OrgnlUETR>")
        parts.append(f"<TxSts>{tx.status}</TxSts>")
        if tx.reason is not None:
            parts.append(_reason_info(tx.reason, tx.text))
        if tx.accepted_at is not None:
            parts.append(f"<AccptncDtTm>{tx.accepted_at}</AccptncDtTm>")
        parts.append("</TxInfAndSts>")
    parts.append("</FIToFIPmtStsRpt>")
    document = _document(definition, "".join(parts))
    return envelope(header(network_bic, to_bic, message_id, definition, created), document)


def _reason_info(code: str, text: str | None) -> str:
    extra = ""
    if text:
        extra = f"<AddtlInf>{_text(text, ADDITIONAL_INFO_LENGTH_MAX)}</AddtlInf>"
    return f"<StsRsnInf><Rsn><Cd>{_text(code, 4)}</Cd></Rsn>{extra}</StsRsnInf>"


# --- admi.002: the message could not be read or failed its schema ------------------------


def admi002(
    *,
    network_bic: str,
    to_bic: str | None,
    message_id: str,
    created: str,
    reference: str,
    reason: str,
    text: str,
    location: str = "",
    additional: str = "",
) -> bytes:
    """An admi.002.001.01 message reject. ``reference`` is the rejected message's id (its
    sha256 prefix when it had none we could read)."""
    definition = OUTBOUND["admi.002"]
    body = (
        f"<admi.002.001.01><RltdRef><Ref>{_text(reference)}</Ref></RltdRef><Rsn>"
        f"<RjctgPtyRsn>{_text(reason)}</RjctgPtyRsn><RjctnDtTm>{created}</RjctnDtTm>"
    )
    if location:
        body += f"<ErrLctn>{_text(location, DESCRIPTION_LENGTH_MAX)}</ErrLctn>"
    body += f"<RsnDesc>{_text(text, DESCRIPTION_LENGTH_MAX)}</RsnDesc>"
    if additional:
        body += f"<AddtlData>{_text(additional, 20_000)}</AddtlData>"
    body += "</Rsn></admi.002.001.01>"
    document = _document(definition, body)
    receiver = to_bic or network_bic
    return envelope(header(network_bic, receiver, message_id, definition, created), document)


# --- camt.029: the answer to a cancellation request ------------------------------------


@dataclass(frozen=True, slots=True)
class CancellationStatus:
    status: str  # ACCR cancelled, RJCR rejected, PDCR pending (forwarded)
    uetr: str | None
    end_to_end_id: str | None
    cancellation_id: str | None = None
    original_message_id: str | None = None
    original_message_name: str | None = None
    reason: str | None = None
    text: str | None = None


def camt029(
    *,
    sender_bic: str,
    to_bic: str,
    message_id: str,
    created: str,
    case_id: str | None,
    case_creator: str | None,
    confirmation: str,
    transactions: Sequence[CancellationStatus],
    network_bic: str | None = None,
    assigner: str | None = None,
    assignee: str | None = None,
) -> bytes:
    """A camt.029.001.09 resolution of investigation in its envelope.

    ``sender_bic`` writes the header; the assignment goes from ``assigner`` (default the
    sender) to ``assignee`` (default the receiver).
    """
    definition = OUTBOUND["camt.029"]
    parts = [
        f"<RsltnOfInvstgtn><Assgnmt><Id>{_text(message_id)}</Id>"
        f"{_party40('Assgnr', assigner or sender_bic)}{_party40('Assgne', assignee or to_bic)}"
        f"<CreDtTm>{created}</CreDtTm></Assgnmt>"
    ]
    if case_id and case_creator:
        parts.append(
            f"<RslvdCase><Id>{_text(case_id)}</Id>{_party40('Cretr', case_creator)}</RslvdCase>"
        )
    parts.append(f"<Sts><Conf>{_text(confirmation, 4)}</Conf></Sts>")
    if transactions:
        parts.append("<CxlDtls>")
        for tx in transactions:
            parts.append("<TxInfAndSts>")
            if tx.cancellation_id:
                parts.append(f"<CxlStsId>{_text(tx.cancellation_id)}</CxlStsId>")
            if tx.original_message_id and tx.original_message_name:
                parts.append(
                    f"<OrgnlGrpInf><OrgnlMsgId>{_text(tx.original_message_id)}</OrgnlMsgId>"
                    f"<OrgnlMsgNmId>{_text(tx.original_message_name)}</OrgnlMsgNmId>"
                    "</OrgnlGrpInf>"
                )
            if tx.end_to_end_id:
                parts.append(f"<OrgnlEndToEndId>{_text(tx.end_to_end_id)}</OrgnlEndToEndId>")
            if tx.uetr:
                parts.append(f"<OrgnlUETR>{tx.uetr}</OrgnlUETR>")
            parts.append(f"<TxCxlSts>{tx.status}</TxCxlSts>")
            if tx.reason:
                extra = (
                    f"<AddtlInf>{_text(tx.text, ADDITIONAL_INFO_LENGTH_MAX)}</AddtlInf>"
                    if tx.text
                    else ""
                )
                parts.append(
                    f"<CxlStsRsnInf><Rsn><Cd>{_text(tx.reason, 4)}</Cd></Rsn>{extra}</CxlStsRsnInf>"
                )
            parts.append("</TxInfAndSts>")
        parts.append("</CxlDtls>")
    parts.append("</RsltnOfInvstgtn>")
    document = _document(definition, "".join(parts))
    return envelope(header(sender_bic, to_bic, message_id, definition, created), document)


# --- camt.053 / camt.054: statements and notifications ---------------------------------


@dataclass(frozen=True, slots=True)
class StatementEntry:
    amount_minor: int  # signed: credits positive
    booked_at: str  # ISODateTime
    reference: str  # the command id as UETR text, or a hex id
    uetr: str | None
    end_to_end_id: str | None
    kind: str  # payment, transfer, issue, redeem, hold, return


def _entry(currency: str, entry: StatementEntry) -> str:
    direction = "CRDT" if entry.amount_minor >= 0 else "DBIT"
    amount = format_amount(abs(entry.amount_minor), currency)
    refs = ""
    if entry.end_to_end_id or entry.uetr:
        refs = "<NtryDtls><TxDtls><Refs>"
        if entry.end_to_end_id:
            refs += f"<EndToEndId>{_text(entry.end_to_end_id)}</EndToEndId>"
        if entry.uetr:
            refs += f"<UETR>{entry.uetr}</UETR>"
        refs += "</Refs></TxDtls></NtryDtls>"
    return (
        f"<Ntry><NtryRef>{_text(entry.reference)}</NtryRef>"
        f'<Amt Ccy="{currency}">{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd>'
        f"<Sts><Cd>BOOK</Cd></Sts><BookgDt><DtTm>{entry.booked_at}</DtTm></BookgDt>"
        f"<ValDt><DtTm>{entry.booked_at}</DtTm></ValDt>"
        f"<BkTxCd><Prtry><Cd>{_text(entry.kind.upper())}</Cd><Issr>interbank</Issr></Prtry>"
        f"</BkTxCd>{refs}</Ntry>"
    )


def _account(account_id: int, currency: str, owner_bic: str) -> str:
    return (
        f"<Acct><Id><Othr><Id>{account_id}</Id></Othr></Id><Ccy>{currency}</Ccy>"
        f"<Svcr><FinInstnId><BICFI>{_text(owner_bic, 11)}</BICFI></FinInstnId></Svcr></Acct>"
    )


def _balance(code: str, amount_minor: int, currency: str, date: str) -> str:
    direction = "CRDT" if amount_minor >= 0 else "DBIT"
    return (
        f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
        f'<Amt Ccy="{currency}">{format_amount(abs(amount_minor), currency)}</Amt>'
        f"<CdtDbtInd>{direction}</CdtDbtInd><Dt><Dt>{date}</Dt></Dt></Bal>"
    )


def camt053(
    *,
    network_bic: str,
    to_bic: str,
    message_id: str,
    created: str,
    account_id: int,
    currency: str,
    date: str,
    opening_minor: int,
    closing_minor: int,
    entries: Sequence[StatementEntry],
) -> bytes:
    """A camt.053.001.08 end-of-day statement of one account for one date."""
    definition = OUTBOUND["camt.053"]
    credits = [e.amount_minor for e in entries if e.amount_minor >= 0]
    debits = [-e.amount_minor for e in entries if e.amount_minor < 0]
    summary = (
        f"<TxsSummry><TtlNtries><NbOfNtries>{len(entries)}</NbOfNtries></TtlNtries>"
        f"<TtlCdtNtries><NbOfNtries>{len(credits)}</NbOfNtries>"
        f"<Sum>{format_amount(sum(credits), currency)}</Sum></TtlCdtNtries>"
        f"<TtlDbtNtries><NbOfNtries>{len(debits)}</NbOfNtries>"
        f"<Sum>{format_amount(sum(debits), currency)}</Sum></TtlDbtNtries></TxsSummry>"
    )
    body = (
        f"<BkToCstmrStmt><GrpHdr><MsgId>{_text(message_id)}</MsgId><CreDtTm>{created}</CreDtTm>"
        f"</GrpHdr><Stmt><Id>{_text(message_id)}</Id><CreDtTm>{created}</CreDtTm>"
        f"<FrToDt><FrDtTm>{date}T00:00:00.000Z</FrDtTm><ToDtTm>{date}T23:59:59.999Z</ToDtTm>"
        f"</FrToDt>{_account(account_id, currency, to_bic)}"
        f"{_balance('OPBD', opening_minor, currency, date)}"
        f"{_balance('CLBD', closing_minor, currency, date)}{summary}"
        + "".join(_entry(currency, e) for e in entries)
        + "</Stmt></BkToCstmrStmt>"
    )
    document = _document(definition, body)
    return envelope(header(network_bic, to_bic, message_id, definition, created), document)


def camt054(
    *,
    network_bic: str,
    to_bic: str,
    message_id: str,
    created: str,
    account_id: int,
    currency: str,
    entries: Sequence[StatementEntry],
) -> bytes:
    """A camt.054.001.08 debit/credit notification for entries on one account."""
    definition = OUTBOUND["camt.054"]
    body = (
        f"<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>{_text(message_id)}</MsgId>"
        f"<CreDtTm>{created}</CreDtTm></GrpHdr><Ntfctn><Id>{_text(message_id)}</Id>"
        f"<CreDtTm>{created}</CreDtTm>{_account(account_id, currency, to_bic)}"
        + "".join(_entry(currency, e) for e in entries)
        + "</Ntfctn></BkToCstmrDbtCdtNtfctn>"
    )
    document = _document(definition, body)
    return envelope(header(network_bic, to_bic, message_id, definition, created), document)


# --- inbound messages, as participants write them (tests, examples, the benchmark) ------


@dataclass(frozen=True, slots=True)
class Payment:
    """One credit transfer to write into a pacs.008 or pacs.009."""

    uetr: str
    end_to_end_id: str
    amount: str  # decimal text
    currency: str
    debtor_agent: str
    creditor_agent: str
    instruction_id: str | None = None
    settlement_date: str | None = None
    priority: str | None = None  # HIGH or NORM
    debtor_name: str = "Debtor"
    creditor_name: str = "Creditor"
    instructed_agent: str | None = None


def credit_transfer(
    *,
    sender: str,
    message_id: str,
    created: str,
    payments: Sequence[Payment],
    definition: str = "pacs.008.001.08",
    receiver: str = "IBNKCHZZ",
    settlement_method: str = "CLRG",
    number_of_transactions: int | None = None,
) -> bytes:
    """A pacs.008 (customer) or pacs.009 (financial institution) credit transfer."""
    customer = definition.startswith("pacs.008")
    root = "FIToFICstmrCdtTrf" if customer else "FICdtTrf"
    count = len(payments) if number_of_transactions is None else number_of_transactions
    parts = [
        f"<{root}><GrpHdr><MsgId>{_text(message_id)}</MsgId><CreDtTm>{created}</CreDtTm>"
        f"<NbOfTxs>{count}</NbOfTxs><SttlmInf><SttlmMtd>{settlement_method}</SttlmMtd>"
        "</SttlmInf></GrpHdr>"
    ]
    for p in payments:
        parts.append("<CdtTrfTxInf><PmtId>")
        if p.instruction_id:
            parts.append(f"<InstrId>{_text(p.instruction_id)}</InstrId>")
        # TxId is mandatory up to version 07; the end-to-end id serves as it.
        parts.append(
            f"<EndToEndId>{_text(p.end_to_end_id)}</EndToEndId>"
            f"<TxId>{_text(p.end_to_end_id)}</TxId>"
        )
        if not definition.endswith(".07"):  # version 07 has no UETR element
            parts.append(f"<UETR>{p.uetr}</UETR>")
        parts.append("</PmtId>")
        if p.priority:
            parts.append(f"<PmtTpInf><InstrPrty>{p.priority}</InstrPrty></PmtTpInf>")
        parts.append(
            f"<IntrBkSttlmAmt Ccy={quoteattr(p.currency)}>{escape(p.amount)}</IntrBkSttlmAmt>"
        )
        if p.settlement_date:
            parts.append(f"<IntrBkSttlmDt>{p.settlement_date}</IntrBkSttlmDt>")
        if customer:
            parts.append("<ChrgBr>SHAR</ChrgBr>")
        parts.append(_agent("InstgAgt", sender))
        parts.append(_agent("InstdAgt", p.instructed_agent or p.creditor_agent))
        if customer:
            parts.append(f"<Dbtr><Nm>{_text(p.debtor_name, 140)}</Nm></Dbtr>")
            parts.append(_agent("DbtrAgt", p.debtor_agent))
            parts.append(_agent("CdtrAgt", p.creditor_agent))
            parts.append(f"<Cdtr><Nm>{_text(p.creditor_name, 140)}</Nm></Cdtr>")
        else:
            parts.append(_agent("Dbtr", p.debtor_agent))
            parts.append(_agent("Cdtr", p.creditor_agent))
        parts.append("</CdtTrfTxInf>")
    parts.append(f"</{root}>")
    document = _document(definition, "".join(parts))
    return envelope(header(sender, receiver, message_id, definition, created), document)


@dataclass(frozen=True, slots=True)
class Return:
    original_uetr: str
    amount: str
    currency: str
    instructed_agent: str
    return_id: str
    original_end_to_end_id: str | None = None
    original_message_id: str | None = None
    original_message_name: str = "pacs.008.001.08"
    reason: str = "AC04"


def payment_return(
    *,
    sender: str,
    message_id: str,
    created: str,
    returns: Sequence[Return],
    definition: str = "pacs.004.001.09",
    receiver: str = "IBNKCHZZ",
) -> bytes:
    """A pacs.004 payment return."""
    parts = [
        f"<PmtRtr><GrpHdr><MsgId>{_text(message_id)}</MsgId><CreDtTm>{created}</CreDtTm>"
        f"<NbOfTxs>{len(returns)}</NbOfTxs><SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf>"
        "</GrpHdr>"
    ]
    for r in returns:
        parts.append(f"<TxInf><RtrId>{_text(r.return_id)}</RtrId>")
        if r.original_message_id:
            parts.append(
                f"<OrgnlGrpInf><OrgnlMsgId>{_text(r.original_message_id)}</OrgnlMsgId>"
                f"<OrgnlMsgNmId>{r.original_message_name}</OrgnlMsgNmId></OrgnlGrpInf>"
            )
        if r.original_end_to_end_id:
            parts.append(f"<OrgnlEndToEndId>{_text(r.original_end_to_end_id)}</OrgnlEndToEndId>")
        parts.append(f"<OrgnlUETR>{r.original_uetr}</OrgnlUETR>")
        parts.append(
            f"<RtrdIntrBkSttlmAmt Ccy={quoteattr(r.currency)}>{escape(r.amount)}"
            "</RtrdIntrBkSttlmAmt>"
        )
        parts.append(_agent("InstgAgt", sender))
        parts.append(_agent("InstdAgt", r.instructed_agent))
        parts.append(f"<RtrRsnInf><Rsn><Cd>{_text(r.reason, 4)}</Cd></Rsn></RtrRsnInf></TxInf>")
    parts.append("</PmtRtr>")
    document = _document(definition, "".join(parts))
    return envelope(header(sender, receiver, message_id, definition, created), document)


@dataclass(frozen=True, slots=True)
class Cancellation:
    original_uetr: str
    cancellation_id: str
    original_end_to_end_id: str | None = None
    original_message_id: str | None = None
    original_message_name: str = "pacs.008.001.08"
    reason: str = "DUPL"


def cancellation_request(
    *,
    sender: str,
    assignee: str,
    message_id: str,
    created: str,
    cancellations: Sequence[Cancellation],
    definition: str = "camt.056.001.08",
    receiver: str = "IBNKCHZZ",
) -> bytes:
    """A camt.056 cancellation request (the case id is the message id)."""
    parts = [
        f"<FIToFIPmtCxlReq><Assgnmt><Id>{_text(message_id)}</Id>{_party40('Assgnr', sender)}"
        f"{_party40('Assgne', assignee)}<CreDtTm>{created}</CreDtTm></Assgnmt>"
        f"<Case><Id>{_text(message_id)}</Id>{_party40('Cretr', sender)}</Case><Undrlyg>"
    ]
    for c in cancellations:
        parts.append(f"<TxInf><CxlId>{_text(c.cancellation_id)}</CxlId>")
        if c.original_message_id:
            parts.append(
                f"<OrgnlGrpInf><OrgnlMsgId>{_text(c.original_message_id)}</OrgnlMsgId>"
                f"<OrgnlMsgNmId>{c.original_message_name}</OrgnlMsgNmId></OrgnlGrpInf>"
            )
        if c.original_end_to_end_id:
            parts.append(f"<OrgnlEndToEndId>{_text(c.original_end_to_end_id)}</OrgnlEndToEndId>")
        parts.append(f"<OrgnlUETR>{c.original_uetr}</OrgnlUETR>")
        parts.append(f"<CxlRsnInf><Rsn><Cd>{_text(c.reason, 4)}</Cd></Rsn></CxlRsnInf></TxInf>")
    parts.append("</Undrlyg></FIToFIPmtCxlReq>")
    document = _document(definition, "".join(parts))
    return envelope(header(sender, receiver, message_id, definition, created), document)
