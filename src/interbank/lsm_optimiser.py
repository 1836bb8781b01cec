"""The gridlock optimiser outside the engine (issue 3).

Charter: this module reads an engine's queues, proposes the most valuable set of waiting
payments that can settle simultaneously now (a MILP of exactly the engine's rules,
bounded by a time limit, solved by HiGHS), and returns it as a ``SettleSet`` command. It
never changes any state itself: the caller journals the command (``Node.submit``), and
the engine checks it again and applies it, or refuses it whole. Replay re-applies the
journaled set and never re-runs this optimiser, whose answer may differ from run to run
(time limit). See docs/rtgs.md, "The optimiser outside the engine".

It may import engine types (commands, ``Engine``) and numpy. ``highspy`` is imported
lazily, by the functions that solve, and its absence is ``OptimiserUnavailableError``
with the install hint: ``import interbank.lsm_optimiser`` works without it.

The engine has no public reader of its queues' amounts, limits and reservations, so one
function, ``_read_queues``, reads the engine's private queue record (read-only) into a
plain ``QueueRecord``; everything else here works on that record.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interbank.engine import Engine
from interbank.engine.commands import Priority, SettleSet

HIGHSPY_HINT = "the LSM optimiser needs HiGHS: pip install highspy (or 'interbank[bench]')"


class OptimiserUnavailableError(RuntimeError):
    """The solver (highspy) is not installed."""


def _highspy() -> Any:
    try:
        import highspy
    except ImportError:
        raise OptimiserUnavailableError(HIGHSPY_HINT) from None
    return highspy


def _highs() -> Any:
    """A silent HiGHS instance. Its banner is printed by C code on the first construction
    in a process, on file descriptor 1; it goes to stderr instead, so that stdout keeps
    only what the caller prints."""
    highspy = _highspy()
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        solver = highspy.Highs()
    finally:
        ctypes.CDLL(None).fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
    solver.setOptionValue("output_flag", False)
    return solver


class Milp:
    """A small mixed-integer program, built row by row, maximised by HiGHS."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integer: list[bool] = []
        self.rows: list[tuple[float, float, dict[int, float]]] = []

    def var(self, lower: float, upper: float, cost: float = 0.0, *, integer: bool = False) -> int:
        self.cost.append(cost)
        self.lower.append(lower)
        self.upper.append(upper)
        self.integer.append(integer)
        return len(self.cost) - 1

    def row(self, lower: float, upper: float, coefficients: dict[int, float]) -> None:
        if coefficients:
            self.rows.append((lower, upper, coefficients))

    def maximise(self, time_limit_s: float) -> tuple[list[float], bool]:
        """The best values found, and whether HiGHS proved them optimal in time."""
        highspy = _highspy()
        solver = _highs()
        solver.setOptionValue("time_limit", float(time_limit_s))
        solver.setOptionValue("mip_rel_gap", 0.0)
        # Objectives here are sums of integer amounts: a gap under 1 proves optimality.
        solver.setOptionValue("mip_abs_gap", 0.5)
        solver.setOptionValue("threads", 1)
        lp = highspy.HighsLp()
        lp.num_col_ = len(self.cost)
        lp.num_row_ = len(self.rows)
        lp.col_cost_ = np.array(self.cost, dtype=np.float64)
        lp.col_lower_ = np.array(self.lower, dtype=np.float64)
        lp.col_upper_ = np.array(self.upper, dtype=np.float64)
        lp.row_lower_ = np.array([r[0] for r in self.rows], dtype=np.float64)
        lp.row_upper_ = np.array([r[1] for r in self.rows], dtype=np.float64)
        starts, index, value = [0], [], []
        for _, _, coefficients in self.rows:
            for col, coef in sorted(coefficients.items()):
                index.append(col)
                value.append(coef)
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.num_col_ = lp.num_col_
        lp.a_matrix_.num_row_ = lp.num_row_
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value, dtype=np.float64)
        kind = highspy.HighsVarType
        lp.integrality_ = [kind.kInteger if i else kind.kContinuous for i in self.integer]
        lp.sense_ = highspy.ObjSense.kMaximize
        solver.passModel(lp)
        solver.run()
        optimal = solver.getModelStatus() == highspy.HighsModelStatus.kOptimal
        values = (
            list(solver.getSolution().col_value) if solver.getInfo().primal_solution_status else []
        )
        return values, optimal


# --- the engine's queue record, read once ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A waiting payment that may be in a set now (slots are the engine's account slots)."""

    payment_id: int
    debit: int
    credit: int
    amount_minor: int
    priority: int


