"""The JSON form of commands and results: what ``interbank apply`` reads and prints.

One command is one JSON object with a ``type`` and the fields of that command (see
docs/commands.md). Money is written either as a decimal string with its currency
(``"amount": "100.50", "currency": "CNY"``, parsed exactly by ``money.parse_amount``)
or as an integer of minor units (``"amount_minor": 10050``). Ids are a UUID string or
a positive integer. Parsing is strict: an unknown field, a missing field or a value of
the wrong type is refused with an ISO 20022 reason code and the field's name, so that
a typo never turns into a payment nobody meant.

Parsing is pure. The one check that needs the network's state (a currency written
next to an account that holds another currency, AM03) is a separate step,
``check_currencies``, given a lookup of account and hold currencies.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeGuard

from interbank.engine.codes import ResultCode
from interbank.engine.commands import (
    ACCOUNT_ID_MAX,
    COMMAND_ID_MAX,
    AccountKind,
    CancelPayment,
    ChangePriority,
    CloseAccount,
    Command,
    CrossPayment,
    EndOfDay,
    Hold,
    Issue,
    MovePayment,
    OpenAccount,
    Payment,
    PostHold,
    Priority,
    PublishQuote,
    ReactivateParticipant,
    Redeem,
    RegisterParticipant,
    ResolveGridlock,
    Result,
    Role,
    SetBilateralLimit,
    SetCreditLine,
    SetMultilateralLimit,
    SetReservation,
    SettleSet,
    StartOfDay,
    SuspendParticipant,
    Transfer,
    VoidHold,
    WithdrawQuote,
)
from interbank.engine.pvp import parse_rate
from interbank.money import AMOUNT_MINOR_MAX, MoneyError, currency, format_amount, parse_amount

# A command line longer than this is refused before it is decoded: no command needs
# more, and it bounds the work hostile input can cause.
LINE_CHARS_MAX = 16_384

# Ids up to this value are written as JSON integers; larger ones as UUID strings, so
# that readers whose numbers are doubles (JavaScript) never round an id.
ID_JSON_INT_MAX = 2**53 - 1

_INT64_MAX = 2**63 - 1
_ID_ECHO_CHARS_MAX = 64
_UUID_PATTERN = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_LINKED_TRUE_PATTERN = re.compile(r'"linked"\s*:\s*true')

IdJson = int | str

TYPE_OF: dict[type, str] = {
    Transfer: "transfer",
    Hold: "hold",
    PostHold: "post_hold",
    VoidHold: "void_hold",
    Issue: "issue",
    Redeem: "redeem",
    RegisterParticipant: "register_participant",
    OpenAccount: "open_account",
    CloseAccount: "close_account",
    SetCreditLine: "set_credit_line",
    SuspendParticipant: "suspend_participant",
    ReactivateParticipant: "reactivate_participant",
    CrossPayment: "cross_payment",
    PublishQuote: "publish_quote",
    WithdrawQuote: "withdraw_quote",
    Payment: "payment",
    CancelPayment: "cancel_payment",
    ChangePriority: "change_priority",
    MovePayment: "move_payment",
    SetBilateralLimit: "set_bilateral_limit",
    SetMultilateralLimit: "set_multilateral_limit",
    SetReservation: "set_reservation",
    ResolveGridlock: "resolve_gridlock",
    SettleSet: "settle_set",
    EndOfDay: "end_of_day",
    StartOfDay: "start_of_day",
}

# Allowed fields per type, in the order they are checked and written. "amount" stands
# for the pair amount / amount_minor, "credit_line" for credit_line / credit_line_minor.
_AMOUNT_FIELDS = ("amount", "amount_minor")
_CREDIT_LINE_FIELDS = ("credit_line", "credit_line_minor")
FIELDS: dict[str, tuple[str, ...]] = {
    "transfer": (
        "id",
        "debit_account_id",
        "credit_account_id",
        *_AMOUNT_FIELDS,
        "currency",
        "linked",
    ),
    "hold": (
        "id",
        "debit_account_id",
        "credit_account_id",
        *_AMOUNT_FIELDS,
        "currency",
        "timeout_ns",
        "linked",
    ),
    "post_hold": ("id", "hold_id", *_AMOUNT_FIELDS, "currency", "linked"),
    "void_hold": ("id", "hold_id", "linked"),
    "issue": ("id", "account_id", *_AMOUNT_FIELDS, "currency", "linked"),
    "redeem": ("id", "account_id", *_AMOUNT_FIELDS, "currency", "linked"),
    "register_participant": ("id", "bic", "name", "role", "currency"),
    "open_account": ("id", "account_id", "bic", "currency", "kind", *_CREDIT_LINE_FIELDS),
    "close_account": ("id", "account_id"),
    "set_credit_line": ("id", "account_id", *_CREDIT_LINE_FIELDS, "currency"),
    "suspend_participant": ("id", "bic"),
    "reactivate_participant": ("id", "bic"),
    # FX (docs/fx.md): the amount and its currency are the sender's; quote amounts and
    # the fee are in the quote's from_currency.
    "cross_payment": (
        "id",
        "debit_account_id",
        "credit_account_id",
        *_AMOUNT_FIELDS,
        "currency",
        "quote_id",
        "priority",
        "till_ns",
    ),
    "publish_quote": (
        "id",
        "provider_bic",
        "from_currency",
        "to_currency",
        "rate",
        "amount_min",
        "amount_min_minor",
        "amount_max",
        "amount_max_minor",
        "expires_at_ns",
        "fee",
        "fee_minor",
    ),
    "withdraw_quote": ("id", "quote_id", "by_bic"),
    # RTGS queues and liquidity saving (docs/rtgs.md). Times are integer ns UTC.
    "payment": (
        "id",
        "debit_account_id",
        "credit_account_id",
        *_AMOUNT_FIELDS,
        "currency",
        "priority",
        "from_ns",
        "till_ns",
    ),
    "cancel_payment": ("id", "payment_id", "by_bic"),
    "change_priority": ("id", "payment_id", "priority", "by_bic"),
    "move_payment": ("id", "payment_id", "to", "by_bic"),
    "set_bilateral_limit": ("id", "bic", "counterparty_bic", "currency", "limit", "limit_minor"),
    "set_multilateral_limit": ("id", "bic", "currency", "limit", "limit_minor"),
    "set_reservation": ("id", "account_id", "priority", *_AMOUNT_FIELDS, "currency"),
    "resolve_gridlock": ("id", "currency"),
    "settle_set": ("id", "currency", "payment_ids"),
    "end_of_day": ("id", "currency"),
    "start_of_day": ("id", "currency"),
}
assert set(FIELDS) == set(TYPE_OF.values())


class CommandJsonError(ValueError):
    """A command line that is not a valid command, with its reason code and field."""

    def __init__(
        self,
        reason_code: str,
        text: str,
        field: str | None = None,
        id_json: IdJson | None = None,
    ) -> None:
        where = f" (field {field})" if field else ""
        super().__init__(f"{reason_code}: {text}{where}")
        self.reason_code = reason_code
        self.text = text
        self.field = field
        self.id_json = id_json

    def with_id(self, id_json: IdJson | None) -> CommandJsonError:
        return CommandJsonError(self.reason_code, self.text, self.field, id_json)


@dataclass(frozen=True, slots=True)
class CurrencyClaim:
    """The sender wrote ``currency`` for this account (or hold): checked before applying."""

    subject: str  # "account" or "hold"
    subject_id: int
    currency: str
    field: str


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """A well-formed command, the id as its sender wrote it, and its currency claims."""

    command: Command
    id_json: IdJson
    claims: tuple[CurrencyClaim, ...] = ()


# --- decoding ---------------------------------------------------------------------------------


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise CommandJsonError("FF01", f"the field {key!r} appears twice", key)
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise CommandJsonError("FF01", f"{name} is not a number this network accepts")


def decode_line(text: str) -> object:
    """Decode one JSON text strictly: no duplicate keys, no NaN, no float.

    Numbers with a fraction or an exponent come back as ``Decimal`` (never ``float``),
    so that the field check can name the field and say what to write instead.
    """
    if len(text) > LINE_CHARS_MAX:
        raise CommandJsonError("FF01", f"the line is longer than {LINE_CHARS_MAX} characters")
    try:
        return json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_float=Decimal,
            parse_constant=_reject_constant,
        )
    except CommandJsonError:
        raise
    except RecursionError:
        raise CommandJsonError("FF01", "the JSON is nested too deeply") from None
    except ValueError as error:  # json.JSONDecodeError and friends
        raise CommandJsonError("FF01", f"not valid JSON: {error}") from None


def parse_line(text: str) -> ParsedCommand:
    """Parse one line of a JSON-lines command file; CommandJsonError when it is bad."""
    return parse_command(decode_line(text))


def line_claims_linked(text: str) -> bool:
    """Whether a line that failed to parse still said ``"linked": true``.

    Used only to keep a linked chain together when one of its lines is malformed: an
    unreadable line that looks linked is treated as a member of the next chain too.
    """
    try:
        value = decode_line(text)
    except CommandJsonError:
        return _LINKED_TRUE_PATTERN.search(text) is not None
    return isinstance(value, dict) and value.get("linked") is True


# --- field checks -----------------------------------------------------------------------------


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Decimal):
        return f"the number {value}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse_id(value: object, field: str = "id") -> int:
    """An id: a positive integer up to 2**128-1, or a UUID string (not the nil UUID)."""
    if _is_int(value):
        if 0 < value <= COMMAND_ID_MAX:
            return value
        raise CommandJsonError("FF01", f"{field} must be from 1 to 2**128-1, not {value}", field)
    if isinstance(value, str):
        if not _UUID_PATTERN.match(value):
            raise CommandJsonError(
                "FF01", f"{field} must be a UUID like 'e5f1c8a2-...' or a positive integer", field
            )
        number = uuid.UUID(value).int
        if number == 0:
            raise CommandJsonError("FF01", f"{field} must not be the nil UUID", field)
        return number
    raise CommandJsonError(
        "FF01",
        f"{field} must be a UUID string or a positive integer, not {_describe(value)}",
        field,
    )


def id_to_json(command_id: int) -> IdJson:
    """Write an id: an integer when any JSON reader keeps it exact, else a UUID string."""
    assert 0 < command_id <= COMMAND_ID_MAX
    if command_id <= ID_JSON_INT_MAX:
        return command_id
    return str(uuid.UUID(int=command_id))


def _account_id(value: object, field: str) -> int:
    if not _is_int(value):
        raise CommandJsonError("FF01", f"{field} must be an integer, not {_describe(value)}", field)
    if not 0 < value <= ACCOUNT_ID_MAX:
        raise CommandJsonError("AC01", f"{field} must be from 1 to 2**63-1, not {value}", field)
    return value


def _string(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise CommandJsonError("FF01", f"{field} must be a string, not {_describe(value)}", field)
    return value


def _currency_code(value: object, field: str = "currency") -> str:
    code = _string(value, field)
    try:
        currency(code)
    except MoneyError as error:
        raise CommandJsonError(error.reason_code, error.text, field) from None
    return code


def _bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise CommandJsonError(
            "FF01", f"{field} must be true or false, not {_describe(value)}", field
        )
    return value


def _amount_minor(value: object, field: str, *, zero_allowed: bool) -> int:
    if not _is_int(value):
        hint = " (write decimals as a string in 'amount' with a 'currency')"
        raise CommandJsonError(
            "FF01",
            f"{field} must be an integer of minor units, not {_describe(value)}{hint}",
            field,
        )
    return _amount_range(value, field, zero_allowed=zero_allowed)


def _amount_range(amount_minor: int, field: str, *, zero_allowed: bool) -> int:
    # The same codes the engine would answer, given here so a bad amount never reaches
    # the journal: AM01 zero, AM12 negative, AM02 over the per-payment limit.
    if amount_minor == 0 and not zero_allowed:
        raise CommandJsonError(ResultCode.AMOUNT_ZERO.reason, ResultCode.AMOUNT_ZERO.text, field)
    if amount_minor < 0:
        raise CommandJsonError(
            ResultCode.AMOUNT_NEGATIVE.reason, ResultCode.AMOUNT_NEGATIVE.text, field
        )
    if amount_minor > AMOUNT_MINOR_MAX:
        raise CommandJsonError(
            ResultCode.AMOUNT_OVER_LIMIT.reason, ResultCode.AMOUNT_OVER_LIMIT.text, field
        )
    return amount_minor


def _decimal_amount(value: object, field: str, code: str | None, *, zero_allowed: bool) -> int:
    if not isinstance(value, str):
        raise CommandJsonError(
            "FF01",
            f'{field} must be a decimal string like "100.50", not {_describe(value)}',
            field,
        )
    if code is None:
        raise CommandJsonError(
            "FF01", f'a decimal {field} needs its currency: add "currency"', "currency"
        )
    try:
        amount_minor = parse_amount(value, code)
    except MoneyError as error:
        raise CommandJsonError(error.reason_code, error.text, field) from None
    return _amount_range(amount_minor, field, zero_allowed=zero_allowed)


@dataclass(frozen=True, slots=True)
class _Fields:
    """The decoded object of one command, with accessors that name the field on error."""

    values: Mapping[str, object]

    def required(self, name: str) -> object:
        if name not in self.values:
            raise CommandJsonError("FF01", f"the field {name!r} is missing", name)
        return self.values[name]

    def optional(self, name: str) -> object | None:
        return self.values.get(name)

    def has(self, name: str) -> bool:
        return name in self.values

    def linked(self) -> bool:
        return _bool(self.values["linked"], "linked") if "linked" in self.values else False

    def currency(self) -> str | None:
        if "currency" not in self.values:
            return None
        return _currency_code(self.values["currency"])

    def money(
        self,
        decimal_name: str,
        minor_name: str,
        code: str | None,
        *,
        required: bool,
        zero_allowed: bool,
    ) -> int | None:
        has_decimal, has_minor = decimal_name in self.values, minor_name in self.values
        if has_decimal and has_minor:
            raise CommandJsonError(
                "FF01", f"give {decimal_name} or {minor_name}, not both", minor_name
            )
        if has_decimal:
            return _decimal_amount(
                self.values[decimal_name], decimal_name, code, zero_allowed=zero_allowed
            )
        if has_minor:
            return _amount_minor(self.values[minor_name], minor_name, zero_allowed=zero_allowed)
        if required:
            raise CommandJsonError(
                "FF01", f"the field {decimal_name!r} (or {minor_name!r}) is missing", decimal_name
            )
        return None


def parse_command(value: object) -> ParsedCommand:
    """Turn one decoded JSON value into a typed command; CommandJsonError when it is bad."""
    if not isinstance(value, dict):
        raise CommandJsonError("FF01", f"a command is a JSON object, not {_describe(value)}")
    type_name = value.get("type")
    id_json: IdJson | None = None
    raw_id = value.get("id")
    # Echo the sender's id in an error whenever it is at least of a plausible form
    # (a short string or an integer in range), so the sender can match the answer.
    if (isinstance(raw_id, str) and len(raw_id) <= _ID_ECHO_CHARS_MAX) or (
        _is_int(raw_id) and 0 < raw_id <= COMMAND_ID_MAX
    ):
        id_json = raw_id
    try:
        if "type" not in value:
            raise CommandJsonError("FF01", "the field 'type' is missing", "type")
        if not isinstance(type_name, str) or type_name not in FIELDS:
            known = ", ".join(FIELDS)
            raise CommandJsonError(
                "FF01", f"unknown command type {type_name!r}; known: {known}", "type"
            )
        allowed = FIELDS[type_name]
        for name in value:
            if name != "type" and name not in allowed:
                raise CommandJsonError("FF01", f"unknown field {name!r} for {type_name}", name)
        fields = _Fields({k: v for k, v in value.items() if k != "type"})
        command_id = parse_id(fields.required("id"))
        parsed = _PARSERS[type_name](command_id, fields)
    except CommandJsonError as error:
        raise error.with_id(id_json) from None
    assert id_json is not None
    command, claims = parsed
    return ParsedCommand(command, id_json, claims)


# What a type's parser returns: the command and the currencies its sender claimed.
_Parsed = tuple[Command, tuple[CurrencyClaim, ...]]


def _claims(
    subject: str, code: str | None, *ids_fields: tuple[int, str]
) -> tuple[CurrencyClaim, ...]:
    if code is None:
        return ()
    return tuple(
        CurrencyClaim(subject, subject_id, code, field) for subject_id, field in ids_fields
    )


def _transfer(command_id: int, f: _Fields) -> _Parsed:
    debit = _account_id(f.required("debit_account_id"), "debit_account_id")
    credit = _account_id(f.required("credit_account_id"), "credit_account_id")
    code = f.currency()
    amount = f.money("amount", "amount_minor", code, required=True, zero_allowed=False)
    assert amount is not None
    linked = f.linked()
    claims = _claims("account", code, (debit, "debit_account_id"), (credit, "credit_account_id"))
    return Transfer(command_id, debit, credit, amount, linked), claims


def _hold(command_id: int, f: _Fields) -> _Parsed:
    debit = _account_id(f.required("debit_account_id"), "debit_account_id")
    credit = _account_id(f.required("credit_account_id"), "credit_account_id")
    code = f.currency()
    amount = f.money("amount", "amount_minor", code, required=True, zero_allowed=False)
    assert amount is not None
    timeout_ns = 0
    if f.has("timeout_ns"):
        raw = f.optional("timeout_ns")
        if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= _INT64_MAX:
            raise CommandJsonError(
                "FF01", "timeout_ns must be an integer from 0 to 2**63-1 nanoseconds", "timeout_ns"
            )
        timeout_ns = raw
    linked = f.linked()
    claims = _claims("account", code, (debit, "debit_account_id"), (credit, "credit_account_id"))
    command = Hold(command_id, debit, credit, amount, timeout_ns, linked)
    return command, claims


def _post_hold(command_id: int, f: _Fields) -> _Parsed:
    hold_id = parse_id(f.required("hold_id"), "hold_id")
    code = f.currency()
    amount = f.money("amount", "amount_minor", code, required=False, zero_allowed=False)
    linked = f.linked()
    claims = _claims("hold", code, (hold_id, "hold_id"))
    return PostHold(command_id, hold_id, amount, linked), claims


def _void_hold(command_id: int, f: _Fields) -> _Parsed:
    hold_id = parse_id(f.required("hold_id"), "hold_id")
    return VoidHold(command_id, hold_id, f.linked()), ()


def _issue_or_redeem(cls: type[Issue] | type[Redeem]) -> Callable[[int, _Fields], _Parsed]:
    def parse(command_id: int, f: _Fields) -> _Parsed:
        account = _account_id(f.required("account_id"), "account_id")
        code = f.currency()
        amount = f.money("amount", "amount_minor", code, required=True, zero_allowed=False)
        assert amount is not None
        claims = _claims("account", code, (account, "account_id"))
        return cls(command_id, account, amount, f.linked()), claims

    return parse


def _register_participant(command_id: int, f: _Fields) -> _Parsed:
    bic = _string(f.required("bic"), "bic")
    name = _string(f.required("name"), "name")
    role_text = _string(f.required("role"), "role")
    try:
        role = Role(role_text)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise CommandJsonError("FF01", f"role must be one of {known}", "role") from None
    code = f.currency()
    command = RegisterParticipant(command_id, bic, name, role, code)
    return command, ()


def _open_account(command_id: int, f: _Fields) -> _Parsed:
    account = _account_id(f.required("account_id"), "account_id")
    bic = _string(f.required("bic"), "bic")
    code = _currency_code(f.required("currency"))
    kind = AccountKind.SETTLEMENT
    if f.has("kind"):
        kind_text = _string(f.optional("kind"), "kind")
        try:
            kind = AccountKind(kind_text)
        except ValueError:
            known = ", ".join(k.value for k in AccountKind)
            raise CommandJsonError("FF01", f"kind must be one of {known}", "kind") from None
    line = f.money("credit_line", "credit_line_minor", code, required=False, zero_allowed=True)
    command = OpenAccount(command_id, account, bic, code, kind, line or 0)
    return command, ()


def _close_account(command_id: int, f: _Fields) -> _Parsed:
    account = _account_id(f.required("account_id"), "account_id")
    return CloseAccount(command_id, account), ()


def _set_credit_line(command_id: int, f: _Fields) -> _Parsed:
    account = _account_id(f.required("account_id"), "account_id")
    code = f.currency()
    line = f.money("credit_line", "credit_line_minor", code, required=True, zero_allowed=True)
    assert line is not None
    claims = _claims("account", code, (account, "account_id"))
    return SetCreditLine(command_id, account, line), claims


def _suspend(command_id: int, f: _Fields) -> _Parsed:
    return SuspendParticipant(command_id, _string(f.required("bic"), "bic")), ()


def _reactivate(command_id: int, f: _Fields) -> _Parsed:
    bic = _string(f.required("bic"), "bic")
    return ReactivateParticipant(command_id, bic), ()


# --- FX: cross-currency payments and quotes ---------------------------------------------------


def _time_ns_field(f: _Fields, name: str, *, required: bool) -> int:
    """Nanoseconds UTC since the epoch: an integer from 0 (none) to 2**63-1."""
    if not f.has(name):
        if required:
            raise CommandJsonError("FF01", f"the field {name!r} is missing", name)
        return 0
    raw = f.optional(name)
    if not _is_int(raw) or not 0 <= raw <= _INT64_MAX:
        raise CommandJsonError(
            "FF01", f"{name} must be an integer from 0 to 2**63-1 nanoseconds", name
        )
    return raw


def _fx_priority(f: _Fields) -> Priority:
    if not f.has("priority"):
        return Priority.NORMAL
    text = _string(f.optional("priority"), "priority")
    by_name = {p.name.lower(): p for p in Priority}
    if text not in by_name:
        known = ", ".join(by_name)
        raise CommandJsonError("FF01", f"priority must be one of {known}", "priority")
    return by_name[text]


def _cross_payment(command_id: int, f: _Fields) -> _Parsed:
    debit = _account_id(f.required("debit_account_id"), "debit_account_id")
    credit = _account_id(f.required("credit_account_id"), "credit_account_id")
    code = f.currency()
    amount = f.money("amount", "amount_minor", code, required=True, zero_allowed=False)
    assert amount is not None
    quote_id = parse_id(f.optional("quote_id"), "quote_id") if f.has("quote_id") else None
    priority = _fx_priority(f)
    till_ns = _time_ns_field(f, "till_ns", required=False)
    # The currency is the sender's: the credit account holds another one by design.
    claims = _claims("account", code, (debit, "debit_account_id"))
    return CrossPayment(command_id, debit, credit, amount, quote_id, priority, till_ns), claims


def _publish_quote(command_id: int, f: _Fields) -> _Parsed:
    provider = _string(f.required("provider_bic"), "provider_bic")
    code_from = _currency_code(f.required("from_currency"), "from_currency")
    code_to = _currency_code(f.required("to_currency"), "to_currency")
    rate = _string(f.required("rate"), "rate")
    if parse_rate(rate) is None:
        # The engine's own rule and code (RATE_INVALID), given here so it never reaches
        # the journal: "0", "-1.5", "7.1e0", more than 18 digits or 12 decimals.
        raise CommandJsonError(ResultCode.RATE_INVALID.reason, ResultCode.RATE_INVALID.text, "rate")
    low = f.money("amount_min", "amount_min_minor", code_from, required=True, zero_allowed=False)
    high = f.money("amount_max", "amount_max_minor", code_from, required=True, zero_allowed=False)
    fee = f.money("fee", "fee_minor", code_from, required=False, zero_allowed=True)
    assert low is not None and high is not None
    expires_at_ns = _time_ns_field(f, "expires_at_ns", required=True)
    command = PublishQuote(
        command_id, provider, code_from, code_to, rate, low, high, expires_at_ns, fee or 0
    )
    return command, ()


def _withdraw_quote(command_id: int, f: _Fields) -> _Parsed:
    quote_id = parse_id(f.required("quote_id"), "quote_id")
    by_bic = _string(f.optional("by_bic"), "by_bic") if f.has("by_bic") else None
    return WithdrawQuote(command_id, quote_id, by_bic), ()


# --- RTGS: payments, queue management, limits, reservations, the day -------------------------

# A settle_set line may name at most this many payments: it must fit one command line
# anyway, and the bound keeps the engine's check of one set short.
SETTLE_SET_PAYMENTS_MAX = 2_000
_MOVE_TO = {"front": True, "back": False}


def _priority_field(f: _Fields, *, required: bool, allowed: Sequence[Priority]) -> Priority:
    """A priority written as its name ("urgent", "high", "normal"); normal when omitted."""
    if not f.has("priority"):
        if required:
            raise CommandJsonError("FF01", "the field 'priority' is missing", "priority")
        return Priority.NORMAL
    text = _string(f.optional("priority"), "priority")
    by_name = {p.name.lower(): p for p in allowed}
    if text not in by_name:
        known = ", ".join(by_name)
        raise CommandJsonError("FF01", f"priority must be one of {known}", "priority")
    return by_name[text]


def _by_bic(f: _Fields) -> str | None:
    """Who manages a queued payment: its sender's BIC, or none for the operator."""
    return _string(f.optional("by_bic"), "by_bic") if f.has("by_bic") else None


