"""Engine hot path: where the time of one ``Engine.apply`` goes, and how batch size pays.

Runs the benchmark's workload (2,000 participants x 5 currencies, ~5% AM04) on one
engine and prints, as medians of repeated runs:

1. transfers/s by batch size (1 ... 65,535 rows), each against the 8,190-row figure;
2. for 8,190-row batches: the whole ``apply`` against the compiled kernel alone and
   against the invariant check alone, so the Python wrapper's share is visible;
3. ``apply`` with ``check_invariants`` on against off.

Usage: ``python bench/engine_hot_path.py [--repetitions N]``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from interbank.benchmark import FULL, make_workload
from interbank.engine import Engine, EngineSettings, kernel
from interbank.engine.batch import Batch

TIMESTAMP_NS = 1_750_000_000_000_000_000


def new_engine(settings: EngineSettings) -> Engine:
    """An engine with the workload's accounts and a full idempotency window.

    Filling the window first measures the steady state: while the ring fills, the id
    table is smaller and emptier, and cache misses are fewer than they will be for good.
    """
    workload = make_workload(FULL)
    engine = Engine(settings)
    setup = Batch.of(workload.setup_commands())
    rows_max = settings.batch_commands_max
    for start in range(0, len(setup), rows_max):
        engine.apply(setup.slice(start, min(len(setup), start + rows_max)), TIMESTAMP_NS)
    fill = workload.transfers(999, settings.idempotency_window_commands + 8190)
    for batch in fill.batches(8190, 999):
        engine.apply(batch, TIMESTAMP_NS)
    return engine


def median_rate_per_s(
    run_once: Callable[[int], tuple[int, int]], repetitions: int
) -> tuple[float, float, float]:
    """Median, min and max items/s of ``run_once(rep) -> (items, duration_ns)``."""
    rates = []
    for rep in range(repetitions):
        items, duration_ns = run_once(rep)
        rates.append(items * 1e9 / duration_ns)
    return statistics.median(rates), min(rates), max(rates)


def batch_size_sweep(repetitions: int) -> None:
    workload = make_workload(FULL)
    engine = new_engine(EngineSettings())
    stream = [1000]
    transfers_per_run = 8190 * 16

    def runner(rows: int) -> Callable[[int], tuple[int, int]]:
        def run_once(rep: int) -> tuple[int, int]:
            stream[0] += 1
            count = min(transfers_per_run, max(rows * 4, 2000))
            batches = workload.transfers(stream[0], count).batches(rows, stream[0])
            start_ns = time.perf_counter_ns()
            for batch in batches:
                engine.apply(batch, TIMESTAMP_NS)
            return count, time.perf_counter_ns() - start_ns

        return run_once

    runner(8190)(0)  # compile
    results = {}
    for rows in (1, 16, 256, 1024, 4096, 8190, 32768, 65535):
        results[rows] = median_rate_per_s(runner(rows), repetitions)
    print(f"1. transfers/s by batch size (median of {repetitions}; ratio to 8,190 rows)")
    reference = results[8190][0]
    for rows, (median, low, high) in results.items():
        print(
            f"   {rows:>6} rows: {median:>12,.0f}/s  ({low:,.0f}–{high:,.0f})  "
            f"x{median / reference:.3f}"
        )


def split_of_one_apply(repetitions: int) -> None:
    workload = make_workload(FULL)
    engine = new_engine(EngineSettings())
    rows = 8190
    batches = workload.transfers(2000, rows * 16 * repetitions).batches(rows, 2000)
    apply_ns: list[int] = []
    check_ns: list[int] = []
    kernel_ns: list[int] = []
    original = kernel.apply_money

    def timed_kernel(*args: object) -> int:  # the same call apply makes, timed around it
        start_ns = time.perf_counter_ns()
        settled: int = original(*args)
        kernel_ns.append(time.perf_counter_ns() - start_ns)
        return settled

    kernel.apply_money = timed_kernel
    try:
        for batch in batches:
            start_ns = time.perf_counter_ns()
            engine.apply(batch, TIMESTAMP_NS)
            apply_ns.append(time.perf_counter_ns() - start_ns)
            start_ns = time.perf_counter_ns()
            engine._assert_invariants()  # the same call apply makes at its end
            check_ns.append(time.perf_counter_ns() - start_ns)
    finally:
        kernel.apply_money = original
    apply_median_ns = statistics.median(apply_ns)
    kernel_median_ns = statistics.median(kernel_ns)
    check_median_ns = statistics.median(check_ns)
    rest_ns = apply_median_ns - kernel_median_ns - check_median_ns
    print(f"2. one apply of {rows:,} transfers (median over {len(apply_ns)} batches, full window)")
    for label, duration_ns in (
        ("apply, whole", apply_median_ns),
        ("kernel.apply_money", kernel_median_ns),
        ("invariant check", check_median_ns),
        ("rest (Python)", rest_ns),
    ):
        print(
            f"   {label:<20} {duration_ns / 1e3:>9,.1f} µs  {duration_ns / apply_median_ns:>5.0%}"
            f"  ({duration_ns / rows:,.0f} ns per transfer)"
        )


def invariants_on_off(repetitions: int) -> None:
    workload = make_workload(FULL)
    rows = 8190
    engines = {
        flag: new_engine(replace(EngineSettings(), check_invariants=flag)) for flag in (True, False)
    }
    rates: dict[bool, list[float]] = {True: [], False: []}
    for rep in range(repetitions):
        for flag, engine in engines.items():  # alternate so noise hits both
            stream = 4000 + rep
            batches = workload.transfers(stream, rows * 32).batches(rows, stream)
            start_ns = time.perf_counter_ns()
            for batch in batches:
                engine.apply(batch, TIMESTAMP_NS)
            rates[flag].append(rows * 32 * 1e9 / (time.perf_counter_ns() - start_ns))
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    print(f"3. check_invariants (median of {repetitions}, 262,080 transfers each)")
    print(f"   on:  {on:>12,.0f}/s")
    print(f"   off: {off:>12,.0f}/s   on/off = {on / off:.3f}")


def idempotency_window_sweep(repetitions: int) -> None:
    """Steady-state rate by window size: the id table's size against the CPU caches."""
    workload = make_workload(FULL)
    rows = 8190
    results = {}
    for window_log2 in (16, 18, 20, 22):
        engine = new_engine(replace(EngineSettings(), idempotency_window_commands=1 << window_log2))
        parts = engine.memory_bytes()

        def run_once(
            rep: int, engine: Engine = engine, window_log2: int = window_log2
        ) -> tuple[int, int]:
            stream = 5000 + 100 * window_log2 + rep
            batches = workload.transfers(stream, rows * 32).batches(rows, stream)
            start_ns = time.perf_counter_ns()
            for batch in batches:
                engine.apply(batch, TIMESTAMP_NS)
            return rows * 32, time.perf_counter_ns() - start_ns

        results[window_log2] = (median_rate_per_s(run_once, repetitions), parts["idempotency"])
    print(f"4. idempotency window (full) against rate (median of {repetitions}; ratio to 2**20)")
    reference = results[20][0][0]
    for window_log2, ((median, low, high), id_bytes) in results.items():
        print(
            f"   2**{window_log2} ids ({id_bytes / 2**20:>4,.0f} MiB id state): {median:>11,.0f}/s"
            f"  ({low:,.0f}–{high:,.0f})  x{median / reference:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    batch_size_sweep(args.repetitions)
    split_of_one_apply(args.repetitions)
    invariants_on_off(args.repetitions)
    idempotency_window_sweep(args.repetitions)


if __name__ == "__main__":
    main()
