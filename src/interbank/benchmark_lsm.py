"""``interbank bench lsm``: the liquidity-saving mechanism beside exact optima and a plain
RTGS queue. Measured, never asserted; every figure is the median of repetitions.

- ``lsm_fifo_ratio_min``: random gridlocked instances of urgent and high payments (FIFO
  applies): value settled by the engine's run / the largest FIFO-respecting set, found
  in the same run by a MILP (HiGHS) with prefix constraints. Minimum over instances.
- ``lsm_value_ratio_median``, ``lsm_value_ratio_min``: random gridlocked instances of
  normal payments (FIFO may be bypassed), 50 to 200 payments among 5 to 20 banks: value
  settled / the exact optimum by MILP. The same with ``propose_settle_set`` (the MILP's
  answer journaled as a SettleSet, then the engine's own run) is reported beside them.
- ``lsm_10k_ms``: one batch that makes 10,000 queued payments among 100 banks eligible at
  once (a FROM time): the time of that batch, i.e. the liquidity-saving runs.
- ``liquidity_vs_lower_bound``, ``liquidity_no_lsm_vs_lower_bound``, ``avg_delay_s``: a
  simulated business day; liquidity used = the sum of each bank's largest intraday debit
  position, divided by the lower bound (the sum of the banks' end-of-day net debit
  positions). Each bank's credit line is LB_i + s * (UB_i - LB_i), with UB_i its largest
  debit position when every payment settles on arrival; s is the smallest (bisection)
  with which every payment settles by the end of the day, found for the engine (with
  LSM) and for a plain RTGS queue (entry settlement and FIFO-bypass retries, no
  offsetting, no netting), simulated here because the engine has no switch to turn its
  LSM off. ``avg_delay_s``: the engine's mean wait at its smallest s.
- ``queued_settle_tps``: payments per second through the engine when a third of them
  wait first (their senders are funded later in the same batch).

Gridlocked (Bech and Soramäki 2001): what can settle one by one in queue order has
settled; what is left cannot, but some set of it can settle simultaneously.
"""

from __future__ import annotations

import itertools
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interbank.engine import (
    AccountKind,
    Batch,
    Command,
    Engine,
    EngineSettings,
    Issue,
    OpenAccount,
    RegisterParticipant,
    Role,
)
from interbank.engine.commands import (
    LsmRun,
    Payment,
    PaymentSettled,
    Priority,
    ResolveGridlock,
)
from interbank.lsm_optimiser import Milp, propose_settle_set
from interbank.sim.simulate import liquidity_bounds

FIGURE_KEYS: tuple[str, ...] = (
    "lsm_fifo_ratio_min",
    "lsm_value_ratio_median",
    "lsm_value_ratio_min",
    "lsm_10k_ms",
    "liquidity_vs_lower_bound",
    "liquidity_no_lsm_vs_lower_bound",
    "avg_delay_s",
    "queued_settle_tps",
)
CURRENCY = "CNY"
CENTRAL_BIC = "LSMCCNBJ"
ISSUANCE_ACCOUNT_ID = 1
CENTRAL_ACCOUNT_ID = 2
_SECOND_NS = 10**9
_DAY_START_NS = 1_764_316_800 * _SECOND_NS  # a fixed day: the engine reads no clock
_DAY_S = 8 * 3600
# Payment sizes: 10**2 to 10**5 minor units, uniform in the exponent (heavy-tailed).
_AMOUNT_EXPONENT_MIN = 2.0
_AMOUNT_EXPONENT_MAX = 5.0
_SETTINGS = EngineSettings(idempotency_window_commands=1 << 15, batch_commands_max=1 << 14)


@dataclass(frozen=True, slots=True)
class LsmBenchConfig:
    instances_fifo: int
    instances_value: int
    repetitions: int
    payments_min: int = 50
    payments_max: int = 200
    banks_min: int = 5
    banks_max: int = 20
    gridlock_payments: int = 10_000
    gridlock_banks: int = 100
    day_banks: int = 20
    day_payments: int = 3_000
    day_batch_s: int = 60
    bisection_steps: int = 10
    queued_payments: int = 30_000
    milp_time_limit_s: float = 20.0
    settle_set_time_limit_s: float = 5.0
    seed: int = 20_261_128