def _payment(command_id: int, f: _Fields) -> _Parsed:
    debit = _account_id(f.required("debit_account_id"), "debit_account_id")
    credit = _account_id(f.required("credit_account_id"), "credit_account_id")
    code = f.currency()
    amount = f.money("amount", "amount_minor", code, required=True, zero_allowed=False)
    assert amount is not None
    priority = _priority_field(f, required=False, allowed=list(Priority))
    from_ns = _time_ns_field(f, "from_ns", required=False)
    till_ns = _time_ns_field(f, "till_ns", required=False)
    claims = _claims("account", code, (debit, "debit_account_id"), (credit, "credit_account_id"))
    return Payment(command_id, debit, credit, amount, priority, from_ns, till_ns), claims


def _cancel_payment(command_id: int, f: _Fields) -> _Parsed:
    payment_id = parse_id(f.required("payment_id"), "payment_id")
    return CancelPayment(command_id, payment_id, _by_bic(f)), ()


def _change_priority(command_id: int, f: _Fields) -> _Parsed:
    payment_id = parse_id(f.required("payment_id"), "payment_id")
    priority = _priority_field(f, required=True, allowed=list(Priority))
    return ChangePriority(command_id, payment_id, priority, _by_bic(f)), ()


def _move_payment(command_id: int, f: _Fields) -> _Parsed:
    payment_id = parse_id(f.required("payment_id"), "payment_id")
    to = _string(f.required("to"), "to")
    if to not in _MOVE_TO:
        raise CommandJsonError("FF01", "to must be front or back (of the payment's class)", "to")
    return MovePayment(command_id, payment_id, _MOVE_TO[to], _by_bic(f)), ()


