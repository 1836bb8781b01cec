"""Crash harness: a node under steady load, SIGKILLed at random moments, then checked.

Child (``python -m sigkill_driver child --db PATH --run N``): opens the node on PATH
(creating the network on first start), then, in ``--threads`` threads, submits batches
of transfers with ids unique to (run, thread, counter) forever. After each acknowledged
batch it prints one line, flushed:

    ACK <seq> <digest> <id_first> <id_last>

where ids ``id_first..id_last`` were just acknowledged and ``digest`` is the engine's
digest at journal seq ``seq`` (read with no batch being applied, so the pair is exact;
``seq`` is at or after the entry holding those ids).

Parent (``soak``): starts a child, kills it with SIGKILL at a random moment (sometimes
during start-up and recovery, mostly under load), restarts it on the same journal, and
after every kill checks invariant 5 of the design: every acknowledged id is in the
journal exactly once, the chain verifies, and replaying the journal up to an
acknowledged seq reproduces the digest the child reported for it.
The pytest test (``test_sigkill.py``) runs a short soak; ``bench/crash_soak.py`` a
long one.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
from interbank.journal import JournalFormatError, JournalNotFoundError, open_journal
from interbank.node import Node, NodeSettings, replay, verify

# A small engine: its digest (taken after every acknowledgement) stays cheap.
ENGINE_SETTINGS = EngineSettings(
    idempotency_window_commands=1 << 14,
    accounts_max=64,
    participants_max=16,
    holds_max=1 << 10,
    batch_commands_max=1 << 13,
)
BANKS = 6
ACCOUNT_FIRST = 100
# Ids: setup commands are below 2**40; transfers carry (run + 1) << 40 | thread << 32 | n.
RUN_SHIFT = 40
THREAD_SHIFT = 32
COUNTER_MAX = 1 << 32


def network_commands() -> list[Command]:
    commands: list[Command] = [
        RegisterParticipant(1, "CBEUDEFF", "Central bank", Role.CENTRAL_BANK, "EUR"),
        OpenAccount(2, 1, "CBEUDEFF", "EUR", AccountKind.ISSUANCE),
    ]
    for bank in range(BANKS):
        bic = f"BNK{chr(ord('A') + bank)}DEFF"
        commands += [
            RegisterParticipant(10 + bank, bic, f"Bank {bank}", Role.DIRECT),
            OpenAccount(100 + bank, ACCOUNT_FIRST + bank, bic, "EUR"),
            Issue(200 + bank, ACCOUNT_FIRST + bank, 10**13),
        ]
    return commands


def _transfers(rng: np.random.Generator, id_first: int, rows: int) -> Batch:
    debit = rng.integers(0, BANKS, rows)
    credit = (debit + rng.integers(1, BANKS, rows)) % BANKS
    ids = id_first + np.arange(rows, dtype=np.uint64)
    return Batch.of_transfers(
        np.zeros(rows, dtype=np.uint64),
        ids.astype(np.uint64),
        (debit + ACCOUNT_FIRST).astype(np.int64),
        (credit + ACCOUNT_FIRST).astype(np.int64),
        rng.integers(1, 1_000_000, rows).astype(np.int64),
    )


# --- the child ----------------------------------------------------------------------------


def warm_kernels() -> None:
    """Load (or, on a cold numba cache, compile and cache) every compiled engine kernel.

    On a fresh checkout nothing is cached and compiling the transfer kernel takes longer
    than the longest wait before a kill (1.8 s on the 2-core CI box against
    ``load_s_max`` = 0.8 s), so every child was killed mid-compile, the cache was never
    written, and no transfer was ever acknowledged. Warming up on a scratch engine before
    the node opens (and so before READY or the first ACK) lets one child finish it.
    """
    engine = Engine(ENGINE_SETTINGS)
    engine.execute_many(network_commands(), 1)
    engine.apply(_transfers(np.random.default_rng(0), 1 << 39, 2), 2)
    Engine.restore(engine.snapshot()).digest()


def child_main(db: str, run: int, threads_n: int, rows_max: int, snapshot_every: int) -> None:
    settings = NodeSettings(
        batch_size_max=4096,
        linger_us=100,
        # Low, so that kills land in both append paths (plain, and beside apply).
        append_overlap_rows_min=256,
        snapshot_every_commands=snapshot_every,
        snapshot_on_close=False,
    )
    warm_kernels()
    node = Node.open(db, create=True, settings=settings, engine_settings=ENGINE_SETTINGS)
    out_lock = threading.Lock()

    def report(id_first: int, id_last: int) -> None:
        with node.quiesced() as engine:
            seq, digest = node.head.seq, engine.digest()
        line = f"ACK {seq} {digest} {id_first} {id_last}\n"
        with out_lock:  # one write per line: a kill leaves at most a partial last line
            sys.stdout.write(line)
            sys.stdout.flush()

    if node.head.seq == 0:
        results = node.submit(network_commands())
        assert all(result.ok for result in results), results
        report(1, 1)  # the setup entry: checks the digest, not the ids

    def load(thread: int) -> None:
        rng = np.random.default_rng((run << 8) | thread)
        base = ((run + 1) << RUN_SHIFT) | (thread << THREAD_SHIFT)
        counter = 0
        while counter < COUNTER_MAX - rows_max:
            rows = int(rng.integers(1, rows_max + 1))
            result = node.submit_batch(_transfers(rng, base + counter, rows))
            assert len(result) == rows
            report(base + counter, base + counter + rows - 1)
            counter += rows

    workers = [threading.Thread(target=load, args=(t,), daemon=True) for t in range(threads_n)]
    for worker in workers:
        worker.start()
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    for worker in workers:
        worker.join()


# --- the parent ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ack:
    seq: int
    digest: str
    id_first: int
    id_last: int


@dataclass(slots=True)
class SoakReport:
    kills: int = 0
    kills_before_load: int = 0
    acks: int = 0
    ids_acknowledged: int = 0
    entries: int = 0
    replays_checked: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def _parse(lines: list[str]) -> list[Ack]:
    acks = []
    for line in lines:
        if not line.endswith("\n") or not line.startswith("ACK "):
            continue  # "READY", or a line cut by the kill
        _, seq, digest, id_first, id_last = line.split()
        acks.append(Ack(int(seq), digest, int(id_first), int(id_last)))
    return acks


def _child_command(
    db: str, run: int, threads_n: int, rows_max: int, snapshot_every: int
) -> list[str]:
    return [
        sys.executable, "-m", "sigkill_driver", "child", "--db", db, "--run", str(run),
        "--threads", str(threads_n), "--rows-max", str(rows_max),
        "--snapshot-every", str(snapshot_every),
    ]  # fmt: skip


def run_once(
    db: str, run: int, rng: random.Random, *, threads_n: int, rows_max: int, snapshot_every: int,
    load_s_max: float, before_load_chance: float,
) -> tuple[list[Ack], bool, str]:  # fmt: skip
    """Start a child, SIGKILL it at a random moment; its acks, whether it was under load, stderr."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parent)
    env["PYTHONPATH"] = here + os.pathsep + env.get("PYTHONPATH", "")
    child = subprocess.Popen(
        _child_command(db, run, threads_n, rows_max, snapshot_every),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert child.stdout is not None and child.stderr is not None
    lines: list[str] = []
    before_load = rng.random() < before_load_chance
    if before_load:
        # Somewhere in start-up or recovery (imports take a few hundred ms).
        time.sleep(rng.uniform(0.0, 0.6))
    else:
        first = child.stdout.readline()  # READY or a first ACK: the node is open
        lines.append(first)
        time.sleep(rng.uniform(0.0, load_s_max))
    child.send_signal(signal.SIGKILL)
    rest, stderr = child.communicate(timeout=30)
    lines.extend(rest.splitlines(keepends=True))
    # The child never exits by itself: anything but our SIGKILL is a failure.
    assert child.returncode == -signal.SIGKILL, (child.returncode, stderr[-2000:])
    return _parse(lines), not before_load, stderr


def check_journal(
    db: str, acks: list[Ack], acks_before: list[Ack], rng: random.Random, report: SoakReport
) -> None:
    """Invariant 5 after a kill: acknowledged ids once each, chain intact, digests agree.

    ``acks`` came from the run just killed, ``acks_before`` from the earlier runs on the
    same journal: their ids must all still be there too.
    """
    if not acks and not acks_before:
        try:
            open_journal(db).close()
        except (JournalNotFoundError, JournalFormatError):
            return  # killed before the journal was first created: nothing to check yet
    verified = verify(db)
    if not verified.ok:
        report.problems.append(f"verify: {verified.problems}")
    report.entries = verified.entries
    journal = open_journal(db)
    try:
        batches = [Batch.unpack(entry.payload) for entry in journal.read()]
    finally:
        journal.close()
    assert all(not batch.id_hi.any() for batch in batches), "this harness's ids fit 64 bits"
    journaled, counts = np.unique(
        np.concatenate([batch.id_lo for batch in batches]), return_counts=True
    )
    duplicated = journaled[counts != 1]
    if len(duplicated):
        report.problems.append(f"ids journaled more than once: {duplicated[:5].tolist()}")
    ranges = [a for a in acks + acks_before if a.id_first != 1]  # id 1: the setup entry
    if ranges:
        acked = np.concatenate(
            [np.arange(a.id_first, a.id_last + 1, dtype=np.uint64) for a in ranges]
        )
        at = np.minimum(np.searchsorted(journaled, acked), len(journaled) - 1)
        missing = acked[journaled[at] != acked]
        if len(missing):
            report.problems.append(f"acknowledged ids missing: {missing[:5].tolist()}")
    beyond = [a.seq for a in acks if a.seq > verified.head_seq]
    if beyond:
        report.problems.append(f"acknowledged seqs beyond the journal's end: {beyond[:5]}")
    if not acks:
        return
    # The last acknowledgement, from the first entry; one more at random, from a snapshot.
    last = max(acks, key=lambda a: a.seq)
    engine, _ = replay(db, seq_last=last.seq)
    if engine.digest() != last.digest:
        report.problems.append(f"replay to seq {last.seq} does not give the reported digest")
    sample = rng.choice(acks)
    engine, _ = replay(db, seq_last=sample.seq, from_snapshot=True)
    if engine.digest() != sample.digest:
        report.problems.append(f"replay to seq {sample.seq} (from a snapshot) differs")
    report.replays_checked += 2


def soak(
    db: str,
    *,
    kills: int,
    seed: int,
    threads_n: int = 2,
    rows_max: int = 300,
    snapshot_every: int = 20_000,
    load_s_max: float = 0.8,
    before_load_chance: float = 0.15,
    on_kill: Callable[[int, SoakReport], None] | None = None,
) -> SoakReport:
    rng = random.Random(seed)
    report = SoakReport()
    acks_before: list[Ack] = []
    started = time.perf_counter()
    for run in range(kills):
        acks, loaded, stderr = run_once(
            db, run, rng, threads_n=threads_n, rows_max=rows_max,
            snapshot_every=snapshot_every, load_s_max=load_s_max,
            before_load_chance=before_load_chance,
        )  # fmt: skip
        if "Traceback" in stderr:
            report.problems.append(f"run {run}: the child failed: {stderr[-2000:]}")
        report.kills += 1
        report.kills_before_load += not loaded
        report.acks += len(acks)
        report.ids_acknowledged += sum(a.id_last - a.id_first + 1 for a in acks if a.id_first > 1)
        check_journal(db, acks, acks_before, rng, report)
        acks_before.extend(acks)
        if on_kill is not None:
            on_kill(run, report)
        if report.problems:
            break
    report.seconds = time.perf_counter() - started
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sigkill_driver")
    sub = parser.add_subparsers(dest="role", required=True)
    child = sub.add_parser("child", help="run the node under load until killed")
    child.add_argument("--db", required=True)
    child.add_argument("--run", type=int, required=True)
    child.add_argument("--threads", type=int, default=2)
    child.add_argument("--rows-max", type=int, default=300)
    child.add_argument("--snapshot-every", type=int, default=20_000)
    args = parser.parse_args(argv)
    assert args.role == "child"
    child_main(args.db, args.run, args.threads, args.rows_max, args.snapshot_every)


if __name__ == "__main__":
    main()
