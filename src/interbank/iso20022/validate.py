"""Validation in the issue's order, each stage with its own reasons:

1. size and safety limits (``reader``), 2. well-formed, known namespace and version,
header consistent with the document, 3. schema validity (when a schema folder is
configured) and the built-in structural check of the fields the network reads,
4. the network's usage rules (``rules``; optional here, always applied on submit).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from interbank.iso20022 import extract, rules
from interbank.iso20022.catalog import ACCEPTED_HEADERS, MessageDef, accepted_inbound
from interbank.iso20022.model import Header, InboundMessage
from interbank.iso20022.reader import Envelope, Reader
from interbank.iso20022.reasons import MessageRejected, Rejection
from interbank.iso20022.schemas import SchemaSet
from interbank.iso20022.settings import IsoSettings


@dataclass(frozen=True, slots=True)
class Verdict:
    """What validation found. ``valid`` is False exactly when ``rejections`` is not empty."""

    rejections: tuple[Rejection, ...]
    checks: tuple[str, ...]  # the stages that ran, in order
    document_def: MessageDef | None = None
    header_def: MessageDef | None = None
    envelope: Envelope | None = field(default=None, repr=False)
    header: Header | None = field(default=None, repr=False)
    message: InboundMessage | None = field(default=None, repr=False)
    # Usage-rule findings per transaction index (rules stage only).
    transaction_rejections: dict[int, Rejection] = field(default_factory=dict, repr=False)

    @property
    def valid(self) -> bool:
        return not self.rejections and not self.transaction_rejections


class Validator:
    """Runs the validation stages with one reader and one compiled schema set.

    One per thread (the reader's parser is not shareable); the schema set may be
    shared by passing it in.
    """

    def __init__(self, settings: IsoSettings, schemas: SchemaSet | None = None) -> None:
        self.settings = settings
        self.reader = Reader(settings)
        if schemas is None and settings.schemas_dir is not None:
            schemas = SchemaSet(Path(settings.schemas_dir))
        self.schemas = schemas

    def check(
        self, data: bytes, *, usage_rules: bool = False, today: dt.date | None = None
    ) -> Verdict:
        """Validate one message. With ``usage_rules``, also the rules that need no state."""
        checks: list[str] = ["limits"]
        try:
            envelope = self.reader.parse(data)
        except MessageRejected as error:
            return Verdict((error.rejection,), tuple(checks))
        checks.append("well-formed")
        header_def, document_def = envelope.header_def, envelope.document_def

        def refuse(*found: Rejection) -> Verdict:
            return Verdict(tuple(found), tuple(checks), document_def, header_def, envelope)

        if envelope.header is not None and (header_def is None or header_def.name != "head.001"):
            return refuse(
                Rejection(
                    "FF01",
                    f"the AppHdr is not an ISO 20022 business application header "
                    f"(namespace {_namespace_text(envelope.header.tag)})",
                    "AppHdr",
                )
            )
        if envelope.document is not None and document_def is None:
            return refuse(
                Rejection(
                    "FF01",
                    f"the Document is not in an ISO 20022 namespace "
                    f"({_namespace_text(envelope.document.tag)})",
                    "Document",
                )
            )
        schemas = self.schemas
        if header_def is not None and header_def.identifier not in ACCEPTED_HEADERS:  # noqa: SIM102
            if schemas is None or not schemas.has(header_def):
                return refuse(Rejection("FF01", f"header version {header_def} is not known"))
        if document_def is not None and not accepted_inbound(document_def):  # noqa: SIM102
            if schemas is None or not schemas.has(document_def):  # noqa: SIM102
                if schemas is not None:
                    return refuse(
                        Rejection(
                            "FF01",
                            f"{document_def} is not a message the network knows "
                            f"(no schema for it in {schemas.folder})",
                            "Document",
                        )
                    )
        header: Header | None = None
        if envelope.header is not None and header_def is not None:
            try:
                header = extract.read_header(envelope.header, header_def)
            except MessageRejected as error:
                return refuse(error.rejection)
            if document_def is not None and header.message_definition != document_def.identifier:
                return refuse(
                    Rejection(
                        "FF01",
                        f"the header names {header.message_definition[:35]} but the "
                        f"document is {document_def}",
                        "AppHdr/MsgDefIdr",
                    )
                )
        checks.append("header")
        if schemas is not None:
            found: list[Rejection] = []
            if envelope.header is not None and header_def is not None and schemas.has(header_def):
                found.extend(schemas.validate(envelope.header, header_def))
            if envelope.document is not None and document_def is not None:
                found.extend(schemas.validate(envelope.document, document_def))
            checks.append("schema")
            if found:
                return refuse(*found)
        message: InboundMessage | None = None
        if (
            envelope.document is not None
            and document_def is not None
            and accepted_inbound(document_def)
        ):
            try:
                message = extract.read_document(
                    envelope.document, document_def, self.settings.transactions_per_message_max
                )
            except MessageRejected as error:
                return refuse(error.rejection)
            checks.append("structure")
        if not usage_rules:
            return Verdict((), tuple(checks), document_def, header_def, envelope, header, message)
        checks.append("rules")
        if message is None:
            return refuse(
                Rejection(
                    "FF01",
                    "the network takes only "
                    "pacs.008, pacs.009, pacs.004, camt.056 and camt.029 with a Document",
                )
            )
        findings = rules.check(message, header, self.settings, today or _today())
        return Verdict(
            findings.group,
            tuple(checks),
            document_def,
            header_def,
            envelope,
            header,
            message,
            findings.transactions,
        )


def _namespace_text(tag: object) -> str:
    if isinstance(tag, str) and tag.startswith("{"):
        return tag[1:].partition("}")[0][:60]
    return "none"


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
