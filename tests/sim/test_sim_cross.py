"""The demo's FX providers, their quotes, and a day with cross-currency payments."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from interbank.engine import Engine, Kind, ResultCode, Role
from interbank.fx import load_reference_rates, markup_bp
from interbank.sim import CROSS_PAYMENTS_PER_10K_DEMO, DaySummary, demo_network, plan_day
from interbank.sim.fx import PROVIDERS, SAMPLE_RATES_PATH


def test_providers_hold_the_currencies_they_quote_and_send_nothing_on_their_own() -> None:
    network = demo_network(1)
    for plan in PROVIDERS:
        bank = next(b for b in network.banks if b.bic == plan.bic)
        assert bank.role == Role.DIRECT and bank.weight == 0
        held = {a.currency for a in network.accounts if a.bic == plan.bic}
        assert held == {c for pair in plan.pairs for c in pair}
        assert all(a.weight == 0 for a in network.accounts if a.bic == plan.bic)


def test_quotes_are_the_reference_less_the_spread_rounded_in_the_providers_favour() -> None:
    network = demo_network(1)
    rates = load_reference_rates(SAMPLE_RATES_PATH)
    spreads = {p.bic: p.spread_bp for p in PROVIDERS}
    assert len(network.quotes) == 2 * sum(len(p.pairs) for p in PROVIDERS)
    for quote in network.quotes:
        reference = rates.lookup(quote.from_currency, quote.to_currency)
        assert reference is not None
        markup = markup_bp(Decimal(quote.rate), reference.rate)
        # the spread, plus less than a hundredth of a basis point from rounding down
        assert spreads[quote.provider_bic] <= markup <= spreads[quote.provider_bic] + 1
        assert 0 <= quote.fee_minor < quote.amount_min_minor <= quote.amount_max_minor


def test_adding_the_providers_changed_no_bank_and_no_seeded_day() -> None:
    network = demo_network(3)
    banks = [b for b in network.banks if b.bic not in {p.bic for p in PROVIDERS}]
    assert len(banks) == 29
    plain = plan_day(network, 3_000, seed=2)
    assert plain.cross_payments == 0
    assert all(int(b.kind.max()) == Kind.TRANSFER for b in plain.batches)


def test_a_day_with_cross_currency_payments_adds_up() -> None:
    network = demo_network(1)
    engine = Engine()
    assert all(r.ok for r in engine.execute_many(network.setup_commands(), 1))
    plan = plan_day(network, 10_000, seed=1, cross_payments_per_10k=CROSS_PAYMENTS_PER_10K_DEMO)
    assert 200 < plan.cross_payments < 400
    summary = DaySummary(network)
    for step, batch in enumerate(plan.batches, start=2):
        result = engine.apply(batch, step)
        summary.add(batch, result.codes, result.replayed, result.queue_events)
        assert set(engine.totals_by_currency().values()) == {0}
    assert summary.cross_rows == plan.cross_payments
    assert summary.cross_settled_total > 0.9 * plan.cross_payments
    total = (
        summary.settled_total
        + summary.rejected_total
        + summary.replayed_count
        + summary.cross_waiting_total
    )
    assert total == summary.rows == 10_000
    assert ResultCode.QUEUED not in summary.rejected_by_code
    via = sum(p.via_reference for p in summary.cross_by_pair.values())
    three_legs = sum(p.three_legs for p in summary.cross_by_pair.values())
    assert via > 0 and three_legs > 0
    # Domestic settled counts leave cross rows out: their value is counted per pair.
    crossed = np.concatenate([b.kind == Kind.CROSS_PAYMENT for b in plan.batches])
    assert sum(summary.settled_count.values()) <= 10_000 - int(crossed.sum())