FULL = LsmBenchConfig(instances_fifo=100, instances_value=100, repetitions=5)
QUICK = LsmBenchConfig(
    instances_fifo=15, instances_value=15, repetitions=3, day_payments=1_200,
    bisection_steps=7, queued_payments=9_000, milp_time_limit_s=5.0,
    settle_set_time_limit_s=2.0,
)  # fmt: skip
TINY = LsmBenchConfig(
    instances_fifo=2, instances_value=2, repetitions=1, payments_min=8, payments_max=16,
    banks_min=3, banks_max=5, gridlock_payments=300, gridlock_banks=10, day_banks=5,
    day_payments=120, bisection_steps=3, queued_payments=300, milp_time_limit_s=5.0,
    settle_set_time_limit_s=2.0,
)  # fmt: skip


# --- the network ----------------------------------------------------------------------------------


def bank_bic(k: int) -> str:
    return f"B{k:03d}CNSH"


def bank_account(k: int) -> int:
    return 100 + k


class _Ids:
    """Command ids for one engine: a counter (the engine only needs them unique)."""

    def __init__(self) -> None:
        self.next_id = 1

    def __call__(self) -> int:
        self.next_id += 1
        return self.next_id


def new_network(
    balances_minor: Sequence[int], credit_lines_minor: Sequence[int] | None = None
) -> tuple[Engine, _Ids]:
    """A fresh engine: a central bank and len(balances_minor) banks, funded, at stamp 1."""
    engine = Engine(_SETTINGS)
    ids = _Ids()
    lines = credit_lines_minor or [0] * len(balances_minor)
    setup: list[Command] = [
        RegisterParticipant(ids(), CENTRAL_BIC, "LSM central bank", Role.CENTRAL_BANK, CURRENCY),
        OpenAccount(ids(), ISSUANCE_ACCOUNT_ID, CENTRAL_BIC, CURRENCY, AccountKind.ISSUANCE),
        OpenAccount(ids(), CENTRAL_ACCOUNT_ID, CENTRAL_BIC, CURRENCY),
    ]
    for k in range(len(balances_minor)):
        setup.append(RegisterParticipant(ids(), bank_bic(k), f"Bank {k}", Role.DIRECT))
        setup.append(OpenAccount(ids(), bank_account(k), bank_bic(k), CURRENCY,
                                 credit_line_minor=lines[k]))  # fmt: skip
    setup.extend(Issue(ids(), bank_account(k), b) for k, b in enumerate(balances_minor) if b)
    results = engine.execute_many(setup, 1)
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    return engine, ids


# --- random instances -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instruction:
    """A payment to send: sender and payee bank indexes (-1: the central bank's own
    account), amount and priority. Arrival order is the order in a list of them."""

    sender: int
    payee: int
    amount_minor: int
    priority: Priority


@dataclass(frozen=True, slots=True)
class Instance:
    balances_minor: tuple[int, ...]  # per bank; the central bank's account last
    payments: tuple[Instruction, ...]


def _account(bank: int) -> int:
    return CENTRAL_ACCOUNT_ID if bank < 0 else bank_account(bank)


def _amount(rng: random.Random) -> int:
    return int(10 ** rng.uniform(_AMOUNT_EXPONENT_MIN, _AMOUNT_EXPONENT_MAX))


def _weights(banks: int) -> list[float]:
    """Bank sizes: a few large banks, many small ones (Zipf)."""
    return [1.0 / (k + 1) for k in range(banks)]


def _draw(rng: random.Random, banks: int, payments: int, *, firm: bool) -> list[Instruction]:
    """Random payments; with ``firm``, high payments and some urgent ones from the
    central bank (index -1), else normal payments only."""
    weights = _weights(banks)
    out: list[Instruction] = []
    for _ in range(payments):
        if firm and rng.random() < 0.1:
            sender, priority = -1, Priority.URGENT
        else:
            sender = rng.choices(range(banks), weights)[0]
            priority = Priority.HIGH if firm else Priority.NORMAL
        payee = sender
        while payee == sender:
            payee = rng.choices(range(banks), weights)[0]
        out.append(Instruction(sender, payee, _amount(rng), priority))
    return out


def queues_of(payments: Sequence[Instruction]) -> dict[int, list[int]]:
    """Each sender's payments (indexes) in queue order: priority, then arrival."""
    queues: dict[int, list[int]] = {}
    for k in sorted(range(len(payments)), key=lambda k: (-payments[k].priority, k)):
        queues.setdefault(payments[k].sender, []).append(k)
    return queues


