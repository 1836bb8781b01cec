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
    PAYMENT = 7
    CROSS_PAYMENT = 8
    REGISTER_PARTICIPANT = 16
    OPEN_ACCOUNT = 17
    CLOSE_ACCOUNT = 18
    SET_CREDIT_LINE = 19
    SUSPEND_PARTICIPANT = 20
    REACTIVATE_PARTICIPANT = 21
    CANCEL_PAYMENT = 22
    CHANGE_PRIORITY = 23
    MOVE_PAYMENT = 24
    SET_BILATERAL_LIMIT = 25
    SET_MULTILATERAL_LIMIT = 26
    SET_RESERVATION = 27
    RESOLVE_GRIDLOCK = 28
    SETTLE_SET = 29
    END_OF_DAY = 30
    START_OF_DAY = 31
    PUBLISH_QUOTE = 32
    WITHDRAW_QUOTE = 33
    RECORD_MESSAGE = 34


MONEY_KIND_MAX = 15  # kinds up to here are money commands in the columnar batch
KERNEL_KIND_MAX = 6  # kinds up to here run in the compiled transfer kernel


class Priority(IntEnum):
    """RTGS payment priority. Urgent is for central banks and system operations."""

    NORMAL = 0
    HIGH = 1
    URGENT = 2


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


@dataclass(frozen=True, slots=True)
class Payment:
    """An RTGS payment: settles at once if it can, otherwise waits in the sender's queue.

    ``from_ns`` (0: none) is the earliest settlement time; ``till_ns`` (0: none) the
    latest, after which a waiting payment is rejected. The id is the payment's UETR as a
    128-bit integer when it comes from ISO 20022. Payments cannot be linked.
    """

    id: int
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    priority: Priority = Priority.NORMAL
    from_ns: int = 0
    till_ns: int = 0


@dataclass(frozen=True, slots=True)
class CrossPayment:
    """A cross-currency payment, settled payment-versus-payment through FX providers.

    The sender pays ``amount_minor`` in its account's currency; the receiver gets the
    converted amount in its account's currency. ``quote_id`` names the quote to use;
    None lets the network pick the best valid quote (or route through a reference
    currency). All legs settle together or none does; the payment waits as one unit
    when a leg lacks cover, and is rejected when its quote expires first.
    """

    id: int
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    quote_id: int | None = None
    priority: Priority = Priority.NORMAL
    till_ns: int = 0


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


# --- RTGS queue, limits and liquidity saving --------------------------------------------


@dataclass(frozen=True, slots=True)
class CancelPayment:
    """Remove a waiting payment from its queue. ``by_bic`` None means the operator."""

    id: int
    payment_id: int
    by_bic: str | None = None


@dataclass(frozen=True, slots=True)
class ChangePriority:
    id: int
    payment_id: int
    priority: Priority
    by_bic: str | None = None


@dataclass(frozen=True, slots=True)
class MovePayment:
    """Move a waiting payment to the front (or the back) of its priority class."""

    id: int
    payment_id: int
    to_front: bool
    by_bic: str | None = None


@dataclass(frozen=True, slots=True)
class SetBilateralLimit:
    """The most ``bic`` may pay ``counterparty_bic`` in normal payments, net of what it
    received from it today (0 removes the limit)."""

    id: int
    bic: str
    counterparty_bic: str
    currency: str
    limit_minor: int


@dataclass(frozen=True, slots=True)
class SetMultilateralLimit:
    """The most ``bic`` may pay, net, in normal payments to everyone without a bilateral
    limit (0 removes the limit)."""

    id: int
    bic: str
    currency: str
    limit_minor: int


@dataclass(frozen=True, slots=True)
class SetReservation:
    """Reserve liquidity on an account for urgent or for high payments."""

    id: int
    account_id: int
    priority: Priority
    amount_minor: int


@dataclass(frozen=True, slots=True)
class ResolveGridlock:
    """Run the liquidity-saving mechanism on one currency's queues now (the timer)."""

    id: int
    currency: str


@dataclass(frozen=True, slots=True)
class SettleSet:
    """Settle exactly these waiting payments together, or none: the answer of an
    optimiser run outside the engine, checked against every floor and limit here."""

    id: int
    currency: str
    payment_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class EndOfDay:
    """Close the business day for a currency: every waiting payment is rejected."""

    id: int
    currency: str


@dataclass(frozen=True, slots=True)
class StartOfDay:
    """Open a business day for a currency: limit positions start again from zero."""

    id: int
    currency: str


@dataclass(frozen=True, slots=True)
class PublishQuote:
    """An FX provider's firm quote: it takes ``from_currency`` and pays ``to_currency``
    at ``rate`` (an exact decimal string: units of to_currency per unit of
    from_currency), for amounts from ``amount_min_minor`` to ``amount_max_minor`` of
    from_currency, until ``expires_at_ns``; ``fee_minor`` (from_currency) is deducted
    before conversion. The quote's id is this command's id."""

    id: int
    provider_bic: str
    from_currency: str
    to_currency: str
    rate: str
    amount_min_minor: int
    amount_max_minor: int
    expires_at_ns: int
    fee_minor: int = 0


