"""The reserve pool's record store: its decisions (requests, votes, approvals, swaps
submitted and their outcomes, arrears, rulebooks adopted, drills) in the shared
append-only decision log (``interbank.decision_log``), beside the journal as
``<db>.reserve`` or in memory for drills and tests.
"""

from interbank.decision_log import (
    PAYLOAD_BYTES_MAX,
    STORE_FORMAT,
    Decision,
    DecisionStore,
    StoreError,
)

__all__ = ["PAYLOAD_BYTES_MAX", "STORE_FORMAT", "Decision", "DecisionStore", "StoreError"]