def _limit(f: _Fields, code: str) -> int:
    limit = f.money("limit", "limit_minor", code, required=True, zero_allowed=True)
    assert limit is not None
    return limit


def _set_bilateral_limit(command_id: int, f: _Fields) -> _Parsed:
    bic = _string(f.required("bic"), "bic")
    counterparty = _string(f.required("counterparty_bic"), "counterparty_bic")
    code = _currency_code(f.required("currency"))
    return SetBilateralLimit(command_id, bic, counterparty, code, _limit(f, code)), ()


def _set_multilateral_limit(command_id: int, f: _Fields) -> _Parsed:
    bic = _string(f.required("bic"), "bic")
    code = _currency_code(f.required("currency"))
    return SetMultilateralLimit(command_id, bic, code, _limit(f, code)), ()


def _set_reservation(command_id: int, f: _Fields) -> _Parsed:
    account = _account_id(f.required("account_id"), "account_id")
    priority = _priority_field(f, required=True, allowed=(Priority.URGENT, Priority.HIGH))
    code = f.currency()
    amount = f.money("amount", "amount_minor", code, required=True, zero_allowed=True)
    assert amount is not None
    claims = _claims("account", code, (account, "account_id"))
    return SetReservation(command_id, account, priority, amount), claims


def _settle_set(command_id: int, f: _Fields) -> _Parsed:
    code = _currency_code(f.required("currency"))
    raw = f.required("payment_ids")
    if not isinstance(raw, list) or not raw:
        raise CommandJsonError(
            "FF01", f"payment_ids must be a non-empty list of ids, not {_describe(raw)}",
            "payment_ids",
        )  # fmt: skip
    if len(raw) > SETTLE_SET_PAYMENTS_MAX:
        raise CommandJsonError(
            "FF01", f"payment_ids names more than {SETTLE_SET_PAYMENTS_MAX} payments",
            "payment_ids",
        )  # fmt: skip
    payment_ids = tuple(parse_id(value, "payment_ids") for value in raw)
    return SettleSet(command_id, code, payment_ids), ()


