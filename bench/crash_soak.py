"""Crash soak: hundreds of SIGKILLs of a loaded node, each followed by a full check.

The long version of ``tests/crash/test_sigkill.py`` (run outside CI). A child process
runs the node under load and is killed at random moments; after every kill the
journal is checked: every acknowledged command id is in it exactly once, the hash chain
verifies, and replaying up to an acknowledged seq reproduces the digest the child
reported. Every ``--kills-per-journal`` kills it starts a fresh journal, so the checks
(each a full replay) stay short.

    python bench/crash_soak.py --kills 300
    python bench/crash_soak.py --kills 1000 --threads 4 --rows-max 2000 --seed 7

Exit code 0 when every check held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "crash"))

import sigkill_driver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=300, help="SIGKILLs in all")
    parser.add_argument("--kills-per-journal", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="submitting threads in the child")
    parser.add_argument("--rows-max", type=int, default=300, help="commands per batch, at most")
    parser.add_argument("--snapshot-every", type=int, default=20_000, help="commands")
    parser.add_argument("--load-s-max", type=float, default=0.8, help="load before a kill, at most")
    parser.add_argument("--before-load-chance", type=float, default=0.15)
    parser.add_argument("--dir", default=None, help="where the journals go (default: a temp dir)")
    args = parser.parse_args(argv)
    assert args.kills >= 1 and args.kills_per_journal >= 1

    directory = Path(args.dir or tempfile.mkdtemp(prefix="interbank-soak-"))
    directory.mkdir(parents=True, exist_ok=True)
    kills_done = 0
    totals = sigkill_driver.SoakReport()
    journal = 0
    while kills_done < args.kills:
        kills = min(args.kills_per_journal, args.kills - kills_done)
        db = str(directory / f"soak-{journal}.db")

        def progress(run: int, report: sigkill_driver.SoakReport, journal: int = journal) -> None:
            print(
                f"journal {journal} kill {run + 1}: acks {report.acks} "
                f"ids {report.ids_acknowledged} entries {report.entries}",
                flush=True,
            )

        report = sigkill_driver.soak(
            db,
            kills=kills,
            seed=args.seed * 1_000_003 + journal,
            threads_n=args.threads,
            rows_max=args.rows_max,
            snapshot_every=args.snapshot_every,
            load_s_max=args.load_s_max,
            before_load_chance=args.before_load_chance,
            on_kill=progress,
        )
        kills_done += report.kills
        totals.kills += report.kills
        totals.kills_before_load += report.kills_before_load
        totals.acks += report.acks
        totals.ids_acknowledged += report.ids_acknowledged
        totals.entries += report.entries
        totals.replays_checked += report.replays_checked
        totals.seconds += report.seconds
        totals.problems.extend(f"{db}: {problem}" for problem in report.problems)
        if report.problems:
            break
        journal += 1

    print(
        f"\n{totals.kills} kills ({totals.kills_before_load} during start-up or recovery), "
        f"{totals.acks} acknowledged batches, {totals.ids_acknowledged} acknowledged "
        f"commands, {totals.entries} journal entries, {totals.replays_checked} replays "
        f"checked, {totals.seconds:.1f} s"
    )
    if totals.ids_acknowledged == 0:
        # Nothing acknowledged means nothing was checked (e.g. every child killed while
        # compiling the engine's kernels): not a pass.
        totals.problems.append("no transfer was acknowledged: the checks were vacuous")
    if totals.problems:
        print("PROBLEMS:")
        for problem in totals.problems:
            print("  " + problem)
        return 1
    print("every check held: nothing acknowledged was lost or duplicated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
