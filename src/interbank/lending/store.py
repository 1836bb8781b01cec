"""The development bank's record store: its decisions (subscriptions, loans signed,
disbursements and repayments submitted and their outcomes, arrears, rulebooks adopted) in
the shared append-only decision log (``interbank.decision_log``), beside the journal as
``<db>.lending`` or in memory for tests.
"""

from interbank.decision_log import (
    PAYLOAD_BYTES_MAX,
    STORE_FORMAT,
    Decision,
    DecisionStore,
    StoreError,
)

__all__ = ["PAYLOAD_BYTES_MAX", "STORE_FORMAT", "Decision", "DecisionStore", "StoreError"]
