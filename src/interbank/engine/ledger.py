"""The engine: a deterministic state machine over accounts, holds and command ids.

``Engine.apply(batch, timestamp_ns)`` is the one way state changes. Money commands run
in the compiled kernel over columnar arrays; administrative commands (participants,
accounts, credit lines) run here, one by one, in their place in the batch. Nothing in
this module reads a clock, a random source, a file or the environment: the caller
stamps every batch, so replaying the same batches gives the same state and digest.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from schwifty import BIC
from schwifty.exceptions import SchwiftyException

from interbank.engine import kernel
from interbank.engine.batch import PRIORITY_MASK, PRIORITY_SHIFT, Batch, admin_fields
from interbank.engine.codes import ResultCode
from interbank.engine.commands import (
    ACCOUNT_ID_MAX,
    KERNEL_KIND_MAX,
    MONEY_KIND_MAX,
    AccountKind,
    AdminApplied,
    AdminCommand,
    CancelPayment,
    ChangePriority,
    CloseAccount,
    Command,
    CrossPayment,
    EndOfDay,
    Event,
    HoldPlaced,
    HoldReleased,
    Kind,
    MovePayment,
    OpenAccount,
    Priority,
    PublishQuote,
    ReactivateParticipant,
    RecordMessage,
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
    TransferSettled,
    WithdrawQuote,
)
from interbank.engine.pvp import CrossCurrency, PriceView, QuoteView
from interbank.engine.rtgs import Queues, Waiting, WaitView
from interbank.money import MoneyError, currency

_SNAPSHOT_MAGIC = b"IBS1"
_DIGEST_FORMAT = b"interbank-state-v1"
_NAME_LENGTH_MAX = 140
_INT64_MAX = 2**63 - 1
# ISO 9362: 4 party-prefix, 2 country, 2 suffix characters, then an optional branch.
_SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
_BIC_PATTERN = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Limits of one engine. Every limit has its unit in its name."""

    idempotency_window_commands: int = 1 << 20
    accounts_max: int = 1 << 22
    participants_max: int = 1 << 16
    holds_max: int = 1 << 24
    amount_minor_max: int = 10**17
    balance_minor_abs_max: int = 4 * 10**18
    batch_commands_max: int = 1 << 16
    check_invariants: bool = True
    queue_payments_max: int = 1 << 20
    till_warning_ns: int = 15 * 60 * 10**9
    lsm_bypass_passes_max: int = 3
    lsm_rounds_max: int = 8
    quotes_max: int = 1 << 16
    fx_reference_currencies: tuple[str, ...] = ("USD", "CNY")

    def __post_init__(self) -> None:
        # JSON (snapshots, the journal's metadata) gives back a list: keep one type.
        object.__setattr__(self, "fx_reference_currencies", tuple(self.fx_reference_currencies))
        assert self.idempotency_window_commands >= self.batch_commands_max >= 1, (
            "a batch must fit in the idempotency window so a chain cannot evict itself"
        )
        assert 0 < self.amount_minor_max <= self.balance_minor_abs_max <= 4 * 10**18
        assert self.accounts_max >= 1 and self.participants_max >= 1 and self.holds_max >= 1


@dataclass(frozen=True, slots=True)
class AccountView:
    account_id: int
    bic: str
    currency: str
    kind: AccountKind
    balance_minor: int
    held_minor: int
    floor_minor: int
    closed: bool

    @property
    def available_minor(self) -> int:
        return self.balance_minor - self.held_minor

    @property
    def credit_line_minor(self) -> int:
        return -self.floor_minor if self.kind == AccountKind.SETTLEMENT else 0


@dataclass(frozen=True, slots=True)
class ParticipantView:
    bic: str
    name: str
    role: Role
    currency: str | None
    suspended: bool


@dataclass(frozen=True, slots=True)
class HoldView:
    hold_id: int
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    expires_at_ns: int
    state: str
    posted_minor: int


_HOLD_STATES = {
    kernel.HOLD_PENDING: "pending",
    kernel.HOLD_POSTED: "posted",
    kernel.HOLD_VOIDED: "voided",
    kernel.HOLD_EXPIRED_STATE: "expired",
}


class BatchResult:
    """Per-row results of one applied batch, in columnar form."""

    __slots__ = (
        "_batch", "codes", "expired_holds", "queue_events", "replayed", "settled", "timestamp_ns",
    )  # fmt: skip

    def __init__(
        self,
        batch: Batch,
        codes: npt.NDArray[np.uint8],
        replayed: npt.NDArray[np.uint8],
        settled: int,
        timestamp_ns: int,
        expired_holds: list[int],
    ) -> None:
        assert len(codes) == len(replayed) == len(batch)
        self._batch = batch
        self.codes = codes
        self.replayed = replayed
        self.settled = settled
        self.timestamp_ns = timestamp_ns
        self.expired_holds = expired_holds
        # Events of waiting payments (settled later, rejected, warned), in order.
        self.queue_events: list[Event] = []

    def __len__(self) -> int:
        return len(self.codes)

    def result(self, row: int) -> Result:
        return Result(
            command_id=self._batch.command_id(row),
            code=ResultCode(int(self.codes[row])),
            replayed=bool(self.replayed[row]),
        )

    def results(self) -> list[Result]:
        return [self.result(row) for row in range(len(self))]

    def ok_count(self) -> int:
        return int(np.count_nonzero(self.codes == ResultCode.OK))


@dataclass(slots=True)
class _Participant:
    bic: str
    name: str
    role: Role
    currency: str | None
    suspended: bool