@dataclass(slots=True)
class QueueRecord:
    """What the MILP needs of one currency's queues, copied out of the engine."""

    candidates: list[Candidate] = field(default_factory=list)
    room_above: dict[int, int] = field(default_factory=dict)  # balance limit - balance
    free: dict[int, int] = field(default_factory=dict)  # balance - holds - floor (senders)
    reserved: dict[int, tuple[int, int]] = field(default_factory=dict)  # urgent, high
    owner: dict[int, int] = field(default_factory=dict)  # slot -> participant
    bilateral: dict[tuple[int, int], int] = field(default_factory=dict)  # limit, nonzero
    position: dict[tuple[int, int], int] = field(default_factory=dict)  # where bilateral
    multilateral: dict[int, int] = field(default_factory=dict)  # limit, nonzero
    multilateral_position: dict[int, int] = field(default_factory=dict)


def _read_queues(engine: Engine, currency: str, now_ns: int) -> QueueRecord | None:
    """PRIVATE ENGINE STATE, READ-ONLY: the one place this module touches ``engine._*``
    (the queue record ``engine._queues`` and its helpers, the currency index, balances,
    account owners). Nothing here writes. None when the currency is unknown."""
    queues = engine._queues
    cur = engine._currency_index.get(currency, -1)
    if cur < 0:
        return None
    record = QueueRecord()
    normal = int(Priority.NORMAL)
    for debit in sorted(queues.by_sender):
        waiting = sorted(queues.by_sender[debit].values(), key=lambda w: w.sort_key())
        if not waiting or waiting[0].currency != cur or not queues._usable(debit):
            continue
        for w in waiting:
            if w.from_ns > now_ns:
                continue
            if not queues._usable(w.credit):
                if w.priority != normal:
                    break  # nothing of this sender may pass it
                continue
            record.candidates.append(
                Candidate(w.payment_id, w.debit, w.credit, w.amount_minor, w.priority)
            )
    limit = engine.settings.balance_minor_abs_max
    owner = engine._acc_participant
    for c in record.candidates:
        for slot in (c.debit, c.credit):
            record.room_above[slot] = limit - int(engine._acc_balance[slot])
            record.owner[slot] = int(owner[slot])
        record.free[c.debit] = queues._free(c.debit)
        record.reserved[c.debit] = queues.reserved.get(c.debit, (0, 0))
    for (a, b, limit_cur), amount in queues.bilateral.items():
        if limit_cur == cur and amount:
            record.bilateral[(a, b)] = amount
            record.position[(a, b)] = queues._position(a, b, cur)
    for (a, limit_cur), amount in queues.multilateral.items():
        if limit_cur == cur and amount:
            record.multilateral[a] = amount
            record.multilateral_position[a] = queues._multilateral_position(a, cur)
    return record


def currencies_waiting(engine: Engine) -> list[str]:
    """The currencies with at least one waiting payment (public engine API only)."""
    return sorted({a.currency for a in engine.accounts() if engine.queue(a.account_id)})


# --- the proposal ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed set and what the optimiser knows of it: its value, how many payments
    were candidates, and whether HiGHS proved it optimal within the time limit."""

    settle_set: SettleSet
    value_minor: int
    candidates: int
    proven_optimal: bool


def propose_settle_set(
    engine: Engine,
    currency: str,
    time_limit_s: float,
    *,
    now_ns: int | None = None,
    command_id: int | None = None,
) -> SettleSet | None:
    """The most valuable set of waiting payments the engine would accept as a SettleSet
    now, by a MILP bounded by ``time_limit_s``: None when it finds nothing to settle.
    ``propose`` with the value and the solver's verdict beside the command."""
    found = propose(engine, currency, time_limit_s, now_ns=now_ns, command_id=command_id)
    return None if found is None else found.settle_set


