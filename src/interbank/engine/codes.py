"""Result codes: what the engine answers for each command.

Each code is one precise engine outcome (a small int, so the hot path can store it in
a byte array) and maps to the ISO 20022 ExternalStatusReason1Code a rejection carries
on the wire, plus a plain-language text for people.
"""

from __future__ import annotations

from enum import IntEnum


class ResultCode(IntEnum):
    OK = 0
    ID_REUSED = 1
    AMOUNT_ZERO = 2
    AMOUNT_NEGATIVE = 3
    AMOUNT_OVER_LIMIT = 4
    DEBIT_ACCOUNT_NOT_FOUND = 5
    CREDIT_ACCOUNT_NOT_FOUND = 6
    DEBIT_ACCOUNT_CLOSED = 7
    CREDIT_ACCOUNT_CLOSED = 8
    ACCOUNTS_MUST_DIFFER = 9
    CURRENCY_MISMATCH = 10
    DEBIT_PARTICIPANT_SUSPENDED = 11
    CREDIT_PARTICIPANT_SUSPENDED = 12
    INSUFFICIENT_FUNDS = 13
    ISSUANCE_ACCOUNT_FORBIDDEN = 14
    NO_ISSUER = 15
    HOLD_NOT_FOUND = 16
    HOLD_ALREADY_POSTED = 17
    HOLD_ALREADY_VOIDED = 18
    HOLD_EXPIRED = 19
    POST_EXCEEDS_HOLD = 20
    LINKED_EVENT_FAILED = 21
    LINKED_CHAIN_OPEN = 22
    BALANCE_LIMIT = 23
    TIMEOUT_INVALID = 24
    KIND_UNKNOWN = 25
    QUEUED = 26
    URGENT_NOT_ALLOWED = 27
    TILL_BEFORE_FROM = 28
    TILL_PASSED = 29
    PAYMENT_NOT_QUEUED = 30
    NOT_PAYMENT_SENDER = 31
    DAY_CLOSED = 32
    LIMIT_INVALID = 33
    SETTLE_SET_INFEASIBLE = 34
    SETTLE_SET_INVALID = 35
    CANCELLED = 36
    END_OF_DAY_REJECTED = 37
    QUEUE_FULL = 38
    RESERVATION_INVALID = 39
    QUOTE_NOT_FOUND = 60
    QUOTE_EXPIRED = 61
    QUOTE_PAIR_MISMATCH = 62
    QUOTE_AMOUNT_OUT_OF_RANGE = 63
    NO_QUOTE = 64
    RATE_INVALID = 65
    PROVIDER_ACCOUNTS_MISSING = 66
    PVP_SAME_CURRENCY = 67
    QUOTE_INVALID = 68
    DIGEST_INVALID = 69
    CURRENCY_NOT_HELD = 70
    NOT_QUOTE_PROVIDER = 71
    # Administrative commands (applied outside the transfer kernel).
    BIC_INVALID = 40
    PARTICIPANT_EXISTS = 41
    PARTICIPANT_NOT_FOUND = 42
    ROLE_INVALID = 43
    CENTRAL_BANK_EXISTS = 44
    ACCOUNT_ID_INVALID = 45
    ACCOUNT_EXISTS = 46
    CURRENCY_UNKNOWN = 47
    ISSUANCE_NOT_ALLOWED = 48
    ACCOUNT_NOT_EMPTY = 49
    ACCOUNT_ALREADY_CLOSED = 50
    CREDIT_LINE_INVALID = 51
    CREDIT_LINE_BELOW_USAGE = 52
    PARTICIPANT_ALREADY_SUSPENDED = 53
    PARTICIPANT_NOT_SUSPENDED = 54
    ACCOUNT_PARTICIPANT_SUSPENDED = 55
    LIMIT_REACHED = 56
    NAME_INVALID = 57
    ACCOUNT_EXISTS_FOR_CURRENCY = 58
    ACCOUNT_NOT_FOUND = 59

    @property
    def reason(self) -> str:
        """The ISO 20022 ExternalStatusReason1Code for this outcome ("" for OK)."""
        return _REASONS[self][0]

    @property
    def text(self) -> str:
        """A plain-language explanation for people."""
        return _REASONS[self][1]


