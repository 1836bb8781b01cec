"""The columnar batch: the hot path's form of a list of commands, and its packed bytes.

A batch holds one row per command in parallel arrays (kind, flags, id, accounts,
amount, referenced hold, timeout). Administrative commands keep a row too (so order is
preserved) and carry their fields in ``admin``, keyed by row. ``pack`` turns a batch
into one little-endian binary record, which is what the journal stores; ``unpack``
reads it back without copying the columns.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from interbank.engine.commands import (
    ACCOUNT_ID_MAX,
    COMMAND_ID_MAX,
    COMMAND_OF,
    KIND_OF,
    MONEY_KIND_MAX,
    AccountKind,
    AdminCommand,
    CloseAccount,
    Command,
    CrossPayment,
    Hold,
    Issue,
    Kind,
    OpenAccount,
    Payment,
    PostHold,
    Priority,
    ReactivateParticipant,
    Redeem,
    RegisterParticipant,
    Role,
    SetCreditLine,
    SuspendParticipant,
    Transfer,
    VoidHold,
)

FLAG_LINKED = 1
FLAG_POST_FULL = 2
# A payment's priority sits in flag bits 2-3. A payment reuses two columns whose
# meaning depends on the kind: ``timeout_ns`` holds its FROM time and ``ref_lo`` its
# TILL time (both int nanoseconds, 0 for none).
PRIORITY_SHIFT = 2
PRIORITY_MASK = 3 << PRIORITY_SHIFT

_MAGIC = b"IBB1"
_HEADER = struct.Struct("<4sII")  # magic, rows, admin bytes
_INT64_MAX = 2**63 - 1

# (name, dtype) in packed order; every column is little-endian.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("kind", "<u1"),
    ("flags", "<u1"),
    ("id_hi", "<u8"),
    ("id_lo", "<u8"),
    ("debit", "<i8"),
    ("credit", "<i8"),
    ("amount", "<i8"),
    ("ref_hi", "<u8"),
    ("ref_lo", "<u8"),
    ("timeout_ns", "<i8"),
)
BYTES_PER_ROW = sum(np.dtype(dtype).itemsize for _, dtype in COLUMNS)


class CommandFormatError(ValueError):
    """A command that cannot be represented at all (wrong type or out of range)."""

    def __init__(self, reason_code: str, text: str, index: int | None = None) -> None:
        where = f"command {index}: " if index is not None else ""
        super().__init__(f"{reason_code}: {where}{text}")
        self.reason_code = reason_code
        self.text = text
        self.index = index


U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Batch:
    """Commands in columnar form. Arrays are not copied: treat them as read-only."""

    kind: U8
    flags: U8
    id_hi: U64
    id_lo: U64
    debit: I64
    credit: I64
    amount: I64
    ref_hi: U64
    ref_lo: U64
    timeout_ns: I64
    admin: Mapping[int, AdminCommand] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rows = len(self.kind)
        for name, dtype in COLUMNS:
            column = getattr(self, name)
            assert column.dtype == np.dtype(dtype), (name, column.dtype)
            assert column.ndim == 1 and len(column) == rows, name
        for row, command in self.admin.items():
            assert 0 <= row < rows and int(self.kind[row]) > MONEY_KIND_MAX, row
            assert KIND_OF.get(type(command)) == int(self.kind[row]), row
            _admin_check(command, row)

    def __len__(self) -> int:
        return len(self.kind)

    def command_id(self, row: int) -> int:
        return (int(self.id_hi[row]) << 64) | int(self.id_lo[row])

    @staticmethod
    def empty() -> Batch:
        columns: dict[str, Any] = {name: np.zeros(0, dtype=dtype) for name, dtype in COLUMNS}
        return Batch(**columns)

    @staticmethod
    def of_transfers(
        id_hi: U64, id_lo: U64, debit: I64, credit: I64, amount: I64, *, linked: U8 | None = None
    ) -> Batch:
        """A batch of plain transfers straight from arrays (the fast path for bulk load)."""
        rows = len(id_lo)
        zeros_u64 = np.zeros(rows, dtype=np.uint64)
        return Batch(
            kind=np.full(rows, Kind.TRANSFER, dtype=np.uint8),
            flags=np.zeros(rows, dtype=np.uint8) if linked is None else linked.astype(np.uint8),
            id_hi=id_hi.astype(np.uint64, copy=False),
            id_lo=id_lo.astype(np.uint64, copy=False),
            debit=debit.astype(np.int64, copy=False),
            credit=credit.astype(np.int64, copy=False),
            amount=amount.astype(np.int64, copy=False),
            ref_hi=zeros_u64,
            ref_lo=zeros_u64,
            timeout_ns=np.zeros(rows, dtype=np.int64),
        )

    @staticmethod
    def of(commands: Sequence[Command]) -> Batch:
        """Turn typed commands into a batch; CommandFormatError when one cannot fit."""
        rows = len(commands)
        kind = np.zeros(rows, dtype=np.uint8)
        flags = np.zeros(rows, dtype=np.uint8)
        ids = [0] * rows
        debit = [0] * rows
        credit = [0] * rows
        amount = [0] * rows
        refs = [0] * rows
        timeout = [0] * rows
        admin: dict[int, AdminCommand] = {}
        for row, command in enumerate(commands):
            command_kind = KIND_OF.get(type(command))
            if command_kind is None:
                raise CommandFormatError("FF01", f"not a command: {type(command).__name__}", row)
            kind[row] = command_kind
            ids[row] = _command_id(command.id, row)
            if command_kind > MONEY_KIND_MAX:
                _admin_check(command, row)  # type: ignore[arg-type]
                admin[row] = command  # type: ignore[assignment]
                continue
            linked = getattr(command, "linked", False)
            if not isinstance(linked, bool):
                raise CommandFormatError("FF01", "linked is true or false", row)
            if linked:
                flags[row] |= FLAG_LINKED
            if isinstance(command, Transfer | Hold):
                debit[row] = _account_id(command.debit_account_id, row)
                credit[row] = _account_id(command.credit_account_id, row)
                amount[row] = _amount(command.amount_minor, row)
                if isinstance(command, Hold):
                    timeout[row] = _int64(command.timeout_ns, "timeout_ns", row)
            elif isinstance(command, PostHold):
                refs[row] = _command_id(command.hold_id, row)
                if command.amount_minor is None:
                    flags[row] |= FLAG_POST_FULL
                else:
                    amount[row] = _amount(command.amount_minor, row)
            elif isinstance(command, VoidHold):
                refs[row] = _command_id(command.hold_id, row)
            elif isinstance(command, Issue):
                credit[row] = _account_id(command.account_id, row)
                amount[row] = _amount(command.amount_minor, row)
            elif isinstance(command, Redeem):
                debit[row] = _account_id(command.account_id, row)
                amount[row] = _amount(command.amount_minor, row)
            elif isinstance(command, Payment):
                debit[row] = _account_id(command.debit_account_id, row)
                credit[row] = _account_id(command.credit_account_id, row)
                amount[row] = _amount(command.amount_minor, row)
                if not isinstance(command.priority, Priority):
                    raise CommandFormatError("FF01", "priority is normal, high or urgent", row)
                flags[row] |= int(command.priority) << PRIORITY_SHIFT
                timeout[row] = _time_ns(command.from_ns, "from_ns", row)
                refs[row] = _time_ns(command.till_ns, "till_ns", row)
            elif isinstance(command, CrossPayment):
                # Columns: the quote id in ref_hi/ref_lo (0: the best quote), TILL in
                # timeout_ns, the priority in the flags.
                debit[row] = _account_id(command.debit_account_id, row)
                credit[row] = _account_id(command.credit_account_id, row)
                amount[row] = _amount(command.amount_minor, row)
                if not isinstance(command.priority, Priority):
                    raise CommandFormatError("FF01", "priority is normal, high or urgent", row)
                flags[row] |= int(command.priority) << PRIORITY_SHIFT
                timeout[row] = _time_ns(command.till_ns, "till_ns", row)
                if command.quote_id is not None:
                    refs[row] = _command_id(command.quote_id, row)
        mask = (1 << 64) - 1
        return Batch(
            kind=kind,
            flags=flags,
            id_hi=np.array([i >> 64 for i in ids], dtype=np.uint64),
            id_lo=np.array([i & mask for i in ids], dtype=np.uint64),
            debit=np.array(debit, dtype=np.int64),
            credit=np.array(credit, dtype=np.int64),
            amount=np.array(amount, dtype=np.int64),
            ref_hi=np.array([r >> 64 for r in refs], dtype=np.uint64),
            ref_lo=np.array([r & mask for r in refs], dtype=np.uint64),
            timeout_ns=np.array(timeout, dtype=np.int64),
            admin=admin,
        )

    @staticmethod
    def concat(batches: Sequence[Batch]) -> Batch:
        """One batch holding the rows of ``batches`` in order (group commit joins them)."""
        if len(batches) == 1:
            return batches[0]
        if not batches:
            return Batch.empty()
        columns = {
            name: np.concatenate([getattr(b, name) for b in batches]) for name, _ in COLUMNS
        }
        admin: dict[int, AdminCommand] = {}
        offset = 0
        for b in batches:
            admin.update({offset + row: command for row, command in b.admin.items()})
            offset += len(b)
        return Batch(**columns, admin=admin)

    def slice(self, start: int, stop: int) -> Batch:
        """Rows ``start`` to ``stop`` as a batch of their own (views, not copies)."""
        assert 0 <= start <= stop <= len(self)
        columns = {name: getattr(self, name)[start:stop] for name, _ in COLUMNS}
        admin = {row - start: c for row, c in self.admin.items() if start <= row < stop}
        return Batch(**columns, admin=admin)

    def command(self, row: int) -> Command:
        """The typed command at ``row`` (the inverse of ``Batch.of``)."""
        kind = Kind(int(self.kind[row]))
        if kind > MONEY_KIND_MAX:
            return self.admin[row]
        command_id = self.command_id(row)
        linked = bool(self.flags[row] & FLAG_LINKED)
        debit, credit = int(self.debit[row]), int(self.credit[row])
        amount = int(self.amount[row])
        if kind == Kind.TRANSFER:
            return Transfer(command_id, debit, credit, amount, linked)
        if kind == Kind.HOLD:
            return Hold(command_id, debit, credit, amount, int(self.timeout_ns[row]), linked)
        hold_id = (int(self.ref_hi[row]) << 64) | int(self.ref_lo[row])
        if kind == Kind.POST_HOLD:
            full = bool(self.flags[row] & FLAG_POST_FULL)
            return PostHold(command_id, hold_id, None if full else amount, linked)
        if kind == Kind.VOID_HOLD:
            return VoidHold(command_id, hold_id, linked)
        if kind == Kind.ISSUE:
            return Issue(command_id, credit, amount, linked)
        if kind == Kind.CROSS_PAYMENT:
            priority = Priority((int(self.flags[row]) & PRIORITY_MASK) >> PRIORITY_SHIFT)
            quote_id = (int(self.ref_hi[row]) << 64) | int(self.ref_lo[row])
            return CrossPayment(command_id, debit, credit, amount, quote_id or None, priority,
                                int(self.timeout_ns[row]))  # fmt: skip
        if kind == Kind.PAYMENT:
            priority = Priority((int(self.flags[row]) & PRIORITY_MASK) >> PRIORITY_SHIFT)
            till_ns = int(self.ref_lo[row])
            return Payment(command_id, debit, credit, amount, priority,
                           int(self.timeout_ns[row]), till_ns)  # fmt: skip
        assert kind == Kind.REDEEM
        return Redeem(command_id, debit, amount, linked)

    def commands(self) -> list[Command]:
        return [self.command(row) for row in range(len(self))]

    # --- packed form -------------------------------------------------------------------

    def pack(self) -> bytes:
        admin_bytes = _admin_encode(self.admin)
        parts = [_HEADER.pack(_MAGIC, len(self), len(admin_bytes))]
        parts.extend(getattr(self, name).tobytes() for name, _ in COLUMNS)
        parts.append(admin_bytes)
        return b"".join(parts)

    @staticmethod
    def unpack(data: bytes | memoryview) -> Batch:
        """Read a packed batch; ValueError when the bytes are not one."""
        view = memoryview(data)
        if len(view) < _HEADER.size:
            raise ValueError("packed batch: truncated header")
        magic, rows, admin_size = _HEADER.unpack_from(view, 0)
        if magic != _MAGIC:
            raise ValueError("packed batch: bad magic")
        expected = _HEADER.size + rows * BYTES_PER_ROW + admin_size
        if len(view) != expected:
            raise ValueError(f"packed batch: {len(view)} bytes, expected {expected}")
        offset = _HEADER.size
        columns: dict[str, Any] = {}
        for name, dtype in COLUMNS:
            size = rows * np.dtype(dtype).itemsize
            columns[name] = np.frombuffer(view, dtype=dtype, count=rows, offset=offset)
            offset += size
        try:
            admin = _admin_decode(bytes(view[offset:]), columns["id_hi"], columns["id_lo"])
            return Batch(**columns, admin=admin)
        except (TypeError, KeyError, IndexError, AssertionError, ValueError) as error:
            if isinstance(error, CommandFormatError):
                raise ValueError(f"packed batch: {error}") from error
            raise ValueError(f"packed batch: bad administrative record: {error!r}") from error


# --- field checks at the boundary --------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _command_id(value: object, row: int) -> int:
    if not _is_int(value) or not 0 < value <= COMMAND_ID_MAX:  # type: ignore[operator]
        raise CommandFormatError("FF01", "ids are integers from 1 to 2**128-1", row)
    return value  # type: ignore[return-value]


def _account_id(value: object, row: int) -> int:
    if not _is_int(value) or not 0 < value <= ACCOUNT_ID_MAX:  # type: ignore[operator]
        raise CommandFormatError("AC01", "account ids are integers from 1 to 2**63-1", row)
    return value  # type: ignore[return-value]


def _amount(value: object, row: int) -> int:
    if not _is_int(value):
        raise CommandFormatError("AM12", "amounts are integers in minor units", row)
    if not -_INT64_MAX <= value <= _INT64_MAX:  # type: ignore[operator]
        raise CommandFormatError("AM02", "the amount does not fit in 64 bits", row)
    return value  # type: ignore[return-value]


def _time_ns(value: object, name: str, row: int) -> int:
    if not _is_int(value) or not 0 <= value <= _INT64_MAX:  # type: ignore[operator]
        raise CommandFormatError("FF01", f"{name} is int nanoseconds UTC, 0 for none", row)
    return value  # type: ignore[return-value]


def _int64(value: object, name: str, row: int) -> int:
    if not _is_int(value) or not -_INT64_MAX <= value <= _INT64_MAX:  # type: ignore[operator]
        raise CommandFormatError("FF01", f"{name} is a 64-bit integer", row)
    return value  # type: ignore[return-value]


# --- administrative commands as canonical JSON ---------------------------------------------


def admin_fields(command: AdminCommand) -> dict[str, Any]:
    """The JSON fields of an administrative command (enums as their values)."""
    fields: dict[str, Any] = {}
    for name in command.__slots__:
        value = getattr(command, name)
        if name == "id":
            continue
        if isinstance(value, Role | AccountKind):
            value = value.value
        elif isinstance(value, Priority):
            value = int(value)
        elif isinstance(value, tuple):
            value = list(value)
        fields[name] = value
    return fields


def _admin_encode(admin: Mapping[int, AdminCommand]) -> bytes:
    if not admin:
        return b""
    rows = [
        [row, int(KIND_OF[type(command)]), admin_fields(command)]
        for row, command in sorted(admin.items())
    ]
    return json.dumps(rows, separators=(",", ":"), sort_keys=True).encode()


def _admin_decode(data: bytes, id_hi: U64, id_lo: U64) -> dict[int, AdminCommand]:
    if not data:
        return {}
    decoded: dict[int, AdminCommand] = {}
    for row, kind, fields in json.loads(data):
        if not isinstance(fields, dict) or Kind(kind) <= MONEY_KIND_MAX:
            raise ValueError(f"packed batch: row {row} is not an administrative record")
        command_id = (int(id_hi[row]) << 64) | int(id_lo[row])
        decoded[row] = _admin_build(COMMAND_OF[Kind(kind)], fields, command_id)
    return decoded


def _admin_build(cls: type, fields: dict[str, Any], command_id: int) -> AdminCommand:
    values = dict(fields)
    if cls is RegisterParticipant:
        values["role"] = Role(values["role"])
    if cls is OpenAccount:
        values["kind"] = AccountKind(values["kind"])
    if "priority" in values:
        values["priority"] = Priority(values["priority"])
    if "payment_ids" in values:
        values["payment_ids"] = tuple(values["payment_ids"])
    command: AdminCommand = cls(id=command_id, **values)
    return command


# Field types of administrative commands, checked at the boundary so the engine never
# meets a value it cannot compare or hash (a list as a BIC, a float as an account id).
_ADMIN_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "payment_id": (int,),
    "by_bic": (str, type(None)),
    "priority": (Priority,),
    "to_front": (bool,),
    "counterparty_bic": (str,),
    "limit_minor": (int,),
    "amount_minor": (int,),
    "payment_ids": (tuple,),
    "quote_id": (int,),
    "provider_bic": (str,),
    "sender_bic": (str,),
    "message_sha256": (str,),
    "from_currency": (str,),
    "to_currency": (str,),
    "rate": (str,),
    "amount_min_minor": (int,),
    "amount_max_minor": (int,),
    "expires_at_ns": (int,),
    "fee_minor": (int,),
    "bic": (str,),
    "name": (str,),
    "role": (Role,),
    "currency": (str,),
    "account_id": (int,),
    "kind": (AccountKind,),
    "credit_line_minor": (int,),
}
_TEXT_LENGTH_MAX = 1_000
_SET_PAYMENTS_MAX = 1 << 20


def _admin_check(command: AdminCommand, row: int) -> None:
    _command_id(command.id, row)
    for name in command.__slots__:
        if name == "id":
            continue
        value = getattr(command, name)
        if name == "currency" and value is None and isinstance(command, RegisterParticipant):
            continue
        allowed = _ADMIN_FIELD_TYPES[name]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise CommandFormatError("FF01", f"{name} has the wrong type", row)
        if name == "payment_ids":
            assert isinstance(value, tuple)
            if len(value) > _SET_PAYMENTS_MAX or not all(_is_int(v) for v in value):
                raise CommandFormatError("FF01", "payment_ids is a list of payment ids", row)
            for payment_id in value:
                _command_id(payment_id, row)
        if name in ("payment_id", "quote_id"):
            _command_id(value, row)
        if isinstance(value, str) and len(value) > _TEXT_LENGTH_MAX:
            raise CommandFormatError("FF01", f"{name} is too long", row)


ADMIN_TYPES = (
    RegisterParticipant,
    OpenAccount,
    CloseAccount,
    SetCreditLine,
    SuspendParticipant,
    ReactivateParticipant,
)