def propose(
    engine: Engine,
    currency: str,
    time_limit_s: float,
    *,
    now_ns: int | None = None,
    command_id: int | None = None,
) -> Proposal | None:
    """The most valuable set of waiting payments the engine would accept as a SettleSet
    now, by a MILP bounded by ``time_limit_s``: None when it finds nothing to settle.

    It models the engine's rules exactly (docs/rtgs.md): every floor with the
    reservation the lowest priority of each sender's set needs, the balance limit, the
    queue order (urgent and high payments a prefix; normal ones only once every eligible
    urgent or high payment of the sender is in), bilateral limits and the multilateral
    limit with the same-set inflow rule. Its answer may differ from run to run (a time
    limit): that is why it runs outside the engine and its answer is journaled, and the
    engine checks it again (and refuses it whole) when it applies it. ``now_ns``: the
    stamp the set will be applied at (default: the engine's last stamp, which is never
    later than the stamp a node gives the next batch). Changes nothing. Read it from a
    stable engine (``Node.quiesced()``) when others may submit meanwhile.

    Raises OptimiserUnavailableError when highspy is not installed.
    """
    _highspy()  # fail clearly before reading anything
    now = engine.timestamp_ns if now_ns is None else now_ns
    record = _read_queues(engine, currency, now)
    if record is None or not record.candidates:
        return None
    candidates = record.candidates
    milp = Milp()
    x = {c.payment_id: milp.var(0, 1, c.amount_minor, integer=True) for c in candidates}
    big = float(sum(c.amount_minor for c in candidates)) + 1.0
    by_sender: dict[int, list[Candidate]] = {}
    delta: dict[int, dict[int, float]] = {}
    for c in candidates:
        by_sender.setdefault(c.debit, []).append(c)
        for slot, sign in ((c.debit, -1), (c.credit, 1)):
            row = delta.setdefault(slot, {})
            row[x[c.payment_id]] = row.get(x[c.payment_id], 0) + sign * c.amount_minor
    normal, high = int(Priority.NORMAL), int(Priority.HIGH)
    for slot, coefficients in delta.items():
        milp.row(-float("inf"), float(record.room_above[slot]), coefficients)
        if slot not in by_sender:
            continue
        urgent_reserved, high_reserved = record.reserved[slot]
        row = dict(coefficients)
        if urgent_reserved:  # needed once the set holds a high or normal payment
            needs = milp.var(0, 1)
            for c in by_sender[slot]:
                if c.priority <= high:
                    milp.row(0, float("inf"), {needs: 1, x[c.payment_id]: -1})
            row[needs] = -float(urgent_reserved)
        if high_reserved:  # needed once the set holds a normal payment
            needs = milp.var(0, 1)
            for c in by_sender[slot]:
                if c.priority == normal:
                    milp.row(0, float("inf"), {needs: 1, x[c.payment_id]: -1})
            row[needs] = -float(high_reserved)
        milp.row(-float(record.free[slot]), float("inf"), row)
    for sent in by_sender.values():
        firm = [c for c in sent if c.priority != normal]
        for earlier, later in itertools.pairwise(firm):
            milp.row(-float("inf"), 0, {x[later.payment_id]: 1, x[earlier.payment_id]: -1})
        if firm:
            for c in sent:
                if c.priority == normal:
                    milp.row(-float("inf"), 0, {x[c.payment_id]: 1, x[firm[-1].payment_id]: -1})
    _limit_rows(record, milp, x, big)
    values, optimal = milp.maximise(time_limit_s)
    if not values:
        return None
    chosen = [c for c in candidates if values[x[c.payment_id]] > 0.5]
    if not chosen:
        return None
    command = SettleSet(
        uuid.uuid4().int if command_id is None else command_id,
        currency,
        tuple(c.payment_id for c in chosen),
    )
    return Proposal(command, sum(c.amount_minor for c in chosen), len(candidates), optimal)


def _limit_rows(record: QueueRecord, milp: Milp, x: dict[int, int], big: float) -> None:
    """Bilateral and multilateral limits on normal payments, with the same-set rule: a
    sender's position is offset only by inflows from participants it pays (normal) in
    the set. ``pays[a, b]`` is 1 exactly when a pays b a normal payment in the set."""
    if not (record.bilateral or record.multilateral):
        return
    owner = record.owner
    normal_paid: dict[tuple[int, int], dict[int, float]] = {}
    all_paid: dict[tuple[int, int], dict[int, float]] = {}
    for c in record.candidates:
        pair = (owner[c.debit], owner[c.credit])
        all_paid.setdefault(pair, {})[x[c.payment_id]] = float(c.amount_minor)
        if c.priority == int(Priority.NORMAL):
            normal_paid.setdefault(pair, {})[x[c.payment_id]] = float(c.amount_minor)
    multilateral_out: dict[int, dict[int, float]] = {}
    for (a, b), paid in normal_paid.items():
        pays = milp.var(0, 1, integer=True)
        for col in paid:
            milp.row(0, float("inf"), {pays: 1, col: -1})  # paying anything sets it
        milp.row(-float("inf"), 0, {pays: 1, **{col: -1.0 for col in paid}})  # only then
        back = all_paid.get((b, a), {})
        limit = record.bilateral.get((a, b), 0)
        if limit:
            room = float(limit - record.position[(a, b)])
            row = {**paid, pays: big}
            for col, amount in back.items():
                row[col] = row.get(col, 0.0) - amount
            milp.row(-float("inf"), room + big, row)
        elif record.multilateral.get(a, 0):
            counted = milp.var(0, float("inf"))  # inflow from b that counts: only if paid
            milp.row(
                -float("inf"), 0, {counted: 1, **{col: -amount for col, amount in back.items()}}
            )
            milp.row(-float("inf"), 0, {counted: 1, pays: -big})
            out = multilateral_out.setdefault(a, {})
            for col, amount in paid.items():
                out[col] = out.get(col, 0.0) + amount
            out[counted] = out.get(counted, 0.0) - 1.0
    for a, out in multilateral_out.items():
        room = max(0, record.multilateral[a] - record.multilateral_position[a])
        milp.row(-float("inf"), float(room), out)
