"""``pg_durable_tps``: acknowledged transfers/s through the node with the PostgreSQL journal.

The workload, batch size (8,190 transfers) and warm-up are those of ``interbank bench``
(``benchmark.py``): 2,000 participants in 5 currencies, exponential opening balances,
130 warm-up batches so the idempotency window is full, then timed batches from one
client; a transfer counts once ``Node.submit_batch`` has returned, i.e. once its entry
is committed with ``synchronous_commit = on``. Each repetition opens a fresh node on a
schema of its own (dropped afterwards), so repetitions and concurrent runs never share
tables or the writer lock.

Beside it, repetition by repetition in the same run (so the load of a shared machine
falls on all alike): the same node on the SQLite journal (``durable_tps``) and the
PostgreSQL baseline of ``interbank bench`` (one transaction per transfer,
``baseline_pg_tps``). ``interbank bench-pg [--quick] [--json]`` prints a table, then one
JSON line with ``PG_FIGURE_KEYS``. The keys of ``interbank bench`` are not touched.

What it may import: ``benchmark`` (workload and baselines), ``node``, psycopg 3.
Nothing imports this module but the CLI.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from interbank.benchmark import (
    FULL,
    QUICK,
    BenchConfig,
    Measurement,
    Progress,
    Transfers,
    Workload,
    make_workload,
    pg_url_default,
)
from interbank.benchmark import _bench_durable_once as bench_sqlite_durable_once
from interbank.benchmark import _bench_pg_once as bench_pg_baseline_once
from interbank.benchmark import _pg_connect as pg_connect
from interbank.engine.batch import Batch
from interbank.engine.codes import ResultCode

if TYPE_CHECKING:
    from rich.table import Table

PG_FIGURE_KEYS: tuple[str, ...] = (
    "pg_durable_tps",
    "durable_tps",
    "baseline_pg_tps",
    "pg_durable_vs_baseline_pg",
)
PG_DURABLE_TPS_TARGET = 100_000

# Stream seeds: the PostgreSQL node plays the stream the SQLite node plays in
# ``interbank bench`` (same opening balances, same transfers).
_STREAM_DURABLE = 100


@dataclass(frozen=True, slots=True)
class PgBenchReport:
    config_name: str
    config: BenchConfig
    measurements: Mapping[str, Measurement]
    rejected_share: Mapping[str, float]
    notes: tuple[str, ...] = field(default=())
    duration_s: float = 0.0

    def figures(self) -> dict[str, float | None]:
        def median(name: str) -> float | None:
            measurement = self.measurements.get(name)
            return None if measurement is None else round(measurement.median_per_s, 1)

        pg_durable = median("pg_durable_tps")
        baseline = median("baseline_pg_tps")
        ratio = None if pg_durable is None or not baseline else round(pg_durable / baseline, 1)
        figures = {
            "pg_durable_tps": pg_durable,
            "durable_tps": median("durable_tps"),
            "baseline_pg_tps": baseline,
            "pg_durable_vs_baseline_pg": ratio,
        }
        assert tuple(figures) == PG_FIGURE_KEYS
        return figures


@dataclass(frozen=True, slots=True)
class PgDurableRun:
    transfers_per_s: float
    codes: np.ndarray
    digest: str
    append_ms_median: float  # one entry's append (hash + INSERT + COMMIT), from the node


def _schema_url(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}schema={schema}"


def _bench_pg_durable_once(
    workload: Workload, transfers: Transfers, config: BenchConfig, url: str, rep: int
) -> PgDurableRun:
    """One repetition: a fresh node on a fresh schema, set up, warmed up, then timed."""
    from interbank.node import Node, verify

    schema = f"bench_node_{os.getpid()}_{rep}"
    node_url = _schema_url(url, schema)
    _drop_schema(url, schema)
    try:
        node = Node.open(node_url, create=True)
        try:
            setup = Batch.of(workload.setup_commands())
            for start in range(0, len(setup), config.batch_rows):
                part = setup.slice(start, min(len(setup), start + config.batch_rows))
                result = node.submit_batch(part)
                assert result.ok_count() == len(result), "workload setup rejected by the node"
            warmup_stream = _STREAM_DURABLE + 50 + rep
            warmup = workload.transfers(
                warmup_stream, config.durable_warmup_batches * config.batch_rows
            )
            for batch in warmup.batches(config.batch_rows, warmup_stream):
                node.submit_batch(batch)
            batches = transfers.batches(config.batch_rows, _STREAM_DURABLE + 1 + rep)
            backend = node._backend  # timed beside the node, for the "what limits" note
            append_ns: list[int] = []
            real_append = backend.append

            def timed_append(entries: Any) -> None:
                start_ns = time.perf_counter_ns()
                real_append(entries)
                append_ns.append(time.perf_counter_ns() - start_ns)

            backend.append = timed_append  # type: ignore[method-assign]
            results = []
            gc.collect()
            start_ns = time.perf_counter_ns()
            for batch in batches:
                results.append(node.submit_batch(batch))
            duration_ns = time.perf_counter_ns() - start_ns
            backend.append = real_append  # type: ignore[method-assign]
            digest = node.engine.digest()
        finally:
            node.close()
        if config.repetitions and rep == 0:
            # Once per run: the journal on the server replays to the node's state.
            report = verify(node_url)
            assert report.ok and report.digest == digest, report.problems
        codes = np.concatenate([np.asarray(r.codes) for r in results])
        rate = len(transfers) * 1e9 / max(duration_ns, 1)
        append_ms = statistics.median(append_ns) / 1e6 if append_ns else 0.0
        return PgDurableRun(rate, codes, digest, append_ms)
    finally:
        _drop_schema(url, schema)


def _drop_schema(url: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True, connect_timeout=3) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


def measure(
    quick: bool = False,
    pg_url: str | None = None,
    progress: Progress | None = None,
    *,
    config: BenchConfig | None = None,
) -> PgBenchReport:
    """Run the PostgreSQL node, the SQLite node and the PostgreSQL baseline, interleaved."""
    if config is None:
        config, config_name = (QUICK, "quick") if quick else (FULL, "full")
    else:
        config_name = "custom"
    run_start_ns = time.perf_counter_ns()
    url = pg_url if pg_url is not None else pg_url_default()
    workload = make_workload(config)
    durable_transfers = workload.transfers(
        _STREAM_DURABLE, config.durable_batches_per_rep * config.batch_rows
    )
    baseline_transfers = workload.transfers(_STREAM_DURABLE, config.baseline_pg_transfers_per_rep)
    notes: list[str] = []
    load_start = os.getloadavg()
    baseline_connection = pg_connect(url)
    if baseline_connection is None:
        notes.append(f"PostgreSQL not reachable at {url}: pg figures are null")
    pg_runs: list[PgDurableRun] = []
    sqlite_runs: list[Any] = []
    baseline_runs: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="interbank-bench-pg-") as directory_name:
        directory = Path(directory_name)
        for rep in range(config.repetitions):
            if baseline_connection is not None:
                pg_runs.append(
                    _bench_pg_durable_once(workload, durable_transfers, config, url, rep)
                )
                _say(progress, f"pg node rep {rep + 1}: {pg_runs[-1].transfers_per_s:,.0f} tx/s")
            sqlite_run = bench_sqlite_durable_once(
                workload, durable_transfers, config, directory, rep
            )
            sqlite_runs.append(sqlite_run)
            for suffix in ("", "-wal", "-shm", "-writer.lock"):
                Path(str(sqlite_run.journal_path) + suffix).unlink(missing_ok=True)
            _say(progress, f"sqlite node rep {rep + 1}: {sqlite_run.transfers_per_s:,.0f} tx/s")
            if baseline_connection is not None:
                baseline_runs.append(
                    bench_pg_baseline_once(
                        workload, baseline_transfers, config.baseline_duration_s_max,
                        baseline_connection,
                    )
                )  # fmt: skip
                _say(
                    progress,
                    f"pg baseline rep {rep + 1}: {baseline_runs[-1].transfers_per_s:,.0f}/s",
                )
    if baseline_connection is not None:
        baseline_connection.close()

    measurements: dict[str, Measurement] = {}
    rejected: dict[str, float] = {}
    per_rep = config.durable_batches_per_rep * config.batch_rows
    if pg_runs:
        append_ms = statistics.median(r.append_ms_median for r in pg_runs)
        measurements["pg_durable_tps"] = Measurement(
            "pg_durable_tps",
            "transfers/s",
            tuple(r.transfers_per_s for r in pg_runs),
            per_rep,
            f"Node.submit_batch, PostgreSQL journal, synchronous_commit=on, one client, "
            f"{config.batch_rows} per batch, after {config.durable_warmup_batches} warm-up "
            f"batches; append median {append_ms:.1f} ms per entry",
        )
        codes = np.concatenate([r.codes for r in pg_runs])
        rejected["pg_durable"] = float(
            np.count_nonzero(codes == ResultCode.INSUFFICIENT_FUNDS)
        ) / max(len(codes), 1)
    measurements["durable_tps"] = Measurement(
        "durable_tps",
        "transfers/s",
        tuple(r.transfers_per_s for r in sqlite_runs),
        per_rep,
        "the same node on the SQLite journal (synchronous=FULL), as in `interbank bench`",
    )
    if baseline_runs:
        measurements["baseline_pg_tps"] = Measurement(
            "baseline_pg_tps",
            "transfers/s",
            tuple(r.transfers_per_s for r in baseline_runs),
            int(statistics.median(r.transfers for r in baseline_runs)),
            "psycopg 3, one connection, FOR UPDATE, synchronous_commit=on, 1 txn per transfer",
        )
        paired = [
            d.transfers_per_s / b.transfers_per_s
            for d, b in zip(pg_runs, baseline_runs, strict=True)
        ]
        notes.append(
            f"pg node / pg baseline per repetition: median {statistics.median(paired):,.0f}x "
            f"({min(paired):,.0f}x–{max(paired):,.0f}x)"
        )
    load_end = os.getloadavg()
    notes.append(
        f"machine: {os.cpu_count()} CPUs, load average (1 min) {load_start[0]:.2f} at start, "
        f"{load_end[0]:.2f} at end; PostgreSQL at {_without_password(url)} (same machine)"
    )
    return PgBenchReport(
        config_name=config_name,
        config=config,
        measurements=measurements,
        rejected_share=rejected,
        notes=tuple(notes),
        duration_s=(time.perf_counter_ns() - run_start_ns) / 1e9,
    )


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _without_password(url: str) -> str:
    from interbank.journal.postgres import PostgresLocation

    try:
        return PostgresLocation.of(url).display.split("?schema=")[0]
    except ValueError:
        return "(unparsable URL)"


def render_table(report: PgBenchReport) -> Table:
    from rich import box
    from rich.table import Table

    figures = report.figures()
    table = Table(
        title=(
            f"interbank bench-pg ({report.config_name}): medians of "
            f"{report.config.repetitions} repetitions, {report.duration_s:.0f} s in all"
        ),
        box=box.SIMPLE_HEAD,
        caption_justify="left",
    )
    for name, justify in (("figure", "left"), ("median", "right"), ("min–max", "right"),
                          ("target", "right")):  # fmt: skip
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    hows: list[str] = []
    for key in PG_FIGURE_KEYS:
        value = figures[key]
        measurement = report.measurements.get(key)
        spread = ""
        if measurement is not None:
            spread = f"{measurement.min_per_s:,.0f}–{measurement.max_per_s:,.0f}"
            hows.append(f"{key}: {measurement.note}; {measurement.items_per_rep:,} per repetition")
        target = f"≥ {PG_DURABLE_TPS_TARGET:,}" if key == "pg_durable_tps" else ""
        table.add_row(key, "null" if value is None else f"{value:,.1f}", spread, target)
    shares = ", ".join(f"{name} {share:.2%}" for name, share in report.rejected_share.items())
    table.caption = "\n".join(
        [f"rejected for insufficient funds (AM04): {shares}", *hows, *report.notes]
    )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m interbank.benchmark_pg [--quick] [--json]``: the table, then the JSON."""
    from rich.console import Console

    args = list(sys.argv[1:] if argv is None else argv)
    console = Console(stderr=True)
    report = measure(quick="--quick" in args, progress=lambda message: console.log(message))
    if "--json" not in args:
        Console().print(render_table(report))
    sys.stdout.write(json.dumps(report.figures()) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
