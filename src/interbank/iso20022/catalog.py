"""Which ISO 20022 messages the network knows, by namespace, and which it takes in.

A message definition is ``business area . message . variant . version``
(``pacs.008.001.08``); its XML namespace is ``urn:iso:std:iso:20022:tech:xsd:`` + that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

ISO_NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
_DEF_PATTERN = re.compile(r"([a-z]{4})\.([0-9]{3})\.([0-9]{3})\.([0-9]{2})")


@dataclass(frozen=True, slots=True)
class MessageDef:
    """A message definition identifier, e.g. pacs.008.001.08."""

    area: str
    number: str
    variant: str
    version: str
    # Derived once: they are read several times for every message.
    name: str = field(init=False, compare=False, repr=False)  # without version: pacs.008
    identifier: str = field(init=False, compare=False, repr=False)
    namespace: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        name = f"{self.area}.{self.number}"
        identifier = f"{name}.{self.variant}.{self.version}"
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "identifier", identifier)
        object.__setattr__(self, "namespace", ISO_NAMESPACE_PREFIX + identifier)

    def __str__(self) -> str:
        return self.identifier


@lru_cache(maxsize=256)
def message_def(identifier: str) -> MessageDef | None:
    """The definition for ``pacs.008.001.08``; None when the text is not one."""
    match = _DEF_PATTERN.fullmatch(identifier)
    return None if match is None else MessageDef(*match.groups())


@lru_cache(maxsize=256)
def message_def_of_namespace(namespace: str | None) -> MessageDef | None:
    """The definition an ISO 20022 namespace names; None for any other namespace."""
    if not namespace or not namespace.startswith(ISO_NAMESPACE_PREFIX):
        return None
    return message_def(namespace[len(ISO_NAMESPACE_PREFIX) :])


# What participants may send, newest version first. Each current CBPR+/HVPS+ version is
# accepted together with its predecessor, which participants still send while they
# migrate (pacs.004.001.08 only where its schema is configured, or with schemas off).
ACCEPTED_INBOUND: dict[str, tuple[str, ...]] = {
    "pacs.008": ("pacs.008.001.08", "pacs.008.001.07"),
    "pacs.009": ("pacs.009.001.08", "pacs.009.001.07"),
    "pacs.004": ("pacs.004.001.09", "pacs.004.001.08"),
    "camt.056": ("camt.056.001.08", "camt.056.001.07"),
    "camt.029": ("camt.029.001.09", "camt.029.001.08"),
}
ACCEPTED_HEADERS: tuple[str, ...] = ("head.001.001.02", "head.001.001.01")
# What the network sends. The header on every outbound message is head.001.001.02.
OUTBOUND = {
    "pacs.002": "pacs.002.001.10",
    "admi.002": "admi.002.001.01",
    "camt.029": "camt.029.001.09",
    "camt.053": "camt.053.001.08",
    "camt.054": "camt.054.001.08",
    "camt.056": "camt.056.001.08",
    "header": "head.001.001.02",
}
# Every definition the built-in structural check knows (read by the network, or sent).
INBOUND_IDENTIFIERS = frozenset(v for versions in ACCEPTED_INBOUND.values() for v in versions)


def accepted_inbound(definition: MessageDef) -> bool:
    return definition.identifier in INBOUND_IDENTIFIERS
