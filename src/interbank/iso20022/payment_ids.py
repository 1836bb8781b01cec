"""Payment ids for message versions that carry no UETR.

pacs.008.001.07 and pacs.009.001.07 (and camt.056.001.07 for their cancellation) predate
the UETR element. Such a payment gets a deterministic id instead: a UUID version 5 over
a fixed namespace, named by the sender's BIC and the sender's instruction identifiers.
A re-send of the same payment (in any message) maps to the same id and gets the
engine's idempotent answer; a cancellation naming the same identifiers finds it.

    name = "\\x1f".join([sender BIC8 or BIC11 (a BIC11 ending XXX as its BIC8),
                         InstrId or "", EndToEndId, TxId])
    id   = uuid5(LEGACY_PAYMENT_NAMESPACE, name)

The id is a version-5 UUID, so it never collides with a real UETR (version 4) and is
never written where the schemas want a UETR (OrgnlUETR in pacs.002 and camt.029).
"""

from __future__ import annotations

import uuid

from interbank.iso20022.catalog import MessageDef

# Fixed forever: changing it would give every such payment a new id.
LEGACY_PAYMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:interbank:iso20022:payment-id:v1")

# The first version of each message with the UETR element (OrgnlUETR for pacs.004,
# camt.056 and camt.029); earlier versions are identified by derived ids.
_UETR_SINCE_VERSION = {
    "pacs.008": "08",
    "pacs.009": "08",
    "pacs.004": "09",
    "camt.056": "08",
    "camt.029": "09",
}


def carries_uetr(definition: MessageDef) -> bool:
    """Whether this message version has the (Orgnl)UETR element at all."""
    since = _UETR_SINCE_VERSION.get(definition.name)
    return since is None or definition.version >= since


def legacy_uetr(
    sender_bic: str, instruction_id: str | None, end_to_end_id: str, transaction_id: str
) -> str:
    """The derived id (UUID text) of a payment whose message version has no UETR."""
    sender = sender_bic[:8] if len(sender_bic) == 11 and sender_bic.endswith("XXX") else sender_bic
    name = "\x1f".join((sender, instruction_id or "", end_to_end_id, transaction_id))
    return str(uuid.uuid5(LEGACY_PAYMENT_NAMESPACE, name))