def _currency_command(
    cls: type[ResolveGridlock] | type[EndOfDay] | type[StartOfDay],
) -> Callable[[int, _Fields], _Parsed]:
    def parse(command_id: int, f: _Fields) -> _Parsed:
        return cls(command_id, _currency_code(f.required("currency"))), ()

    return parse


_PARSERS: dict[str, Callable[[int, _Fields], _Parsed]] = {
    "transfer": _transfer,
    "hold": _hold,
    "post_hold": _post_hold,
    "void_hold": _void_hold,
    "issue": _issue_or_redeem(Issue),
    "redeem": _issue_or_redeem(Redeem),
    "register_participant": _register_participant,
    "open_account": _open_account,
    "close_account": _close_account,
    "set_credit_line": _set_credit_line,
    "suspend_participant": _suspend,
    "reactivate_participant": _reactivate,
    "cross_payment": _cross_payment,
    "publish_quote": _publish_quote,
    "withdraw_quote": _withdraw_quote,
    "payment": _payment,
    "cancel_payment": _cancel_payment,
    "change_priority": _change_priority,
    "move_payment": _move_payment,
    "set_bilateral_limit": _set_bilateral_limit,
    "set_multilateral_limit": _set_multilateral_limit,
    "set_reservation": _set_reservation,
    "resolve_gridlock": _currency_command(ResolveGridlock),
    "settle_set": _settle_set,
    "end_of_day": _currency_command(EndOfDay),
    "start_of_day": _currency_command(StartOfDay),
}
assert set(_PARSERS) == set(FIELDS)


