"""``interbank simulate``: a scenario's business day through the engine, at full speed.

The engine runs in memory, fed one ``Batch`` per ``batch_seconds`` period of the day,
stamped at the period's end (``Engine.apply(batch, timestamp_ns)``; no clock, no global
random). With the LSM on, this is the engine as in production: entry disposition,
queues, offsetting and liquidity-saving runs. The engine has no switch to turn its LSM
off, so with it off the day runs through a plain RTGS queue simulated here, as in
``interbank bench lsm``: a payment settles on arrival if its sender's liquidity covers
it, else it waits; a sender that receives money retries its waiting payments in queue
order (FIFO-bypass). No offsetting, no netting; bilateral and multilateral limits are
not applied there.

Shocks: ``stop_paying`` (the participant's instructions from T are never sent),
``outage`` (nothing is submitted during N minutes from T; what arrives then is sent
when the outage ends), ``liquidity`` (its credit line shrinks by the amount at T:
``SetCreditLine``), ``default`` (``SuspendParticipant`` at T: nothing more of it or to
it settles). At the end of the day one more run, then ``EndOfDay`` per currency: what
still waits is rejected and counted as unsettled.

Liquidity used by a participant is its largest intraday debit position (opening
balance minus its lowest balance, at least 0), taken after each run or each payment
settled alone; the lower bound is its end-of-day net debit position if every
instruction settled, the upper bound its largest debit position if every instruction
settled on arrival (Bech and Soramäki).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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
    EndOfDay,
    LsmRun,
    Payment,
    PaymentQueued,
    PaymentRejected,
    PaymentSettled,
    Priority,
    ResolveGridlock,
    SetBilateralLimit,
    SetCreditLine,
    SetMultilateralLimit,
    SuspendParticipant,
)
from interbank.sim.scenario import Scenario, ScenarioError, SimPayment, draw_payments

_SECOND_NS = 10**9
DAY_START_NS = 1_764_316_800 * _SECOND_NS  # a fixed day: the engine reads no clock
_SETTINGS = EngineSettings(idempotency_window_commands=1 << 16, batch_commands_max=1 << 14)
_PRIORITY = {"normal": Priority.NORMAL, "high": Priority.HIGH}


def liquidity_bounds(
    payments: Sequence[tuple[Any, Any, int]],
) -> tuple[dict[Any, int], dict[Any, int]]:
    """Per sender/payee key, from (sender, payee, amount) in arrival order: the lower
    bound (end-of-day net debit position) and the upper bound (largest debit position
    when every payment settles on arrival)."""
    balance: dict[Any, int] = {}
    lowest: dict[Any, int] = {}
    for sender, payee, amount in payments:
        balance[sender] = balance.get(sender, 0) - amount
        balance[payee] = balance.get(payee, 0) + amount
        lowest[sender] = min(lowest.get(sender, 0), balance[sender])
    lower = {k: max(0, -b) for k, b in balance.items()}
    upper = {k: -lowest.get(k, 0) for k in balance}
    return lower, upper


@dataclass
class ParticipantFigures:
    bic: str
    currency: str
    sent_count: int = 0
    sent_value_minor: int = 0
    settled_count: int = 0
    settled_value_minor: int = 0
    unsettled_count: int = 0
    unsettled_value_minor: int = 0
    liquidity_used_minor: int = 0
    lower_bound_minor: int = 0
    upper_bound_minor: int = 0
    opening_minor: int = 0
    closing_minor: int = 0
    delays_s: list[int] = field(default_factory=list, repr=False)
    queue: list[tuple[int, int]] = field(default_factory=list, repr=False)  # (s, waiting)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("delays_s", "queue")}
        out.update(delay_summary(self.delays_s))
        out["queue_max"] = max((n for _, n in self.queue), default=0)
        out["queue"] = self.queue  # (seconds from the open, waiting) at each change
        return out


def delay_summary(delays: Sequence[int]) -> dict[str, float | None]:
    if not delays:
        return {"delay_median_s": None, "delay_p95_s": None}
    ordered = sorted(delays)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {"delay_median_s": float(statistics.median(ordered)), "delay_p95_s": float(p95)}


@dataclass
class SimReport:
    name: str
    seed: int
    lsm: bool
    day_s: int
    participants: dict[str, ParticipantFigures]
    queue: list[tuple[int, int]]  # (seconds from the open, payments waiting), all participants
    lsm_runs: int = 0
    conservation: dict[str, int] = field(default_factory=dict)  # currency -> sum of balances

    def totals(self) -> dict[str, Any]:
        ps = list(self.participants.values())
        total: dict[str, Any] = {k: sum(getattr(p, k) for p in ps) for k in (
            "sent_count", "sent_value_minor", "settled_count", "settled_value_minor",
            "unsettled_count", "unsettled_value_minor", "liquidity_used_minor",
            "lower_bound_minor", "upper_bound_minor")}  # fmt: skip
        total.update(delay_summary([d for p in ps for d in p.delays_s]))
        total["queue_max"] = max((n for _, n in self.queue), default=0)
        lower = total["lower_bound_minor"]
        total["liquidity_vs_lower_bound"] = (
            round(total["liquidity_used_minor"] / lower, 4) if lower else None
        )
        upper = total["upper_bound_minor"]
        total["liquidity_vs_upper_bound"] = (
            round(total["liquidity_used_minor"] / upper, 4) if upper else None
        )
        total["lsm_runs"] = self.lsm_runs
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name, "seed": self.seed, "lsm": self.lsm,
            "total": self.totals(),
            "participants": [p.as_dict() for p in self.participants.values()],
            "queue": self.queue, "conservation": self.conservation,
        }  # fmt: skip


def _central_bic(code: str) -> str:
    return f"SIMC{code[:2]}22"


class _Day:
    """What both runners share: per-payment bookkeeping and positions."""

    def __init__(self, scenario: Scenario, payments: list[SimPayment]) -> None:
        self.scenario = scenario
        self.figures = {
            p.bic: ParticipantFigures(p.bic, p.currency, opening_minor=p.balance_minor)
            for p in scenario.participants
        }
        self.position = dict.fromkeys(self.figures, 0)
        self.lowest = dict.fromkeys(self.figures, 0)
        self.waiting = dict.fromkeys(self.figures, 0)
        self.queue: list[tuple[int, int]] = []
        self.queued: set[int] = set()
        lower, upper = liquidity_bounds([(p.sender, p.payee, p.amount_minor) for p in payments])
        for bic, f in self.figures.items():
            f.lower_bound_minor, f.upper_bound_minor = lower.get(bic, 0), upper.get(bic, 0)
        for p in payments:
            f = self.figures[p.sender]
            f.sent_count += 1
            f.sent_value_minor += p.amount_minor

    def settled(self, p: SimPayment, now_s: int) -> None:
        f = self.figures[p.sender]
        f.settled_count += 1
        f.settled_value_minor += p.amount_minor
        f.delays_s.append(now_s - p.arrival_s)

    def move(self, moved: dict[str, int]) -> None:
        for bic, amount in moved.items():
            self.position[bic] += amount
            self.lowest[bic] = min(self.lowest[bic], self.position[bic])

    def sample(self, now_s: int) -> None:
        self.queue.append((now_s, sum(self.waiting.values())))
        for bic, f in self.figures.items():
            if not f.queue or f.queue[-1][1] != self.waiting[bic]:
                f.queue.append((now_s, self.waiting[bic]))

    def report(self, lsm_runs: int) -> SimReport:
        conservation: dict[str, int] = {}
        for bic, f in self.figures.items():
            f.unsettled_count = f.sent_count - f.settled_count
            f.unsettled_value_minor = f.sent_value_minor - f.settled_value_minor
            f.liquidity_used_minor = -self.lowest[bic]
            f.closing_minor = f.opening_minor + self.position[bic]
            conservation[f.currency] = conservation.get(f.currency, 0) + self.position[bic]
        s = self.scenario
        return SimReport(s.name, s.seed, s.lsm, s.day_s, self.figures, self.queue, lsm_runs,
                         conservation)  # fmt: skip


def _timeline(scenario: Scenario, payments: list[SimPayment]) -> list[tuple[int, SimPayment]]:
    """(submission second, payment): stopped senders' payments dropped, outages delay."""
    stops = {s.participant: s.at_s for s in scenario.shocks if s.kind == "stop_paying"}
    outages = [(s.at_s, s.at_s + s.minutes * 60) for s in scenario.shocks if s.kind == "outage"]
    out: list[tuple[int, SimPayment]] = []
    for p in payments:
        if p.sender in stops and p.arrival_s >= stops[p.sender]:
            continue
        at = p.arrival_s
        for start, end in outages:
            if start <= at < end:
                at = end
        out.append((at, p))
    out.sort(key=lambda item: item[0])
    return out