def settle_one_by_one(
    payments: Sequence[Instruction], balances: dict[int, int], *, fifo: bool
) -> list[Instruction]:
    """Settle, one payment at a time, whatever fits its sender's balance, in queue order
    (only queue heads with ``fifo``, any payment without), until nothing more does; the
    balances are updated in place. What is left (in arrival order) is gridlocked for a
    plain RTGS."""
    queues = queues_of(payments)
    done: set[int] = set()
    progress = True
    while progress:
        progress = False
        for sender, queue in queues.items():
            kept: list[int] = []
            for position, k in enumerate(queue):
                p = payments[k]
                if balances[sender] >= p.amount_minor:
                    balances[sender] -= p.amount_minor
                    balances[p.payee] += p.amount_minor
                    done.add(k)
                    progress = True
                elif fifo:
                    kept.extend(queue[position:])
                    break
                else:
                    kept.append(k)
            queue[:] = kept
    return [p for k, p in enumerate(payments) if k not in done]


def gridlocked_instance(
    rng: random.Random, banks: int, payments: int, *, firm: bool, time_limit_s: float,
    attempts_max: int = 200,
) -> tuple[Instance, int, bool, float]:  # fmt: skip
    """Draw until an instance is gridlocked with exactly ``payments`` payments left:
    opening balances 0-10% of each bank's outgoing value; everything that settles one by
    one is settled (FIFO for firm payments, bypass for normal ones), and more payments
    arrive until ``payments`` of them cannot. With it, its optimum (see ``optimum``),
    which must be positive."""
    for _ in range(attempts_max):
        balances = dict.fromkeys(range(-1, banks), 0)
        left: list[Instruction] = []
        while len(left) < payments:
            drawn = _draw(rng, banks, payments, firm=firm)
            for p in drawn:
                balances[p.sender] += int(p.amount_minor * rng.uniform(0.0, 0.1))
            left = settle_one_by_one(left + drawn, balances, fifo=firm)
        # Dropping arrivals from the end keeps every queue's head and every balance, so
        # what is left stays gridlocked.
        chosen = tuple(left[:payments])
        value, proven, seconds = optimum(chosen, balances, fifo=firm, time_limit_s=time_limit_s)
        if value > 0:
            opening = (*(balances[b] for b in range(banks)), balances[-1])
            return Instance(opening, chosen), value, proven, seconds
    raise RuntimeError("no gridlocked instance found; widen the draw")


# --- exact optima by MILP (HiGHS) -----------------------------------------------------------------


def optimum(
    payments: Sequence[Instruction], balances: dict[int, int], *, fifo: bool,
    time_limit_s: float,
) -> tuple[int, bool, float]:  # fmt: skip
    """The largest value that settles simultaneously with every balance >= 0, among sets
    that respect each sender's queue order (``fifo``) or among all sets: (value, proven
    optimal, seconds)."""
    started = time.perf_counter()
    milp = Milp()
    chosen = [milp.var(0, 1, p.amount_minor, integer=True) for p in payments]
    net: dict[int, dict[int, float]] = {}
    for k, p in enumerate(payments):
        net.setdefault(p.sender, {})[chosen[k]] = (
            net.get(p.sender, {}).get(chosen[k], 0) - p.amount_minor
        )
        net.setdefault(p.payee, {})[chosen[k]] = (
            net.get(p.payee, {}).get(chosen[k], 0) + p.amount_minor
        )
    for bank, coefficients in net.items():
        milp.row(-balances[bank], float("inf"), coefficients)
    if fifo:
        for queue in queues_of(payments).values():
            for earlier, later in itertools.pairwise(queue):
                milp.row(-float("inf"), 0, {chosen[later]: 1, chosen[earlier]: -1})
    values, optimal = milp.maximise(time_limit_s)
    value = sum(
        p.amount_minor for k, p in enumerate(payments) if values and values[chosen[k]] > 0.5
    )
    return value, optimal, time.perf_counter() - started


# --- the engine on an instance --------------------------------------------------------------------