_REASONS: dict[ResultCode, tuple[str, str]] = {
    ResultCode.OK: ("", "accepted"),
    ResultCode.ID_REUSED: ("DUPL", "this command id was already used for a different command"),
    ResultCode.AMOUNT_ZERO: ("AM01", "the amount is zero"),
    ResultCode.AMOUNT_NEGATIVE: ("AM12", "the amount is negative"),
    ResultCode.AMOUNT_OVER_LIMIT: ("AM02", "the amount is over the network's per-payment limit"),
    ResultCode.DEBIT_ACCOUNT_NOT_FOUND: ("AC01", "the debit account does not exist"),
    ResultCode.CREDIT_ACCOUNT_NOT_FOUND: ("AC01", "the credit account does not exist"),
    ResultCode.DEBIT_ACCOUNT_CLOSED: ("AC04", "the debit account is closed"),
    ResultCode.CREDIT_ACCOUNT_CLOSED: ("AC04", "the credit account is closed"),
    ResultCode.ACCOUNTS_MUST_DIFFER: ("AG01", "debit and credit account are the same account"),
    ResultCode.CURRENCY_MISMATCH: ("AM03", "the two accounts hold different currencies"),
    ResultCode.DEBIT_PARTICIPANT_SUSPENDED: ("AC06", "the debtor participant is suspended"),
    ResultCode.CREDIT_PARTICIPANT_SUSPENDED: ("AC06", "the creditor participant is suspended"),
    ResultCode.INSUFFICIENT_FUNDS: (
        "AM04",
        "the debit account's available balance would fall below its floor",
    ),
    ResultCode.ISSUANCE_ACCOUNT_FORBIDDEN: (
        "AG01",
        "an issuance account moves money only through issue and redeem",
    ),
    ResultCode.NO_ISSUER: ("AM03", "no central bank issues this account's currency here"),
    ResultCode.HOLD_NOT_FOUND: ("NARR", "no hold with this id exists"),
    ResultCode.HOLD_ALREADY_POSTED: ("NARR", "the hold was already posted"),
    ResultCode.HOLD_ALREADY_VOIDED: ("NARR", "the hold was already voided"),
    ResultCode.HOLD_EXPIRED: ("AB01", "the hold expired before it was posted or voided"),
    ResultCode.POST_EXCEEDS_HOLD: ("AM09", "the posted amount is larger than the hold"),
    ResultCode.LINKED_EVENT_FAILED: (
        "NARR",
        "another command of the same linked batch failed, so none was applied",
    ),
    ResultCode.LINKED_CHAIN_OPEN: (
        "FF01",
        "the linked batch was not closed: its last command carries the linked flag",
    ),
    ResultCode.BALANCE_LIMIT: ("AM02", "a balance would pass the engine's balance limit"),
    ResultCode.TIMEOUT_INVALID: ("FF01", "the hold timeout is negative"),
    ResultCode.KIND_UNKNOWN: ("FF01", "unknown command kind"),
    ResultCode.QUEUED: ("", "accepted and waiting in the sender's queue"),
    ResultCode.URGENT_NOT_ALLOWED: (
        "AG01",
        "only central banks send urgent payments",
    ),
    ResultCode.TILL_BEFORE_FROM: ("DT01", "the latest settlement time is before the earliest"),
    ResultCode.TILL_PASSED: ("TM01", "the payment's latest settlement time has passed"),
    ResultCode.PAYMENT_NOT_QUEUED: ("NARR", "the payment is not waiting in a queue"),
    ResultCode.NOT_PAYMENT_SENDER: (
        "AG01",
        "only the payment's sender or the operator may do this",
    ),
    ResultCode.DAY_CLOSED: ("TM01", "the business day for this currency is closed"),
    ResultCode.LIMIT_INVALID: ("AM12", "a limit is a non-negative amount between two participants"),
    ResultCode.SETTLE_SET_INFEASIBLE: (
        "AM04",
        "the set does not settle within every floor, reservation and limit",
    ),
    ResultCode.SETTLE_SET_INVALID: (
        "FF01",
        "the set names payments not waiting, repeats one, mixes currencies or breaks FIFO",
    ),
    ResultCode.CANCELLED: ("DS02", "the payment was cancelled while it waited"),
    ResultCode.END_OF_DAY_REJECTED: ("TM01", "the business day closed before the payment settled"),
    ResultCode.QUEUE_FULL: ("NARR", "the queues hold as many payments as the engine allows"),
    ResultCode.RESERVATION_INVALID: (
        "AM12",
        "a reservation is a non-negative amount for urgent or high payments on an open "
        "settlement account",
    ),
    ResultCode.BIC_INVALID: ("RC01", "the BIC is not a valid ISO 9362 identifier"),
    ResultCode.PARTICIPANT_EXISTS: ("DUPL", "a participant with this BIC is already registered"),
    ResultCode.PARTICIPANT_NOT_FOUND: ("RC01", "no participant with this BIC is registered"),
    ResultCode.ROLE_INVALID: ("FF01", "the role is unknown or does not fit the currency given"),
    ResultCode.CENTRAL_BANK_EXISTS: (
        "AG01",
        "this currency already has its central bank in the network",
    ),
    ResultCode.ACCOUNT_ID_INVALID: ("AC01", "account ids are integers from 1 to 2**63-1"),
    ResultCode.ACCOUNT_EXISTS: ("DUPL", "an account with this id already exists"),
    ResultCode.CURRENCY_UNKNOWN: ("AM03", "the currency is not an ISO 4217 currency"),
    ResultCode.ISSUANCE_NOT_ALLOWED: (
        "AG01",
        "only the central bank of a currency may hold its issuance account",
    ),
    ResultCode.ACCOUNT_NOT_EMPTY: (
        "AG01",
        "an account closes only with a zero balance and no pending holds",
    ),
    ResultCode.ACCOUNT_ALREADY_CLOSED: ("AC04", "the account is already closed"),
    ResultCode.CREDIT_LINE_INVALID: (
        "AM12",
        "a credit line is a non-negative amount within the balance limit",
    ),
    ResultCode.CREDIT_LINE_BELOW_USAGE: (
        "AM04",
        "the account already uses more credit than the new line allows",
    ),
    ResultCode.PARTICIPANT_ALREADY_SUSPENDED: ("AC06", "the participant is already suspended"),
    ResultCode.PARTICIPANT_NOT_SUSPENDED: ("NARR", "the participant is not suspended"),
    ResultCode.ACCOUNT_PARTICIPANT_SUSPENDED: ("AC06", "the account owner is suspended"),
    ResultCode.LIMIT_REACHED: ("NARR", "an engine capacity limit is reached"),
    ResultCode.NAME_INVALID: ("FF01", "the name must be 1 to 140 printable characters"),
    ResultCode.ACCOUNT_EXISTS_FOR_CURRENCY: (
        "DUPL",
        "the participant already has an account of this kind in this currency",
    ),
    ResultCode.ACCOUNT_NOT_FOUND: ("AC01", "the account does not exist"),
    ResultCode.QUOTE_NOT_FOUND: ("NARR", "no quote with this id exists (or it was withdrawn)"),
    ResultCode.QUOTE_EXPIRED: ("TM01", "the quote expired"),
    ResultCode.QUOTE_PAIR_MISMATCH: (
        "AM03",
        "the quote does not convert between the two accounts' currencies",
    ),
    ResultCode.QUOTE_AMOUNT_OUT_OF_RANGE: (
        "AM02",
        "the amount is outside the quote's minimum and maximum",
    ),
    ResultCode.NO_QUOTE: ("AM03", "no valid quote or route converts between these currencies"),
    ResultCode.RATE_INVALID: (
        "FF01",
        "a rate is a positive decimal with at most 18 digits, 12 after the point",
    ),
    ResultCode.PROVIDER_ACCOUNTS_MISSING: (
        "AC01",
        "the FX provider has no open settlement account in one of the two currencies",
    ),
    ResultCode.PVP_SAME_CURRENCY: (
        "AM03",
        "both accounts hold the same currency: send a payment, not a cross-currency one",
    ),
    ResultCode.CURRENCY_NOT_HELD: ("AM03", "the network holds no account in this currency"),
    ResultCode.NOT_QUOTE_PROVIDER: (
        "AG01",
        "only the quote's provider or the operator may withdraw it",
    ),
    ResultCode.DIGEST_INVALID: ("FF01", "a message hash is 64 lower-case hexadecimal characters"),
    ResultCode.QUOTE_INVALID: (
        "FF01",
        "a quote needs two different currencies, 0 < minimum <= maximum, a fee below the "
        "minimum and an expiry in the future",
    ),
}

assert set(_REASONS) == set(ResultCode), "every result code needs a reason and a text"
assert all(
    len(reason) == 4 or code in (ResultCode.OK, ResultCode.QUEUED)
    for code, (reason, _) in _REASONS.items()
)
