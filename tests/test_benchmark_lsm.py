"""``interbank bench lsm`` runs end to end on a tiny configuration and reports exactly the
agreed figures. Nothing here asserts a timing: figures go to bench/RESULTS.md."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from interbank import benchmark_lsm
from interbank.benchmark_lsm import (
    FIGURE_KEYS,
    TINY,
    DayPayment,
    Instance,
    Instruction,
    LsmReport,
    day_bounds,
    engine_value,
    optimum,
    run_day_with_lsm,
    run_day_without_lsm,
)
from interbank.cli import app
from interbank.engine.commands import Priority

EXPECTED_KEYS = (
    "lsm_fifo_ratio_min",
    "lsm_value_ratio_median",
    "lsm_value_ratio_min",
    "lsm_10k_ms",
    "liquidity_vs_lower_bound",
    "liquidity_no_lsm_vs_lower_bound",
    "avg_delay_s",
    "queued_settle_tps",
)


@pytest.fixture(scope="module")
def tiny_report() -> LsmReport:
    return benchmark_lsm.measure(config=TINY)


def test_figures_have_exactly_the_agreed_keys(tiny_report: LsmReport) -> None:
    figures = tiny_report.figures()
    assert tuple(figures) == EXPECTED_KEYS == FIGURE_KEYS
    for key, value in figures.items():
        assert isinstance(value, float) and value >= 0, (key, value)
    assert figures["lsm_fifo_ratio_min"] <= 1.0 and figures["lsm_value_ratio_min"] <= 1.0
    assert figures["liquidity_vs_lower_bound"] >= 1.0  # nothing settles under the bound
    assert json.loads(json.dumps(figures)) == figures
    assert tiny_report.details()["milp not proven optimal (excluded)"] == 0


def test_cli_prints_one_json_object_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(benchmark_lsm, "QUICK", TINY)
    result = CliRunner().invoke(app, ["bench", "lsm", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    assert tuple(json.loads(last)) == EXPECTED_KEYS


def test_optima_and_the_engine_on_a_hand_example() -> None:
    # Bank 0 owes bank 1 50 then 3; bank 1 owes bank 0 45; bank 1 holds nothing.
    # Bank 0 holds 5: {50, 45} settles together (0: 5 - 50 + 45 = 0, 1: 50 - 45 = 5), and
    # the 3 cannot join (0 would be at -3): 95, in queue order.
    # Bank 0 holds 4: {50, 45} leaves 0 at -1, so in queue order nothing settles; past the
    # queue's head the 3 settles alone (4 - 3 = 1), and nothing can join it: 3.
    def payments(priority: Priority) -> tuple[Instruction, ...]:
        return (
            Instruction(0, 1, 50, priority),
            Instruction(0, 1, 3, priority),
            Instruction(1, 0, 45, priority),
        )

    high, normal = payments(Priority.HIGH), payments(Priority.NORMAL)
    value, proven, _ = optimum(high, {0: 5, 1: 0, -1: 0}, fifo=True, time_limit_s=5)
    assert (value, proven) == (95, True)
    assert optimum(high, {0: 4, 1: 0, -1: 0}, fifo=True, time_limit_s=5)[0] == 0
    assert optimum(normal, {0: 4, 1: 0, -1: 0}, fifo=False, time_limit_s=5)[0] == 3
    assert engine_value(Instance((5, 0, 0), high)) == 95
    assert engine_value(Instance((4, 0, 0), high)) == 0  # FIFO: the 3 may not pass the 50
    assert engine_value(Instance((4, 0, 0), normal)) == 3  # bypass


def test_day_bounds_and_both_mechanisms_on_a_cycle() -> None:
    # 0 -> 1 100 at 10 s, 1 -> 2 100 at 20 s, 2 -> 0 100 at 30 s: every net position is
    # 0 (lower bound 0 each); settled on arrival only bank 0 goes into debit (100): 1 and
    # 2 have received before they pay.
    day = [DayPayment(10, 0, 1, 100), DayPayment(20, 1, 2, 100), DayPayment(30, 2, 0, 100)]
    lower, upper = day_bounds(day, 3)
    assert (lower, upper) == ([0, 0, 0], [100, 0, 0])
    # With no credit the plain queue is gridlocked; the engine's run settles the cycle.
    assert not run_day_without_lsm(day, [0, 0, 0], 60).settled_all
    outcome = run_day_with_lsm(day, [0, 0, 0], 60)
    assert outcome.settled_all and outcome.used_minor == (0, 0, 0)
    # With 100 of credit for bank 0 the plain queue settles everything on arrival.
    plain = run_day_without_lsm(day, [100, 0, 0], 60)
    assert plain.settled_all and plain.used_minor == (100, 0, 0)


def test_instances_are_gridlocked() -> None:
    rng = random.Random(7)
    instance, best, proven, _ = benchmark_lsm.gridlocked_instance(
        rng, 6, 30, firm=False, time_limit_s=5
    )
    assert best > 0 and proven and len(instance.payments) == 30
    balances = dict(enumerate(instance.balances_minor[:-1]))
    balances[-1] = instance.balances_minor[-1]
    # Nothing settles alone: every payment is larger than its sender's balance.
    assert all(p.amount_minor > balances[p.sender] for p in instance.payments)