def _queue_all(instance: Instance, eligible_at_ns: int) -> tuple[Engine, _Ids, list[int]]:
    """A fresh engine holding every payment of the instance in its queues, all eligible at
    ``eligible_at_ns`` (a FROM time), so that nothing settles before that batch."""
    balances = list(instance.balances_minor[:-1])
    engine, ids = new_network(balances)
    if instance.balances_minor[-1]:
        engine.execute(Issue(ids(), CENTRAL_ACCOUNT_ID, instance.balances_minor[-1]), 2)
    payments = [
        Payment(ids(), _account(p.sender), _account(p.payee), p.amount_minor, p.priority,
                from_ns=eligible_at_ns)
        for p in instance.payments
    ]  # fmt: skip
    result = engine.apply(Batch.of(payments), eligible_at_ns - 1)
    assert engine.waiting_count() == len(payments), result.results()[:3]
    return engine, ids, [p.id for p in payments]


def engine_value(instance: Instance, *, settle_set_time_limit_s: float | None = None) -> int:
    """Value the engine settles in the batch that makes the instance eligible; with a time
    limit, that batch first carries ``propose_settle_set``'s answer."""
    at_ns = 1_000_000
    engine, ids, _ = _queue_all(instance, at_ns)
    commands: list[Command] = []
    if settle_set_time_limit_s is not None:
        proposal = propose_settle_set(
            engine, CURRENCY, settle_set_time_limit_s, now_ns=at_ns, command_id=ids()
        )
        if proposal is not None:
            commands.append(proposal)
    batch = Batch.of(commands)
    result = engine.apply(batch, at_ns)
    if commands:
        assert result.results()[0].ok, result.results()[0]
    return sum(
        e.amount_minor for e in engine.events(batch, result) if isinstance(e, PaymentSettled)
    )


# --- a business day: liquidity used with and without the LSM --------------------------------------


@dataclass(frozen=True, slots=True)
class DayPayment:
    arrival_s: int
    sender: int
    payee: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class DayOutcome:
    settled_all: bool
    used_minor: tuple[int, ...]  # each bank's largest intraday debit position
    delays_s: tuple[float, ...]


def plan_day(rng: random.Random, banks: int, payments: int) -> list[DayPayment]:
    weights = _weights(banks)
    day: list[DayPayment] = []
    for _ in range(payments):
        sender = rng.choices(range(banks), weights)[0]
        payee = sender
        while payee == sender:
            payee = rng.choices(range(banks), weights)[0]
        day.append(DayPayment(rng.randrange(_DAY_S), sender, payee, _amount(rng)))
    day.sort(key=lambda p: p.arrival_s)
    return day


def day_bounds(day: Sequence[DayPayment], banks: int) -> tuple[list[int], list[int]]:
    """Per bank: the lower bound (its end-of-day net debit position) and the upper bound
    (its largest debit position when every payment settles on arrival)."""
    lower, upper = liquidity_bounds([(p.sender, p.payee, p.amount_minor) for p in day])
    return [lower.get(k, 0) for k in range(banks)], [upper.get(k, 0) for k in range(banks)]


def _batches(day: Sequence[DayPayment], batch_s: int) -> Iterator[tuple[int, list[DayPayment]]]:
    """The day's payments grouped by arrival into batches stamped at each period's end."""
    group: list[DayPayment] = []
    end_s = batch_s
    for p in day:
        while p.arrival_s >= end_s:
            if group:
                yield end_s, group
                group = []
            end_s += batch_s
        group.append(p)
    if group:
        yield end_s, group


def run_day_with_lsm(
    day: Sequence[DayPayment], credit_lines: Sequence[int], batch_s: int
) -> DayOutcome:
    """The day through the engine (entry disposition, queues, liquidity-saving runs)."""
    banks = len(credit_lines)
    engine, ids = new_network([0] * banks, credit_lines)
    slot_of = {bank_account(k): k for k in range(banks)}
    balance = [0] * banks
    lowest = [0] * banks
    arrived_s: dict[int, int] = {}
    delays: list[float] = []
    stamps = list(_batches(day, batch_s))
    stamps.append((_DAY_S + batch_s, []))  # the close: one more run before the day ends
    for end_s, group in stamps:
        commands: list[Command] = []
        for p in group:
            command = Payment(ids(), bank_account(p.sender), bank_account(p.payee), p.amount_minor)
            arrived_s[command.id] = end_s
            commands.append(command)
        if not group:
            commands.append(ResolveGridlock(ids(), CURRENCY))
        batch = Batch.of(commands)
        result = engine.apply(batch, _DAY_START_NS + end_s * _SECOND_NS)
        # A run settles its set at once: its payments move balances together, so a
        # bank's position is taken after each run (or each payment settled alone).
        moved: dict[int, int] = {}
        for event in engine.events(batch, result):
            if isinstance(event, PaymentSettled):
                debit, credit = slot_of[event.debit_account_id], slot_of[event.credit_account_id]
                moved[debit] = moved.get(debit, 0) - event.amount_minor
                moved[credit] = moved.get(credit, 0) + event.amount_minor
                delays.append(float(end_s - arrived_s[event.payment_id]))
            if moved and (isinstance(event, LsmRun) or (isinstance(event, PaymentSettled)
                                                        and event.run_id == 0)):  # fmt: skip
                for bank, amount in moved.items():
                    balance[bank] += amount
                    lowest[bank] = min(lowest[bank], balance[bank])
                moved = {}
        assert not moved
    return DayOutcome(engine.waiting_count() == 0, tuple(-low for low in lowest), tuple(delays))


