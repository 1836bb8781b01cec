"""The engine: the deterministic settlement state machine at the heart of interbank.

It owns accounts, balances, floors and credit lines, two-phase holds, linked batches,
idempotency and the state digest. It is pure: typed commands (or their columnar batch)
and a timestamp in, results and events out; no I/O, clock, randomness or threads. It
may import only ``interbank.money`` (and numpy/numba for its columnar state).
"""

from interbank.engine.batch import Batch, CommandFormatError
from interbank.engine.codes import ResultCode
from interbank.engine.commands import (
    AccountKind,
    AdminApplied,
    AdminCommand,
    CloseAccount,
    Command,
    Event,
    Hold,
    HoldPlaced,
    HoldReleased,
    Issue,
    Kind,
    MoneyCommand,
    OpenAccount,
    PostHold,
    ReactivateParticipant,
    Redeem,
    RegisterParticipant,
    Result,
    Role,
    SetCreditLine,
    SuspendParticipant,
    Transfer,
    TransferSettled,
    VoidHold,
)
from interbank.engine.ledger import (
    AccountView,
    BatchResult,
    Engine,
    EngineSettings,
    HoldView,
    ParticipantView,
)

__all__ = [
    "AccountKind",
    "AccountView",
    "AdminApplied",
    "AdminCommand",
    "Batch",
    "BatchResult",
    "CloseAccount",
    "Command",
    "CommandFormatError",
    "Engine",
    "EngineSettings",
    "Event",
    "Hold",
    "HoldPlaced",
    "HoldReleased",
    "HoldView",
    "Issue",
    "Kind",
    "MoneyCommand",
    "OpenAccount",
    "ParticipantView",
    "PostHold",
    "ReactivateParticipant",
    "Redeem",
    "RegisterParticipant",
    "Result",
    "ResultCode",
    "Role",
    "SetCreditLine",
    "SuspendParticipant",
    "Transfer",
    "TransferSettled",
    "VoidHold",
]