def _periods(scenario: Scenario, timeline: list[tuple[int, SimPayment]]) -> list[int]:
    """Every period end at which something happens (payments, shocks), then the close."""
    b = scenario.batch_s
    ends = {(at // b + 1) * b for at, _ in timeline}
    ends.update((s.at_s // b + 1) * b for s in scenario.shocks)
    close = max([scenario.day_s, *ends])
    return sorted(ends | {close})


def simulate(scenario: Scenario) -> SimReport:
    payments = draw_payments(scenario)
    if scenario.lsm:
        return _run_engine(scenario, payments)
    return _run_plain(scenario, payments)


def _run_engine(scenario: Scenario, payments: list[SimPayment]) -> SimReport:
    day = _Day(scenario, payments)
    engine = Engine(_SETTINGS)
    next_id = iter(range(1, 1 << 62))
    account = {p.bic: 100 + k for k, p in enumerate(scenario.participants)}
    bic_of = {a: bic for bic, a in account.items()}
    codes = sorted({p.currency for p in scenario.participants})
    setup: list[Command] = []
    for k, code in enumerate(codes):
        cb = _central_bic(code)
        setup.append(RegisterParticipant(next(next_id), cb, f"{code} central bank",
                                         Role.CENTRAL_BANK, code))  # fmt: skip
        setup.append(OpenAccount(next(next_id), 10 + k, cb, code, AccountKind.ISSUANCE))
    for p in scenario.participants:
        setup.append(RegisterParticipant(next(next_id), p.bic, p.bic, Role.DIRECT))
        setup.append(OpenAccount(next(next_id), account[p.bic], p.bic, p.currency,
                                 credit_line_minor=p.credit_line_minor))  # fmt: skip
        if p.balance_minor:
            setup.append(Issue(next(next_id), account[p.bic], p.balance_minor))
        if p.multilateral_limit_minor:
            setup.append(SetMultilateralLimit(next(next_id), p.bic, p.currency,
                                              p.multilateral_limit_minor))  # fmt: skip
        for counterparty, limit in p.bilateral_limits_minor:
            setup.append(SetBilateralLimit(next(next_id), p.bic, counterparty, p.currency, limit))
    results = engine.execute_many(setup, DAY_START_NS)
    bad = [(c, r) for c, r in zip(setup, results, strict=True) if not r.ok]
    if bad:
        command, result = bad[0]
        who = getattr(command, "bic", None) or getattr(command, "account_id", "?")
        raise ScenarioError(f"participants: the engine refused {who}: {result.text}")
    lines = {q.bic: q.credit_line_minor for q in scenario.participants}
    timeline = _timeline(scenario, payments)
    by_id: dict[int, SimPayment] = {}
    cursor = 0
    lsm_runs = 0
    b = scenario.batch_s
    for end_s in _periods(scenario, timeline):
        commands: list[Command] = []
        for shock in scenario.shocks:
            if end_s - b <= shock.at_s < end_s and shock.participant is not None:
                if shock.kind == "liquidity":
                    lines[shock.participant] = max(0, lines[shock.participant] - shock.amount_minor)
                    commands.append(SetCreditLine(next(next_id), account[shock.participant],
                                                  lines[shock.participant]))  # fmt: skip
                elif shock.kind == "default":
                    commands.append(SuspendParticipant(next(next_id), shock.participant))
        while cursor < len(timeline) and timeline[cursor][0] < end_s:
            pay = timeline[cursor][1]
            cursor += 1
            command = Payment(next(next_id), account[pay.sender], account[pay.payee],
                              pay.amount_minor, _PRIORITY[pay.priority])  # fmt: skip
            by_id[command.id] = pay
            commands.append(command)
        closing = end_s >= scenario.day_s and cursor == len(timeline)
        if closing:
            commands.extend(ResolveGridlock(next(next_id), code) for code in codes)
        lsm_runs += _apply(engine, commands, end_s, day, by_id, bic_of)
        if closing:
            ends = [EndOfDay(next(next_id), code) for code in codes]
            lsm_runs += _apply(engine, ends, end_s, day, by_id, bic_of)
        day.sample(end_s)
    report = day.report(lsm_runs)
    # The engine's own books: every currency sums to zero over all its accounts (the
    # issuance account holds minus what was issued), and each participant's closing
    # balance is what the engine holds.
    report.conservation = {code: 0 for code in codes}
    for view in engine.accounts():
        report.conservation[view.currency] += view.balance_minor
        if view.account_id in bic_of:
            assert view.balance_minor == report.participants[bic_of[view.account_id]].closing_minor
    return report


def _apply(engine: Engine, commands: Sequence[Command], end_s: int, day: _Day,
           by_id: dict[int, SimPayment], bic_of: dict[int, str]) -> int:  # fmt: skip
    step = _SETTINGS.batch_commands_max
    runs = 0
    for start in range(0, max(1, len(commands)), step):
        runs += _apply_one(engine, commands[start : start + step], end_s, day, by_id, bic_of)
    return runs


def _apply_one(engine: Engine, commands: Sequence[Command], end_s: int, day: _Day,
               by_id: dict[int, SimPayment], bic_of: dict[int, str]) -> int:  # fmt: skip
    batch = Batch.of(commands)
    result = engine.apply(batch, DAY_START_NS + end_s * _SECOND_NS)
    runs = 0
    moved: dict[str, int] = {}
    for event in engine.events(batch, result):
        if isinstance(event, PaymentQueued):
            day.queued.add(event.payment_id)
            day.waiting[by_id[event.payment_id].sender] += 1
        elif isinstance(event, PaymentRejected):
            if event.payment_id in day.queued:
                day.queued.discard(event.payment_id)
                day.waiting[by_id[event.payment_id].sender] -= 1
        elif isinstance(event, PaymentSettled):
            p = by_id[event.payment_id]
            debit, credit = bic_of[event.debit_account_id], bic_of[event.credit_account_id]
            moved[debit] = moved.get(debit, 0) - event.amount_minor
            moved[credit] = moved.get(credit, 0) + event.amount_minor
            day.settled(p, end_s)
            if event.payment_id in day.queued:
                day.queued.discard(event.payment_id)
                day.waiting[p.sender] -= 1
        if isinstance(event, LsmRun):
            runs += 1
        # A run settles its set at once: positions are taken after each run, or after
        # each payment settled alone.
        if moved and (isinstance(event, LsmRun) or (isinstance(event, PaymentSettled)
                                                    and event.run_id == 0)):  # fmt: skip
            day.move(moved)
            moved = {}
    return runs


def _run_plain(scenario: Scenario, payments: list[SimPayment]) -> SimReport:
    """The day through a plain RTGS queue (see the module docstring)."""
    day = _Day(scenario, payments)
    balance = {p.bic: p.balance_minor for p in scenario.participants}
    line = {p.bic: p.credit_line_minor for p in scenario.participants}
    suspended: set[str] = set()
    queues: dict[str, list[SimPayment]] = {bic: [] for bic in balance}
    timeline = _timeline(scenario, payments)
    cursor = 0
    b = scenario.batch_s

    def fits(p: SimPayment) -> bool:
        return p.payee not in suspended and balance[p.sender] - p.amount_minor >= -line[p.sender]

    def settle(p: SimPayment, now_s: int) -> None:
        balance[p.sender] -= p.amount_minor
        balance[p.payee] += p.amount_minor
        day.move({p.sender: -p.amount_minor, p.payee: p.amount_minor})
        day.settled(p, now_s)

    def retry(bics: set[str], now_s: int) -> None:
        while bics:
            bic = min(bics)
            bics.discard(bic)
            if bic in suspended:
                continue
            # high payments first, in arrival order; a waiting high payment blocks the
            # normal ones behind it (firm payments keep FIFO)
            for p in list(queues[bic]):
                if fits(p):
                    settle(p, now_s)
                    queues[bic].remove(p)
                    day.waiting[bic] -= 1
                    bics.add(p.payee)
                elif p.priority == "high":
                    break

    for end_s in _periods(scenario, timeline):
        credited: set[str] = set()
        for shock in scenario.shocks:
            if end_s - b <= shock.at_s < end_s and shock.participant is not None:
                if shock.kind == "liquidity":
                    line[shock.participant] = max(0, line[shock.participant] - shock.amount_minor)
                elif shock.kind == "default":
                    suspended.add(shock.participant)
        while cursor < len(timeline) and timeline[cursor][0] < end_s:
            p = timeline[cursor][1]
            cursor += 1
            if p.sender in suspended or p.payee in suspended:
                continue  # refused at entry (AC06)
            blocked = any(q.priority == "high" for q in queues[p.sender])
            if fits(p) and not blocked:
                settle(p, end_s)
                credited.add(p.payee)
            else:
                queues[p.sender].append(p)
                queues[p.sender].sort(key=lambda q: q.priority != "high")
                day.waiting[p.sender] += 1
        retry(credited, end_s)
        if end_s >= scenario.day_s and cursor == len(timeline):
            for bic in queues:
                day.waiting[bic] = 0
        day.sample(end_s)
    return day.report(0)