@dataclass(frozen=True, slots=True)
class WithdrawQuote:
    id: int
    quote_id: int
    by_bic: str | None = None


@dataclass(frozen=True, slots=True)
class RecordMessage:
    """Put the hash of a received message into the journal (tamper evidence for the
    bytes kept in the view store). No effect on balances; journaled like every command."""

    id: int
    sender_bic: str
    message_sha256: str  # 64 lower-case hex characters


MoneyCommand = Transfer | Hold | PostHold | VoidHold | Issue | Redeem | Payment | CrossPayment
RtgsCommand = (
    CancelPayment
    | ChangePriority
    | MovePayment
    | SetBilateralLimit
    | SetMultilateralLimit
    | SetReservation
    | ResolveGridlock
    | SettleSet
    | EndOfDay
    | StartOfDay
    | PublishQuote
    | WithdrawQuote
    | RecordMessage
)
AdminCommand = (
    RegisterParticipant
    | OpenAccount
    | CloseAccount
    | SetCreditLine
    | SuspendParticipant
    | ReactivateParticipant
    | RtgsCommand
)
Command = MoneyCommand | AdminCommand

KIND_OF: dict[type, Kind] = {
    Transfer: Kind.TRANSFER,
    Hold: Kind.HOLD,
    PostHold: Kind.POST_HOLD,
    VoidHold: Kind.VOID_HOLD,
    Issue: Kind.ISSUE,
    Redeem: Kind.REDEEM,
    Payment: Kind.PAYMENT,
    CrossPayment: Kind.CROSS_PAYMENT,
    RegisterParticipant: Kind.REGISTER_PARTICIPANT,
    OpenAccount: Kind.OPEN_ACCOUNT,
    CloseAccount: Kind.CLOSE_ACCOUNT,
    SetCreditLine: Kind.SET_CREDIT_LINE,
    SuspendParticipant: Kind.SUSPEND_PARTICIPANT,
    ReactivateParticipant: Kind.REACTIVATE_PARTICIPANT,
    CancelPayment: Kind.CANCEL_PAYMENT,
    ChangePriority: Kind.CHANGE_PRIORITY,
    MovePayment: Kind.MOVE_PAYMENT,
    SetBilateralLimit: Kind.SET_BILATERAL_LIMIT,
    SetMultilateralLimit: Kind.SET_MULTILATERAL_LIMIT,
    SetReservation: Kind.SET_RESERVATION,
    ResolveGridlock: Kind.RESOLVE_GRIDLOCK,
    SettleSet: Kind.SETTLE_SET,
    EndOfDay: Kind.END_OF_DAY,
    StartOfDay: Kind.START_OF_DAY,
    PublishQuote: Kind.PUBLISH_QUOTE,
    WithdrawQuote: Kind.WITHDRAW_QUOTE,
    RecordMessage: Kind.RECORD_MESSAGE,
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


@dataclass(frozen=True, slots=True)
class PaymentQueued:
    payment_id: int
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class PaymentSettled:
    """A payment settled with finality: at entry (``run_id`` 0) or in a liquidity-saving run."""

    payment_id: int
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    currency: str
    run_id: int
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class LsmRun:
    """Payments that settled together, simultaneously, in one liquidity-saving run.

    ``method``: "offset" (bilateral offsetting at entry), "fifo" (multilateral FIFO
    netting), "bypass" (FIFO netting plus normal payments re-added past their queue's
    head) or "settle_set" (a set proposed outside the engine and checked here).
    """

    run_id: int
    method: str
    currency: str
    payment_ids: tuple[int, ...]
    value_minor: int
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class PaymentRejected:
    """A waiting payment left its queue unsettled: cancelled, TILL passed, end of day."""

    payment_id: int
    code: ResultCode
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class TillWarning:
    """A waiting payment's latest settlement time is near."""

    payment_id: int
    till_ns: int
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class DayClosed:
    """The business day of a currency closed; closing balances for statements."""

    currency: str
    balances: tuple[tuple[int, int], ...]  # (account_id, balance_minor), by account id
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class PvpSettled:
    """Every leg of a cross-currency payment settled together (payment versus payment)."""

    payment_id: int
    amount_in_minor: int
    currency_in: str
    amount_out_minor: int
    currency_out: str
    quote_ids: tuple[int, ...]
    # (debit_account_id, credit_account_id, amount_minor, currency) per leg, in order.
    legs: tuple[tuple[int, int, int, str], ...]
    timestamp_ns: int


Event = (
    TransferSettled
    | HoldPlaced
    | HoldReleased
    | AdminApplied
    | PaymentQueued
    | PaymentSettled
    | LsmRun
    | PaymentRejected
    | TillWarning
    | DayClosed
    | PvpSettled
)