# --- the currency check against the network ---------------------------------------------------

CurrencyLookup = Callable[[int], str | None]


def check_currencies(
    parsed: ParsedCommand, account_currency: CurrencyLookup, hold_currency: CurrencyLookup
) -> None:
    """AM03 when the sender wrote a currency and the account (or hold) holds another.

    An account or hold the lookups do not know is left to the engine, which answers
    AC01 / NARR for it; the amount is then never applied, so its exponent cannot matter.
    """
    for claim in parsed.claims:
        lookup = account_currency if claim.subject == "account" else hold_currency
        actual = lookup(claim.subject_id)
        if actual is not None and actual != claim.currency:
            raise CommandJsonError(
                "AM03",
                f"{claim.subject} {claim.subject_id} holds {actual}, not {claim.currency}",
                claim.field,
                parsed.id_json,
            )


# --- writing commands -------------------------------------------------------------------------


def command_to_json(command: Command, currency_code: str | None = None) -> dict[str, Any]:
    """The JSON object of a command (the inverse of ``parse_command``).

    With ``currency_code`` the amount is written as a decimal string with its currency;
    without it, as ``amount_minor``. Open-account credit lines use the account's own
    currency. Defaults (``linked`` false, no timeout, settlement kind) are left out.
    """
    out: dict[str, Any] = {"type": TYPE_OF[type(command)], "id": id_to_json(command.id)}

    def money(decimal_name: str, minor_name: str, amount_minor: int, code: str | None) -> None:
        if code is None:
            out[minor_name] = amount_minor
        else:
            out[decimal_name] = format_amount(amount_minor, code)

    if isinstance(command, Transfer | Hold):
        out["debit_account_id"] = command.debit_account_id
        out["credit_account_id"] = command.credit_account_id
        money("amount", "amount_minor", command.amount_minor, currency_code)
        if isinstance(command, Hold) and command.timeout_ns:
            out["timeout_ns"] = command.timeout_ns
    elif isinstance(command, PostHold):
        out["hold_id"] = id_to_json(command.hold_id)
        if command.amount_minor is not None:
            money("amount", "amount_minor", command.amount_minor, currency_code)
        elif currency_code is not None:
            currency_code = None  # nothing to say the currency of
    elif isinstance(command, VoidHold):
        out["hold_id"] = id_to_json(command.hold_id)
        currency_code = None
    elif isinstance(command, Issue | Redeem):
        out["account_id"] = command.account_id
        money("amount", "amount_minor", command.amount_minor, currency_code)
    elif isinstance(command, RegisterParticipant):
        out["bic"] = command.bic
        out["name"] = command.name
        out["role"] = command.role.value
        if command.currency is not None:
            out["currency"] = command.currency
        return out
    elif isinstance(command, OpenAccount):
        out["account_id"] = command.account_id
        out["bic"] = command.bic
        out["currency"] = command.currency
        if command.kind != AccountKind.SETTLEMENT:
            out["kind"] = command.kind.value
        if command.credit_line_minor:
            out["credit_line"] = format_amount(command.credit_line_minor, command.currency)
        return out
    elif isinstance(command, CloseAccount):
        out["account_id"] = command.account_id
        return out
    elif isinstance(command, SetCreditLine):
        out["account_id"] = command.account_id
        money("credit_line", "credit_line_minor", command.credit_line_minor, currency_code)
    elif isinstance(command, SuspendParticipant | ReactivateParticipant):
        out["bic"] = command.bic
        return out
    elif isinstance(command, CrossPayment):
        out["debit_account_id"] = command.debit_account_id
        out["credit_account_id"] = command.credit_account_id
        money("amount", "amount_minor", command.amount_minor, currency_code)
        if currency_code is not None:
            out["currency"] = currency_code
        if command.quote_id is not None:
            out["quote_id"] = id_to_json(command.quote_id)
        if command.priority != Priority.NORMAL:
            out["priority"] = command.priority.name.lower()
        if command.till_ns:
            out["till_ns"] = command.till_ns
        return out
    elif isinstance(command, PublishQuote):
        code_from = command.from_currency
        out["provider_bic"] = command.provider_bic
        out["from_currency"] = code_from
        out["to_currency"] = command.to_currency
        out["rate"] = command.rate
        out["amount_min"] = format_amount(command.amount_min_minor, code_from)
        out["amount_max"] = format_amount(command.amount_max_minor, code_from)
        out["expires_at_ns"] = command.expires_at_ns
        if command.fee_minor:
            out["fee"] = format_amount(command.fee_minor, code_from)
        return out
    elif isinstance(command, WithdrawQuote):
        out["quote_id"] = id_to_json(command.quote_id)
        if command.by_bic is not None:
            out["by_bic"] = command.by_bic
        return out
    elif isinstance(command, Payment):
        out["debit_account_id"] = command.debit_account_id
        out["credit_account_id"] = command.credit_account_id
        money("amount", "amount_minor", command.amount_minor, currency_code)
        if currency_code is not None:
            out["currency"] = currency_code
        if command.priority != Priority.NORMAL:
            out["priority"] = command.priority.name.lower()
        for name in ("from_ns", "till_ns"):
            if getattr(command, name):
                out[name] = getattr(command, name)
        return out
    elif isinstance(command, CancelPayment | ChangePriority | MovePayment):
        out["payment_id"] = id_to_json(command.payment_id)
        if isinstance(command, ChangePriority):
            out["priority"] = command.priority.name.lower()
        if isinstance(command, MovePayment):
            out["to"] = "front" if command.to_front else "back"
        if command.by_bic is not None:
            out["by_bic"] = command.by_bic
        return out
    elif isinstance(command, SetBilateralLimit | SetMultilateralLimit):
        out["bic"] = command.bic
        if isinstance(command, SetBilateralLimit):
            out["counterparty_bic"] = command.counterparty_bic
        out["currency"] = command.currency
        out["limit"] = format_amount(command.limit_minor, command.currency)
        return out
    elif isinstance(command, SetReservation):
        out["account_id"] = command.account_id
        out["priority"] = command.priority.name.lower()
        money("amount", "amount_minor", command.amount_minor, currency_code)
    elif isinstance(command, SettleSet):
        out["currency"] = command.currency
        out["payment_ids"] = [id_to_json(payment_id) for payment_id in command.payment_ids]
        return out
    elif isinstance(command, ResolveGridlock | EndOfDay | StartOfDay):
        out["currency"] = command.currency
        return out
    if currency_code is not None:
        out["currency"] = currency_code
    if getattr(command, "linked", False):
        out["linked"] = True
    return out