def run_day_without_lsm(
    day: Sequence[DayPayment], credit_lines: Sequence[int], batch_s: int
) -> DayOutcome:
    """The same day through a plain RTGS queue: a payment settles on arrival if its
    sender's liquidity covers it, else it waits; waiting payments of a sender that
    receives money are retried in queue order, any that fits settling (FIFO-bypass).
    No offsetting, no netting."""
    banks = len(credit_lines)
    balance = [0] * banks
    lowest = [0] * banks
    queues: list[list[tuple[DayPayment, int]]] = [[] for _ in range(banks)]
    delays: list[float] = []

    def settle(p: DayPayment, arrived_s: int, now_s: int) -> None:
        balance[p.sender] -= p.amount_minor
        balance[p.payee] += p.amount_minor
        lowest[p.sender] = min(lowest[p.sender], balance[p.sender])
        delays.append(float(now_s - arrived_s))

    for end_s, group in _batches(day, batch_s):
        credited: set[int] = set()
        for p in group:
            if balance[p.sender] - p.amount_minor >= -credit_lines[p.sender]:
                settle(p, end_s, end_s)
                credited.add(p.payee)
            else:
                queues[p.sender].append((p, end_s))
        while credited:
            bank = min(credited)
            credited.discard(bank)
            waiting = queues[bank]
            for item in list(waiting):
                p, arrived = item
                if balance[bank] - p.amount_minor >= -credit_lines[bank]:
                    settle(p, arrived, end_s)
                    waiting.remove(item)
                    credited.add(p.payee)
    settled_all = not any(queues)
    return DayOutcome(settled_all, tuple(-low for low in lowest), tuple(delays))


DayRunner = Callable[[Sequence[DayPayment], Sequence[int], int], DayOutcome]


def smallest_supply(
    run: DayRunner, day: Sequence[DayPayment], lower: Sequence[int], upper: Sequence[int],
    batch_s: int, steps: int,
) -> tuple[float, DayOutcome]:  # fmt: skip
    """The smallest s in [0, 1] (to 2**-steps) with which the whole day settles, each bank
    given the credit line LB_i + s * (UB_i - LB_i), and the outcome at that s."""

    def lines(s: float) -> list[int]:
        return [lo + int(np.ceil(s * (up - lo))) for lo, up in zip(lower, upper, strict=True)]

    best = run(day, lines(0.0), batch_s)
    if best.settled_all:
        return 0.0, best
    low, high = 0.0, 1.0
    best = run(day, lines(high), batch_s)
    assert best.settled_all, "with every upper bound the whole day settles on arrival"
    for _ in range(steps):
        middle = (low + high) / 2
        outcome = run(day, lines(middle), batch_s)
        if outcome.settled_all:
            high, best = middle, outcome
        else:
            low = middle
    return high, best


# --- queued payments through the engine -----------------------------------------------------------