def _grow(array: npt.NDArray[Any], size: int) -> npt.NDArray[Any]:
    grown = np.zeros(size, dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _pow2_at_least(n: int) -> int:
    return 1 << max(4, (n - 1).bit_length())


class Engine:
    """The settlement state machine. Single-threaded: one writer applies batches."""

    canonical = staticmethod(lambda bic: canonical_bic(bic))

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self.timestamp_ns = 0
        self.commands_applied = 0
        s = self.settings
        # Currencies seen so far, in order of first use (index = kernel currency number).
        self._currencies: list[str] = []
        self._currency_index: dict[str, int] = {}
        self._issuer_slot = np.full(0, -1, dtype=np.int64)
        # Participants.
        self._participants: list[_Participant] = []
        self._participant_index: dict[str, int] = {}
        self._part_suspended = np.zeros(16, dtype=np.uint8)
        # Accounts: one slot each, in order of opening.
        self._accounts = 0
        self._account_index: dict[int, int] = {}
        self._account_key: dict[tuple[int, int, int], int] = {}
        self._acc_id = np.zeros(16, dtype=np.int64)
        self._acc_balance = np.zeros(16, dtype=np.int64)
        self._acc_held = np.zeros(16, dtype=np.int64)
        self._acc_floor = np.zeros(16, dtype=np.int64)
        self._acc_currency = np.zeros(16, dtype=np.int32)
        self._acc_flags = np.zeros(16, dtype=np.uint8)
        self._acc_participant = np.zeros(16, dtype=np.int32)
        self._sorted_ids = np.zeros(0, dtype=np.int64)
        self._sorted_slots = np.zeros(0, dtype=np.int64)
        self._sorted_stale = False
        # Idempotency: a ring of the last N command ids and a hash table over it.
        window = s.idempotency_window_commands
        table = _pow2_at_least(2 * window)
        self._idem_hi = np.zeros(table, dtype=np.uint64)
        self._idem_lo = np.zeros(table, dtype=np.uint64)
        self._idem_val = np.zeros(table, dtype=np.int64)
        self._ring_hi = np.zeros(window, dtype=np.uint64)
        self._ring_lo = np.zeros(window, dtype=np.uint64)
        self._ring_fp = np.zeros(window, dtype=np.uint64)
        self._ring_code = np.zeros(window, dtype=np.uint8)
        self._meta = np.zeros(kernel.META_SIZE, dtype=np.int64)
        # Holds: append-only records plus a hash table by hold id.
        self._hold_keys_hi = np.zeros(16, dtype=np.uint64)
        self._hold_keys_lo = np.zeros(16, dtype=np.uint64)
        self._hold_vals = np.zeros(16, dtype=np.int64)
        self._hold_id_hi = np.zeros(8, dtype=np.uint64)
        self._hold_id_lo = np.zeros(8, dtype=np.uint64)
        self._hold_debit = np.zeros(8, dtype=np.int64)
        self._hold_credit = np.zeros(8, dtype=np.int64)
        self._hold_amount = np.zeros(8, dtype=np.int64)
        self._hold_expires_ns = np.zeros(8, dtype=np.int64)
        self._hold_state = np.zeros(8, dtype=np.uint8)
        self._hold_posted = np.zeros(8, dtype=np.int64)
        # Pending holds with an expiry, by expiry time (derived; rebuilt on restore).
        self._expiry_heap: list[tuple[int, int]] = []
        # RTGS payments that wait, limits, reservations, the business day.
        self._queues = Queues(self)
        # FX quotes and cross-currency payments waiting as one unit.
        self._fx = CrossCurrency(self)

    # --- applying commands ------------------------------------------------------------

    def apply(self, batch: Batch, timestamp_ns: int) -> BatchResult:
        """Apply a batch stamped ``timestamp_ns``; every row gets a result code."""
        rows = len(batch)
        # Checked before anything changes (and not with assert, which -O removes): a bad
        # stamp must not move the clock or expire holds.
        if not _is_int(timestamp_ns) or not self.timestamp_ns <= timestamp_ns <= _INT64_MAX:
            raise ValueError(
                f"batch stamp {timestamp_ns!r} is not an int64 at or after {self.timestamp_ns}"
            )
        if rows > self.settings.batch_commands_max:
            raise ValueError(f"batch of {rows} commands is over batch_commands_max")
        previous_ns, self.timestamp_ns = self.timestamp_ns, timestamp_ns
        expired = self._expire_holds(timestamp_ns)
        queues = self._queues
        queues.events = []
        queues.on_time(previous_ns, timestamp_ns)
        self._fx.on_time(timestamp_ns)
        if expired and queues.waiting:  # released holds are liquidity again
            queues.dirty.update(w.currency for w in queues.waiting.values())
        codes = np.zeros(rows, dtype=np.uint8)
        replayed = np.zeros(rows, dtype=np.uint8)
        settled = 0
        start = 0
        # Rows the kernel does not run: administrative commands and RTGS payments.
        python_rows = sorted(batch.admin)
        if rows and int(batch.kind.max()) > KERNEL_KIND_MAX:
            python_rows = np.flatnonzero(batch.kind > KERNEL_KIND_MAX).tolist()
        for stop in [*python_rows, rows]:
            if stop > start:
                moved = self._apply_money(batch, start, stop, timestamp_ns, codes, replayed)
                settled += moved
                if moved and queues.waiting:
                    self._mark_credited_senders(batch, start, stop, codes, replayed)
            if stop < rows:
                if stop in batch.admin:
                    code, was_replayed = self._apply_admin(batch, stop)
                elif batch.kind[stop] in (Kind.PAYMENT, Kind.CROSS_PAYMENT):
                    code, was_replayed = self._apply_payment(batch, stop, timestamp_ns)
                else:  # an administrative kind without its record, or no kind at all
                    code, was_replayed = ResultCode.KIND_UNKNOWN, 0
                codes[stop] = code
                replayed[stop] = was_replayed
                settled += int(code == ResultCode.OK and not was_replayed)
            start = stop + 1
        queues.resolve_dirty(timestamp_ns)
        fx = self._fx
        if fx.waiting and (settled or fx.dirty or expired):
            # Liquidity may have reached a leg's debtor: retry the waiting PvP pairs,
            # then let the queues use what those legs brought.
            fx.retry(timestamp_ns)
            queues.resolve_dirty(timestamp_ns)
        fx.dirty = False
        self.commands_applied += rows
        if self.settings.check_invariants:
            self._assert_invariants()
        result = BatchResult(batch, codes, replayed, settled, timestamp_ns, expired)
        result.queue_events = queues.events
        return result

    def execute(self, command: Command, timestamp_ns: int) -> Result:
        """Apply one command: the same rules as a batch, because it is a batch of one."""
        return self.apply(Batch.of([command]), timestamp_ns).result(0)

    def execute_many(self, commands: Sequence[Command], timestamp_ns: int) -> list[Result]:
        return self.apply(Batch.of(commands), timestamp_ns).results()

    def _apply_money(
        self,
        batch: Batch,
        start: int,
        stop: int,
        timestamp_ns: int,
        codes: npt.NDArray[np.uint8],
        replayed: npt.NDArray[np.uint8],
    ) -> int:
        rows = stop - start
        holds_before = int(self._meta[kernel.META_HOLDS])
        self._reserve_holds(holds_before + rows)
        row_ring = np.empty(len(batch), dtype=np.int64)
        undo = 4 * rows
        s = self.settings
        self._sorted_account_slots()
        # The kernel reads this only on hold rows: sized for the batch when it has any.
        has_holds = bool(np.any(batch.kind[start:stop] == Kind.HOLD))
        hold_id_taken = np.zeros(len(batch) if has_holds else 0, dtype=np.uint8)
        if has_holds and holds_before:
            kernel.holds_taken(
                batch.kind, batch.id_hi, batch.id_lo, start, stop,
                self._hold_keys_hi, self._hold_keys_lo, self._hold_vals, hold_id_taken,
            )  # fmt: skip
        settled: int = kernel.apply_money(
            start, stop, timestamp_ns,
            batch.kind, batch.flags, batch.id_hi, batch.id_lo, batch.debit, batch.credit,
            batch.amount, batch.ref_hi, batch.ref_lo, batch.timeout_ns,
            self._sorted_ids, self._sorted_slots,
            self._acc_id, self._acc_balance, self._acc_held, self._acc_floor,
            self._acc_currency, self._acc_flags, self._acc_participant,
            self._part_suspended, self._issuer_slot,
            self._idem_hi, self._idem_lo, self._idem_val,
            self._ring_hi, self._ring_lo, self._ring_fp, self._ring_code,
            self._hold_keys_hi, self._hold_keys_lo, self._hold_vals,
            self._hold_id_hi, self._hold_id_lo, self._hold_debit, self._hold_credit,
            self._hold_amount, self._hold_expires_ns, self._hold_state, self._hold_posted,
            self._meta, s.amount_minor_max, s.balance_minor_abs_max, s.holds_max,
            codes, replayed, row_ring,
            np.empty(undo, dtype=np.int64), np.empty(undo, dtype=np.int64),
            np.empty(undo, dtype=np.int64), np.empty(undo, dtype=np.int64), hold_id_taken,
        )  # fmt: skip
        for hold in range(holds_before, int(self._meta[kernel.META_HOLDS])):
            expires_ns = int(self._hold_expires_ns[hold])
            if expires_ns > 0:
                heapq.heappush(self._expiry_heap, (expires_ns, hold))
        return settled

    def _mark_credited_senders(
        self,
        batch: Batch,
        start: int,
        stop: int,
        codes: npt.NDArray[np.uint8],
        replayed: npt.NDArray[np.uint8],
    ) -> None:
        """Liquidity arrived: the queues of every currency in which an account with
        waiting payments was credited get a liquidity-saving run after this batch."""
        queues = self._queues
        applied = (codes[start:stop] == ResultCode.OK) & (replayed[start:stop] == 0)
        kinds = batch.kind[start:stop][applied]
        # A post credits the hold's account and a void frees held liquidity: be broad.
        if np.any((kinds == Kind.POST_HOLD) | (kinds == Kind.VOID_HOLD)):
            queues.dirty.update(w.currency for w in queues.waiting.values())
            return
        credited = batch.credit[start:stop][applied]
        senders = self._acc_id[np.fromiter(queues.by_sender, dtype=np.int64)]
        for account_id in np.unique(credited[np.isin(credited, senders)]).tolist():
            queues.dirty.add(int(self._acc_currency[self._account_index[account_id]]))

    def _reserve_holds(self, holds_needed: int) -> None:
        capacity = len(self._hold_id_hi)
        if holds_needed > capacity:
            size = max(holds_needed, 2 * capacity)
            for name in (
                "_hold_id_hi", "_hold_id_lo", "_hold_debit", "_hold_credit", "_hold_amount",
                "_hold_expires_ns", "_hold_state", "_hold_posted",
            ):  # fmt: skip
                setattr(self, name, _grow(getattr(self, name), size))
        # Keep the hold table at most half full so probes stay short.
        if 2 * holds_needed > len(self._hold_vals):
            self._rebuild_hold_table(_pow2_at_least(4 * holds_needed))

    def _rebuild_hold_table(self, table_size: int) -> None:
        self._hold_keys_hi = np.zeros(table_size, dtype=np.uint64)
        self._hold_keys_lo = np.zeros(table_size, dtype=np.uint64)
        self._hold_vals = np.zeros(table_size, dtype=np.int64)
        kernel.table_fill(
            self._hold_keys_hi, self._hold_keys_lo, self._hold_vals,
            self._hold_id_hi, self._hold_id_lo, int(self._meta[kernel.META_HOLDS]),
        )  # fmt: skip

    def _expire_holds(self, timestamp_ns: int) -> list[int]:
        """Release every pending hold whose expiry is at or before this batch's stamp."""
        expired: list[int] = []
        heap = self._expiry_heap
        while heap and heap[0][0] <= timestamp_ns:
            _, hold = heapq.heappop(heap)
            if self._hold_state[hold] != kernel.HOLD_PENDING:
                continue
            debit = int(self._hold_debit[hold])
            self._acc_held[debit] -= self._hold_amount[hold]
            assert self._acc_held[debit] >= 0
            self._hold_state[hold] = kernel.HOLD_EXPIRED_STATE
            expired.append(hold)
        return expired

    # --- RTGS payments ---------------------------------------------------------------

    def _apply_payment(self, batch: Batch, row: int, timestamp_ns: int) -> tuple[int, int]:
        """A payment or a cross-currency payment: idempotency, then its entry."""
        hi, lo = batch.id_hi[row], batch.id_lo[row]
        fp = np.uint64(kernel.fingerprint(
            int(batch.kind[row]), int(batch.flags[row]), int(batch.debit[row]),
            int(batch.credit[row]), int(batch.amount[row]), batch.ref_hi[row],
            batch.ref_lo[row], int(batch.timeout_ns[row]),
        ))  # fmt: skip
        seen = kernel.table_find(self._idem_hi, self._idem_lo, self._idem_val, hi, lo)
        if seen >= 0:
            at = int(self._idem_val[seen]) - 1
            if self._ring_fp[at] == fp:
                return int(self._ring_code[at]), 1
            return ResultCode.ID_REUSED, 0
        if batch.kind[row] == Kind.CROSS_PAYMENT:
            code = self._cross_code(batch, row, timestamp_ns)
        else:
            code = self._payment_code(batch, row, timestamp_ns)
        kernel.idem_record(
            self._idem_hi, self._idem_lo, self._idem_val, self._ring_hi, self._ring_lo,
            self._ring_fp, self._ring_code, self._meta, hi, lo, fp, int(code),
        )  # fmt: skip
        return code, 0

    def _payment_parties(self, batch: Batch, row: int) -> tuple[int, int, int] | ResultCode:
        """Checks shared by payments and cross-currency payments (all but funds, currency
        and limits): amount, both accounts, owners, priority. (debit, credit, priority)."""
        amount = int(batch.amount[row])
        if amount == 0:
            return ResultCode.AMOUNT_ZERO
        if amount < 0:
            return ResultCode.AMOUNT_NEGATIVE
        if amount > self.settings.amount_minor_max:
            return ResultCode.AMOUNT_OVER_LIMIT
        index = self._account_index
        debit = index.get(int(batch.debit[row]), -1)
        credit = index.get(int(batch.credit[row]), -1)
        if debit < 0:
            return ResultCode.DEBIT_ACCOUNT_NOT_FOUND
        if credit < 0:
            return ResultCode.CREDIT_ACCOUNT_NOT_FOUND
        if debit == credit:
            return ResultCode.ACCOUNTS_MUST_DIFFER
        flags_d, flags_c = int(self._acc_flags[debit]), int(self._acc_flags[credit])
        if flags_d & kernel.ACC_CLOSED:
            return ResultCode.DEBIT_ACCOUNT_CLOSED
        if flags_c & kernel.ACC_CLOSED:
            return ResultCode.CREDIT_ACCOUNT_CLOSED
        if (flags_d | flags_c) & kernel.ACC_ISSUANCE:
            return ResultCode.ISSUANCE_ACCOUNT_FORBIDDEN
        sender = self._participants[int(self._acc_participant[debit])]
        if sender.suspended:
            return ResultCode.DEBIT_PARTICIPANT_SUSPENDED
        if self._participants[int(self._acc_participant[credit])].suspended:
            return ResultCode.CREDIT_PARTICIPANT_SUSPENDED
        priority = (int(batch.flags[row]) & PRIORITY_MASK) >> PRIORITY_SHIFT
        if priority > Priority.URGENT:
            return ResultCode.KIND_UNKNOWN
        if priority == Priority.URGENT and sender.role != Role.CENTRAL_BANK:
            return ResultCode.URGENT_NOT_ALLOWED
        return debit, credit, priority

    def _payment_code(self, batch: Batch, row: int, timestamp_ns: int) -> ResultCode:
        """The transfer checks (all but funds), then the RTGS entry disposition."""
        parties = self._payment_parties(batch, row)
        if isinstance(parties, ResultCode):
            return parties
        debit, credit, priority = parties
        amount = int(batch.amount[row])
        if self._acc_currency[debit] != self._acc_currency[credit]:
            return ResultCode.CURRENCY_MISMATCH
        from_ns, till_ns = int(batch.timeout_ns[row]), int(batch.ref_lo[row])
        if till_ns and till_ns < from_ns:
            return ResultCode.TILL_BEFORE_FROM
        if int(self._acc_balance[credit]) > self.settings.balance_minor_abs_max - amount:
            return ResultCode.BALANCE_LIMIT
        waiting = Waiting(
            payment_id=batch.command_id(row), debit=debit, credit=credit,
            currency=int(self._acc_currency[debit]), amount_minor=amount, priority=priority,
            from_ns=from_ns, till_ns=till_ns, order=0,
        )  # fmt: skip
        return self._queues.admit(waiting, timestamp_ns)

    def _cross_code(self, batch: Batch, row: int, timestamp_ns: int) -> ResultCode:
        """The shared payment checks, then routing through quotes, then PvP entry."""
        parties = self._payment_parties(batch, row)
        if isinstance(parties, ResultCode):
            return parties
        debit, credit, priority = parties
        currencies = (int(self._acc_currency[debit]), int(self._acc_currency[credit]))
        if currencies[0] == currencies[1]:
            return ResultCode.PVP_SAME_CURRENCY
        if any(c in self._queues.closed_days for c in currencies):
            return ResultCode.DAY_CLOSED
        till_ns = int(batch.timeout_ns[row])
        if till_ns and till_ns <= timestamp_ns:
            return ResultCode.TILL_PASSED
        quote_id = (int(batch.ref_hi[row]) << 64) | int(batch.ref_lo[row])
        route = self._fx.route(debit, credit, int(batch.amount[row]), quote_id or None,
                               timestamp_ns)  # fmt: skip
        if isinstance(route, ResultCode):
            return route
        abs_max = self.settings.balance_minor_abs_max
        if any(int(self._acc_balance[leg.credit]) > abs_max - leg.amount_minor
               for leg in route.legs):  # fmt: skip
            return ResultCode.BALANCE_LIMIT
        return self._fx.admit(batch.command_id(row), route, priority, till_ns, timestamp_ns)

    def price(
        self, debit_account_id: int, credit_account_id: int, amount_minor: int,
        quote_id: int | None = None,
    ) -> PriceView | ResultCode:  # fmt: skip
        """What a cross-currency payment would deliver now, before committing to it."""
        probe = Batch.of([CrossPayment(1, debit_account_id, credit_account_id, amount_minor,
                                       quote_id)])  # fmt: skip
        parties = self._payment_parties(probe, 0)
        if isinstance(parties, ResultCode):
            return parties
        debit, credit, _ = parties
        if self._acc_currency[debit] == self._acc_currency[credit]:
            return ResultCode.PVP_SAME_CURRENCY
        route = self._fx.route(debit, credit, amount_minor, quote_id, self.timestamp_ns)
        return route if isinstance(route, ResultCode) else self._fx.price(route)

    def waiting(self, payment_id: int) -> WaitView | None:
        """Why a payment waits and its place in the queue; None when it is not waiting."""
        payment = self._queues.waiting.get(payment_id) if _is_int(payment_id) else None
        return None if payment is None else self._queues.wait_view(payment)

    def queue(self, account_id: int) -> list[WaitView]:
        """An account's waiting payments in queue order, each with why it waits."""
        slot = self._slot(account_id)
        if slot < 0:
            return []
        return [self._queues.wait_view(w) for w in self._queues._sender_queue(slot)]

    def quotes(self) -> list[QuoteView]:
        """The FX quote book (withdrawn quotes are gone; expired ones stay until purged)."""
        return self._fx.views()

    def waiting_count(self) -> int:
        return len(self._queues.waiting)

    # --- administrative commands ------------------------------------------------------

    def _apply_admin(self, batch: Batch, row: int) -> tuple[int, int]:
        command = batch.admin[row]
        hi, lo = batch.id_hi[row], batch.id_lo[row]
        fp = _admin_fingerprint(batch, row)
        seen = kernel.table_find(self._idem_hi, self._idem_lo, self._idem_val, hi, lo)
        if seen >= 0:
            at = int(self._idem_val[seen]) - 1
            if int(self._ring_fp[at]) == fp:
                return int(self._ring_code[at]), 1
            return ResultCode.ID_REUSED, 0
        code = self._admin_code(command)
        kernel.idem_record(
            self._idem_hi, self._idem_lo, self._idem_val, self._ring_hi, self._ring_lo,
            self._ring_fp, self._ring_code, self._meta, hi, lo, np.uint64(fp), int(code),
        )  # fmt: skip
        return code, 0

    def _admin_code(self, command: AdminCommand) -> ResultCode:
        """Validate and apply one administrative command; all checks come before effects."""
        if isinstance(command, RegisterParticipant):
            return self._register(command)
        if isinstance(command, OpenAccount):
            return self._open_account(command)
        if isinstance(command, CloseAccount):
            slot = self._slot(command.account_id)
            if slot < 0:
                return ResultCode.ACCOUNT_NOT_FOUND
            if self._acc_flags[slot] & kernel.ACC_CLOSED:
                return ResultCode.ACCOUNT_ALREADY_CLOSED
            if self._acc_balance[slot] != 0 or self._acc_held[slot] != 0:
                return ResultCode.ACCOUNT_NOT_EMPTY
            self._acc_flags[slot] |= kernel.ACC_CLOSED
            # The owner may open a new account of this kind and currency later; a closed
            # issuance account issues nothing until its central bank opens a new one.
            del self._account_key[self._key_of(slot)]
            if self._acc_flags[slot] & kernel.ACC_ISSUANCE:
                self._issuer_slot[int(self._acc_currency[slot])] = -1
            return ResultCode.OK
        if isinstance(command, SetCreditLine):
            slot = self._slot(command.account_id)
            if slot < 0:
                return ResultCode.ACCOUNT_NOT_FOUND
            if self._acc_flags[slot] & kernel.ACC_CLOSED:
                return ResultCode.ACCOUNT_ALREADY_CLOSED
            line = command.credit_line_minor
            if (
                self._acc_flags[slot] & kernel.ACC_ISSUANCE
                or not _is_int(line)
                or not 0 <= line <= self.settings.balance_minor_abs_max
            ):
                return ResultCode.CREDIT_LINE_INVALID
            if int(self._acc_balance[slot]) - int(self._acc_held[slot]) < -line:
                return ResultCode.CREDIT_LINE_BELOW_USAGE
            self._acc_floor[slot] = -line
            if slot in self._queues.by_sender:  # more credit may release its queue
                self._queues.dirty.add(int(self._acc_currency[slot]))
            return ResultCode.OK
        if isinstance(command, RecordMessage):
            if _SHA256_PATTERN.fullmatch(command.message_sha256) is None:
                return ResultCode.DIGEST_INVALID
            if canonical_bic(command.sender_bic) not in self._participant_index:
                return ResultCode.PARTICIPANT_NOT_FOUND
            return ResultCode.OK
        fx: CrossCurrency = self._fx
        if isinstance(command, PublishQuote):
            return fx.publish(command, self.timestamp_ns)
        if isinstance(command, WithdrawQuote):
            return fx.withdraw(command.quote_id, command.by_bic, self.timestamp_ns)
        if isinstance(command, CancelPayment) and command.payment_id in fx.waiting:
            return fx.cancel(command.payment_id, command.by_bic, self.timestamp_ns)
        if isinstance(command, CancelPayment | ChangePriority | MovePayment):
            return self._manage_payment(command)
        if isinstance(
            command,
            SetBilateralLimit | SetMultilateralLimit | SetReservation | ResolveGridlock
            | SettleSet | EndOfDay | StartOfDay,
        ):
            return self._rtgs_setting(command)
        if isinstance(command, SuspendParticipant | ReactivateParticipant):
            index = self._participant_index.get(canonical_bic(command.bic), -1)
            if index < 0:
                return ResultCode.PARTICIPANT_NOT_FOUND
            participant = self._participants[index]
            suspend = isinstance(command, SuspendParticipant)
            if participant.suspended == suspend:
                return (
                    ResultCode.PARTICIPANT_ALREADY_SUSPENDED
                    if suspend
                    else ResultCode.PARTICIPANT_NOT_SUSPENDED
                )
            participant.suspended = suspend
            self._part_suspended[index] = 1 if suspend else 0
            if not suspend:  # its queues, and payments to it, may move again
                self._queues.dirty.update(w.currency for w in self._queues.waiting.values())
            return ResultCode.OK
        return ResultCode.KIND_UNKNOWN

    def _manage_payment(self, command: CancelPayment | ChangePriority | MovePayment) -> ResultCode:
        queues = self._queues
        payment = queues.waiting.get(command.payment_id)
        if payment is None:
            return ResultCode.PAYMENT_NOT_QUEUED
        sender = self._participants[int(self._acc_participant[payment.debit])]
        if command.by_bic is not None and canonical_bic(command.by_bic) != sender.bic:
            return ResultCode.NOT_PAYMENT_SENDER
        now = self.timestamp_ns
        if isinstance(command, CancelPayment):
            queues.cancel(payment, now)
        elif isinstance(command, ChangePriority):
            if command.priority == Priority.URGENT and sender.role != Role.CENTRAL_BANK:
                return ResultCode.URGENT_NOT_ALLOWED
            payment.priority = int(command.priority)
            payment.order = queues.order_next  # joins the back of its new class
            queues.order_next += 1
            queues.dirty.add(payment.currency)
        else:
            queues.move(payment, command.to_front)
        return ResultCode.OK

    def _rtgs_setting(self, command: AdminCommand) -> ResultCode:
        queues = self._queues
        if isinstance(command, SetReservation):
            slot = self._slot(command.account_id)
            if slot < 0:
                return ResultCode.ACCOUNT_NOT_FOUND
            amount = command.amount_minor
            if (
                self._acc_flags[slot] & (kernel.ACC_ISSUANCE | kernel.ACC_CLOSED)
                or command.priority not in (Priority.URGENT, Priority.HIGH)
                or not 0 <= amount <= self.settings.balance_minor_abs_max
            ):
                return ResultCode.RESERVATION_INVALID
            urgent, high = queues.reserved.get(slot, (0, 0))
            if command.priority == Priority.URGENT:
                urgent = amount
            else:
                high = amount
            if urgent or high:
                queues.reserved[slot] = (urgent, high)
            else:
                queues.reserved.pop(slot, None)
            queues.dirty.add(int(self._acc_currency[slot]))
            return ResultCode.OK
        code = getattr(command, "currency", None)
        # Only currencies the network holds accounts in; a rejected command must not
        # register a new currency (the currency table is part of the state).
        if not isinstance(code, str) or not _currency_valid(code):
            return ResultCode.CURRENCY_UNKNOWN
        cur = self._currency_index.get(code, -1)
        if cur < 0:
            return ResultCode.CURRENCY_NOT_HELD
        now = self.timestamp_ns
        if isinstance(command, SetBilateralLimit | SetMultilateralLimit):
            owner = self._participant_index.get(canonical_bic(command.bic), -1)
            if owner < 0:
                return ResultCode.PARTICIPANT_NOT_FOUND
            limit = command.limit_minor
            if not 0 <= limit <= self.settings.balance_minor_abs_max:
                return ResultCode.LIMIT_INVALID
            if isinstance(command, SetBilateralLimit):
                other = self._participant_index.get(canonical_bic(command.counterparty_bic), -1)
                if other < 0:
                    return ResultCode.PARTICIPANT_NOT_FOUND
                if other == owner:
                    return ResultCode.LIMIT_INVALID
                key = (owner, other, cur)
                if limit:
                    queues.bilateral[key] = limit
                else:
                    queues.bilateral.pop(key, None)
            elif limit:
                queues.multilateral[(owner, cur)] = limit
            else:
                queues.multilateral.pop((owner, cur), None)
            queues.dirty.add(cur)
            return ResultCode.OK
        if isinstance(command, ResolveGridlock):
            queues.dirty.add(cur)
            return ResultCode.OK
        if isinstance(command, SettleSet):
            return queues.settle_set(cur, command.payment_ids, now)
        if isinstance(command, EndOfDay):
            self._fx.end_of_day(cur, now)
            queues.end_of_day(cur, now)
            return ResultCode.OK
        assert isinstance(command, StartOfDay)
        queues.start_of_day(cur)
        return ResultCode.OK

    def _register(self, command: RegisterParticipant) -> ResultCode:
        if not _bic_valid(command.bic):
            return ResultCode.BIC_INVALID
        bic = canonical_bic(command.bic)
        if bic in self._participant_index:
            return ResultCode.PARTICIPANT_EXISTS
        name = command.name
        if not isinstance(name, str) or not 0 < len(name) <= _NAME_LENGTH_MAX or not (
            name.isprintable()
        ):
            return ResultCode.NAME_INVALID
        try:
            role = Role(command.role)
        except ValueError:
            return ResultCode.ROLE_INVALID
        code = command.currency
        if role == Role.CENTRAL_BANK:
            if code is None:
                return ResultCode.ROLE_INVALID
            if not _currency_valid(code):
                return ResultCode.CURRENCY_UNKNOWN
            if any(p.role == Role.CENTRAL_BANK and p.currency == code for p in self._participants):
                return ResultCode.CENTRAL_BANK_EXISTS
        elif code is not None:
            return ResultCode.ROLE_INVALID
        if len(self._participants) >= self.settings.participants_max:
            return ResultCode.LIMIT_REACHED
        index = len(self._participants)
        self._participants.append(_Participant(bic, name, role, code, False))
        self._participant_index[bic] = index
        if index >= len(self._part_suspended):
            self._part_suspended = _grow(self._part_suspended, 2 * len(self._part_suspended))
        return ResultCode.OK

    def _open_account(self, command: OpenAccount) -> ResultCode:
        account_id = command.account_id
        if not _is_int(account_id) or not 0 < account_id <= ACCOUNT_ID_MAX:
            return ResultCode.ACCOUNT_ID_INVALID
        if account_id in self._account_index:
            return ResultCode.ACCOUNT_EXISTS
        owner = self._participant_index.get(canonical_bic(command.bic), -1)
        if owner < 0:
            return ResultCode.PARTICIPANT_NOT_FOUND
        if not _currency_valid(command.currency):
            return ResultCode.CURRENCY_UNKNOWN
        try:
            kind = AccountKind(command.kind)
        except ValueError:
            return ResultCode.ROLE_INVALID
        participant = self._participants[owner]
        if participant.suspended:
            return ResultCode.ACCOUNT_PARTICIPANT_SUSPENDED
        issuance = kind == AccountKind.ISSUANCE
        if issuance and not (
            participant.role == Role.CENTRAL_BANK and participant.currency == command.currency
        ):
            return ResultCode.ISSUANCE_NOT_ALLOWED
        line = command.credit_line_minor
        if not _is_int(line) or not 0 <= line <= self.settings.balance_minor_abs_max:
            return ResultCode.CREDIT_LINE_INVALID
        if issuance and line != 0:
            return ResultCode.CREDIT_LINE_INVALID
        if self._accounts >= self.settings.accounts_max:
            return ResultCode.LIMIT_REACHED
        cur = self._currency_number(command.currency)
        key = (owner, cur, int(issuance))
        if key in self._account_key:
            return ResultCode.ACCOUNT_EXISTS_FOR_CURRENCY
        slot = self._accounts
        if slot >= len(self._acc_id):
            size = 2 * len(self._acc_id)
            for name in (
                "_acc_id", "_acc_balance", "_acc_held", "_acc_floor", "_acc_currency",
                "_acc_flags", "_acc_participant",
            ):  # fmt: skip
                setattr(self, name, _grow(getattr(self, name), size))
        self._acc_id[slot] = account_id
        self._acc_balance[slot] = 0
        self._acc_held[slot] = 0
        # An issuance account is the counterpart of all money issued: no floor but the
        # engine-wide balance limit, which the kernel checks on every issue.
        self._acc_floor[slot] = -self.settings.balance_minor_abs_max if issuance else -line
        self._acc_currency[slot] = cur
        self._acc_flags[slot] = kernel.ACC_ISSUANCE if issuance else 0
        self._acc_participant[slot] = owner
        self._accounts += 1
        self._account_index[account_id] = slot
        self._account_key[key] = slot
        if issuance:
            self._issuer_slot[cur] = slot
        # Sorting once before the next money command, not once per account opened,
        # keeps a setup of n accounts O(n log n) instead of O(n^2 log n).
        self._sorted_stale = True
        return ResultCode.OK

    def _key_of(self, slot: int) -> tuple[int, int, int]:
        issuance = int(self._acc_flags[slot]) & kernel.ACC_ISSUANCE
        return (int(self._acc_participant[slot]), int(self._acc_currency[slot]), int(issuance > 0))

    def _currency_number(self, code: str) -> int:
        number = self._currency_index.get(code)
        if number is None:
            number = len(self._currencies)
            self._currencies.append(code)
            self._currency_index[code] = number
            self._issuer_slot = np.append(self._issuer_slot, np.int64(-1))
        return number

    def _sorted_account_slots(self) -> npt.NDArray[np.int64]:
        if self._sorted_stale:
            self._rebuild_sorted_ids()
        return self._sorted_slots

    def _rebuild_sorted_ids(self) -> None:
        self._sorted_stale = False
        ids = self._acc_id[: self._accounts]
        order = np.argsort(ids, kind="stable")
        self._sorted_ids = ids[order].copy()
        self._sorted_slots = order.astype(np.int64)

    def _slot(self, account_id: object) -> int:
        if not _is_int(account_id):
            return -1
        return self._account_index.get(account_id, -1)  # type: ignore[call-overload, no-any-return]

    # --- invariants -----------------------------------------------------------------------

    def _assert_invariants(self) -> None:
        bad = kernel.check_invariants(
            self._accounts, len(self._currencies), self._acc_balance, self._acc_held,
            self._acc_floor, self._acc_currency, self._acc_flags,
            self.settings.balance_minor_abs_max,
        )  # fmt: skip
        if bad != -1:
            what = (
                f"currency {self._currencies[-2 - bad]} does not sum to zero"
                if bad <= -2
                else f"account {int(self._acc_id[bad])} breaks its floor or limits"
            )
            raise AssertionError(f"engine invariant broken: {what}")

    def totals_by_currency(self) -> dict[str, int]:
        totals = dict.fromkeys(self._currencies, 0)
        for slot in range(self._accounts):
            code = self._currencies[int(self._acc_currency[slot])]
            totals[code] += int(self._acc_balance[slot])
        return totals

    # --- reading state ----------------------------------------------------------------

    def account(self, account_id: int) -> AccountView | None:
        slot = self._slot(account_id)
        return None if slot < 0 else self._account_view(slot)

    def accounts(self) -> list[AccountView]:
        return [self._account_view(int(slot)) for slot in self._sorted_account_slots()]

    def _account_view(self, slot: int) -> AccountView:
        flags = int(self._acc_flags[slot])
        return AccountView(
            account_id=int(self._acc_id[slot]),
            bic=self._participants[int(self._acc_participant[slot])].bic,
            currency=self._currencies[int(self._acc_currency[slot])],
            kind=AccountKind.ISSUANCE if flags & kernel.ACC_ISSUANCE else AccountKind.SETTLEMENT,
            balance_minor=int(self._acc_balance[slot]),
            held_minor=int(self._acc_held[slot]),
            floor_minor=int(self._acc_floor[slot]),
            closed=bool(flags & kernel.ACC_CLOSED),
        )

    def participants(self) -> list[ParticipantView]:
        return [
            ParticipantView(p.bic, p.name, p.role, p.currency, p.suspended)
            for p in self._participants
        ]

    def settlement_account(self, bic: str, code: str) -> int | None:
        """The id of a participant's settlement account in a currency, if it has one."""
        owner = self._participant_index.get(canonical_bic(bic), -1)
        number = self._currency_index.get(code, -1)
        slot = self._account_key.get((owner, number, 0), -1)
        return None if slot < 0 else int(self._acc_id[slot])

    def hold(self, hold_id: int) -> HoldView | None:
        if not _is_int(hold_id) or not 0 < hold_id < 2**128:
            return None
        found = kernel.table_find(
            self._hold_keys_hi, self._hold_keys_lo, self._hold_vals,
            np.uint64(hold_id >> 64), np.uint64(hold_id & (2**64 - 1)),
        )  # fmt: skip
        if found < 0:
            return None
        return self._hold_view(int(self._hold_vals[found]) - 1)

    def _hold_view(self, hold: int) -> HoldView:
        return HoldView(
            hold_id=(int(self._hold_id_hi[hold]) << 64) | int(self._hold_id_lo[hold]),
            debit_account_id=int(self._acc_id[self._hold_debit[hold]]),
            credit_account_id=int(self._acc_id[self._hold_credit[hold]]),
            amount_minor=int(self._hold_amount[hold]),
            expires_at_ns=int(self._hold_expires_ns[hold]),
            state=_HOLD_STATES[int(self._hold_state[hold])],
            posted_minor=int(self._hold_posted[hold]),
        )

    @property
    def idempotency_ids_remembered(self) -> int:
        return int(self._meta[kernel.META_RING_COUNT])

    def memory_bytes(self) -> dict[str, int]:
        """Bytes held by the columnar state, by component (for the benchmark)."""
        accounts = sum(
            getattr(self, name).nbytes
            for name in (
                "_acc_id", "_acc_balance", "_acc_held", "_acc_floor", "_acc_currency",
                "_acc_flags", "_acc_participant", "_sorted_ids", "_sorted_slots",
            )
        )  # fmt: skip
        idempotency = sum(
            getattr(self, name).nbytes
            for name in (
                "_idem_hi", "_idem_lo", "_idem_val", "_ring_hi", "_ring_lo", "_ring_fp",
                "_ring_code",
            )
        )  # fmt: skip
        return {
            "accounts": accounts,
            "account_capacity": len(self._acc_id),
            "idempotency": idempotency,
            "idempotency_capacity": len(self._ring_hi),
        }

    # --- events -------------------------------------------------------------------------

    def events(self, batch: Batch, result: BatchResult) -> list[Event]:
        """Typed events of an applied batch (call before the next batch is applied)."""
        events: list[Event] = []
        ts = result.timestamp_ns
        for hold in result.expired_holds:
            events.append(
                HoldReleased(
                    self._hold_view(hold).hold_id,
                    ResultCode.HOLD_EXPIRED,
                    int(self._hold_amount[hold]),
                    ts,
                )
            )
        applied = np.flatnonzero((result.codes == ResultCode.OK) & (result.replayed == 0))
        for row in map(int, applied):
            kind = Kind(int(batch.kind[row]))
            command_id = batch.command_id(row)
            if kind in (Kind.PAYMENT, Kind.CROSS_PAYMENT):
                continue  # its settlement is among the queue events below
            if kind > MONEY_KIND_MAX:
                events.append(AdminApplied(batch.admin[row], ts))
                continue
            if kind in (Kind.POST_HOLD, Kind.VOID_HOLD):
                hold_id = (int(batch.ref_hi[row]) << 64) | int(batch.ref_lo[row])
                view = self.hold(hold_id)
                assert view is not None
                if kind == Kind.POST_HOLD:
                    events.append(self._settled(command_id, kind, view.debit_account_id,
                                                view.credit_account_id, view.posted_minor, ts))
                    rest = view.amount_minor - view.posted_minor
                    if rest:
                        events.append(HoldReleased(hold_id, ResultCode.OK, rest, ts))
                else:
                    events.append(HoldReleased(hold_id, ResultCode.OK, view.amount_minor, ts))
                continue
            amount = int(batch.amount[row])
            if kind == Kind.HOLD:
                hold_view = self.hold(command_id)
                assert hold_view is not None
                events.append(
                    HoldPlaced(command_id, hold_view.debit_account_id,
                               hold_view.credit_account_id, amount,
                               self._currency_of(hold_view.debit_account_id),
                               hold_view.expires_at_ns, ts)
                )  # fmt: skip
                continue
            debit, credit = int(batch.debit[row]), int(batch.credit[row])
            if kind == Kind.ISSUE:
                debit = self._issuer_account(credit)
            elif kind == Kind.REDEEM:
                credit = self._issuer_account(debit)
            events.append(self._settled(command_id, kind, debit, credit, amount, ts))
        events.extend(result.queue_events)
        return events

    def _settled(
        self, command_id: int, kind: Kind, debit: int, credit: int, amount: int, ts: int
    ) -> TransferSettled:
        return TransferSettled(command_id, kind, debit, credit, amount,
                               self._currency_of(debit), ts)  # fmt: skip

    def _currency_of(self, account_id: int) -> str:
        return self._currencies[int(self._acc_currency[self._account_index[account_id]])]

    def _issuer_account(self, account_id: int) -> int:
        cur = int(self._acc_currency[self._account_index[account_id]])
        return int(self._acc_id[self._issuer_slot[cur]])

    # --- digest and snapshots ---------------------------------------------------------

    def _ring_order(self) -> npt.NDArray[np.int64]:
        count = int(self._meta[kernel.META_RING_COUNT])
        window = len(self._ring_hi)
        start = (int(self._meta[kernel.META_RING_NEXT]) - count) % window
        return (start + np.arange(count, dtype=np.int64)) % window

    def _scalars(self) -> dict[str, Any]:
        return {
            "settings": asdict(self.settings),
            "timestamp_ns": self.timestamp_ns,
            "commands_applied": self.commands_applied,
            "currencies": self._currencies,
            "participants": [
                [p.bic, p.name, p.role.value, p.currency, p.suspended] for p in self._participants
            ],
            "queues": self._queues.state(),
            "fx": self._fx.state(),
        }

    def digest(self) -> str:
        """A stable hash of the whole state: equal states give equal digests."""
        h = hashlib.sha256(_DIGEST_FORMAT)
        h.update(json.dumps(self._scalars(), sort_keys=True, separators=(",", ":")).encode())
        order = self._sorted_account_slots()
        account_arrays: tuple[npt.NDArray[Any], ...] = (
            self._acc_id, self._acc_balance, self._acc_held, self._acc_floor,
            self._acc_currency, self._acc_flags, self._acc_participant,
        )  # fmt: skip
        for array in account_arrays:
            h.update(np.ascontiguousarray(array[order]).tobytes())
        holds = int(self._meta[kernel.META_HOLDS])
        hold_arrays: tuple[npt.NDArray[Any], ...] = (
            self._hold_id_hi, self._hold_id_lo, self._acc_id[self._hold_debit[:holds]],
            self._acc_id[self._hold_credit[:holds]], self._hold_amount, self._hold_expires_ns,
            self._hold_state, self._hold_posted,
        )  # fmt: skip
        for array in hold_arrays:
            h.update(np.ascontiguousarray(array[:holds]).tobytes())
        ring = self._ring_order()
        ring_arrays: tuple[npt.NDArray[Any], ...] = (
            self._ring_hi, self._ring_lo, self._ring_fp, self._ring_code,
        )  # fmt: skip
        for array in ring_arrays:
            h.update(np.ascontiguousarray(array[ring]).tobytes())
        return h.hexdigest()

    def snapshot(self) -> bytes:
        """The whole state as bytes: a JSON header, then raw little-endian arrays."""
        holds = int(self._meta[kernel.META_HOLDS])
        ring = self._ring_order()
        arrays: dict[str, npt.NDArray[Any]] = {
            "acc_id": self._acc_id[: self._accounts],
            "acc_balance": self._acc_balance[: self._accounts],
            "acc_held": self._acc_held[: self._accounts],
            "acc_floor": self._acc_floor[: self._accounts],
            "acc_currency": self._acc_currency[: self._accounts],
            "acc_flags": self._acc_flags[: self._accounts],
            "acc_participant": self._acc_participant[: self._accounts],
            "hold_id_hi": self._hold_id_hi[:holds],
            "hold_id_lo": self._hold_id_lo[:holds],
            "hold_debit": self._hold_debit[:holds],
            "hold_credit": self._hold_credit[:holds],
            "hold_amount": self._hold_amount[:holds],
            "hold_expires_ns": self._hold_expires_ns[:holds],
            "hold_state": self._hold_state[:holds],
            "hold_posted": self._hold_posted[:holds],
            "ring_hi": self._ring_hi[ring],
            "ring_lo": self._ring_lo[ring],
            "ring_fp": self._ring_fp[ring],
            "ring_code": self._ring_code[ring],
        }
        header = {
            "settings": asdict(self.settings),
            "scalars": self._scalars(),
            "arrays": [[name, a.dtype.newbyteorder("<").str, len(a)] for name, a in arrays.items()],
            "digest": self.digest(),
        }
        header_bytes = json.dumps(header, sort_keys=True).encode()
        parts = [_SNAPSHOT_MAGIC, struct.pack("<I", len(header_bytes)), header_bytes]
        parts.extend(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
                     for a in arrays.values())  # fmt: skip
        return b"".join(parts)

    @staticmethod
    def restore(data: bytes) -> Engine:
        """Rebuild an engine from ``snapshot()`` bytes; ValueError when they are not one."""
        try:
            return _restore(data)
        except Exception as error:  # any decoding failure means: not a snapshot we wrote
            raise ValueError(f"not a valid engine snapshot: {error!r}") from error


def _restore(data: bytes) -> Engine:
    view = memoryview(data)
    if bytes(view[:4]) != _SNAPSHOT_MAGIC:
        raise ValueError("not an engine snapshot (bad magic)")
    (header_size,) = struct.unpack_from("<I", view, 4)
    header = json.loads(bytes(view[8 : 8 + header_size]))
    offset = 8 + header_size
    arrays: dict[str, npt.NDArray[Any]] = {}
    for name, dtype, length in header["arrays"]:
        size = np.dtype(dtype).itemsize * length
        if offset + size > len(view):
            raise ValueError("engine snapshot is truncated")
        arrays[name] = np.frombuffer(view, dtype=dtype, count=length, offset=offset).copy()
        offset += size
    if offset != len(view):
        raise ValueError("engine snapshot has trailing bytes")
    engine = Engine(EngineSettings(**header["settings"]))
    scalars = header["scalars"]
    engine.timestamp_ns = int(scalars["timestamp_ns"])
    engine.commands_applied = int(scalars["commands_applied"])
    for code in scalars["currencies"]:
        engine._currency_number(code)
    for bic, name, role, code, suspended in scalars["participants"]:
        index = len(engine._participants)
        engine._participants.append(_Participant(bic, name, Role(role), code, bool(suspended)))
        engine._participant_index[bic] = index
        if index >= len(engine._part_suspended):
            engine._part_suspended = _grow(engine._part_suspended, 2 * index + 2)
        engine._part_suspended[index] = 1 if suspended else 0
    engine._queues.load(scalars["queues"])
    engine._queues.recompute_due(engine.timestamp_ns)
    engine._fx.load(scalars["fx"])
    accounts = len(arrays["acc_id"])
    capacity = max(16, _pow2_at_least(accounts))
    for name in ("acc_id", "acc_balance", "acc_held", "acc_floor", "acc_currency", "acc_flags",
                 "acc_participant"):  # fmt: skip
        target = getattr(engine, "_" + name)
        grown = np.zeros(capacity, dtype=target.dtype)
        grown[:accounts] = arrays[name]
        setattr(engine, "_" + name, grown)
    engine._accounts = accounts
    for slot in range(accounts):
        engine._account_index[int(engine._acc_id[slot])] = slot
        if engine._acc_flags[slot] & kernel.ACC_CLOSED:
            continue
        engine._account_key[engine._key_of(slot)] = slot
        if engine._acc_flags[slot] & kernel.ACC_ISSUANCE:
            engine._issuer_slot[int(engine._acc_currency[slot])] = slot
    engine._rebuild_sorted_ids()
    holds = len(arrays["hold_id_hi"])
    engine._reserve_holds(holds)
    for name in ("hold_id_hi", "hold_id_lo", "hold_debit", "hold_credit", "hold_amount",
                 "hold_expires_ns", "hold_state", "hold_posted"):  # fmt: skip
        getattr(engine, "_" + name)[:holds] = arrays[name]
    engine._meta[kernel.META_HOLDS] = holds
    engine._rebuild_hold_table(len(engine._hold_vals))
    for hold in range(holds):
        expires_ns = int(engine._hold_expires_ns[hold])
        if expires_ns > 0 and engine._hold_state[hold] == kernel.HOLD_PENDING:
            heapq.heappush(engine._expiry_heap, (expires_ns, hold))
    ring_count = len(arrays["ring_hi"])
    if ring_count > len(engine._ring_hi):
        raise ValueError("engine snapshot holds more ids than its idempotency window")
    kernel.idem_rebuild(
        engine._idem_hi, engine._idem_lo, engine._idem_val, engine._ring_hi, engine._ring_lo,
        engine._ring_fp, engine._ring_code, engine._meta,
        arrays["ring_hi"], arrays["ring_lo"], arrays["ring_fp"], arrays["ring_code"],
    )  # fmt: skip
    if engine.digest() != header["digest"]:
        raise ValueError("engine snapshot does not match its own digest")
    return engine


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def canonical_bic(bic: str) -> str:
    """The 8-character form of a BIC whose branch is the primary office ("XXX")."""
    return bic[:8] if len(bic) == 11 and bic.endswith("XXX") else bic


def _bic_valid(bic: object) -> bool:
    """ISO 9362: 8 or 11 upper-case letters and digits with a real country code."""
    if not isinstance(bic, str) or _BIC_PATTERN.fullmatch(bic) is None:
        return False
    try:
        BIC(bic)
    except SchwiftyException:
        return False
    return True


def _currency_valid(code: str) -> bool:
    try:
        currency(code)
    except MoneyError:
        return False
    return True


def _admin_fingerprint(batch: Batch, row: int) -> int:
    command = batch.admin[row]
    content = json.dumps([int(batch.kind[row]), admin_fields(command)], sort_keys=True,
                         default=str)  # fmt: skip
    return int.from_bytes(hashlib.sha256(content.encode()).digest()[:8], "little")