def dumps(value: Mapping[str, Any]) -> str:
    """One JSON line, keys in schema order, spaced like the examples in docs/commands.md."""
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


# --- writing results --------------------------------------------------------------------------


def result_to_json(line: int, id_json: IdJson | None, result: Result) -> dict[str, Any]:
    """The result line of an applied command: ACSC when it took effect, PDNG when it was
    accepted and waits to settle (a queued payment or cross-currency pair), RJCT otherwise."""
    pending = result.code == ResultCode.QUEUED
    return {
        "line": line,
        "id": id_json if id_json is not None else id_to_json(result.command_id),
        "status": "ACSC" if result.ok else ("PDNG" if pending else "RJCT"),
        "code": None if result.ok or pending else result.reason,
        "reason": result.text,
        "result": result.code.name.lower(),
        "replayed": result.replayed,
    }


def error_to_json(line: int, error: CommandJsonError) -> dict[str, Any]:
    """The result line of a line that was refused before it reached the network."""
    return {
        "line": line,
        "id": error.id_json,
        "status": "RJCT",
        "code": error.reason_code,
        "reason": error.text,
        "result": "refused",
        "field": error.field,
        "replayed": False,
    }


def not_applied_to_json(line: int, id_json: IdJson | None, why: str) -> dict[str, Any]:
    """The result line of a good line left out because of another line (nothing applied)."""
    return {
        "line": line,
        "id": id_json,
        "status": "RJCT",
        "code": "NARR",
        "reason": why,
        "result": "not_applied",
        "replayed": False,
    }