def queued_day(rng: random.Random, payments: int) -> tuple[list[int], list[Batch], list[Batch]]:
    """Balances and batches of 3,000 payments of which a third wait first: 20 dry banks
    (balance 0) send 1,000 payments first, then 40 funded banks pay them exactly as much,
    and pay each other 1,000 more. Also the same batches with the dry banks funded in
    advance (nothing waits): the baseline."""
    rich, dry = 40, 20
    batch_payments = 3_000
    balances = [10**12] * rich + [0] * dry
    ids = 10_000
    batches: list[Batch] = []
    for _ in range(max(1, payments // batch_payments)):
        rows: list[Command] = []
        funding: list[Command] = []
        for _ in range(batch_payments // 3):
            d = rich + rng.randrange(dry)
            amount = _amount(rng)
            ids += 1
            rows.append(Payment(ids, bank_account(d), bank_account(rng.randrange(rich)), amount))
            ids += 1
            funding.append(Payment(ids, bank_account(rng.randrange(rich)), bank_account(d), amount))
        for _ in range(batch_payments // 3):
            a, b = rng.sample(range(rich), 2)
            ids += 1
            funding.append(Payment(ids, bank_account(a), bank_account(b), _amount(rng)))
        rng.shuffle(funding)
        batches.append(Batch.of(rows + funding))
    funded = [Batch.of(b.commands()) for b in batches]
    return balances, batches, funded


def time_batches(balances: list[int], batches: Sequence[Batch]) -> float:
    engine, _ = new_network(balances)
    started = time.perf_counter()
    for k, batch in enumerate(batches):
        engine.apply(batch, 10 + k)
    elapsed = time.perf_counter() - started
    assert engine.waiting_count() == 0
    return elapsed


# --- the report -----------------------------------------------------------------------------------


@dataclass
class LsmReport:
    config: LsmBenchConfig
    fifo_ratios: list[float] = field(default_factory=list)
    value_ratios: list[float] = field(default_factory=list)
    value_ratios_settle_set: list[float] = field(default_factory=list)
    milp_not_proven: int = 0
    milp_s: list[float] = field(default_factory=list)
    gridlock_ms: list[float] = field(default_factory=list)
    gridlock_settled_share: list[float] = field(default_factory=list)
    liquidity_lsm: list[float] = field(default_factory=list)
    liquidity_plain: list[float] = field(default_factory=list)
    upper_vs_lower: list[float] = field(default_factory=list)
    supply_lsm: list[float] = field(default_factory=list)
    supply_plain: list[float] = field(default_factory=list)
    delay_lsm_s: list[float] = field(default_factory=list)
    delay_plain_s: list[float] = field(default_factory=list)
    queued_tps: list[float] = field(default_factory=list)
    entry_tps: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def figures(self) -> dict[str, float | None]:
        def median(values: list[float]) -> float | None:
            return round(statistics.median(values), 6) if values else None

        return {
            "lsm_fifo_ratio_min": round(min(self.fifo_ratios), 6) if self.fifo_ratios else None,
            "lsm_value_ratio_median": median(self.value_ratios),
            "lsm_value_ratio_min": round(min(self.value_ratios), 6) if self.value_ratios else None,
            "lsm_10k_ms": median(self.gridlock_ms),
            "liquidity_vs_lower_bound": median(self.liquidity_lsm),
            "liquidity_no_lsm_vs_lower_bound": median(self.liquidity_plain),
            "avg_delay_s": median(self.delay_lsm_s),
            "queued_settle_tps": median(self.queued_tps),
        }

    def details(self) -> dict[str, float | int | None]:
        """Figures beside the agreed ones (table mode and bench/RESULTS.md)."""

        def median(values: list[float]) -> float | None:
            return round(statistics.median(values), 4) if values else None

        with_set = self.value_ratios_settle_set
        return {
            "instances (fifo / normal)": f"{len(self.fifo_ratios)} / {len(self.value_ratios)}",
            "value ratio with settle_set: median": median(with_set),
            "value ratio with settle_set: min": round(min(with_set), 4) if with_set else None,
            "milp seconds per instance (median)": median(self.milp_s),
            "milp not proven optimal (excluded)": self.milp_not_proven,
            "10k: share of value settled": median(self.gridlock_settled_share),
            "day: upper bound / lower bound": median(self.upper_vs_lower),
            "day: smallest s with LSM": median(self.supply_lsm),
            "day: smallest s without LSM": median(self.supply_plain),
            "day: mean delay without LSM (s)": median(self.delay_plain_s),
            "entry-only tps (nothing waits)": median(self.entry_tps),
            "seconds": round(self.seconds, 1),
        }


def measure(
    *, quick: bool = False, config: LsmBenchConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> LsmReport:  # fmt: skip
    cfg = config or (QUICK if quick else FULL)
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    report = LsmReport(cfg)
    rng = random.Random(cfg.seed)
    for firm, count in ((True, cfg.instances_fifo), (False, cfg.instances_value)):
        for _ in range(count):
            instance, best, proven, seconds = gridlocked_instance(
                rng, rng.randint(cfg.banks_min, cfg.banks_max),
                rng.randint(cfg.payments_min, cfg.payments_max), firm=firm,
                time_limit_s=cfg.milp_time_limit_s,
            )  # fmt: skip
            report.milp_s.append(seconds)
            if not proven:
                report.milp_not_proven += 1
                continue
            ratio = engine_value(instance) / best
            (report.fifo_ratios if firm else report.value_ratios).append(ratio)
            if not firm:
                with_set = engine_value(
                    instance, settle_set_time_limit_s=cfg.settle_set_time_limit_s
                )
                report.value_ratios_settle_set.append(with_set / best)
        say(f"{'fifo' if firm else 'normal'} instances: {count} measured")
    for repetition in range(cfg.repetitions):
        ms, share = _gridlock_ms(rng, cfg)
        report.gridlock_ms.append(ms)
        report.gridlock_settled_share.append(share)
        day = plan_day(rng, cfg.day_banks, cfg.day_payments)
        lower, upper = day_bounds(day, cfg.day_banks)
        lower_total = sum(lower)
        s_lsm, with_lsm = smallest_supply(run_day_with_lsm, day, lower, upper, cfg.day_batch_s,
                                          cfg.bisection_steps)  # fmt: skip
        s_plain, plain = smallest_supply(run_day_without_lsm, day, lower, upper,
                                         cfg.day_batch_s, cfg.bisection_steps)  # fmt: skip
        report.upper_vs_lower.append(sum(upper) / lower_total)
        report.liquidity_lsm.append(sum(with_lsm.used_minor) / lower_total)
        report.liquidity_plain.append(sum(plain.used_minor) / lower_total)
        report.supply_lsm.append(s_lsm)
        report.supply_plain.append(s_plain)
        report.delay_lsm_s.append(statistics.fmean(with_lsm.delays_s))
        report.delay_plain_s.append(statistics.fmean(plain.delays_s))
        balances, batches, funded = queued_day(rng, cfg.queued_payments)
        payments = sum(len(b) for b in batches)
        report.queued_tps.append(payments / time_batches(balances, batches))
        report.entry_tps.append(payments / time_batches([10**12] * len(balances), funded))
        say(
            f"repetition {repetition + 1}: 10k {ms:.1f} ms, liquidity "
            f"{report.liquidity_lsm[-1]:.3f} / {report.liquidity_plain[-1]:.3f} of LB, "
            f"queued {report.queued_tps[-1]:,.0f}/s"
        )
    report.seconds = time.perf_counter() - started
    return report


def _gridlock_ms(rng: random.Random, cfg: LsmBenchConfig) -> tuple[float, float]:
    """Time of the batch that makes ``gridlock_payments`` queued payments eligible at once
    (normal payments, 10% high; opening balances 0-2% of each bank's outgoing value;
    what settles one by one is settled first, and more arrive until 10,000 cannot), and
    the share of value settled."""
    banks, count = cfg.gridlock_banks, cfg.gridlock_payments
    balances = dict.fromkeys(range(-1, banks), 0)
    left: list[Instruction] = []
    while len(left) < count:  # more arrivals until enough of them cannot settle alone
        drawn = _draw(rng, banks, count, firm=False)
        drawn = [replace_priority(p, Priority.HIGH) if rng.random() < 0.1 else p for p in drawn]
        for p in drawn:
            balances[p.sender] += int(p.amount_minor * rng.uniform(0.0, 0.02))
        left = settle_one_by_one(left + drawn, balances, fifo=False)
    instance = Instance((*(balances[b] for b in range(banks)), 0), tuple(left[:count]))
    at_ns = 1_000_000
    engine, _, _ = _queue_all(instance, at_ns)
    batch = Batch.empty()
    started = time.perf_counter()
    result = engine.apply(batch, at_ns)
    elapsed_ms = (time.perf_counter() - started) * 1e3
    settled = sum(
        e.amount_minor for e in engine.events(batch, result) if isinstance(e, PaymentSettled)
    )
    return elapsed_ms, settled / sum(p.amount_minor for p in instance.payments)


def replace_priority(p: Instruction, priority: Priority) -> Instruction:
    return Instruction(p.sender, p.payee, p.amount_minor, priority)


def render_table(report: LsmReport) -> Any:
    from rich.table import Table

    table = Table(title="interbank bench lsm (medians of repetitions; ratios over instances)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in {**report.figures(), **report.details()}.items():
        text = f"{value:,.4f}" if isinstance(value, float) else str(value)
        table.add_row(name, text)
    return table
