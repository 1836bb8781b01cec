"""RTGS queues, limits, reservations and the liquidity-saving mechanism.

A ``Payment`` that cannot settle on arrival waits in its sender's queue for its
currency instead of being rejected. This module owns those queues and decides, every
time something changes (a payment arrives or waits, liquidity moves, a limit or a
priority changes, the clock passes a FROM or TILL time), which waiting payments settle
together. Everything is deterministic integer work over the engine's account arrays:
no clock, no randomness, no time limits, so replay decides exactly the same.

Queue order per sender and currency: urgent payments first, then high, then normal;
within a priority by queue position (arrival order, changed only by MovePayment).
Urgent and high payments settle strictly in that order (FIFO); a normal payment may
settle past a normal one that cannot (FIFO-bypass), but never ahead of a waiting
urgent or high payment of the same sender. See docs/rtgs.md for the exact rules.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interbank.engine import kernel
from interbank.engine.codes import ResultCode
from interbank.engine.commands import (
    DayClosed,
    Event,
    LsmRun,
    PaymentQueued,
    PaymentRejected,
    PaymentSettled,
    Priority,
    TillWarning,
)

if TYPE_CHECKING:
    from interbank.engine.ledger import Engine

_NEVER_NS = 2**63 - 1
URGENT = int(Priority.URGENT)
HIGH = int(Priority.HIGH)
NORMAL = int(Priority.NORMAL)


@dataclass(slots=True)
class Waiting:
    """A payment in a queue. Slots are the engine's account slots."""

    payment_id: int
    debit: int
    credit: int
    currency: int
    amount_minor: int
    priority: int
    from_ns: int
    till_ns: int
    order: int
    warned: bool = False

    def sort_key(self) -> tuple[int, int]:
        return (-self.priority, self.order)

    def as_list(self) -> list[int]:
        return [
            self.payment_id, self.debit, self.credit, self.currency, self.amount_minor,
            self.priority, self.from_ns, self.till_ns, self.order, int(self.warned),
        ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class WaitView:
    """Why a waiting payment waits, and where it stands in its sender's queue."""

    payment_id: int
    position: int  # 1 = first in the sender's queue for this currency
    priority: Priority
    reason: str  # ISO 20022 reason code: AM04 funds, AM14 limit, NARR order or time
    text: str
    blocking_payment_id: int | None = None
    counterparty_bic: str | None = None


class Queues:
    """The queue state of one engine. Owned and called only by ``Engine``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.waiting: dict[int, Waiting] = {}
        # The same payments by sender account slot, for per-queue work without a scan.
        self.by_sender: dict[int, dict[int, Waiting]] = {}
        self.order_next = 1
        self.run_next = 1
        # Limits by (participant, counterparty, currency) and (participant, currency).
        self.bilateral: dict[tuple[int, int, int], int] = {}
        self.multilateral: dict[tuple[int, int], int] = {}
        # Today's settled payment flows per (payer, payee, currency): normal and all.
        self.flow_normal: dict[tuple[int, int, int], int] = {}
        self.flow_total: dict[tuple[int, int, int], int] = {}
        # Reservations by account slot: (for urgent, for high).
        self.reserved: dict[int, tuple[int, int]] = {}
        self.closed_days: set[int] = set()
        self.dirty: set[int] = set()
        # Derived (not in the digest): the earliest FROM, TILL or warning time to act on.
        self.due_ns = _NEVER_NS
        self.events: list[Event] = []

    # --- accounts through the engine ------------------------------------------------

    def _participant(self, slot: int) -> int:
        return int(self._engine._acc_participant[slot])

    def _free(self, slot: int) -> int:
        """Liquidity above the floor: balance - holds - floor."""
        e = self._engine
        return int(e._acc_balance[slot]) - int(e._acc_held[slot]) - int(e._acc_floor[slot])

    def _reserve_needed(self, slot: int, priority_lowest: int) -> int:
        """Liquidity a payment of this priority may not use (reservations above it)."""
        urgent, high = self.reserved.get(slot, (0, 0))
        if priority_lowest == NORMAL:
            return urgent + high
        if priority_lowest == HIGH:
            return urgent
        return 0

    def _usable(self, slot: int) -> bool:
        e = self._engine
        return not (
            e._acc_flags[slot] & kernel.ACC_CLOSED
            or e._part_suspended[e._acc_participant[slot]]
        )

    # --- time ---------------------------------------------------------------------------

    def on_time(self, previous_ns: int, now_ns: int) -> None:
        """Reject payments past TILL, warn those near it, wake those whose FROM time
        came in (previous_ns, now_ns]. Costs nothing until the next such time is due."""
        if not self.waiting or now_ns < self.due_ns:
            return
        warning_ns = self._engine.settings.till_warning_ns
        due_ns = _NEVER_NS
        for payment in sorted(self.waiting.values(), key=lambda w: w.payment_id):
            if payment.till_ns and payment.till_ns <= now_ns:
                self._reject(payment, ResultCode.TILL_PASSED, now_ns)
                continue
            if payment.till_ns and not payment.warned and payment.till_ns - warning_ns <= now_ns:
                payment.warned = True
                self.events.append(TillWarning(payment.payment_id, payment.till_ns, now_ns))
            if previous_ns < payment.from_ns <= now_ns:
                self.dirty.add(payment.currency)
            due_ns = min(due_ns, self._due_ns(payment, now_ns))
        self.due_ns = due_ns

    def _due_ns(self, payment: Waiting, now_ns: int) -> int:
        """The next time this payment needs the clock's attention."""
        due_ns = _NEVER_NS
        if payment.till_ns:
            due_ns = payment.till_ns
            if not payment.warned:
                due_ns = min(due_ns, payment.till_ns - self._engine.settings.till_warning_ns)
        if payment.from_ns > now_ns:
            due_ns = min(due_ns, payment.from_ns)
        return due_ns

    def recompute_due(self, now_ns: int) -> None:
        self.due_ns = min((self._due_ns(w, now_ns) for w in self.waiting.values()),
                          default=_NEVER_NS)  # fmt: skip

    # --- entry ----------------------------------------------------------------------------

    def admit(self, payment: Waiting, now_ns: int) -> ResultCode:
        """Entry disposition for a valid new payment: settle, offset, or wait."""
        if payment.currency in self.closed_days:
            return ResultCode.DAY_CLOSED
        if payment.till_ns and payment.till_ns <= now_ns:
            return ResultCode.TILL_PASSED
        payment.order = self.order_next
        self.order_next += 1
        if payment.from_ns <= now_ns and not self._blocked_by_order(payment):
            if self._feasible([payment]):
                self._settle([payment], "entry", now_ns)
                return ResultCode.OK
            offset = self._offset_at_entry(payment)
            if offset:
                self._settle([payment, *offset], "offset", now_ns)
                return ResultCode.OK
        if len(self.waiting) >= self._engine.settings.queue_payments_max:
            return ResultCode.QUEUE_FULL  # only what must wait needs a place
        self._enqueue(payment)
        self.events.append(PaymentQueued(payment.payment_id, now_ns))
        warning_ns = self._engine.settings.till_warning_ns
        if payment.till_ns and payment.till_ns - warning_ns <= now_ns:
            payment.warned = True  # it arrived inside its warning window: warn now
            self.events.append(TillWarning(payment.payment_id, payment.till_ns, now_ns))
        self.dirty.add(payment.currency)
        return ResultCode.QUEUED

    def _blocked_by_order(self, payment: Waiting) -> Waiting | None:
        """The waiting payment that must settle first, if any (FIFO and priorities).

        An urgent or high payment waits behind any eligible waiting payment of the same
        sender with the same or a higher priority that is earlier in the queue; a normal
        payment waits only behind eligible urgent and high ones (FIFO-bypass).
        """
        best: Waiting | None = None
        for other in self._sender_queue(payment.debit):
            if other.payment_id == payment.payment_id or other.from_ns > self._now():
                continue
            if other.priority > payment.priority or (
                other.priority == payment.priority
                and payment.priority != NORMAL
                and other.order < payment.order
            ):
                best = other
                break
        return best

    def _now(self) -> int:
        return self._engine.timestamp_ns

    def _enqueue(self, payment: Waiting) -> None:
        self.due_ns = min(self.due_ns, self._due_ns(payment, self._now()))
        self.waiting[payment.payment_id] = payment
        self.by_sender.setdefault(payment.debit, {})[payment.payment_id] = payment

    def _dequeue(self, payment: Waiting) -> None:
        del self.waiting[payment.payment_id]
        queue = self.by_sender[payment.debit]
        del queue[payment.payment_id]
        if not queue:
            del self.by_sender[payment.debit]

    def _sender_queue(self, debit: int) -> list[Waiting]:
        return sorted(self.by_sender.get(debit, {}).values(), key=Waiting.sort_key)

    def _offset_at_entry(self, payment: Waiting) -> list[Waiting]:
        """Bilateral offsetting: the counterparty's waiting payments to the sender, taken
        in the counterparty's queue order, as the longest run that settles together
        with the new payment (and respects the counterparty's FIFO)."""
        now = self._now()
        best: list[Waiting] = []
        chosen: list[Waiting] = []
        for w in self._sender_queue(payment.credit):
            if w.from_ns > now:
                continue
            if w.credit != payment.debit:
                if w.priority != NORMAL:
                    break  # an earlier urgent/high payment elsewhere must settle first
                continue  # normal payments may be bypassed
            chosen.append(w)
            if self._feasible([payment, *chosen]):
                best = list(chosen)
        return best

    # --- feasibility of a set ---------------------------------------------------------------

    def _feasible(self, payments: Iterable[Waiting]) -> bool:
        return not self._violations(list(payments))

    def _violations(self, payments: list[Waiting]) -> set[int]:
        """Account slots whose floor, reservation or limit the set would break."""
        if len(payments) == 1:
            return self._violations_one(payments[0])
        delta: dict[int, int] = {}
        lowest: dict[int, int] = {}
        pair_normal: dict[tuple[int, int], int] = {}
        pair_total: dict[tuple[int, int], int] = {}
        for p in payments:
            delta[p.debit] = delta.get(p.debit, 0) - p.amount_minor
            delta[p.credit] = delta.get(p.credit, 0) + p.amount_minor
            lowest[p.debit] = min(lowest.get(p.debit, URGENT), p.priority)
            a, b = self._participant(p.debit), self._participant(p.credit)
            pair_total[(a, b)] = pair_total.get((a, b), 0) + p.amount_minor
            if p.priority == NORMAL:
                pair_normal[(a, b)] = pair_normal.get((a, b), 0) + p.amount_minor
        bad: set[int] = set()
        for slot, priority_lowest in lowest.items():
            needed = self._reserve_needed(slot, priority_lowest)
            if not self._usable(slot) or self._free(slot) + delta[slot] < needed:
                bad.add(slot)
        if pair_normal:
            currency = payments[0].currency
            slot_of = {self._participant(p.debit): p.debit for p in payments}
            for a in {a for a, _ in pair_normal}:
                if self._limits_broken(a, currency, pair_normal, pair_total):
                    bad.add(slot_of[a])
        abs_max = self._engine.settings.balance_minor_abs_max
        e = self._engine
        for p in payments:
            payee_balance = int(e._acc_balance[p.credit]) + delta[p.credit]
            if not self._usable(p.credit) or payee_balance > abs_max:
                bad.add(p.debit)
        return bad

    def _violations_one(self, p: Waiting) -> set[int]:
        """The same checks for a set of one payment, without building per-set maps:
        the common case of a payment settling at entry."""
        e = self._engine
        if not (self._usable(p.debit) and self._usable(p.credit)):
            return {p.debit}
        if self._free(p.debit) - p.amount_minor < self._reserve_needed(p.debit, p.priority):
            return {p.debit}
        if int(e._acc_balance[p.credit]) + p.amount_minor > e.settings.balance_minor_abs_max:
            return {p.debit}
        if p.priority == NORMAL and (self.bilateral or self.multilateral):
            a, b = self._participant(p.debit), self._participant(p.credit)
            if self._limits_broken(a, p.currency, {(a, b): p.amount_minor}, {}):
                return {p.debit}
        return set()

    def _limits_broken(
        self,
        a: int,
        currency: int,
        pair_normal: dict[tuple[int, int], int],
        pair_total: dict[tuple[int, int], int],
    ) -> bool:
        multilateral_out = 0
        multilateral_limit = self.multilateral.get((a, currency), 0)
        for (payer, payee), normal in pair_normal.items():
            if payer != a:
                continue
            limit = self.bilateral.get((a, payee, currency), 0)
            position = normal - pair_total.get((payee, a), 0) + self._position(a, payee, currency)
            if limit:
                if position > limit:
                    return True
            elif multilateral_limit:
                multilateral_out += normal - pair_total.get((payee, a), 0)
        if multilateral_limit and multilateral_out > 0:
            base = self._multilateral_position(a, currency)
            if base + multilateral_out > multilateral_limit:
                return True
        return False

    def _position(self, a: int, b: int, currency: int) -> int:
        """Today's bilateral position of a towards b: normal paid minus all received."""
        return self.flow_normal.get((a, b, currency), 0) - self.flow_total.get((b, a, currency), 0)

    def _multilateral_position(self, a: int, currency: int) -> int:
        position = 0
        for (payer, payee, cur), normal in self.flow_normal.items():
            if payer == a and cur == currency and not self.bilateral.get((a, payee, cur)):
                position += normal
        for (payer, payee, cur), total in self.flow_total.items():
            if payee == a and cur == currency and not self.bilateral.get((a, payer, cur)):
                position -= total
        return position

    # --- settling -------------------------------------------------------------------------

    def _settle(self, payments: list[Waiting], method: str, now_ns: int) -> None:
        """Book a feasible set gross and in full, all at once.

        Every caller has just checked the set; the check is repeated here (an assertion)
        for liquidity-saving runs, whose incremental bookkeeping is the complex part.
        """
        assert payments
        assert method == "entry" or not self._violations(payments), "only feasible sets settle"
        e = self._engine
        run_id = 0
        if method != "entry":
            run_id = self.run_next
            self.run_next += 1
        currency_code = e._currencies[payments[0].currency]
        for p in payments:
            assert p.currency == payments[0].currency
            e._acc_balance[p.debit] -= p.amount_minor
            e._acc_balance[p.credit] += p.amount_minor
            a, b = self._participant(p.debit), self._participant(p.credit)
            key = (a, b, p.currency)
            self.flow_total[key] = self.flow_total.get(key, 0) + p.amount_minor
            if p.priority == NORMAL:
                self.flow_normal[key] = self.flow_normal.get(key, 0) + p.amount_minor
            if p.payment_id in self.waiting:
                self._dequeue(p)
            self.events.append(
                PaymentSettled(
                    p.payment_id, int(e._acc_id[p.debit]), int(e._acc_id[p.credit]),
                    p.amount_minor, currency_code, run_id, now_ns,
                )
            )  # fmt: skip
        if run_id:
            self.events.append(
                LsmRun(
                    run_id, method, currency_code, tuple(p.payment_id for p in payments),
                    sum(p.amount_minor for p in payments), now_ns,
                )
            )  # fmt: skip
        self.dirty.add(payments[0].currency)

    def _reject(self, payment: Waiting, code: ResultCode, now_ns: int) -> None:
        self._dequeue(payment)
        self.dirty.add(payment.currency)  # it may have blocked others of its sender
        self.events.append(PaymentRejected(payment.payment_id, code, now_ns))

    # --- gridlock resolution ------------------------------------------------------------------

    def resolve_dirty(self, now_ns: int) -> None:
        """Run the liquidity-saving mechanism on every currency whose queues changed,
        round after round while a round settles something (payments re-added past their
        queue's head can bring a blocked sender the liquidity its head needed), at most
        ``lsm_rounds_max`` rounds per currency and batch."""
        rounds_max = self._engine.settings.lsm_rounds_max
        while self.dirty:
            currency = min(self.dirty)
            for _ in range(rounds_max):
                self.dirty.discard(currency)
                if not self.resolve(currency, now_ns):
                    break
            self.dirty.discard(currency)

    def eligible(self, currency: int) -> list[Waiting]:
        """Waiting payments that may settle now. A sender's queue stops at its first
        urgent or high payment that cannot (an account closed or an owner suspended):
        nothing of that sender may settle past it, exactly as SettleSet requires."""
        now = self._now()
        out: list[Waiting] = []
        for debit, queue in self.by_sender.items():
            if not queue or next(iter(queue.values())).currency != currency:
                continue
            if not self._usable(debit):
                continue
            for w in sorted(queue.values(), key=Waiting.sort_key):
                if w.from_ns > now:
                    continue
                if not self._usable(w.credit):
                    if w.priority != NORMAL:
                        break
                    continue
                out.append(w)
        return out

    def resolve(self, currency: int, now_ns: int) -> list[Waiting]:
        """Settle the largest FIFO-respecting set, then normal payments past their heads.

        Step 1 (Bech and Soramäki 2001, TARGET2 algorithm 2's extraction rule): include
        every eligible waiting payment; while some account is short, drop the last
        included payment of its queue. Under FIFO the result is the unique maximal
        settleable set, whatever order the short accounts are taken in.
        Step 2 (bounded, deterministic): re-add dropped normal payments whose sender has
        no dropped urgent or high payment, if they still fit: once in queue order, once
        largest first; keep the better, at most ``lsm_bypass_passes_max`` passes each.
        """
        candidates = self.eligible(currency)
        if not candidates:
            return []
        fifo = self._fifo_maximal(candidates)
        best = fifo
        method = "fifo"
        fifo_ids = {p.payment_id for p in fifo}
        dropped = [w for w in candidates if w.payment_id not in fifo_ids]
        if any(w.priority == NORMAL for w in dropped):
            for key in (Waiting.sort_key, _largest_first):
                improved = self._readd_normals(fifo, dropped, key)
                if _value(improved) > _value(best):
                    best, method = improved, "bypass"
        if best:
            self._settle(sorted(best, key=lambda w: (w.debit, w.sort_key())), method, now_ns)
        return best

    def _fifo_maximal(self, candidates: list[Waiting]) -> list[Waiting]:
        run = _Run(self, candidates)
        work = sorted(run.queues)
        heapq.heapify(work)
        queued = set(work)
        for slot in sorted(run.payers):
            if slot not in queued:
                heapq.heappush(work, slot)
                queued.add(slot)
        while work:
            slot = heapq.heappop(work)
            queued.discard(slot)
            if not run.payee_ok(slot):
                # Over the balance limit (a CHIPS-style maximum): drop an inflow, from the
                # highest-numbered sender still paying it, tail first.
                payers = [p for p in run.payers.get(slot, ()) if run.included.get(p, 0) > 0]
                if payers:
                    sender = max(payers)
                    dropped = run.drop_last(sender)
                    for again in (slot, sender, dropped.credit):
                        if again not in queued:
                            heapq.heappush(work, again)
                            queued.add(again)
                    continue
            if slot not in run.queues or run.included[slot] == 0 or run.sender_ok(slot):
                continue
            dropped = run.drop_last(slot)
            # The sender is checked again; the payee lost money (and limit room).
            for again in (slot, dropped.credit):
                if again in run.queues and again not in queued:
                    heapq.heappush(work, again)
                    queued.add(again)
        return run.chosen()

    def _readd_normals(
        self, base: list[Waiting], dropped: list[Waiting], key: Any
    ) -> list[Waiting]:
        run = _Run(self, base)
        blocked_senders = {w.debit for w in dropped if w.priority != NORMAL}
        pool = sorted(
            (w for w in dropped if w.priority == NORMAL and w.debit not in blocked_senders),
            key=key,
        )
        for _ in range(self._engine.settings.lsm_bypass_passes_max):
            rest: list[Waiting] = []
            for w in pool:
                # A payment its sender cannot cover even before limits is not tried:
                # most of a gridlocked pool, and booking it in and out is the cost.
                if run.slack(w.debit) < w.amount_minor:
                    rest.append(w)
                    continue
                # Adding a payment can only hurt its sender, and its payee only through
                # the balance limit (it gains money and limit room), so only those two.
                run.add(w)
                if not (run.sender_ok(w.debit) and run.payee_ok(w.credit)):
                    run.remove(w)
                    rest.append(w)
            if len(rest) == len(pool):
                break
            pool = rest
        return run.chosen()

    def settle_set(self, currency: int, payment_ids: tuple[int, ...], now_ns: int) -> ResultCode:
        """Settle exactly these waiting payments together if they respect order and fit."""
        if not payment_ids or len(set(payment_ids)) != len(payment_ids):
            return ResultCode.SETTLE_SET_INVALID
        chosen: list[Waiting] = []
        for payment_id in payment_ids:
            w = self.waiting.get(payment_id)
            if w is None or w.currency != currency or w.from_ns > now_ns:
                return ResultCode.SETTLE_SET_INVALID
            chosen.append(w)
        ids = set(payment_ids)
        sorted_queues: dict[int, list[Waiting]] = {}
        for w in chosen:
            if w.debit not in sorted_queues:  # each sender's queue sorted once, not per member
                sorted_queues[w.debit] = self._sender_queue(w.debit)
            for other in sorted_queues[w.debit]:
                if other.payment_id in ids or other.from_ns > now_ns:
                    continue
                # Nothing may settle ahead of a waiting urgent/high payment of the same
                # sender that precedes it; normal payments may bypass normal ones.
                if other.priority != NORMAL and other.sort_key() < w.sort_key():
                    return ResultCode.SETTLE_SET_INVALID
        if self._violations(chosen):
            return ResultCode.SETTLE_SET_INFEASIBLE
        self._settle(chosen, "settle_set", now_ns)
        return ResultCode.OK

    # --- queue management and the day ---------------------------------------------------------

    def cancel(self, payment: Waiting, now_ns: int) -> None:
        self._reject(payment, ResultCode.CANCELLED, now_ns)

    def move(self, payment: Waiting, to_front: bool) -> None:
        same_class = [
            w.order
            for w in self.by_sender[payment.debit].values()
            if w.priority == payment.priority
        ]
        if to_front:
            payment.order = min(same_class) - 1
        else:
            # Behind everything of its class now, and behind nothing that arrives later:
            # later arrivals take order_next, so the counter moves past this order.
            payment.order = max(max(same_class) + 1, self.order_next)
            self.order_next = payment.order + 1
        self.dirty.add(payment.currency)

    def end_of_day(self, currency: int, now_ns: int) -> None:
        for payment in sorted(self.waiting.values(), key=lambda w: w.payment_id):
            if payment.currency == currency:
                self._reject(payment, ResultCode.END_OF_DAY_REJECTED, now_ns)
        self.closed_days.add(currency)
        e = self._engine
        balances = tuple(
            (int(e._acc_id[slot]), int(e._acc_balance[slot]))
            for slot in map(int, e._sorted_account_slots())
            if int(e._acc_currency[slot]) == currency
        )
        self.events.append(DayClosed(e._currencies[currency], balances, now_ns))

    def start_of_day(self, currency: int) -> None:
        self.closed_days.discard(currency)
        self.dirty.add(currency)  # fresh limit positions may release waiting payments
        for flows in (self.flow_normal, self.flow_total):
            for key in [k for k in flows if k[2] == currency]:
                del flows[key]

    # --- why a payment waits -----------------------------------------------------------------

    def wait_view(self, payment: Waiting) -> WaitView:
        e = self._engine
        queue = self._sender_queue(payment.debit)
        position = 1 + [w.payment_id for w in queue].index(payment.payment_id)
        priority = Priority(payment.priority)
        if payment.from_ns > self._now():
            return WaitView(payment.payment_id, position, priority, "NARR",
                            "before its earliest settlement time (FROM)")  # fmt: skip
        blocker = self._blocked_by_order(payment)
        if blocker is not None:
            return WaitView(payment.payment_id, position, priority, "NARR",
                            "behind an earlier payment of the same sender (FIFO)",
                            blocking_payment_id=blocker.payment_id)  # fmt: skip
        for slot in (payment.debit, payment.credit):
            if not self._usable(slot):
                return WaitView(payment.payment_id, position, priority, "AC06",
                                "an account is closed or its owner suspended")  # fmt: skip
        if self._free(payment.debit) - payment.amount_minor < self._reserve_needed(
            payment.debit, payment.priority
        ):
            return WaitView(payment.payment_id, position, priority, "AM04",
                            "not enough liquidity above the floor and reservations")  # fmt: skip
        a, b = self._participant(payment.debit), self._participant(payment.credit)
        if payment.priority == NORMAL:
            pair = {(a, b): payment.amount_minor}
            if self.bilateral.get((a, b, payment.currency)) and self._limits_broken(
                a, payment.currency, pair, {}
            ):
                return WaitView(payment.payment_id, position, priority, "AM14",
                                "the bilateral limit towards the counterparty",
                                counterparty_bic=e._participants[b].bic)  # fmt: skip
            if self._limits_broken(a, payment.currency, pair, {}):
                return WaitView(payment.payment_id, position, priority, "AM14",
                                "the multilateral limit")  # fmt: skip
        return WaitView(payment.payment_id, position, priority, "NARR",
                        "it can settle: it waits for the next liquidity-saving run")  # fmt: skip

    # --- state for digest and snapshot ---------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "waiting": [w.as_list() for w in sorted(self.waiting.values(),
                                                     key=lambda w: w.payment_id)],
            "order_next": self.order_next,
            "run_next": self.run_next,
            "bilateral": sorted([*k, v] for k, v in self.bilateral.items()),
            "multilateral": sorted([*k, v] for k, v in self.multilateral.items()),
            "flow_normal": sorted([*k, v] for k, v in self.flow_normal.items()),
            "flow_total": sorted([*k, v] for k, v in self.flow_total.items()),
            "reserved": sorted([k, *v] for k, v in self.reserved.items()),
            "closed_days": sorted(self.closed_days),
        }  # fmt: skip

    def load(self, state: dict[str, Any]) -> None:
        for row in state["waiting"]:
            payment_id, debit, credit, cur, amount, priority, from_ns, till_ns, order, warned = row
            self._enqueue(
                Waiting(payment_id, debit, credit, cur, amount, priority, from_ns, till_ns,
                        order, bool(warned))
            )  # fmt: skip
        self.order_next = int(state["order_next"])
        self.run_next = int(state["run_next"])
        self.bilateral = {(a, b, c): v for a, b, c, v in state["bilateral"]}
        self.multilateral = {(a, c): v for a, c, v in state["multilateral"]}
        self.flow_normal = {(a, b, c): v for a, b, c, v in state["flow_normal"]}
        self.flow_total = {(a, b, c): v for a, b, c, v in state["flow_total"]}
        self.reserved = {k: (u, h) for k, u, h in state["reserved"]}
        self.closed_days = set(state["closed_days"])


