"""Invariant 5 under SIGKILL: no acknowledged command lost, none duplicated.

A child process runs a node under load and is killed at random moments at least 20
times, restarted on the same journal each time; after each kill the journal is checked
(see ``sigkill_driver``). ``bench/crash_soak.py`` runs the same with hundreds of kills.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `import sigkill_driver`

import sigkill_driver

KILLS = 20


@pytest.mark.slow
def test_sigkill_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    report = sigkill_driver.soak(
        str(tmp_path / "crash.db"),
        kills=KILLS,
        seed=20240611,
        threads_n=2,
        load_s_max=0.8,
        before_load_chance=0.15,
    )
    assert not report.problems, report.problems
    assert report.kills == KILLS
    assert report.kills - report.kills_before_load >= KILLS // 2  # most kills hit under load
    assert report.ids_acknowledged > 0 and report.replays_checked >= 2
