"""``interbank bench pvp``: its figures are there and the last line is one JSON object.

Measured, never asserted: these tests check the shape of the report on a tiny run, not
any speed.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from interbank import benchmark_pvp
from interbank.cli import app

TINY = benchmark_pvp.PvpBenchConfig(
    banks=8, batch_rows=64, batches_per_rep=1, repetitions=1, book_quotes_large=16
)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(benchmark_pvp, "QUICK", TINY)


def test_the_report_has_every_figure_and_every_pair_settled(tiny: None) -> None:
    figures = benchmark_pvp.measure(quick=True)
    for name in ("pvp_pairs_per_s", "pvp_vs_single", "transfers_per_s", "pvp_via_pairs_per_s",
                 "pvp_pairs_per_s_book_16"):  # fmt: skip
        assert figures[name] > 0
    assert figures["pvp_vs_single"] == pytest.approx(
        figures["pvp_pairs_per_s"] / figures["transfers_per_s"], rel=0.01
    )
    # Every measured row did the work it stands for: nothing was rejected or left waiting.
    assert figures["pvp_settled_share"] == figures["pvp_via_settled_share"] == 1.0
    assert figures["transfers_settled_share"] == 1.0


def test_the_cli_prints_one_json_object_last(tiny: None) -> None:
    result = CliRunner().invoke(app, ["bench", "pvp", "--quick"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(last) >= {"pvp_pairs_per_s", "pvp_vs_single", "pvp_vs_single_target"}
    assert "interbank bench pvp" in result.stdout


def test_the_profile_names_the_engine_functions(tiny: None) -> None:
    text = benchmark_pvp.profile(quick=True, top=40)
    assert "_cross_code" in text and "pvp.py" in text