def _largest_first(w: Waiting) -> tuple[int, int]:
    return (-w.amount_minor, w.order)


def _value(payments: list[Waiting]) -> int:
    return sum(p.amount_minor for p in payments)


class _Run:
    """Incremental positions of one tentative set: per-account net change and, per
    (payer, payee) participant pair, normal and total flows, updated as payments are
    dropped or added, so a check costs O(the account's counterparties), not O(set)."""

    def __init__(self, queues: Queues, payments: list[Waiting]) -> None:
        self.q = queues
        self.queues: dict[int, list[Waiting]] = {}
        for w in sorted(payments, key=lambda w: (w.debit, w.sort_key())):
            self.queues.setdefault(w.debit, []).append(w)
        self.included = {slot: len(queue) for slot, queue in self.queues.items()}
        self.extra: dict[int, list[Waiting]] = {}
        self.delta: dict[int, int] = {}
        self.normal: dict[tuple[int, int], int] = {}
        self.total: dict[tuple[int, int], int] = {}
        self.payees: dict[int, set[int]] = {}
        # Payee slot -> sender slots paying it in this run (for the balance bound).
        self.payers: dict[int, set[int]] = {}
        self.currency = payments[0].currency if payments else -1
        self.owners: dict[int, int] = {}  # account slot -> participant, looked up once
        self.free_cache: dict[int, int] = {}
        self.multilateral_base: dict[int, int] = {}
        for w in payments:
            self._book(w, +1)
            self.payers.setdefault(w.credit, set()).add(w.debit)

    def _free(self, slot: int) -> int:
        # Balances do not move during a run: read each account's liquidity once.
        free = self.free_cache.get(slot)
        if free is None:
            free = self.free_cache[slot] = self.q._free(slot)
        return free

    def _owner(self, slot: int) -> int:
        owner = self.owners.get(slot)
        if owner is None:
            owner = self.owners[slot] = self.q._participant(slot)
        return owner

    def _book(self, w: Waiting, sign: int) -> None:
        a, b = self._owner(w.debit), self._owner(w.credit)
        amount = sign * w.amount_minor
        self.delta[w.debit] = self.delta.get(w.debit, 0) - amount
        self.delta[w.credit] = self.delta.get(w.credit, 0) + amount
        self.total[(a, b)] = self.total.get((a, b), 0) + amount
        if w.priority == NORMAL:
            self.normal[(a, b)] = self.normal.get((a, b), 0) + amount
            self.payees.setdefault(a, set()).add(b)

    def drop_last(self, slot: int) -> Waiting:
        self.included[slot] -= 1
        w = self.queues[slot][self.included[slot]]
        self._book(w, -1)
        return w

    def add(self, w: Waiting) -> None:
        if self.currency < 0:
            self.currency = w.currency
        self.extra.setdefault(w.debit, []).append(w)
        self.payers.setdefault(w.credit, set()).add(w.debit)
        self._book(w, +1)

    def remove(self, w: Waiting) -> None:
        self.extra[w.debit].remove(w)
        self._book(w, -1)

    def chosen(self) -> list[Waiting]:
        out = [w for slot, queue in self.queues.items() for w in queue[: self.included[slot]]]
        for added in self.extra.values():
            out.extend(added)
        return out

    def payee_ok(self, slot: int) -> bool:
        """The slot's balance stays within the engine-wide balance limit."""
        e = self.q._engine
        limit = e.settings.balance_minor_abs_max
        return int(e._acc_balance[slot]) + self.delta.get(slot, 0) <= limit

    def slack(self, slot: int) -> int:
        """Liquidity left for one more normal payment of this sender in this set."""
        return self._free(slot) + self.delta.get(slot, 0) - self.q._reserve_needed(slot, NORMAL)

    def deficit(self, slot: int) -> int:
        """How much liquidity the slot lacks for what it sends in this set (0: none)."""
        q = self.q
        included = self.included.get(slot, 0)
        if self.extra.get(slot):
            lowest = NORMAL  # re-added payments are all normal ones
        elif included:
            lowest = self.queues[slot][included - 1].priority
        else:
            return 0
        return max(0, q._reserve_needed(slot, lowest) - self._free(slot) - self.delta.get(slot, 0))

    def sender_ok(self, slot: int) -> bool:
        q = self.q
        included = self.included.get(slot, 0)
        extra = self.extra.get(slot)
        if not included and not extra:
            return True
        if not q._usable(slot):
            return False
        lowest = NORMAL if extra else self.queues[slot][included - 1].priority
        if self._free(slot) + self.delta.get(slot, 0) < q._reserve_needed(slot, lowest):
            return False
        if lowest != NORMAL or not (q.bilateral or q.multilateral):
            return True
        a = q._participant(slot)
        currency = self.currency
        multilateral_limit = q.multilateral.get((a, currency), 0)
        multilateral_out = 0
        for b in self.payees.get(a, ()):
            normal = self.normal.get((a, b), 0)
            if normal <= 0:
                continue
            position = normal - self.total.get((b, a), 0)
            limit = q.bilateral.get((a, b, currency), 0)
            if limit:
                if position + q._position(a, b, currency) > limit:
                    return False
            elif multilateral_limit:
                multilateral_out += position
        if multilateral_limit and multilateral_out > 0:
            base = self.multilateral_base.get(a)
            if base is None:
                # Today's position changes only when a set settles: once per run.
                base = self.multilateral_base[a] = q._multilateral_position(a, currency)
            if base + multilateral_out > multilateral_limit:
                return False
        return True
