"""Properties of RTGS queues and the liquidity-saving mechanism (issue 3), by hypothesis.

The rules a settlement must keep are written again here, from docs/rtgs.md, as the
test's own record of the network (``Rules``, ``short_senders``): balances, holds,
floors, reservations, bilateral and multilateral limits with today's flows, the
queues in their order. Random days are driven one command per batch through the
engine, and every settlement the engine reports (``PaymentSettled`` events, grouped
by run) is judged against that record before it is booked into it:

- safety: no set breaks a floor, a reservation or a limit; nothing settles before its
  FROM or at or after its TILL, twice, from or to a suspended owner, in a closed day,
  or ahead of a waiting urgent/high payment of its sender (FIFO where it applies);
  balances move only by what the events say (conservation, checked against the
  engine's balances after every batch); the queues hold what the events say, in order;
- the engine's answers agree with the rules: a payment that may settle alone at entry
  does; a SettleSet is accepted, refused as invalid or as infeasible exactly when the
  rules say so;
- liveness: after every batch no set of waiting payments that the rules would let
  settle in queue order is left waiting, and no normal payment that could settle alone.

Optimality, on small instances (up to 12 queued payments, all made eligible by one
FROM time, so that a single batch resolves them): the settled value is compared with
the best FIFO-respecting subset found by brute force in the test. Urgent and high
payments only: equal to the maximal FIFO set, exactly. With normal payments: at least
the maximal FIFO set and at most the brute-force optimum (see ``test_normal_*``).

Replay: random days and one scripted day with every queue feature are packed batch by
batch, unpacked into a fresh engine and into one restored from a mid-day snapshot,
and must give the same results, events and digest.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st

from interbank.engine import (
    Batch,
    Command,
    Engine,
    Hold,
    Issue,
    ReactivateParticipant,
    Result,
    ResultCode,
    SetCreditLine,
    SuspendParticipant,
    Transfer,
    TransferSettled,
    VoidHold,
)
from interbank.engine.commands import (
    CancelPayment,
    ChangePriority,
    DayClosed,
    EndOfDay,
    Event,
    LsmRun,
    MovePayment,
    Payment,
    PaymentQueued,
    PaymentRejected,
    PaymentSettled,
    Priority,
    ResolveGridlock,
    SetBilateralLimit,
    SetMultilateralLimit,
    SetReservation,
    SettleSet,
    StartOfDay,
    TillWarning,
)

from .rtgs_network import BICS, EUR_ACCOUNTS, HIGH, NORMAL, SETTINGS, URGENT, Network

# Small id tables (a network of one test) and many rounds, so that a batch's runs reach
# their fixed point and the liveness check below applies to every batch.
PROPERTY_SETTINGS = replace(
    SETTINGS, idempotency_window_commands=1 << 12, batch_commands_max=1 << 10, lsm_rounds_max=64
)
NAMES = ("A", "B", "C", "D", "E", "CB")
BANKS = ("A", "B", "C", "D", "E")
ACCOUNTS = {name: EUR_ACCOUNTS[name] for name in NAMES}
NAME_OF = {account: name for name, account in ACCOUNTS.items()}
BIC_OF = {account: BICS[name] for name, account in ACCOUNTS.items()}
WARNING_NS = PROPERTY_SETTINGS.till_warning_ns


# --- the rules, as the test's own record ----------------------------------------------------------


@dataclass
class Sent:
    """A payment as it was sent, and its priority now (ChangePriority moves it)."""

    payment_id: int
    debit: int  # account id
    credit: int
    amount_minor: int
    priority: int
    from_ns: int
    till_ns: int
    warned: bool = False


@dataclass
class Rules:
    """What deciding a set needs, kept by the test from the commands and events only."""

    balance: dict[int, int]
    held: dict[int, int] = field(default_factory=dict)
    floor: dict[int, int] = field(default_factory=dict)
    reserved: dict[int, tuple[int, int]] = field(default_factory=dict)  # (urgent, high)
    bilateral: dict[tuple[str, str], int] = field(default_factory=dict)
    multilateral: dict[str, int] = field(default_factory=dict)
    # Today's flows between participants: normal payments only, and all payments.
    flow_normal: dict[tuple[str, str], int] = field(default_factory=dict)
    flow_total: dict[tuple[str, str], int] = field(default_factory=dict)
    suspended: set[str] = field(default_factory=set)

    def free(self, account: int) -> int:
        """Liquidity above the floor."""
        return self.balance[account] - self.held.get(account, 0) - self.floor.get(account, 0)

    def reserve_needed(self, account: int, priority_lowest: int) -> int:
        urgent, high = self.reserved.get(account, (0, 0))
        return {NORMAL: urgent + high, HIGH: urgent}.get(priority_lowest, 0)

    def usable(self, account: int) -> bool:
        return BIC_OF[account] not in self.suspended

    def bilateral_position(self, a: str, b: str) -> int:
        return self.flow_normal.get((a, b), 0) - self.flow_total.get((b, a), 0)

    def multilateral_position(self, a: str) -> int:
        """Normal paid to, minus everything received from, all without a bilateral limit."""
        out = sum(
            v for (x, b), v in self.flow_normal.items() if x == a and (a, b) not in self.bilateral
        )
        back = sum(
            v for (b, x), v in self.flow_total.items() if x == a and (a, b) not in self.bilateral
        )
        return out - back

    def book(self, payments: Iterable[Sent]) -> None:
        for p in payments:
            self.balance[p.debit] -= p.amount_minor
            self.balance[p.credit] += p.amount_minor
            pair = (BIC_OF[p.debit], BIC_OF[p.credit])
            self.flow_total[pair] = self.flow_total.get(pair, 0) + p.amount_minor
            if p.priority == NORMAL:
                self.flow_normal[pair] = self.flow_normal.get(pair, 0) + p.amount_minor


def short_senders(rules: Rules, payments: Sequence[Sent], *, same_set: bool = True) -> set[int]:
    """Sender accounts whose floor, reservation or limit the set, settled at once, breaks.

    ``same_set`` is the engine's rule (docs/rtgs.md): a sender's limit position in a set
    is offset only by inflows from the counterparties it pays in that set. Without it,
    every inflow of the set counts (the position after the set): a weaker rule, used
    only for an upper bound on what a sequence of runs can settle.
    """
    delta: dict[int, int] = {}
    lowest: dict[int, int] = {}
    normal: dict[tuple[str, str], int] = {}
    total: dict[tuple[str, str], int] = {}
    short: set[int] = set()
    for p in payments:
        delta[p.debit] = delta.get(p.debit, 0) - p.amount_minor
        delta[p.credit] = delta.get(p.credit, 0) + p.amount_minor
        lowest[p.debit] = min(lowest.get(p.debit, URGENT), p.priority)
        pair = (BIC_OF[p.debit], BIC_OF[p.credit])
        total[pair] = total.get(pair, 0) + p.amount_minor
        if p.priority == NORMAL:
            normal[pair] = normal.get(pair, 0) + p.amount_minor
        if not (rules.usable(p.debit) and rules.usable(p.credit)):
            short.add(p.debit)
    for account, priority in lowest.items():
        if rules.free(account) + delta[account] < rules.reserve_needed(account, priority):
            short.add(account)
    account_of = {BIC_OF[p.debit]: p.debit for p in payments}
    for a in {a for a, _ in normal}:
        multilateral_out = 0
        pays_multilateral = False
        for (x, b), paid in normal.items():
            if x != a:
                continue
            net = paid - total.get((b, a), 0)
            if (a, b) in rules.bilateral:
                if rules.bilateral_position(a, b) + net > rules.bilateral[(a, b)]:
                    short.add(account_of[a])
            else:
                multilateral_out += net
                pays_multilateral = True
        if a not in rules.multilateral or not pays_multilateral:
            continue
        if not same_set:  # every inflow of the set from participants without a bilateral limit
            multilateral_out = sum(
                v for (x, b), v in normal.items() if x == a and (a, b) not in rules.bilateral
            ) - sum(v for (b, x), v in total.items() if x == a and (a, b) not in rules.bilateral)
        limit = rules.multilateral[a]
        if multilateral_out > 0 and rules.multilateral_position(a) + multilateral_out > limit:
            short.add(account_of[a])
    return short


def ahead_of(queue: Sequence[Sent], payment: Sent, now_ns: int) -> list[Sent]:
    """Waiting urgent/high payments, eligible now, that must settle before ``payment``.

    ``queue`` is the sender's queue in order; a payment not in it is a new one, at the
    back of its class."""
    ids = [q.payment_id for q in queue]
    if payment.payment_id in ids:
        before = queue[: ids.index(payment.payment_id)]
    else:
        before = [q for q in queue if q.priority >= payment.priority]
    return [q for q in before if q.priority != NORMAL and q.from_ns <= now_ns]


def fifo_maximal(rules: Rules, queues: dict[int, list[Sent]], now_ns: int) -> list[Sent]:
    """The largest set that settles in queue order: every eligible payment in, then the
    last one of any sender still short dropped, until no sender is short (Bech and
    Soramäki 2001: the result does not depend on which short sender goes first)."""
    included = {s: [p for p in q if p.from_ns <= now_ns] for s, q in queues.items()}
    while True:
        chosen = [p for q in included.values() for p in q]
        short = short_senders(rules, chosen)
        if not short:
            return chosen
        included[min(short)].pop()


# --- driving a day and judging every settlement ---------------------------------------------------


class Judge:
    """Sends commands, one batch each, and checks what the engine reports against ``Rules``."""

    def __init__(self, net: Network) -> None:
        self.net = net
        engine = net.engine
        self.rules = Rules(
            balance={a: _balance(engine, a) for a in NAME_OF},
            floor={a: _view(engine, a).floor_minor for a in NAME_OF},
        )
        self.queues: dict[int, list[Sent]] = {a: [] for a in NAME_OF}
        self.sent: dict[int, Sent] = {}
        self.settled: set[int] = set()
        self.left: set[int] = set()  # rejected out of a queue
        self.day_closed = False
        self.holds: list[int] = []
        self.setup_digest = engine.digest()
        self.batches: list[tuple[bytes, int]] = []  # (packed batch, stamp) for replay
        self.results: list[list[Result]] = []
        self.events: list[list[Event]] = []
        self.methods: set[str] = set()
        self.codes: set[int] = set()

    # --- reading the record ---

    def waiting(self) -> list[Sent]:
        return [p for q in self.queues.values() for p in q]

    def find(self, payment_id: int) -> tuple[list[Sent], int] | None:
        for queue in self.queues.values():
            for k, p in enumerate(queue):
                if p.payment_id == payment_id:
                    return queue, k
        return None

    # --- sending ---

    def send(self, command: Command | None, at_ns: int | None = None) -> Result | None:
        commands = [] if command is None else [command]
        now = self.net.now_ns + 1_000 if at_ns is None else at_ns
        self.batches.append((Batch.of(commands).pack(), now))
        results = self.net.send(*commands, at_ns=now)
        self.results.append(results)
        self.events.append(self.net.events)
        result = results[0] if results else None
        if result is not None:
            self.codes.add(int(result.code))
        self._judge(command, result, self.net.events, now)
        return result

    # --- judging ---

    def _judge(
        self,
        command: Command | None,
        result: Result | None,
        events: list[Event],
        now: int,
    ) -> None:
        rules = self.rules
        ok = result is not None and result.code == ResultCode.OK
        new: Sent | None = None
        # The command's own effect on the record (money moves come from the events).
        if isinstance(command, Payment):
            new = Sent(command.id, command.debit_account_id, command.credit_account_id,
                       command.amount_minor, int(command.priority), command.from_ns,
                       command.till_ns)  # fmt: skip
            self.sent[new.payment_id] = new
        elif ok and isinstance(command, Hold):
            rules.held[command.debit_account_id] = (
                rules.held.get(command.debit_account_id, 0) + command.amount_minor
            )
            self.holds.append(command.id)
        elif ok and isinstance(command, VoidHold):
            view = self.net.engine.hold(command.hold_id)
            assert view is not None
            rules.held[view.debit_account_id] -= view.amount_minor
        elif ok and isinstance(command, SetCreditLine):
            rules.floor[command.account_id] = -command.credit_line_minor
        elif ok and isinstance(command, SetReservation):
            urgent, high = rules.reserved.get(command.account_id, (0, 0))
            if command.priority == URGENT:
                urgent = command.amount_minor
            else:
                high = command.amount_minor
            rules.reserved[command.account_id] = (urgent, high)
        elif ok and isinstance(command, SetBilateralLimit):
            pair = (command.bic, command.counterparty_bic)
            if command.limit_minor:
                rules.bilateral[pair] = command.limit_minor
            else:
                rules.bilateral.pop(pair, None)
        elif ok and isinstance(command, SetMultilateralLimit):
            if command.limit_minor:
                rules.multilateral[command.bic] = command.limit_minor
            else:
                rules.multilateral.pop(command.bic, None)
        elif ok and isinstance(command, SuspendParticipant):
            rules.suspended.add(command.bic)
        elif ok and isinstance(command, ReactivateParticipant):
            rules.suspended.discard(command.bic)
        elif ok and isinstance(command, ChangePriority):
            found = self.find(command.payment_id)
            assert found is not None, "changed the priority of a payment that was not waiting"
            queue, k = found
            moved = queue.pop(k)
            moved.priority = int(command.priority)
            queue.insert(sum(q.priority >= moved.priority for q in queue), moved)
        elif ok and isinstance(command, MovePayment):
            found = self.find(command.payment_id)
            assert found is not None, "moved a payment that was not waiting"
            queue, k = found
            moved = queue.pop(k)
            if command.to_front:
                at = sum(q.priority > moved.priority for q in queue)
            else:
                at = sum(q.priority >= moved.priority for q in queue)
            queue.insert(at, moved)
        elif ok and isinstance(command, StartOfDay):
            self.day_closed = False
            rules.flow_normal.clear()
            rules.flow_total.clear()
        elif ok and isinstance(command, EndOfDay):
            self.day_closed = True

        verdict_due = isinstance(command, SettleSet)
        group: list[PaymentSettled] = []
        queued_new = False
        settled_at_entry = False
        for event in events:
            if verdict_due and not (
                isinstance(event, TillWarning)
                or (isinstance(event, PaymentRejected) and event.code == ResultCode.TILL_PASSED)
            ):
                self._check_settle_set(command, result, now)  # type: ignore[arg-type]
                verdict_due = False
            if isinstance(event, TransferSettled):
                rules.balance[event.debit_account_id] = (
                    rules.balance.get(event.debit_account_id, 0) - event.amount_minor
                )
                rules.balance[event.credit_account_id] = (
                    rules.balance.get(event.credit_account_id, 0) + event.amount_minor
                )
            elif isinstance(event, PaymentQueued):
                assert new is not None and event.payment_id == new.payment_id
                queue = self.queues[new.debit]
                # Entry disposition: a payment that may settle alone now does so at entry.
                assert not self._settles_alone(new, now), "queued though it could settle"
                queue.insert(sum(q.priority >= new.priority for q in queue), new)
                queued_new = True
            elif isinstance(event, PaymentSettled):
                group.append(event)
                if event.run_id == 0:
                    assert len(group) == 1
                    settled_at_entry = self._settle(group, new, now, "entry", command)
                    group = []
            elif isinstance(event, LsmRun):
                assert group and all(e.run_id == event.run_id for e in group), (event, group)
                assert sorted(event.payment_ids) == sorted(e.payment_id for e in group)
                assert event.value_minor == sum(e.amount_minor for e in group)
                if event.method == "offset":  # tried only when it cannot settle alone
                    assert new is not None and not self._settles_alone(new, now)
                    assert new.from_ns <= now and not ahead_of(self.queues[new.debit], new, now)
                holds_new = self._settle(group, new, now, event.method, command)
                settled_at_entry |= holds_new and event.method == "offset"
                self.methods.add(event.method)
                group = []
            elif isinstance(event, PaymentRejected):
                self._reject(event, command, now)
            elif isinstance(event, TillWarning):
                payment = self.sent[event.payment_id]
                assert self.find(payment.payment_id) is not None or payment is new
                assert not payment.warned and payment.till_ns - WARNING_NS <= now
                payment.warned = True
            elif isinstance(event, DayClosed):
                assert isinstance(command, EndOfDay) and not self.waiting()
        assert not group, "settled payments without their run"
        if verdict_due:
            self._check_settle_set(command, result, now)  # type: ignore[arg-type]
        if new is not None:
            assert result is not None
            assert queued_new == (result.code == ResultCode.QUEUED)
            assert settled_at_entry == (result.code == ResultCode.OK)
            if self.day_closed:
                assert result.code not in (ResultCode.OK, ResultCode.QUEUED)
        self._check_after_batch(now, events)

    def _settle(
        self,
        group: list[PaymentSettled],
        new: Sent | None,
        now: int,
        method: str,
        command: Command | None,
    ) -> bool:
        """Judge one set settled together, then book it. True if it holds the new payment."""
        assert not self.day_closed, "settled in a closed day"
        payments: list[Sent] = []
        has_new = False
        for event in group:
            p = self.sent[event.payment_id]
            assert event.payment_id not in self.settled and event.payment_id not in self.left
            assert (event.debit_account_id, event.credit_account_id, event.amount_minor) == (
                p.debit, p.credit, p.amount_minor)  # fmt: skip
            assert event.currency == "EUR" and event.timestamp_ns == now
            assert p.from_ns <= now, "settled before its FROM time"
            assert p.till_ns == 0 or now < p.till_ns, "settled at or after its TILL time"
            if p is new:
                has_new = True
            else:
                assert self.find(p.payment_id) is not None, "settled a payment not waiting"
            payments.append(p)
        if method == "entry":
            assert has_new
        if method == "offset":
            assert has_new and len(payments) >= 2
        if method == "settle_set":
            assert isinstance(command, SettleSet)
            assert sorted(command.payment_ids) == sorted(p.payment_id for p in payments)
        members = {p.payment_id for p in payments}
        for p in payments:
            blocking = [q for q in ahead_of(self.queues[p.debit], p, now)
                        if q.payment_id not in members]  # fmt: skip
            assert not blocking, f"{p.payment_id} settled ahead of waiting {blocking[0]}"
        short = short_senders(self.rules, payments)
        assert not short, f"the set breaks a floor, reservation or limit of {short}"
        self.rules.book(payments)
        for p in payments:
            self.settled.add(p.payment_id)
            found = self.find(p.payment_id)
            if found is not None:
                queue, k = found
                del queue[k]
        return has_new

    def _reject(self, event: PaymentRejected, command: Command | None, now: int) -> None:
        found = self.find(event.payment_id)
        assert found is not None, "rejected a payment that was not waiting"
        queue, k = found
        p = queue[k]
        if event.code == ResultCode.TILL_PASSED:
            assert p.till_ns and p.till_ns <= now
        elif event.code == ResultCode.CANCELLED:
            assert isinstance(command, CancelPayment) and command.payment_id == p.payment_id
        else:
            assert event.code == ResultCode.END_OF_DAY_REJECTED and isinstance(command, EndOfDay)
        del queue[k]
        self.left.add(p.payment_id)

    def _check_settle_set(self, command: SettleSet, result: Result | None, now: int) -> None:
        """The engine accepts a SettleSet, or refuses it as invalid or infeasible, exactly as
        the rules say (judged after the batch's TILL rejections, before anything else)."""
        assert result is not None
        ids = command.payment_ids
        expected = ResultCode.OK
        waiting = {p.payment_id: p for p in self.waiting()}
        unknown = any(i not in waiting or waiting[i].from_ns > now for i in ids)
        if not ids or len(set(ids)) != len(ids) or unknown:
            expected = ResultCode.SETTLE_SET_INVALID
        else:
            chosen = [waiting[i] for i in ids]
            if any(q.payment_id not in ids for p in chosen
                   for q in ahead_of(self.queues[p.debit], p, now)):  # fmt: skip
                expected = ResultCode.SETTLE_SET_INVALID
            elif short_senders(self.rules, chosen):
                expected = ResultCode.SETTLE_SET_INFEASIBLE
        assert result.code == expected, (ids, result.code, expected)

    def _settles_alone(self, new: Sent, now: int) -> bool:
        return (
            new.from_ns <= now
            and not ahead_of(self.queues[new.debit], new, now)
            and not short_senders(self.rules, [new])
        )

    def _check_after_batch(self, now: int, events: list[Event]) -> None:
        engine = self.net.engine
        rules = self.rules
        for account in NAME_OF:
            view = _view(engine, account)
            assert view.balance_minor == rules.balance[account], "balances moved unreported"
            assert view.held_minor == rules.held.get(account, 0)
            assert view.floor_minor == rules.floor.get(account, 0)
            assert view.balance_minor - view.held_minor >= view.floor_minor
            expected = [p.payment_id for p in self.queues[account]]
            assert [v.payment_id for v in engine.queue(account)] == expected, "queue order"
        for p in self.waiting():
            assert p.till_ns == 0 or now < p.till_ns, "waits past its TILL"
            assert p.warned or p.till_ns == 0 or now < p.till_ns - WARNING_NS, "not warned"
        runs = sum(1 for e in events if isinstance(e, LsmRun) and e.method in ("fifo", "bypass"))
        if self.day_closed or runs >= self.net.engine.settings.lsm_rounds_max:
            return
        # Liveness: nothing that the rules let settle in queue order is left waiting...
        leftover = fifo_maximal(rules, self.queues, now)
        assert not leftover, f"left waiting though they settle together: {leftover}"
        # ...nor a normal payment that could settle alone past its queue's normal head.
        for queue in self.queues.values():
            for p in queue:
                if p.priority == NORMAL and p.from_ns <= now and not ahead_of(queue, p, now):
                    assert short_senders(rules, [p]), f"{p} could settle alone"


def _view(engine: Engine, account: int):  # type: ignore[no-untyped-def]
    view = engine.account(account)
    assert view is not None
    return view


def _balance(engine: Engine, account: int) -> int:
    return int(_view(engine, account).balance_minor)


# --- random days ----------------------------------------------------------------------------------

bank = st.sampled_from(BANKS)
party = st.sampled_from(NAMES)
small_amount = st.integers(1, 150)
pick = st.integers(0, 10_000)  # an index into what exists when the op runs

STEPS: dict[str, st.SearchStrategy[tuple[object, ...]]] = {
    "pay": st.tuples(
        st.just("pay"), party, party, small_amount,
        st.sampled_from([NORMAL, NORMAL, NORMAL, HIGH, HIGH, URGENT]),
        st.sampled_from([0, 0, 0, 1_500, 4_000]),
        st.sampled_from([0, 0, 0, 1_500, 3_000, 9_000]),
    ),
    "fund": st.tuples(st.just("fund"), party, st.integers(1, 200)),
    "tick": st.tuples(st.just("tick"), st.integers(1, 6_000)),
    "transfer": st.tuples(st.just("transfer"), bank, bank, small_amount),
    "hold": st.tuples(st.just("hold"), bank, bank, st.integers(1, 60)),
    "void": st.tuples(st.just("void"), pick),
    "credit_line": st.tuples(st.just("credit_line"), bank, st.integers(0, 80)),
    "bilateral": st.tuples(st.just("bilateral"), bank, party, st.integers(0, 120)),
    "multilateral": st.tuples(st.just("multilateral"), bank, st.integers(0, 120)),
    "reserve": st.tuples(st.just("reserve"), party, st.sampled_from([URGENT, HIGH]),
                         st.integers(0, 60)),
    "priority": st.tuples(st.just("priority"), pick, st.sampled_from([NORMAL, HIGH, URGENT])),
    "move": st.tuples(st.just("move"), pick, st.booleans()),
    "cancel": st.tuples(st.just("cancel"), pick),
    "settle_set": st.tuples(st.just("settle_set"), st.lists(pick, min_size=1, max_size=4)),
    "resolve": st.tuples(st.just("resolve")),
    "suspend": st.tuples(st.just("suspend"), bank),
    "reactivate": st.tuples(st.just("reactivate"), bank),
    # The day ends, a payment meets the closed day, and the next day starts.
    "day_break": st.tuples(st.just("day_break")),
}  # fmt: skip
# Payments most often, then funding and the clock; every other command now and then.
STEP_WEIGHTS = {"pay": 14, "fund": 4, "tick": 3}
op = st.sampled_from([name for name in STEPS for _ in range(STEP_WEIGHTS.get(name, 1))]).flatmap(
    lambda name: STEPS[name]
)
days = st.lists(op, min_size=20, max_size=80)
opening = st.fixed_dictionaries({name: st.sampled_from([0, 10, 30, 60, 120]) for name in NAMES})


def command_of(judge: Judge, step: tuple[object, ...]) -> tuple[Command | None, int | None]:
    """The command of one random step (None: an empty batch), and its stamp if not the next."""
    net = judge.net
    kind, *args = step
    now = net.now_ns + 1_000
    sent = list(judge.sent)
    waiting = [p.payment_id for p in judge.waiting()]

    def any_payment(index: object) -> int:
        assert isinstance(index, int)
        # Mostly a waiting payment; sometimes any payment ever sent (settled, rejected).
        if waiting and index % 5:
            return waiting[index % len(waiting)]
        return sent[index % len(sent)] if sent else 987_654

    if kind == "pay":
        sender, payee, amount, priority, from_after, till_after = args
        from_ns = now + from_after if from_after else 0  # type: ignore[operator]
        till_ns = now + till_after if till_after else 0  # type: ignore[operator]
        if from_ns and till_ns and till_ns < from_ns:
            till_ns = from_ns + 1_000
        return net.payment(sender, payee, amount, Priority(priority),  # type: ignore[arg-type]
                           from_ns=from_ns, till_ns=till_ns), None  # fmt: skip
    if kind == "fund":
        return Issue(net.next_id(), ACCOUNTS[args[0]], args[1]), None  # type: ignore[index, arg-type]
    if kind == "transfer":
        a, b, amount = args
        return Transfer(net.next_id(), ACCOUNTS[a], ACCOUNTS[b], amount), None  # type: ignore[index, arg-type]
    if kind == "hold":
        a, b, amount = args
        return Hold(net.next_id(), ACCOUNTS[a], ACCOUNTS[b], amount), None  # type: ignore[index, arg-type]
    if kind == "void":
        if not judge.holds:
            return None, None
        return VoidHold(net.next_id(), judge.holds[args[0] % len(judge.holds)]), None  # type: ignore[operator]
    if kind == "credit_line":
        return SetCreditLine(net.next_id(), ACCOUNTS[args[0]], args[1]), None  # type: ignore[index, arg-type]
    if kind == "bilateral":
        a, b, limit = args
        return SetBilateralLimit(net.next_id(), BICS[a], BICS[b], "EUR", limit), None  # type: ignore[index, arg-type]
    if kind == "multilateral":
        return SetMultilateralLimit(net.next_id(), BICS[args[0]], "EUR", args[1]), None  # type: ignore[index, arg-type]
    if kind == "reserve":
        name, priority, amount = args
        return SetReservation(net.next_id(), ACCOUNTS[name], Priority(priority), amount), None  # type: ignore[index, arg-type]
    if kind == "priority":
        payment_id = any_payment(args[0])
        sender = judge.sent.get(payment_id)
        by = BIC_OF[sender.debit] if sender and args[0] % 2 else None  # type: ignore[operator]
        return ChangePriority(net.next_id(), payment_id, Priority(args[1]), by), None  # type: ignore[arg-type]
    if kind == "move":
        return MovePayment(net.next_id(), any_payment(args[0]), bool(args[1])), None
    if kind == "cancel":
        return CancelPayment(net.next_id(), any_payment(args[0])), None
    if kind == "settle_set":
        ids = tuple(dict.fromkeys(any_payment(i) for i in args[0]))  # type: ignore[attr-defined]
        return SettleSet(net.next_id(), "EUR", ids), None
    if kind == "resolve":
        return ResolveGridlock(net.next_id(), "EUR"), None
    if kind == "tick":
        return None, net.now_ns + args[0]  # type: ignore[operator]
    if kind == "suspend":
        return SuspendParticipant(net.next_id(), BICS[args[0]]), None  # type: ignore[index]
    if kind == "reactivate":
        return ReactivateParticipant(net.next_id(), BICS[args[0]]), None  # type: ignore[index]
    raise AssertionError(f"unknown step {kind}")


def run_day(balances: dict[str, int], steps: Sequence[tuple[object, ...]]) -> Judge:
    judge = Judge(Network(balances, settings=PROPERTY_SETTINGS))
    net = judge.net
    for step in steps:
        if step[0] == "day_break":
            judge.send(EndOfDay(net.next_id(), "EUR"))
            result = judge.send(net.payment("A", "B", 1))
            assert result is not None and result.code in (
                ResultCode.DAY_CLOSED,
                ResultCode.DEBIT_PARTICIPANT_SUSPENDED,  # checked before the day
                ResultCode.CREDIT_PARTICIPANT_SUSPENDED,
            )
            judge.send(StartOfDay(net.next_id(), "EUR"))
            continue
        command, at_ns = command_of(judge, step)
        judge.send(command, at_ns)
    return judge


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(opening, days)
def test_every_settlement_keeps_the_rules(
    balances: dict[str, int], steps: list[tuple[object, ...]]
) -> None:
    judge = run_day(balances, steps)
    for method in sorted(judge.methods):
        tally(f"run method {method}")
    settled = len(judge.settled)
    tally("settled: none" if not settled else "settled: 1-4" if settled < 5 else "settled: 5+")


# --- replay ---------------------------------------------------------------------------------------


def replay(judge: Judge, opening: dict[str, int], snapshot_at: int) -> None:
    """Apply the judged day's packed batches to a fresh engine, and the batches after
    ``snapshot_at`` to an engine restored from a snapshot taken there: both must answer
    the same results and events and reach the same digest as the original."""
    engine = Network(opening, settings=PROPERTY_SETTINGS).engine
    assert engine.digest() == judge.setup_digest
    restored: Engine | None = None
    for k, (packed, stamp) in enumerate(judge.batches):
        if k == snapshot_at:
            restored = Engine.restore(engine.snapshot())
            assert restored.digest() == engine.digest()
        for target in (engine, restored):
            if target is None:
                continue
            batch = Batch.unpack(packed)
            outcome = target.apply(batch, stamp)
            assert outcome.results() == judge.results[k]
            assert target.events(batch, outcome) == judge.events[k]
    assert engine.digest() == judge.net.engine.digest()
    if restored is not None:
        assert restored.digest() == judge.net.engine.digest()


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(days, st.integers(0, 45))
def test_random_days_replay_to_the_same_digest(steps: list[tuple[object, ...]], cut: int) -> None:
    judge = run_day({}, steps)
    replay(judge, {}, min(cut, len(judge.batches)))


SCRIPTED_OPENING = {"A": 40, "B": 30, "C": 10}


def scripted_day() -> Judge:
    """A day that uses every queue feature; the Judge checks each step against the rules
    and the test below that each feature was reached."""
    judge = Judge(Network(SCRIPTED_OPENING, settings=PROPERTY_SETTINGS))
    net = judge.net
    a, b = BICS["A"], BICS["B"]

    def pay(sender: str, payee: str, amount: int, priority: Priority = NORMAL,
            **timing: int) -> int:  # fmt: skip
        payment = net.payment(sender, payee, amount, priority, **timing)
        judge.send(payment)
        return payment.id

    judge.send(SetBilateralLimit(net.next_id(), a, b, "EUR", 60))
    judge.send(SetMultilateralLimit(net.next_id(), b, "EUR", 50))
    judge.send(SetReservation(net.next_id(), ACCOUNTS["A"], HIGH, 15))
    cycle = [pay("A", "B", 100), pay("B", "C", 80), pay("C", "A", 90)]  # A's limit stops it
    judge.send(SetBilateralLimit(net.next_id(), a, b, "EUR", 200))  # now B's multilateral
    judge.send(SetMultilateralLimit(net.next_id(), b, "EUR", 100))  # the cycle settles
    assert set(cycle) <= judge.settled
    h1 = pay("A", "D", 40, HIGH)  # A has 30: waits
    n1 = pay("A", "E", 5)  # behind a waiting high payment
    judge.send(ChangePriority(net.next_id(), n1, HIGH, a))  # back of the high class
    judge.send(MovePayment(net.next_id(), n1, True, None))  # front: it settles alone
    judge.send(ChangePriority(net.next_id(), h1, HIGH, None))  # same priority: to the back
    assert n1 in judge.settled and h1 not in judge.settled
    till_ns = net.now_ns + 5_000
    doomed = pay("D", "E", 20, till_ns=till_ns)  # D is empty
    judge.send(None, at_ns=till_ns - WARNING_NS)  # warned
    judge.send(None, at_ns=till_ns)  # rejected (TM01)
    timed = pay("B", "E", 10, from_ns=net.now_ns + 3_000)
    judge.send(None, at_ns=net.now_ns + 3_000)  # its FROM time: settles in a run
    judge.send(SetMultilateralLimit(net.next_id(), b, "EUR", 0))
    from_ns = net.now_ns + 10_000
    x1, x2, x3 = (pay("B", payee, amount, from_ns=from_ns)
                  for payee, amount in (("D", 30), ("E", 20), ("C", 20)))  # fmt: skip
    judge.send(SettleSet(net.next_id(), "EUR", (x2, x3)), at_ns=from_ns)  # B has 40
    judge.send(Issue(net.next_id(), ACCOUNTS["CB"], 100))
    pay("CB", "A", 50, URGENT)  # at entry; its credit lets h1 settle in the run after
    pay("C", "E", 50)  # C has 20: waits
    pay("E", "C", 40)  # E has 30: offsets C's payment at entry
    judge.send(ResolveGridlock(net.next_id(), "EUR"))
    pay("D", "A", 500)
    judge.send(EndOfDay(net.next_id(), "EUR"))  # rejects x1 and D's payment
    pay("A", "B", 1)  # the day is closed
    judge.send(StartOfDay(net.next_id(), "EUR"))
    pay("A", "B", 1)
    assert {doomed, x1} <= judge.left and {timed, h1, x2, x3} <= judge.settled
    return judge


def test_scripted_day_uses_every_feature_and_replays() -> None:
    judge = scripted_day()
    assert {"fifo", "offset", "settle_set"} <= judge.methods, judge.methods
    for code in (ResultCode.QUEUED, ResultCode.DAY_CLOSED, ResultCode.OK):
        assert int(code) in judge.codes
    assert judge.left, "something left a queue unsettled (TILL or end of day)"
    for cut in range(0, len(judge.batches) + 1, 5):
        replay(judge, SCRIPTED_OPENING, cut)


# --- optimality on small instances ----------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    balances: dict[str, int]
    credit_lines: dict[str, int]
    reservations: tuple[tuple[str, int, int], ...]  # (name, priority, amount)
    bilateral: tuple[tuple[str, str, int], ...]
    multilateral: tuple[tuple[str, int], ...]
    payments: tuple[tuple[str, str, int, int], ...]  # (sender, payee, amount, priority)


def instances(*, normal: bool) -> st.SearchStrategy[Instance]:
    priorities = [NORMAL, HIGH, URGENT] if normal else [HIGH, URGENT]

    @st.composite
    def build(draw: st.DrawFn) -> Instance:
        names = NAMES[: draw(st.integers(3, 6))]
        count = draw(st.integers(1, 12))
        payments = []
        for _ in range(count):
            priority = draw(st.sampled_from(priorities))
            sender = "CB" if priority == URGENT else draw(st.sampled_from(names))
            payee = draw(st.sampled_from([n for n in names if n != sender]))
            payments.append((sender, payee, draw(st.integers(1, 100)), priority))
        balances = {n: draw(st.sampled_from([0, 0, 10, 25, 40, 70])) for n in names}
        credit = {n: draw(st.sampled_from([0, 0, 0, 15])) for n in names if n != "CB"}
        reservations = tuple(
            (n, p, draw(st.integers(1, 40)))
            for n in names for p in (URGENT, HIGH) if draw(st.integers(0, 5)) == 0
        )  # fmt: skip
        bilateral: tuple[tuple[str, str, int], ...] = ()
        multilateral: tuple[tuple[str, int], ...] = ()
        if normal:
            bilateral = tuple(
                (a, b, draw(st.integers(1, 120)))
                for a in names for b in names if a != b and draw(st.integers(0, 7)) == 0
            )  # fmt: skip
            multilateral = tuple(
                (a, draw(st.integers(1, 120))) for a in names if draw(st.integers(0, 3)) == 0
            )
        return Instance(balances, credit, reservations, bilateral, multilateral, tuple(payments))

    return build()


def settle_instance(instance: Instance, rounds_max: int) -> tuple[Judge, list[Sent], int]:
    """Queue every payment behind one FROM time, then let the batch stamped at that time
    resolve them: (the judge, the queued payments, the value settled by that batch)."""
    network_settings = replace(PROPERTY_SETTINGS, lsm_rounds_max=rounds_max)
    judge = Judge(Network(instance.balances, credit_lines_minor=instance.credit_lines,
                          settings=network_settings))  # fmt: skip
    net = judge.net
    for name, priority, amount in instance.reservations:
        judge.send(SetReservation(net.next_id(), ACCOUNTS[name], Priority(priority), amount))
    for a, b, limit in instance.bilateral:
        judge.send(SetBilateralLimit(net.next_id(), BICS[a], BICS[b], "EUR", limit))
    for a, limit in instance.multilateral:
        judge.send(SetMultilateralLimit(net.next_id(), BICS[a], "EUR", limit))
    from_ns = net.now_ns + 1_000_000
    for sender, payee, amount, priority in instance.payments:
        result = judge.send(net.payment(sender, payee, amount, Priority(priority), from_ns=from_ns))
        assert result is not None and result.code == ResultCode.QUEUED
    queued = judge.waiting()
    settled_before = set(judge.settled)
    judge.send(None, at_ns=from_ns)
    value = sum(judge.sent[i].amount_minor for i in judge.settled - settled_before)
    return judge, queued, value


def fifo_respecting_subsets(queued: Sequence[Sent]) -> Iterator[list[Sent]]:
    """Every subset that respects order: per sender, a prefix of its urgent and high
    payments, and normal payments (any of them) only once all of those are in."""
    by_sender: dict[int, list[Sent]] = {}
    for p in queued:
        by_sender.setdefault(p.debit, []).append(p)
    choices: list[list[list[Sent]]] = []
    for queue in by_sender.values():
        firm = [p for p in queue if p.priority != NORMAL]
        normals = [p for p in queue if p.priority == NORMAL]
        options = [firm[:k] for k in range(len(firm))]
        for r in range(len(normals) + 1):
            options.extend(firm + list(extra) for extra in itertools.combinations(normals, r))
        choices.append(options)
    for combination in itertools.product(*choices):
        yield [p for part in combination for p in part]


def best_value(rules: Rules, queued: Sequence[Sent], *, same_set: bool) -> int:
    return max(
        sum(p.amount_minor for p in subset)
        for subset in fifo_respecting_subsets(queued)
        if not short_senders(rules, subset, same_set=same_set)
    )


def rules_before(judge: Judge, queued: Sequence[Sent]) -> Rules:
    """The record as it stood before the resolving batch (the judge has booked it since)."""
    rules = judge.rules
    balance = dict(rules.balance)
    for p in queued:
        if p.payment_id in judge.settled:
            balance[p.debit] += p.amount_minor
            balance[p.credit] -= p.amount_minor
    return replace(rules, balance=balance, flow_normal={}, flow_total={})


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(instances(normal=False))
def test_urgent_and_high_settle_exactly_the_maximal_fifo_set(instance: Instance) -> None:
    judge, queued, value = settle_instance(instance, PROPERTY_SETTINGS.lsm_rounds_max)
    rules = rules_before(judge, queued)
    assert value == best_value(rules, queued, same_set=True)
    tally("settled all" if value == sum(p.amount_minor for p in queued) else
          "settled some" if value else "settled none")  # fmt: skip
    queues: dict[int, list[Sent]] = {}
    for p in queued:
        queues.setdefault(p.debit, []).append(p)
    assert value == sum(p.amount_minor for p in fifo_maximal(rules, queues, 1 << 62))


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(instances(normal=True))
def test_normal_payments_one_run_is_feasible_and_never_beats_the_optimum(
    instance: Instance,
) -> None:
    # One round: one set, judged feasible by the Judge as it settles; its value lies
    # between the maximal FIFO set and the best FIFO-respecting subset (brute force).
    judge, queued, value = settle_instance(instance, 1)
    rules = rules_before(judge, queued)
    queues: dict[int, list[Sent]] = {}
    for p in queued:
        queues.setdefault(p.debit, []).append(p)
    fifo_value = sum(p.amount_minor for p in fifo_maximal(rules, queues, 1 << 62))
    best = best_value(rules, queued, same_set=True)
    assert fifo_value <= value <= best
    tally("optimal" if value == best else "below the optimum")
    tally("beyond the FIFO set" if value > fifo_value else "the FIFO set")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(instances(normal=True))
def test_normal_payments_rounds_never_beat_the_optimum_of_positions_after_the_set(
    instance: Instance,
) -> None:
    # Several rounds settle a sequence of sets, each judged feasible as it settles. A
    # later round may use inflows from an earlier one that the same-set rule would not
    # count within one set, so the sequence can beat the best single set; it can never
    # beat the best subset judged by positions after the set (a weaker rule that every
    # such sequence keeps: flows start at zero here, so no position starts over a limit).
    judge, queued, value = settle_instance(instance, PROPERTY_SETTINGS.lsm_rounds_max)
    rules = rules_before(judge, queued)
    best = best_value(rules, queued, same_set=False)
    assert value <= best
    tally("optimal" if value == best else "below the optimum")


# --- an engine bug the properties found (fixed in 9347d14), kept as examples ---------------------


def test_a_payment_moved_to_the_back_stays_ahead_of_later_arrivals() -> None:
    # A=50. H1 high 80 to B waits (80 > 50). H1 is moved to the back of the high class
    # (it is alone there). H2 high 10 to C arrives later, so it joins the class behind H1:
    # FIFO keeps it waiting (H1 cannot settle), and A keeps its 50.
    net = Network({"A": 50}, settings=PROPERTY_SETTINGS)
    h1, _ = net.pay("A", "B", 80, HIGH)
    assert net.send_one(MovePayment(net.next_id(), h1, False, None)).code == ResultCode.OK
    h2, result = net.pay("A", "C", 10, HIGH)
    assert net.waiting_ids("A") == [h1, h2]  # it was [h1]: H2 settled at entry past H1
    assert result.code == ResultCode.QUEUED and net.balance("A") == 50


def test_moving_to_the_back_twice_keeps_later_arrivals_behind() -> None:
    # A=0: N1 waits and is moved to the back twice; N2 arrives after: queue [N1, N2].
    net = Network(settings=PROPERTY_SETTINGS)
    n1, _ = net.pay("A", "B", 80)
    for _ in range(2):
        net.send_one(MovePayment(net.next_id(), n1, False, None))
    n2, _ = net.pay("A", "C", 10)
    assert net.waiting_ids("A") == [n1, n2]  # it was [n2, n1]


# --- the optimiser outside the engine -------------------------------------------------------------


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(instances(normal=True))
def test_proposed_settle_set_is_accepted_and_optimal(instance: Instance) -> None:
    # propose_settle_set (benchmark_lsm) models the engine's rules in a MILP: whatever it
    # proposes the engine must accept (the Judge also checks the verdict against the
    # rules), and on these small instances it must reach the brute-force optimum.
    from interbank.benchmark_lsm import propose_settle_set

    judge = Judge(
        Network(instance.balances, credit_lines_minor=instance.credit_lines,
                settings=PROPERTY_SETTINGS)
    )  # fmt: skip
    net = judge.net
    for name, priority, amount in instance.reservations:
        judge.send(SetReservation(net.next_id(), ACCOUNTS[name], Priority(priority), amount))
    for a, b, limit in instance.bilateral:
        judge.send(SetBilateralLimit(net.next_id(), BICS[a], BICS[b], "EUR", limit))
    for a, limit in instance.multilateral:
        judge.send(SetMultilateralLimit(net.next_id(), BICS[a], "EUR", limit))
    from_ns = net.now_ns + 1_000_000
    for sender, payee, amount, priority in instance.payments:
        judge.send(net.payment(sender, payee, amount, Priority(priority), from_ns=from_ns))
    queued = judge.waiting()
    best = best_value(judge.rules, queued, same_set=True)
    proposal = propose_settle_set(net.engine, "EUR", 10.0, now_ns=from_ns, command_id=net.next_id())
    if proposal is None:
        assert best == 0
        return
    result = judge.send(proposal, at_ns=from_ns)
    assert result is not None and result.code == ResultCode.OK
    assert sum(judge.sent[i].amount_minor for i in proposal.payment_ids) == best


def test_proposed_settle_set_keeps_the_same_set_limit_rule() -> None:
    # The cycle A->C->D->A of 100 each, zero balances, A's multilateral limit 50: D is not
    # paid by A in the set, so its inflow does not offset A's position (100 > 50): no set
    # settles, and the proposal is None. With the limit at 100 the engine's run settles it.
    from interbank.benchmark_lsm import propose_settle_set

    net = Network(settings=PROPERTY_SETTINGS)
    net.send_one(SetMultilateralLimit(net.next_id(), BICS["A"], "EUR", 50))
    for sender, payee in (("A", "C"), ("C", "D"), ("D", "A")):
        net.pay(sender, payee, 100)
    assert net.engine.waiting_count() == 3
    assert propose_settle_set(net.engine, "EUR", 5.0) is None
    net.send_one(SetMultilateralLimit(net.next_id(), BICS["A"], "EUR", 100))  # runs: settles
    assert net.engine.waiting_count() == 0
