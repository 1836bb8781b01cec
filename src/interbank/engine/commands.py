"""Typed commands, results and events: the engine's language at its edges.

Commands are plain immutable records. Money commands (transfer, hold, post, void,
issue, redeem) travel through the hot path in columnar form (see ``batch.py``);
administrative commands (participants, accounts, credit lines) are applied one by one.
Every command carries ``id``: an unsigned 128-bit idempotency id chosen by its sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from interbank.engine.codes import ResultCode

COMMAND_ID_MAX = 2**128 - 1
ACCOUNT_ID_MAX = 2**63 - 1


class Kind(IntEnum):
    """Command kinds as stored in the journal (one byte). Never renumber."""

    TRANSFER = 1
    HOLD = 2
    POST_HOLD = 3
    VOID_HOLD = 4
    ISSUE = 5
    REDEEM = 6
    REGISTER_PARTICIPANT = 16
    OPEN_ACCOUNT = 17
    CLOSE_ACCOUNT = 18
    SET_CREDIT_LINE = 19
    SUSPEND_PARTICIPANT = 20
    REACTIVATE_PARTICIPANT = 21


MONEY_KIND_MAX = 15  # kinds up to here run in the transfer kernel


class Role(StrEnum):
    CENTRAL_BANK = "central_bank"
    DIRECT = "direct"


class AccountKind(StrEnum):
    SETTLEMENT = "settlement"
    ISSUANCE = "issuance"


# --- money commands -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transfer:
    """Move ``amount_minor`` from the debit to the credit account, now, with finality."""

    id: int
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    linked: bool = False


@dataclass(frozen=True, slots=True)
class Hold:
    """Reserve ``amount_minor`` on the debit account for a later post or void.

    ``timeout_ns`` > 0 makes the hold expire (and release) once a command batch stamped
    at or after its placement time plus the timeout is applied; 0 means no expiry.
    """

    id: int
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    timeout_ns: int = 0
    linked: bool = False


@dataclass(frozen=True, slots=True)
class PostHold:
    """Settle a pending hold, in full (``amount_minor`` None) or in part."""

    id: int
    hold_id: int
    amount_minor: int | None = None
    linked: bool = False


@dataclass(frozen=True, slots=True)
class VoidHold:
    """Release a pending hold without moving money."""

    id: int
    hold_id: int
    linked: bool = False


@dataclass(frozen=True, slots=True)
class Issue:
    """Central-bank money creation: debit the currency's issuance account, credit ``account_id``."""

    id: int
    account_id: int
    amount_minor: int
    linked: bool = False


@dataclass(frozen=True, slots=True)
class Redeem:
    """Central-bank money withdrawal: debit ``account_id``, credit the issuance account."""

    id: int
    account_id: int
    amount_minor: int
    linked: bool = False


# --- administrative commands ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterParticipant:
    """Admit a participant. A central bank names the one currency it issues."""

    id: int
    bic: str
    name: str
    role: Role
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class OpenAccount:
    """Open an account for a participant in one currency."""

    id: int
    account_id: int
    bic: str
    currency: str
    kind: AccountKind = AccountKind.SETTLEMENT
    credit_line_minor: int = 0


@dataclass(frozen=True, slots=True)
class CloseAccount:
    id: int
    account_id: int


@dataclass(frozen=True, slots=True)
class SetCreditLine:
    """Set the intraday credit line: the account's floor becomes ``-credit_line_minor``."""

    id: int
    account_id: int
    credit_line_minor: int


@dataclass(frozen=True, slots=True)
class SuspendParticipant:
    id: int
    bic: str


@dataclass(frozen=True, slots=True)
class ReactivateParticipant:
    id: int
    bic: str


MoneyCommand = Transfer | Hold | PostHold | VoidHold | Issue | Redeem
AdminCommand = (
    RegisterParticipant
    | OpenAccount
    | CloseAccount
    | SetCreditLine
    | SuspendParticipant
    | ReactivateParticipant
)
Command = MoneyCommand | AdminCommand

KIND_OF: dict[type, Kind] = {
    Transfer: Kind.TRANSFER,
    Hold: Kind.HOLD,
    PostHold: Kind.POST_HOLD,
    VoidHold: Kind.VOID_HOLD,
    Issue: Kind.ISSUE,
    Redeem: Kind.REDEEM,
    RegisterParticipant: Kind.REGISTER_PARTICIPANT,
    OpenAccount: Kind.OPEN_ACCOUNT,
    CloseAccount: Kind.CLOSE_ACCOUNT,
    SetCreditLine: Kind.SET_CREDIT_LINE,
    SuspendParticipant: Kind.SUSPEND_PARTICIPANT,
    ReactivateParticipant: Kind.REACTIVATE_PARTICIPANT,
}
COMMAND_OF: dict[Kind, type] = {kind: cls for cls, kind in KIND_OF.items()}


# --- results and events ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Result:
    """The engine's answer to one command.

    ``replayed`` is true when the id was seen before with the same content: the first
    result is returned and nothing happened a second time.
    """

    command_id: int
    code: ResultCode
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.code == ResultCode.OK

    @property
    def reason(self) -> str:
        return self.code.reason

    @property
    def text(self) -> str:
        return self.code.text


@dataclass(frozen=True, slots=True)
class TransferSettled:
    """Money moved with finality (transfer, post of a hold, issue or redeem)."""

    command_id: int
    kind: Kind
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    currency: str
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class HoldPlaced:
    command_id: int
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    currency: str
    expires_at_ns: int
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class HoldReleased:
    """A hold stopped being pending without (more) money moving: void, expiry or post rest."""

    hold_id: int
    reason: ResultCode
    amount_minor: int
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class AdminApplied:
    """An administrative command took effect."""

    command: AdminCommand
    timestamp_ns: int


Event = TransferSettled | HoldPlaced | HoldReleased | AdminApplied
