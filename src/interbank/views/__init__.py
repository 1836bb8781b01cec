"""Views: what participants read about their payments, built from applied journal entries.

This part owns the store of received message bytes (the archive: written durably
before a message's commands reach the journal, so a signed or disputed message can be
produced exactly as received), and the projections over applied entries: each
payment's life by UETR (tracking), account entries for statements (camt.053) and
notifications (camt.054), where each message's SHA-256 entered the journal, and the
outbox of messages routed to participants. Projections are rebuildable from the
journal; the replay that rebuilds them lives on the node side (``interbank.view_feed``).
It may import ``interbank.engine`` types (batches, results, events) only: dependencies
point inward, so nothing here reads the journal.
"""

from interbank.views.store import (
    ArchivedMessage,
    Entry,
    JournaledMessage,
    Outcome,
    PaymentRecord,
    TrackEvent,
    ViewStore,
    track,
    uetr_of,
)

__all__ = [
    "ArchivedMessage",
    "Entry",
    "JournaledMessage",
    "Outcome",
    "PaymentRecord",
    "TrackEvent",
    "ViewStore",
    "track",
    "uetr_of",
]