# --- a file of command lines ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineOutcome:
    """One non-blank line of a command file: its command, or why it was refused."""

    line: int  # 1-based physical line number in the file
    parsed: ParsedCommand | None
    error: CommandJsonError | None
    linked: bool  # whether this line chains to the next (as far as can be told)

    def __post_init__(self) -> None:
        assert (self.parsed is None) != (self.error is None)

    @property
    def id_json(self) -> IdJson | None:
        if self.parsed is not None:
            return self.parsed.id_json
        assert self.error is not None
        return self.error.id_json


def read_lines(lines: Iterable[str]) -> list[LineOutcome]:
    """Parse every non-blank line; a bad line becomes an outcome, never an exception."""
    outcomes: list[LineOutcome] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            parsed = parse_line(text)
        except CommandJsonError as error:
            outcomes.append(LineOutcome(number, None, error, line_claims_linked(text)))
            continue
        linked = bool(getattr(parsed.command, "linked", False))
        outcomes.append(LineOutcome(number, parsed, None, linked))
    return outcomes


def check_file_currencies(
    outcomes: Sequence[LineOutcome],
    account_currency: CurrencyLookup,
    hold_debit_account: Callable[[int], int | None],
) -> list[LineOutcome]:
    """Apply ``check_currencies`` to every good line, in file order.

    Accounts opened and holds placed by earlier lines of the same file are known
    here too (the network has not seen them yet), so that "100.00 CNY" to an account
    the file opens in JPY is refused rather than read with the wrong exponent.
    """
    opened: dict[int, str] = {}
    held: dict[int, int] = {}

    def account_lookup(account_id: int) -> str | None:
        known = account_currency(account_id)
        return known if known is not None else opened.get(account_id)

    def hold_lookup(hold_id: int) -> str | None:
        debit = hold_debit_account(hold_id)
        if debit is None:
            debit = held.get(hold_id)
        return None if debit is None else account_lookup(debit)

    checked: list[LineOutcome] = []
    for outcome in outcomes:
        parsed = outcome.parsed
        if parsed is None:
            checked.append(outcome)
            continue
        try:
            check_currencies(parsed, account_lookup, hold_lookup)
        except CommandJsonError as error:
            checked.append(LineOutcome(outcome.line, None, error, outcome.linked))
            continue
        command = parsed.command
        if isinstance(command, OpenAccount):
            opened.setdefault(command.account_id, command.currency)
        elif isinstance(command, Hold):
            held.setdefault(command.id, command.debit_account_id)
        checked.append(outcome)
    return checked


