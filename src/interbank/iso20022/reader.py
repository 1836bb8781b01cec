"""Reading untrusted bytes into an XML tree, safely, and finding header and document.

The parser never loads a DTD, never expands or resolves an entity, never touches the
network and refuses libxml2's "huge tree" mode; a document type declaration of any
kind is refused outright (an ISO 20022 message has none), which takes entity bombs and
external entities off the table before any of their content is looked at. Size is
checked before parsing and depth right after, with one compiled XPath (in C, no
Python walk over the tree).

A message is either a bare ``Document``, a bare ``AppHdr``, or any wrapper element
(``BizMsg``, ``RequestPayload``, a service envelope...) holding at most one ``AppHdr``
and one ``Document`` somewhere below it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from lxml import etree

from interbank.iso20022.catalog import MessageDef, message_def_of_namespace
from interbank.iso20022.reasons import MessageRejected, Rejection
from interbank.iso20022.settings import IsoSettings

_HEADER = "AppHdr"
_DOCUMENT = "Document"
_DOCTYPE_MARKERS = (b"<!DOCTYPE", b"<!ENTITY")
# Wrapper elements searched for the header and document before giving up: envelopes
# are a handful of elements; a wrapper with thousands is not one we read.
_WRAPPER_ELEMENTS_MAX = 64


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _namespace(tag: str) -> str | None:
    return tag[1:].partition("}")[0] if tag.startswith("{") else None


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed message: the tree, the header and document elements and their types."""

    data: bytes
    root: etree._Element
    header: etree._Element | None
    document: etree._Element | None
    header_def: MessageDef | None
    document_def: MessageDef | None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


class Reader:
    """Parses messages with one reusable, locked-down parser per reader.

    Not thread-safe (an lxml parser must not be shared between threads): make one
    per thread.
    """

    def __init__(self, settings: IsoSettings) -> None:
        self.settings = settings
        self._parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            collect_ids=False,
            remove_blank_text=False,
        )
        # True when some element sits deeper than depth_max (the root is depth 1).
        self._too_deep = etree.XPath("boolean(/" + "/*" * (settings.depth_max + 1) + ")")

    def parse(self, data: bytes) -> Envelope:
        """The envelope of ``data``; MessageRejected (FF01/FF02) when it is not one."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise MessageRejected(Rejection("FF01", "a message is bytes"))
        data = bytes(data)
        limit = self.settings.message_bytes_max
        if len(data) > limit:
            raise MessageRejected(
                Rejection("FF01", f"the message has {len(data)} bytes; at most {limit} are read")
            )
        if not data.strip():
            raise MessageRejected(Rejection("FF02", "the message is empty"))
        if any(marker in data for marker in _DOCTYPE_MARKERS):
            raise MessageRejected(
                Rejection("FF01", "document type declarations and entities are not accepted")
            )
        try:
            root = etree.fromstring(data, self._parser)
        except etree.XMLSyntaxError as error:
            text = (str(error).splitlines() or ["not well-formed"])[0]
            raise MessageRejected(Rejection("FF02", f"not well-formed XML: {text}")) from None
        except (ValueError, etree.LxmlError) as error:
            raise MessageRejected(Rejection("FF02", f"not readable as XML: {error}")) from None
        if root is None:
            raise MessageRejected(Rejection("FF02", "the message has no root element"))
        tree = root.getroottree()
        info = tree.docinfo
        if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
            # Reached only when the declaration was encoded so the byte scan missed it.
            raise MessageRejected(
                Rejection("FF01", "document type declarations and entities are not accepted")
            )
        if self._too_deep(tree):
            raise MessageRejected(
                Rejection("FF01", f"elements are nested deeper than {self.settings.depth_max}")
            )
        header, document = _find_parts(root)
        header_def = None if header is None else message_def_of_namespace(_namespace(header.tag))
        document_def = (
            None if document is None else message_def_of_namespace(_namespace(document.tag))
        )
        return Envelope(data, root, header, document, header_def, document_def)


def _find_parts(root: etree._Element) -> tuple[etree._Element | None, etree._Element | None]:
    name = _local(root.tag)
    if name == _HEADER:
        return root, None
    if name == _DOCUMENT:
        return None, root
    header: etree._Element | None = None
    document: etree._Element | None = None
    pending = [root]
    seen = 0
    while pending:
        element = pending.pop(0)
        for child in element:
            if not isinstance(child.tag, str):
                continue  # comments and processing instructions
            seen += 1
            if seen > _WRAPPER_ELEMENTS_MAX:
                raise MessageRejected(
                    Rejection("FF01", "the envelope around the message is too large")
                )
            child_name = _local(child.tag)
            if child_name == _HEADER:
                if header is not None:
                    raise MessageRejected(Rejection("FF01", "the message has two headers"))
                header = child
            elif child_name == _DOCUMENT:
                if document is not None:
                    raise MessageRejected(Rejection("FF01", "the message has two documents"))
                document = child
            else:
                pending.append(child)
    if header is None and document is None:
        raise MessageRejected(
            Rejection("FF01", f"no ISO 20022 AppHdr or Document in <{name or root.tag}>")
        )
    return header, document
