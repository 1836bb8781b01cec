"""Benchmarks: the engine, the durable node and replay, each beside what a team would
otherwise build (a SQLite or PostgreSQL table of accounts, one transaction per transfer).

Every benchmark runs the same synthetic workload: 2,000 participants, each with a
settlement account in 5 currencies (10,000 accounts), funded by central-bank Issue
commands, then random same-currency transfers between two distinct participants.
Opening balances are drawn from an exponential distribution, which is the stationary
balance distribution of random pairwise payments of independent size; with mean payment
= 1/20 of mean balance about 5% of transfers find too little money (INSUFFICIENT_FUNDS)
from the first batch on, not only after a long warm-up. Everything is drawn from one
seeded generator, so every run and every system sees the same transfers.

``measure`` returns a ``BenchReport`` (figures plus per-repetition samples and notes);
``run`` returns only the figures (the JSON the CLI prints as its last line);
``render_table`` turns either into a rich table. ``python -m interbank.benchmark
[--quick]`` does what ``interbank bench`` does.

What it may import: ``engine``, ``node`` (and its journal), numpy, rich, stdlib
``sqlite3``; psycopg 3 when installed. Nothing imports this module but the CLI.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from interbank.engine.batch import Batch
from interbank.engine.codes import ResultCode
from interbank.engine.commands import (
    AccountKind,
    Command,
    Issue,
    OpenAccount,
    RegisterParticipant,
    Role,
)

if TYPE_CHECKING:
    from rich.table import Table

    from interbank.engine import Engine

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
Progress = Callable[[str], None]

FIGURE_KEYS: tuple[str, ...] = (
    "engine_tps",
    "durable_tps",
    "baseline_sqlite_tps",
    "baseline_pg_tps",
    "replay_cps",
    "bytes_per_account",
    "bytes_per_idempotency_id",
    "durable_vs_baseline",
)

PG_URL_ENV = "INTERBANK_BENCH_PG"
PG_URL_DEFAULT = "postgresql://postgres@127.0.0.1:5432/interbank_bench"

# Synthetic clock for engine runs: the engine never reads a clock, the caller stamps.
_TIMESTAMP_NS_START = 1_750_000_000_000_000_000
_TIMESTAMP_NS_STEP = 1_000_000

# Command-id spaces (the high 64 bits): setup commands and each transfer run apart.
_ID_HI_SETUP = 1
_ID_HI_TRANSFERS = 2

# Transfer streams (seeds): the durable run and both baselines play the same stream
# from the same opening balances; the engine plays a new stream per repetition.
_STREAM_DURABLE = 100
_STREAM_ENGINE = 200
_STREAM_MEMORY = 300


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """Sizes of one benchmark run. Counts are transfers unless the name says otherwise."""

    repetitions: int
    engine_batches_per_rep: int
    durable_batches_per_rep: int
    baseline_sqlite_transfers_per_rep: int
    baseline_pg_transfers_per_rep: int
    baseline_duration_s_max: float = 3.0
    batch_rows: int = 8190
    participants: int = 2000
    currencies: tuple[str, ...] = ("USD", "EUR", "GBP", "JPY", "CHF")
    balance_mean_minor: int = 100_000_000
    # mean payment = balance_mean_minor / payment_fraction_inverse: 20 gives ~5% rejected
    payment_fraction_inverse: int = 20
    seed: int = 20_250_601
    # engine batches applied before timing: compilation, and 130 x 8190 > 2**20 fills the
    # default idempotency window, so every repetition sees the steady state
    engine_warmup_batches: int = 130
    # transfer batches a fresh node commits before timing: 130 x 8190 > 2**20 fills the
    # default idempotency window, so the node is timed in its steady state (a full id
    # table is twice as slow as an empty one: bench/engine_hot_path.py, section 4)
    durable_warmup_batches: int = 130


FULL = BenchConfig(
    repetitions=5,
    engine_batches_per_rep=128,  # 1,048,320 transfers per repetition
    durable_batches_per_rep=64,  # 524,160
    baseline_sqlite_transfers_per_rep=10_000,
    baseline_pg_transfers_per_rep=5_000,
)
QUICK = BenchConfig(
    repetitions=3,
    engine_batches_per_rep=48,  # 393,120; 3 reps + warm-up fill the 2**20 id window
    durable_batches_per_rep=16,  # 131,040
    baseline_sqlite_transfers_per_rep=2_000,
    baseline_pg_transfers_per_rep=1_000,
    baseline_duration_s_max=1.0,
)
TINY = BenchConfig(  # for tests: seconds, not a measurement
    repetitions=2,
    engine_batches_per_rep=2,
    durable_batches_per_rep=2,
    baseline_sqlite_transfers_per_rep=50,
    baseline_pg_transfers_per_rep=20,
    baseline_duration_s_max=0.5,
    batch_rows=512,
    participants=50,
    engine_warmup_batches=1,
    durable_warmup_batches=1,
)


# --- the workload -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transfers:
    """One stream of random transfers as columns (account ids, amounts in minor units)."""

    debit: I64
    credit: I64
    amount_minor: I64

    def __len__(self) -> int:
        return len(self.debit)

    def batch(self, start: int, rows: int, run_tag: int) -> Batch:
        """Rows ``start`` to ``start + rows`` as a transfer batch.

        ``run_tag`` goes into the ids' high bits: the same stream run twice (on two fresh
        nodes, say) makes new command ids each time, not idempotent re-sends.
        """
        stop = start + rows
        assert 0 <= start <= stop <= len(self), (start, rows, len(self))
        id_lo = np.arange(start + 1, stop + 1, dtype=np.uint64)
        id_hi = np.full(rows, (_ID_HI_TRANSFERS << 32) | run_tag, dtype=np.uint64)
        return Batch.of_transfers(
            id_hi, id_lo, self.debit[start:stop], self.credit[start:stop],
            self.amount_minor[start:stop],
        )  # fmt: skip

    def batches(self, rows_per_batch: int, run_tag: int) -> list[Batch]:
        return [
            self.batch(start, min(rows_per_batch, len(self) - start), run_tag)
            for start in range(0, len(self), rows_per_batch)
        ]


@dataclass(frozen=True, slots=True)
class Workload:
    """Participants, accounts and opening balances; transfers come in seeded streams.

    Settlement account ids are ``1 + currency_index * participants + participant_index``;
    the issuance account of currency ``c`` is ``settlement_count + 1 + c``.
    """

    currencies: tuple[str, ...]
    participants: int
    opening_balance_minor: I64  # per settlement account, index = account id - 1
    amount_mean_minor: int
    seed: int

    @property
    def settlement_count(self) -> int:
        return len(self.opening_balance_minor)

    def issuance_account_id(self, currency_index: int) -> int:
        return self.settlement_count + 1 + currency_index

    def account_currency(self, account_id: int) -> str:
        if account_id > self.settlement_count:
            return self.currencies[account_id - self.settlement_count - 1]
        return self.currencies[(account_id - 1) // self.participants]

    def transfers(self, stream: int, count: int) -> Transfers:
        """``count`` random transfers: a currency, a payer, a different payee, an amount.

        Each stream is its own seeded sequence. A state that runs on must get a new
        stream each time: replaying one sequence again and again would move the same net
        amounts between the same accounts every cycle and drain the net payers.
        """
        rng = np.random.default_rng([self.seed, stream])
        participants = self.participants
        currency = rng.integers(0, len(self.currencies), count, dtype=np.int64)
        payer = rng.integers(0, participants, count, dtype=np.int64)
        payee = (payer + rng.integers(1, participants, count, dtype=np.int64)) % participants
        amount = rng.integers(1, 2 * self.amount_mean_minor, count, dtype=np.int64)
        first = 1 + currency * participants
        return Transfers(debit=first + payer, credit=first + payee, amount_minor=amount)

    def setup_commands(self) -> list[Command]:
        """Central banks, participants, accounts and the Issue commands that fund them."""
        commands: list[Command] = []

        def next_id() -> int:
            return (_ID_HI_SETUP << 64) | (len(commands) + 1)

        for c, code in enumerate(self.currencies):
            bic = _bic(c, central_bank=True)
            commands.append(
                RegisterParticipant(next_id(), bic, f"Central bank {code}", Role.CENTRAL_BANK, code)
            )
            commands.append(
                OpenAccount(next_id(), self.issuance_account_id(c), bic, code, AccountKind.ISSUANCE)
            )
        for p in range(self.participants):
            commands.append(
                RegisterParticipant(
                    next_id(), _bic(p, central_bank=False), f"Bank {p}", Role.DIRECT
                )
            )
        for c, code in enumerate(self.currencies):
            for p in range(self.participants):
                account_id = 1 + c * self.participants + p
                commands.append(OpenAccount(next_id(), account_id, _bic(p, False), code))
        for index, amount in enumerate(self.opening_balance_minor.tolist()):
            commands.append(Issue(next_id(), index + 1, int(amount)))
        return commands


def make_workload(config: BenchConfig) -> Workload:
    """Accounts funded with exponential opening balances (mean ``balance_mean_minor``)."""
    rng = np.random.default_rng([config.seed, 0])
    accounts = len(config.currencies) * config.participants
    opening = rng.exponential(config.balance_mean_minor, accounts)
    return Workload(
        currencies=config.currencies,
        participants=config.participants,
        opening_balance_minor=np.maximum(opening, 1).astype(np.int64),
        amount_mean_minor=config.balance_mean_minor // config.payment_fraction_inverse,
        seed=config.seed,
    )


def _bic(index: int, central_bank: bool) -> str:
    """A structurally valid, distinct ISO 9362 BIC for participant ``index``."""
    letters = ""
    value = index
    for _ in range(4):
        letters = chr(ord("A") + value % 26) + letters
        value //= 26
    assert value == 0, "at most 26**4 participants"
    country = "CH" if central_bank else "DE"
    location = "CB" if central_bank else "FF"
    return f"{letters}{country}{location}"


# --- measurements -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measurement:
    """One figure: a rate per repetition (items per second), its median and spread."""

    name: str
    unit: str
    samples_per_s: tuple[float, ...]
    items_per_rep: int
    note: str = ""

    @property
    def median_per_s(self) -> float:
        return float(statistics.median(self.samples_per_s))

    @property
    def min_per_s(self) -> float:
        return min(self.samples_per_s)

    @property
    def max_per_s(self) -> float:
        return max(self.samples_per_s)


@dataclass(frozen=True, slots=True)
class BenchReport:
    config_name: str
    config: BenchConfig
    measurements: Mapping[str, Measurement]
    rejected_share: Mapping[str, float]  # INSUFFICIENT_FUNDS share per system
    bytes_per_account: float
    bytes_per_idempotency_id: float
    memory_note: str
    notes: tuple[str, ...] = field(default=())
    duration_s: float = 0.0

    def figures(self) -> dict[str, float | None]:
        def median(name: str) -> float | None:
            measurement = self.measurements.get(name)
            return None if measurement is None else round(measurement.median_per_s, 1)

        durable = median("durable_tps")
        baseline = median("baseline_sqlite_tps")
        ratio = None if durable is None or not baseline else round(durable / baseline, 2)
        figures: dict[str, float | None] = {
            "engine_tps": median("engine_tps"),
            "durable_tps": durable,
            "baseline_sqlite_tps": baseline,
            "baseline_pg_tps": median("baseline_pg_tps"),
            "replay_cps": median("replay_cps"),
            "bytes_per_account": round(self.bytes_per_account, 1),
            "bytes_per_idempotency_id": round(self.bytes_per_idempotency_id, 1),
            "durable_vs_baseline": ratio,
        }
        assert tuple(figures) == FIGURE_KEYS
        return figures


def _rate_per_s(items: int, duration_ns: int) -> float:
    return items * 1e9 / max(duration_ns, 1)


def _share(codes: U8, code: ResultCode) -> float:
    return float(np.count_nonzero(codes == code)) / max(len(codes), 1)


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


# --- engine -------------------------------------------------------------------------------


def _engine_set_up(workload: Workload, engine_settings: Any = None) -> Engine:
    from interbank.engine import Engine, EngineSettings

    engine = Engine(engine_settings if engine_settings is not None else EngineSettings())
    setup = Batch.of(workload.setup_commands())
    rows_max = engine.settings.batch_commands_max
    for start in range(0, len(setup), rows_max):
        result = engine.apply(setup.slice(start, min(len(setup), start + rows_max)), 1)
        assert result.ok_count() == len(result), "workload setup rejected by the engine"
    return engine


def _bench_engine(
    workload: Workload, config: BenchConfig, progress: Progress | None
) -> tuple[Measurement, float, Engine]:
    """Engine.apply on pre-built batches; one engine for all repetitions (steady state)."""
    engine = _engine_set_up(workload)
    timestamp_ns = _TIMESTAMP_NS_START
    warmup = workload.transfers(_STREAM_ENGINE, config.engine_warmup_batches * config.batch_rows)
    for batch in warmup.batches(config.batch_rows, _STREAM_ENGINE):  # compile, warm caches
        engine.apply(batch, timestamp_ns)
        timestamp_ns += _TIMESTAMP_NS_STEP
    samples: list[float] = []
    codes: list[U8] = []
    for rep in range(config.repetitions):
        stream = _STREAM_ENGINE + 1 + rep
        transfers_count = config.engine_batches_per_rep * config.batch_rows
        batches = workload.transfers(stream, transfers_count).batches(config.batch_rows, stream)
        transfers = sum(len(b) for b in batches)
        results = []
        gc.collect()
        gc_was_enabled = gc.isenabled()
        gc.disable()  # a collection inside the timed loop measures the collector, not us
        try:
            start_ns = time.perf_counter_ns()
            for batch in batches:
                results.append(engine.apply(batch, timestamp_ns))
                timestamp_ns += _TIMESTAMP_NS_STEP
            duration_ns = time.perf_counter_ns() - start_ns
        finally:
            if gc_was_enabled:
                gc.enable()
        samples.append(_rate_per_s(transfers, duration_ns))
        codes.extend(np.asarray(r.codes) for r in results)
        _say(progress, f"engine rep {rep + 1}: {samples[-1]:,.0f} transfers/s")
    totals = engine.totals_by_currency()
    assert all(total == 0 for total in totals.values()), totals
    all_codes = np.concatenate(codes)
    unexpected = set(np.unique(all_codes).tolist()) - {ResultCode.OK, ResultCode.INSUFFICIENT_FUNDS}
    assert not unexpected, f"unexpected result codes {unexpected}"
    measurement = Measurement(
        "engine_tps",
        "transfers/s",
        tuple(samples),
        config.engine_batches_per_rep * config.batch_rows,
        f"Engine.apply, {config.batch_rows} per batch, one engine, check_invariants on",
    )
    return measurement, _share(all_codes, ResultCode.INSUFFICIENT_FUNDS), engine


# --- durable node and replay ------------------------------------------------------------


def _node_open(path: Path) -> Any:
    from interbank.node import Node

    return Node.open(str(path), create=True)


@dataclass(frozen=True, slots=True)
class DurableRun:
    transfers_per_s: float
    codes: U8
    journal_path: Path
    digest: str
    setup_seq_last: int  # the journal entries up to here hold the workload's setup


def _bench_durable_once(
    workload: Workload, transfers: Transfers, config: BenchConfig, directory: Path, rep: int
) -> DurableRun:
    """One repetition: a fresh node and journal, set up, warmed up, then timed batches."""
    path = directory / f"durable-{rep}.sqlite"
    node = _node_open(path)
    try:
        setup = Batch.of(workload.setup_commands())
        for start in range(0, len(setup), config.batch_rows):
            result = node.submit_batch(
                setup.slice(start, min(len(setup), start + config.batch_rows))
            )
            assert result.ok_count() == len(result), "workload setup rejected by the node"
        setup_seq_last = node.head.seq
        warmup_stream = _STREAM_DURABLE + 50 + rep
        warmup = workload.transfers(
            warmup_stream, config.durable_warmup_batches * config.batch_rows
        )
        for batch in warmup.batches(config.batch_rows, warmup_stream):
            node.submit_batch(batch)
        batches = transfers.batches(config.batch_rows, _STREAM_DURABLE + 1 + rep)
        results = []
        gc.collect()
        start_ns = time.perf_counter_ns()
        for batch in batches:
            results.append(node.submit_batch(batch))
        duration_ns = time.perf_counter_ns() - start_ns
        digest = node.engine.digest()
    finally:
        node.close()
    codes = np.concatenate([np.asarray(r.codes) for r in results])
    return DurableRun(_rate_per_s(len(transfers), duration_ns), codes, path, digest, setup_seq_last)


@dataclass(frozen=True, slots=True)
class ReplayRun:
    commands_per_s: float
    commands: int
    setup_commands_per_s: float  # the setup entries alone (mostly administrative commands)
    transfer_commands_per_s: float  # the rest: transfer entries


def _bench_replay_once(durable: DurableRun) -> ReplayRun:
    """Rebuild the state from the first journal entry (no snapshot); check its digest.

    Also replays the setup entries alone, to tell the administrative commands' rate
    (applied one by one in Python) from the transfers' (the compiled kernel).
    """
    from interbank.node import replay

    path = str(durable.journal_path)
    gc.collect()
    start_ns = time.perf_counter_ns()
    engine, stats = replay(path, from_snapshot=False)
    duration_ns = time.perf_counter_ns() - start_ns
    assert stats.snapshot_seq == 0, "replay must start at the first entry"
    assert engine.digest() == durable.digest, "replay rebuilt a different state than the node's"
    del engine
    gc.collect()
    setup_start_ns = time.perf_counter_ns()
    _, setup_stats = replay(path, seq_last=durable.setup_seq_last, from_snapshot=False)
    setup_duration_ns = time.perf_counter_ns() - setup_start_ns
    transfer_commands = stats.commands - setup_stats.commands
    return ReplayRun(
        commands_per_s=_rate_per_s(stats.commands, duration_ns),
        commands=stats.commands,
        setup_commands_per_s=_rate_per_s(setup_stats.commands, setup_duration_ns),
        transfer_commands_per_s=_rate_per_s(
            transfer_commands, max(duration_ns - setup_duration_ns, 1)
        ),
    )


# --- baseline: SQLite, one transaction per transfer -------------------------------------

_SQLITE_SCHEMA = """
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    currency TEXT NOT NULL,
    balance INTEGER NOT NULL,
    lower_limit INTEGER NOT NULL
);
CREATE TABLE transfers (
    id INTEGER PRIMARY KEY,
    debit_id INTEGER NOT NULL REFERENCES accounts(id),
    credit_id INTEGER NOT NULL REFERENCES accounts(id),
    amount INTEGER NOT NULL
);
"""


def _account_rows(workload: Workload) -> list[tuple[int, str, int, int]]:
    rows = [
        (index + 1, workload.account_currency(index + 1), int(balance), 0)
        for index, balance in enumerate(workload.opening_balance_minor.tolist())
    ]
    for c, code in enumerate(workload.currencies):  # the counterpart of issued money
        issued = int(
            workload.opening_balance_minor[
                c * workload.participants : (c + 1) * workload.participants
            ].sum()
        )
        rows.append((workload.issuance_account_id(c), code, -issued, -(2**62)))
    return rows


@dataclass(frozen=True, slots=True)
class BaselineRun:
    transfers_per_s: float
    transfers: int
    rejected: int


def _bench_sqlite_once(
    workload: Workload, transfers: Transfers, duration_s_max: float, path: Path
) -> BaselineRun:
    """WAL + synchronous=FULL, one BEGIN IMMEDIATE ... COMMIT per transfer (stdlib sqlite3)."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.executescript(_SQLITE_SCHEMA)
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?)", _account_rows(workload))
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = connection.execute(
            "SELECT currency, sum(balance) FROM accounts GROUP BY 1"
        ).fetchall()
        debit = transfers.debit.tolist()
        credit = transfers.credit.tolist()
        amount = transfers.amount_minor.tolist()
        execute = connection.execute
        rejected = 0
        done = 0
        deadline_ns = time.perf_counter_ns() + int(duration_s_max * 1e9)
        gc.collect()
        start_ns = time.perf_counter_ns()
        for i in range(len(debit)):
            if i & 63 == 0 and time.perf_counter_ns() > deadline_ns:
                break
            debit_id, credit_id, amount_minor = debit[i], credit[i], amount[i]
            execute("BEGIN IMMEDIATE")
            rows = execute(
                "SELECT id, balance, lower_limit, currency FROM accounts WHERE id IN (?, ?)",
                (debit_id, credit_id),
            ).fetchall()
            by_id = {row[0]: row for row in rows}
            debit_row, credit_row = by_id.get(debit_id), by_id.get(credit_id)
            if (
                debit_row is None
                or credit_row is None
                or debit_row[3] != credit_row[3]
                or debit_row[1] - amount_minor < debit_row[2]
            ):
                execute("ROLLBACK")
                rejected += 1
                done += 1
                continue
            cursor = execute(
                "INSERT OR IGNORE INTO transfers VALUES (?, ?, ?, ?)",
                (i + 1, debit_id, credit_id, amount_minor),
            )
            if cursor.rowcount == 1:
                execute(
                    "UPDATE accounts SET balance = balance - ? WHERE id = ?",
                    (amount_minor, debit_id),
                )
                execute(
                    "UPDATE accounts SET balance = balance + ? WHERE id = ?",
                    (amount_minor, credit_id),
                )
            execute("COMMIT")
            done += 1
        duration_ns = time.perf_counter_ns() - start_ns
        after = connection.execute(
            "SELECT currency, sum(balance) FROM accounts GROUP BY 1"
        ).fetchall()
        assert before == after, "the SQLite baseline did not conserve money"
    finally:
        connection.close()
    return BaselineRun(_rate_per_s(done, duration_ns), done, rejected)