def chain_units(outcomes: Sequence[LineOutcome]) -> list[list[LineOutcome]]:
    """Group lines into units that must be applied whole: a linked chain, or one line.

    A chain runs while each line says ``"linked": true``; it ends with the first line
    that does not. A refused line inside a chain spoils its whole chain.
    """
    units: list[list[LineOutcome]] = []
    current: list[LineOutcome] = []
    for outcome in outcomes:
        current.append(outcome)
        if not outcome.linked:
            units.append(current)
            current = []
    if current:
        units.append(current)  # an open chain at the end: the engine answers FF01 for it
    return units


def refuse_long_chains(
    outcomes: Sequence[LineOutcome], chain_commands_max: int
) -> list[LineOutcome]:
    """Refuse (FF01) every line of a linked chain longer than ``chain_commands_max``.

    A chain settles in one journal entry, so it cannot be longer than an entry.
    """
    checked: list[LineOutcome] = []
    for unit in chain_units(outcomes):
        if len(unit) <= chain_commands_max:
            checked.extend(unit)
            continue
        text = f"a linked chain of {len(unit)} commands is longer than {chain_commands_max}"
        for outcome in unit:
            if outcome.error is not None:
                checked.append(outcome)
            else:
                error = CommandJsonError("FF01", text, "linked", outcome.id_json)
                checked.append(LineOutcome(outcome.line, None, error, outcome.linked))
    return checked
