"""The benchmark runs end to end on a tiny configuration and reports the agreed figures.

Nothing here asserts a timing: the machine is shared and noisy, and a benchmark's
numbers go to bench/RESULTS.md, not into a pass/fail.
"""

from __future__ import annotations

import importlib.util
import io
import json

import numpy as np
import pytest
from rich.console import Console

from interbank import benchmark
from interbank.benchmark import FIGURE_KEYS, TINY, BenchReport

NODE_PRESENT = importlib.util.find_spec("interbank.node") is not None
UNREACHABLE_PG_URL = "postgresql://postgres@127.0.0.1:1/interbank_bench?connect_timeout=1"

EXPECTED_KEYS = {
    "engine_tps",
    "durable_tps",
    "baseline_sqlite_tps",
    "baseline_pg_tps",
    "replay_cps",
    "bytes_per_account",
    "bytes_per_idempotency_id",
    "durable_vs_baseline",
}


@pytest.fixture(scope="module")
def tiny_report() -> BenchReport:
    return benchmark.measure(config=TINY)


def test_figures_have_exactly_the_agreed_keys_and_sane_types(tiny_report: BenchReport) -> None:
    figures = tiny_report.figures()
    assert set(figures) == EXPECTED_KEYS
    assert tuple(figures) == FIGURE_KEYS
    for key, value in figures.items():
        assert value is None or (isinstance(value, float) and value >= 0), (key, value)
    for key in ("engine_tps", "baseline_sqlite_tps", "bytes_per_account"):
        assert isinstance(figures[key], float) and figures[key] > 0, key
    assert isinstance(figures["bytes_per_idempotency_id"], float)
    if NODE_PRESENT:
        for key in ("durable_tps", "replay_cps", "durable_vs_baseline"):
            assert isinstance(figures[key], float) and figures[key] > 0, key
    # the figures are JSON as they are: the CLI prints them as its last line
    assert json.loads(json.dumps(figures)) == figures


def test_every_measurement_has_one_sample_per_repetition(tiny_report: BenchReport) -> None:
    for measurement in tiny_report.measurements.values():
        assert len(measurement.samples_per_s) == TINY.repetitions
        assert measurement.min_per_s <= measurement.median_per_s <= measurement.max_per_s
    for share in tiny_report.rejected_share.values():
        assert 0.0 <= share < 0.5


def test_run_returns_null_postgres_figure_when_no_server() -> None:
    figures = benchmark.run(pg_url=UNREACHABLE_PG_URL, config=TINY)
    assert set(figures) == EXPECTED_KEYS
    assert figures["baseline_pg_tps"] is None


def test_table_renders_from_a_report_and_from_plain_figures(tiny_report: BenchReport) -> None:
    texts = []
    for source in (tiny_report, tiny_report.figures()):
        out = io.StringIO()
        Console(file=out, width=100).print(benchmark.render_table(source))
        texts.append(out.getvalue())
        for key in FIGURE_KEYS:
            assert key in texts[-1]
    assert "insufficient funds" in texts[0]  # the report's caption shows the rejected share


def test_workload_is_deterministic_and_hits_about_five_percent_rejections() -> None:
    config = benchmark.FULL
    first, second = benchmark.make_workload(config), benchmark.make_workload(config)
    assert np.array_equal(first.opening_balance_minor, second.opening_balance_minor)
    a, b = first.transfers(7, 1000), second.transfers(7, 1000)
    assert np.array_equal(a.debit, b.debit) and np.array_equal(a.amount_minor, b.amount_minor)
    # same currency, different participants, positive amounts
    same_currency = (a.debit - 1) // config.participants == (a.credit - 1) // config.participants
    assert same_currency.all() and (a.debit != a.credit).all() and (a.amount_minor > 0).all()
    # A plain replay of the rules (floor 0) over the stream: the share the design aims at.
    balance = [0, *first.opening_balance_minor.tolist()]
    stream = first.transfers(8, 200_000)
    rejected = 0
    for debit, credit, amount in zip(
        stream.debit.tolist(), stream.credit.tolist(), stream.amount_minor.tolist(), strict=True
    ):
        if balance[debit] < amount:
            rejected += 1
        else:
            balance[debit] -= amount
            balance[credit] += amount
    assert 0.03 < rejected / len(stream) < 0.07


def test_engine_state_bytes_counts_each_buffer_once() -> None:
    class Holder:
        def __init__(self) -> None:
            self.array = np.zeros(1000, dtype=np.int64)
            self.view = self.array[10:20]
            self.more = [np.zeros(500, dtype=np.uint8)]

    counted = benchmark.engine_state_bytes(Holder())
    assert 8000 + 500 <= counted < 8000 + 500 + 2000


@pytest.mark.postgres
def test_postgres_baseline_runs_against_a_real_server_and_conserves_money(pg_url: str) -> None:
    # The baseline asserts conservation itself; here it must produce a positive figure
    # on a real server (CI makes this mandatory), in a schema of its own that it drops.
    figures = benchmark.run(pg_url=pg_url, config=TINY)
    assert isinstance(figures["baseline_pg_tps"], float) and figures["baseline_pg_tps"] > 0
    import psycopg

    with psycopg.connect(pg_url) as connection:
        leftover = connection.execute(
            "SELECT count(*) FROM information_schema.schemata"
            " WHERE schema_name LIKE 'interbank_bench_%'"
        ).fetchone()
    assert leftover == (0,)