# --- baseline: PostgreSQL, row locks, one transaction per transfer ----------------------

_PG_SCHEMA = """
DROP TABLE IF EXISTS bench_transfers;
DROP TABLE IF EXISTS bench_accounts;
CREATE TABLE bench_accounts (
    id bigint PRIMARY KEY,
    currency char(3) NOT NULL,
    balance bigint NOT NULL,
    lower_limit bigint NOT NULL
);
CREATE TABLE bench_transfers (
    id bigint PRIMARY KEY,
    debit_id bigint NOT NULL REFERENCES bench_accounts(id),
    credit_id bigint NOT NULL REFERENCES bench_accounts(id),
    amount bigint NOT NULL
);
"""


def pg_url_default() -> str:
    return os.environ.get(PG_URL_ENV) or PG_URL_DEFAULT


def _pg_connect(url: str) -> Any:
    """A psycopg connection, or None when psycopg or the server is not there."""
    try:
        import psycopg
    except ImportError:
        return None
    try:
        return psycopg.connect(url, connect_timeout=3)
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            return None
    # the server is there but the database is not: create it once
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
        database = str(info.get("dbname", ""))
        admin_url = psycopg.conninfo.make_conninfo(url, dbname="postgres")
        with psycopg.connect(admin_url, connect_timeout=3, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        return psycopg.connect(url, connect_timeout=3)
    except psycopg.Error:
        return None


def _bench_pg_once(
    workload: Workload, transfers: Transfers, duration_s_max: float, connection: Any
) -> BaselineRun:
    """SELECT ... FOR UPDATE in id order, checks, INSERT ... ON CONFLICT, two UPDATEs."""
    connection.autocommit = True
    # A schema of this process's own: two benchmark runs sharing a database (a test and
    # a person, say) must not lock each other's rows or drop each other's tables.
    schema = f"interbank_bench_{os.getpid()}"
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    connection.execute(f"SET search_path TO {schema}")
    try:
        return _bench_pg_in_schema(workload, transfers, duration_s_max, connection)
    finally:
        connection.rollback()
        connection.autocommit = True
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _bench_pg_in_schema(
    workload: Workload, transfers: Transfers, duration_s_max: float, connection: Any
) -> BaselineRun:
    connection.execute(_PG_SCHEMA)
    copy_sql = "COPY bench_accounts (id, currency, balance, lower_limit) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in _account_rows(workload):
            copy.write_row(row)
    connection.execute("ANALYZE bench_accounts")
    # The reference measured every cell right after a CHECKPOINT; it needs privileges
    # the benchmark may not have, and is only a nicety.
    with contextlib.suppress(Exception):
        connection.execute("CHECKPOINT")
    connection.execute("SET synchronous_commit = on")
    before = connection.execute(
        "SELECT currency, sum(balance) FROM bench_accounts GROUP BY 1 ORDER BY 1"
    ).fetchall()
    connection.autocommit = False
    debit = transfers.debit.tolist()
    credit = transfers.credit.tolist()
    amount = transfers.amount_minor.tolist()
    execute = connection.execute
    commit = connection.commit
    rollback = connection.rollback
    rejected = 0
    done = 0
    deadline_ns = time.perf_counter_ns() + int(duration_s_max * 1e9)
    gc.collect()
    start_ns = time.perf_counter_ns()
    for i in range(len(debit)):
        if i & 15 == 0 and time.perf_counter_ns() > deadline_ns:
            break
        debit_id, credit_id, amount_minor = debit[i], credit[i], amount[i]
        rows = execute(
            "SELECT id, balance, lower_limit, currency FROM bench_accounts"
            " WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            ([debit_id, credit_id],),
            prepare=True,
        ).fetchall()
        by_id = {row[0]: row for row in rows}
        debit_row, credit_row = by_id.get(debit_id), by_id.get(credit_id)
        if (
            debit_row is None
            or credit_row is None
            or debit_row[3] != credit_row[3]
            or debit_row[1] - amount_minor < debit_row[2]
        ):
            rollback()
            rejected += 1
            done += 1
            continue
        inserted = execute(
            "INSERT INTO bench_transfers VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
            (i + 1, debit_id, credit_id, amount_minor),
            prepare=True,
        ).rowcount
        if inserted == 1:
            execute(
                "UPDATE bench_accounts SET balance = balance - %s WHERE id = %s",
                (amount_minor, debit_id),
                prepare=True,
            )
            execute(
                "UPDATE bench_accounts SET balance = balance + %s WHERE id = %s",
                (amount_minor, credit_id),
                prepare=True,
            )
        commit()
        done += 1
    duration_ns = time.perf_counter_ns() - start_ns
    connection.autocommit = True
    after = connection.execute(
        "SELECT currency, sum(balance) FROM bench_accounts GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert before == after, "the PostgreSQL baseline did not conserve money"
    return BaselineRun(_rate_per_s(done, duration_ns), done, rejected)


# --- memory -------------------------------------------------------------------------------

_SKIPPED_TYPES = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
)


def engine_state_bytes(engine: object) -> int:
    """Bytes held by an engine: every reachable numpy buffer once, plus Python objects.

    Walks the object graph from the engine (attributes, containers) with
    ``gc.get_referents``: numpy arrays count their whole underlying buffer (capacity,
    not only the used part), once even when several views share it; other objects count
    ``sys.getsizeof``. Classes, modules and functions (code, numba dispatchers) are not
    state and are skipped.
    """
    seen: set[int] = set()
    buffers: set[int] = set()
    total_bytes = 0
    stack: list[object] = [engine]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            base: Any = obj
            while isinstance(base.base, np.ndarray):
                base = base.base
            if id(base) not in buffers:
                buffers.add(id(base))
                total_bytes += (
                    int(base.nbytes)
                    + sys.getsizeof(base)
                    - (int(base.nbytes) if base.flags.owndata else 0)
                )
            continue
        if isinstance(obj, _SKIPPED_TYPES) or type(obj).__module__.startswith("numba"):
            continue
        total_bytes += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total_bytes


def _measure_memory(
    workload: Workload, config: BenchConfig, engine: Engine
) -> tuple[float, float, str]:
    """Marginal bytes per account and per remembered command id, from state bytes.

    Per id: the benchmarked engine (default window, filled by the engine run) against an
    engine with the same accounts and an 8,192-id window, also filled: the difference in
    state bytes over the difference in window size. Per account: two engines with the
    small window, both full, one with the workload's accounts and one with 2
    participants' accounts: the difference over the difference in accounts. The figure
    per account includes a fifth of its participant's record (5 accounts each) and the
    spare capacity the engine keeps at that size.
    """
    from interbank.engine import EngineSettings

    window_small = 8192
    settings_small = replace(
        EngineSettings(), idempotency_window_commands=window_small, batch_commands_max=window_small
    )

    def small_window_engine(source: Workload) -> Engine:
        small = _engine_set_up(source, settings_small)
        fill = source.transfers(_STREAM_MEMORY, window_small + config.batch_rows)
        for batch in fill.batches(config.batch_rows, _STREAM_MEMORY):
            small.apply(batch, _TIMESTAMP_NS_START)
        return small

    window = int(engine.settings.idempotency_window_commands)
    ids_remembered = min(window, int(engine.commands_applied))
    bytes_big_window = engine_state_bytes(engine)
    bytes_small_window = engine_state_bytes(small_window_engine(workload))
    bytes_per_id = (bytes_big_window - bytes_small_window) / (window - window_small)

    few = make_workload(replace(config, participants=2))
    bytes_few_accounts = engine_state_bytes(small_window_engine(few))
    accounts_many = workload.settlement_count + len(workload.currencies)
    accounts_few = few.settlement_count + len(few.currencies)
    bytes_per_account = (bytes_small_window - bytes_few_accounts) / (accounts_many - accounts_few)
    note = (
        f"marginal state bytes (every numpy buffer incl. spare capacity + Python objects, "
        f"walked from the engine): {bytes_big_window:,} B in all for {accounts_many:,} accounts "
        f"and a {window:,}-id window ({ids_remembered:,} ids remembered); per id against an "
        f"{window_small:,}-id window, per account against {accounts_few} accounts"
    )
    if ids_remembered < window:
        note += "; the window is not full, so per id is per slot, not per id remembered"
    breakdown = getattr(engine, "memory_bytes", None)
    if callable(breakdown):  # the engine's own count of its columns, as a cross-check
        parts = breakdown()
        account_slot_bytes = parts["accounts"] / max(parts["account_capacity"], 1)
        id_slot_bytes = parts["idempotency"] / max(parts["idempotency_capacity"], 1)
        note += (
            f"; engine.memory_bytes(): {account_slot_bytes:.1f} B per account slot, "
            f"{id_slot_bytes:.1f} B per id slot (columns only)"
        )
    return bytes_per_account, bytes_per_id, note


# --- the run ------------------------------------------------------------------------------


def _add_durable(
    measurements: dict[str, Measurement],
    rejected: dict[str, float],
    config: BenchConfig,
    durable_runs: Sequence[DurableRun],
    replay_runs: Sequence[ReplayRun],
) -> None:
    measurements["durable_tps"] = Measurement(
        "durable_tps",
        "transfers/s",
        tuple(r.transfers_per_s for r in durable_runs),
        config.durable_batches_per_rep * config.batch_rows,
        f"Node.submit_batch, SQLite journal, synchronous=FULL, one client, "
        f"{config.batch_rows} per batch, after {config.durable_warmup_batches} warm-up batches",
    )
    setup_rate = statistics.median(r.setup_commands_per_s for r in replay_runs)
    transfer_rate = statistics.median(r.transfer_commands_per_s for r in replay_runs)
    measurements["replay_cps"] = Measurement(
        "replay_cps",
        "commands/s",
        tuple(r.commands_per_s for r in replay_runs),
        replay_runs[0].commands,
        "replay from the first entry of the durable run's journal, digest checked; "
        f"setup entries alone {setup_rate:,.0f} cmd/s, transfer entries {transfer_rate:,.0f} cmd/s",
    )
    codes = np.concatenate([r.codes for r in durable_runs])
    rejected["durable"] = _share(codes, ResultCode.INSUFFICIENT_FUNDS)


def measure(
    quick: bool = False,
    pg_url: str | None = None,
    progress: Progress | None = None,
    *,
    config: BenchConfig | None = None,
) -> BenchReport:
    """Run every benchmark and return the figures with their samples and notes."""
    if config is None:
        config, config_name = (QUICK, "quick") if quick else (FULL, "full")
    else:
        config_name = "custom"
    run_start_ns = time.perf_counter_ns()
    workload = make_workload(config)
    durable_transfers = workload.transfers(
        _STREAM_DURABLE, config.durable_batches_per_rep * config.batch_rows
    )
    # The baselines play the first transfers of the durable run's stream.
    sqlite_transfers = workload.transfers(_STREAM_DURABLE, config.baseline_sqlite_transfers_per_rep)
    pg_transfers = workload.transfers(_STREAM_DURABLE, config.baseline_pg_transfers_per_rep)
    notes: list[str] = []
    load_start = os.getloadavg()
    measurements: dict[str, Measurement] = {}
    rejected: dict[str, float] = {}

    _say(progress, "engine: setting up and compiling")
    engine_measurement, rejected["engine"], engine = _bench_engine(workload, config, progress)
    measurements["engine_tps"] = engine_measurement

    _say(progress, "memory: measuring engine state")
    bytes_per_account, bytes_per_id, memory_note = _measure_memory(workload, config, engine)
    del engine
    gc.collect()

    # Durable node, replay and the baselines alternate repetition by repetition so that
    # noise from the shared machine falls on all of them alike.
    url = pg_url if pg_url is not None else pg_url_default()
    pg_connection = _pg_connect(url)
    if pg_connection is None:
        notes.append(f"PostgreSQL not reachable at {url}: baseline_pg_tps is null")
    node_available = importlib.util.find_spec("interbank.node") is not None
    if not node_available:
        notes.append("interbank.node is not there yet: durable_tps and replay_cps are null")
    durable_runs: list[DurableRun] = []
    replay_runs: list[ReplayRun] = []
    sqlite_runs: list[BaselineRun] = []
    pg_runs: list[BaselineRun] = []
    with tempfile.TemporaryDirectory(prefix="interbank-bench-") as directory_name:
        directory = Path(directory_name)
        for rep in range(config.repetitions):
            if node_available:
                durable_run = _bench_durable_once(
                    workload, durable_transfers, config, directory, rep
                )
                durable_runs.append(durable_run)
                _say(progress, f"durable rep {rep + 1}: {durable_run.transfers_per_s:,.0f} tx/s")
                replay_runs.append(_bench_replay_once(durable_run))
                _say(progress, f"replay rep {rep + 1}: {replay_runs[-1].commands_per_s:,.0f} cmd/s")
                for suffix in ("", "-wal", "-shm"):
                    Path(str(durable_run.journal_path) + suffix).unlink(missing_ok=True)
            sqlite_path = directory / f"baseline-{rep}.sqlite"
            sqlite_runs.append(
                _bench_sqlite_once(
                    workload,
                    sqlite_transfers,
                    config.baseline_duration_s_max,
                    sqlite_path,
                )
            )
            _say(
                progress, f"sqlite baseline rep {rep + 1}: {sqlite_runs[-1].transfers_per_s:,.0f}/s"
            )
            if pg_connection is not None:
                pg_runs.append(
                    _bench_pg_once(
                        workload,
                        pg_transfers,
                        config.baseline_duration_s_max,
                        pg_connection,
                    )
                )
                _say(
                    progress,
                    f"postgres baseline rep {rep + 1}: {pg_runs[-1].transfers_per_s:,.0f}/s",
                )
    if pg_connection is not None:
        with pg_connection:
            pg_connection.execute("DROP TABLE IF EXISTS bench_transfers, bench_accounts")

    if durable_runs:
        _add_durable(measurements, rejected, config, durable_runs, replay_runs)
        # Paired ratios (same repetition, seconds apart) are less hurt by a burst of load
        # from other processes than the ratio of the two medians.
        paired = [
            d.transfers_per_s / b.transfers_per_s
            for d, b in zip(durable_runs, sqlite_runs, strict=True)
        ]
        notes.append(
            f"durable/sqlite per repetition: median {statistics.median(paired):,.0f}x "
            f"({min(paired):,.0f}x–{max(paired):,.0f}x)"
        )
    load_end = os.getloadavg()
    notes.append(
        f"machine: {os.cpu_count()} CPUs, load average (1 min) {load_start[0]:.2f} at start, "
        f"{load_end[0]:.2f} at end; files in {tempfile.gettempdir()}"
    )
    measurements["baseline_sqlite_tps"] = Measurement(
        "baseline_sqlite_tps",
        "transfers/s",
        tuple(r.transfers_per_s for r in sqlite_runs),
        int(statistics.median(r.transfers for r in sqlite_runs)),
        f"stdlib sqlite3, WAL, synchronous=FULL, 1 txn per transfer, "
        f"≤{config.baseline_sqlite_transfers_per_rep:,} or ≤{config.baseline_duration_s_max:g} s",
    )
    rejected["baseline_sqlite"] = sum(r.rejected for r in sqlite_runs) / max(
        sum(r.transfers for r in sqlite_runs), 1
    )
    if pg_runs:
        measurements["baseline_pg_tps"] = Measurement(
            "baseline_pg_tps",
            "transfers/s",
            tuple(r.transfers_per_s for r in pg_runs),
            int(statistics.median(r.transfers for r in pg_runs)),
            f"psycopg 3, one connection, FOR UPDATE, synchronous_commit=on, 1 txn per transfer, "
            f"≤{config.baseline_pg_transfers_per_rep:,} or ≤{config.baseline_duration_s_max:g} s",
        )
        rejected["baseline_pg"] = sum(r.rejected for r in pg_runs) / max(
            sum(r.transfers for r in pg_runs), 1
        )
    return BenchReport(
        config_name=config_name,
        config=config,
        measurements=measurements,
        rejected_share=rejected,
        bytes_per_account=bytes_per_account,
        bytes_per_idempotency_id=bytes_per_id,
        memory_note=memory_note,
        notes=tuple(notes),
        duration_s=(time.perf_counter_ns() - run_start_ns) / 1e9,
    )


def run(
    quick: bool = False,
    pg_url: str | None = None,
    progress: Progress | None = None,
    *,
    config: BenchConfig | None = None,
) -> dict[str, float | None]:
    """The benchmark figures: exactly the keys in ``FIGURE_KEYS`` (medians, null if absent)."""
    return measure(quick, pg_url, progress, config=config).figures()


_TARGETS: dict[str, float] = {
    "engine_tps": 1_000_000,
    "durable_tps": 300_000,
    "replay_cps": 1_000_000,
    "durable_vs_baseline": 100,
}
_UNITS: dict[str, str] = {
    "engine_tps": "tx/s",
    "durable_tps": "tx/s",
    "baseline_sqlite_tps": "tx/s",
    "baseline_pg_tps": "tx/s",
    "replay_cps": "cmd/s",
    "bytes_per_account": "B",
    "bytes_per_idempotency_id": "B",
    "durable_vs_baseline": "×",
}


def _compact(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.1f}"


def render_table(report: BenchReport | Mapping[str, float | None]) -> Table:
    """A rich table of the figures; with a ``BenchReport``, also spread, targets and notes."""
    from rich import box
    from rich.table import Table

    if isinstance(report, BenchReport):
        figures: Mapping[str, float | None] = report.figures()
        title = (
            f"interbank bench ({report.config_name}): medians of {report.config.repetitions} "
            f"repetitions, {report.duration_s:.0f} s in all"
        )
    else:
        figures = report
        title = "interbank bench"
    table = Table(title=title, box=box.SIMPLE_HEAD, caption_justify="left")
    table.add_column("figure", no_wrap=True)
    table.add_column("median", justify="right", no_wrap=True)
    table.add_column("unit", no_wrap=True)
    table.add_column("min–max", justify="right", no_wrap=True)
    table.add_column("target", justify="right", no_wrap=True)
    hows: list[str] = []
    for key in FIGURE_KEYS:
        value = figures.get(key)
        shown = "null" if value is None else f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"
        spread = ""
        if isinstance(report, BenchReport):
            measurement = report.measurements.get(key)
            if measurement is not None:
                spread = f"{_compact(measurement.min_per_s)}–{_compact(measurement.max_per_s)}"
                hows.append(
                    f"{key}: {measurement.note}; {measurement.items_per_rep:,} per repetition"
                )
        target = _TARGETS.get(key)
        table.add_row(
            key, shown, _UNITS[key], spread, "" if target is None else f"≥ {_compact(target)}"
        )
    if isinstance(report, BenchReport):
        shares = ", ".join(f"{name} {share:.2%}" for name, share in report.rejected_share.items())
        table.caption = "\n".join(
            [
                "tx = transfers, cmd = journal commands (setup + transfers), B = bytes",
                f"rejected for insufficient funds (AM04): {shares}",
                *hows,
                f"bytes: {report.memory_note}",
                *report.notes,
            ]
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m interbank.benchmark [--quick] [--json]``: the table, then the JSON line."""
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
