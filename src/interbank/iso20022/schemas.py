"""The ISO 20022 XSDs, compiled once each and reused for every message.

Schemas are read from a folder the operator configures (``pacs.008.001.08.xsd``, named
by message definition). Each is compiled by lxml on first use and kept; a message is
then validated on its already-parsed tree (no second parse, no per-message loading).
libxml2's findings are turned into reason codes: a missing element is CH21, an element
not allowed where it stands CH17, anything else about content (type, pattern, length,
code list) CH16.
"""

from __future__ import annotations

import threading
from pathlib import Path

from lxml import etree

from interbank.iso20022.catalog import MessageDef
from interbank.iso20022.reasons import Rejection

# libxml2 reports at most this many findings per message; more say nothing new.
_FINDINGS_MAX = 8


class SchemaSet:
    """Compiled XSDs by message definition, from one folder. Thread-safe."""

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise FileNotFoundError(f"schema folder {folder} does not exist")
        self.folder = folder
        self._compiled: dict[str, etree.XMLSchema | None] = {}
        # Whether the folder has a definition's file, looked up once: a stat per
        # message was a tenth of a small message's validation.
        self._present: dict[str, bool] = {}
        self._lock = threading.Lock()

    def has(self, definition: MessageDef) -> bool:
        key = definition.identifier
        present = self._present.get(key)
        if present is None:
            present = (self.folder / f"{key}.xsd").is_file()
            self._present[key] = present
        return present

    def schema(self, definition: MessageDef) -> etree.XMLSchema | None:
        """The compiled schema, or None when the folder has none for this definition."""
        key = definition.identifier
        found = self._compiled.get(key, False)
        if found is not False:
            return found  # type: ignore[return-value]
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = self._compile(definition)
            return self._compiled[key]

    def _compile(self, definition: MessageDef) -> etree.XMLSchema | None:
        path = self.folder / f"{definition.identifier}.xsd"
        if not path.is_file():
            return None
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        return etree.XMLSchema(etree.parse(str(path), parser))

    def validate(self, element: etree._Element, definition: MessageDef) -> list[Rejection]:
        """Findings of ``element`` against its schema ([] when valid)."""
        schema = self.schema(definition)
        if schema is None:
            return [Rejection("FF01", f"no schema for {definition} in {self.folder}")]
        if schema.validate(element):
            return []
        findings: list[Rejection] = []
        for entry in schema.error_log:
            findings.append(Rejection(_code_of(entry.message), entry.message, entry.path or ""))
            if len(findings) >= _FINDINGS_MAX:
                break
        return findings or [Rejection("CH16", f"not valid against {definition}")]


def _code_of(message: str) -> str:
    if "Missing child element" in message or "is not complete" in message:
        return "CH21"
    if "This element is not expected" in message or "is not allowed" in message:
        return "CH17"
    return "CH16"
