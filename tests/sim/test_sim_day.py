"""The synthetic business day: deterministic, heavy-tailed, mostly fine, some bad."""

from __future__ import annotations

import random

import numpy as np

from interbank.engine import Engine, ResultCode
from interbank.engine.batch import Batch
from interbank.sim import DaySummary, demo_network, plan_day
from interbank.sim.day import ANOMALIES_PER_10K


def _columns(batches: tuple[Batch, ...]) -> dict[str, list[int]]:
    return {
        name: np.concatenate([getattr(b, name) for b in batches]).tolist()
        for name in ("id_hi", "id_lo", "debit", "credit", "amount")
    }


def test_a_seed_names_one_exact_day_whatever_the_global_random_state() -> None:
    network = demo_network(1)
    random.seed(123)
    first = plan_day(network, 3_000, seed=5, batch_rows=700)
    random.seed(456)
    second = plan_day(network, 3_000, seed=5, batch_rows=700)
    assert _columns(first.batches) == _columns(second.batches)
    other = plan_day(network, 3_000, seed=6, batch_rows=700)
    assert _columns(first.batches) != _columns(other.batches)


def test_rows_and_batches() -> None:
    plan = plan_day(demo_network(1), 2_500, seed=1, batch_rows=1_000)
    assert [len(b) for b in plan.batches] == [1_000, 1_000, 500]
    assert plan.payments == 2_500
    assert all(b.amount.dtype == np.int64 for b in plan.batches)


def test_amounts_are_heavy_tailed_integers() -> None:
    plan = plan_day(demo_network(1), 20_000, seed=1)
    amounts = np.concatenate([b.amount for b in plan.batches])
    positive = amounts[amounts > 0]
    assert (amounts >= 0).all()
    median, largest = int(np.median(positive)), int(positive.max())
    assert largest > 1_000 * median  # a long right tail
    assert int(np.percentile(positive, 99)) > 20 * median


def test_a_day_is_mostly_fine_with_several_reason_codes() -> None:
    network = demo_network(1)
    engine = Engine()
    assert all(r.ok for r in engine.execute_many(network.setup_commands(), 1))
    plan = plan_day(network, 20_000, seed=1)
    summary = DaySummary(network)
    for step, batch in enumerate(plan.batches, start=2):
        result = engine.apply(batch, step)
        summary.add(batch, result.codes, result.replayed)
    assert summary.rows == 20_000
    assert summary.settled_total + summary.rejected_total + summary.replayed_count == 20_000
    assert summary.settled_total > 0.9 * 20_000
    reasons = summary.rejected_by_reason()
    assert {"AM04", "AC01", "AG01", "AM03", "AM01", "DUPL"} <= set(reasons)
    assert summary.replayed_count == plan.anomalies["resend"] > 0
    assert set(plan.anomalies) == set(ANOMALIES_PER_10K)
    assert ResultCode.INSUFFICIENT_FUNDS in summary.rejected_by_code
    # Settled value per currency equals the money that moved: balances add up.
    assert set(engine.totals_by_currency().values()) == {0}
    assert all(v >= 0 for v in summary.settled_minor.values())
