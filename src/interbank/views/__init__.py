"""Views: what participants read about their payments, built from engine events.

This part owns the store of received message bytes (the archive: written durably
before a message's commands reach the journal, so a signed or disputed message can be
produced exactly as received), and the projections over engine events: each payment's
life by UETR (tracking), account entries for statements (camt.053) and notifications
(camt.054), and the outbox of messages routed to participants. Projections are
rebuildable: ``ViewStore.catch_up`` replays the journal and re-derives them. It may
import ``interbank.engine`` event types and the journal's read side.
"""

from interbank.views.store import (
    ArchivedMessage,
    Entry,
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
    "Outcome",
    "PaymentRecord",
    "TrackEvent",
    "ViewStore",
    "track",
    "uetr_of",
]
