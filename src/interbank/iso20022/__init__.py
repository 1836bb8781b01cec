"""ISO 20022 messaging: participants talk to the network in standard XML.

This part owns reading untrusted ISO 20022 messages (size and safety limits, the
business application header, schema and structural validation, the network's usage
rules), mapping each transaction to an engine command, and building every message the
network sends (pacs.002, admi.002, camt.029, camt.053, camt.054) plus the inbound types
for tests and tools, and ids for payments in versions without a UETR. It may import
``interbank.engine`` types and ``interbank.money``; ``reports`` also reads
``interbank.views``, and ``gateway`` (where messages meet the node) also imports
``interbank.views``, ``interbank.view_feed`` and, lazily, ``interbank.node``. Nothing in
the engine imports it. Every rejection carries an ISO 20022 reason code.
"""

from interbank.iso20022.catalog import ACCEPTED_INBOUND, MessageDef
from interbank.iso20022.reasons import Rejection
from interbank.iso20022.settings import IsoSettings
from interbank.iso20022.validate import Validator, Verdict

__all__ = [
    "ACCEPTED_INBOUND",
    "IsoSettings",
    "MessageDef",
    "Rejection",
    "Validator",
    "Verdict",
]
