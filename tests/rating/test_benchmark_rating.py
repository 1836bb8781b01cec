"""``interbank bench rating``: runs and reports every figure (values are never asserted)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from interbank.benchmark_rating import synthetic_reports
from interbank.cli import app
from interbank.rating import load_method, score_bank


def test_bench_rating_quick_reports_every_figure() -> None:
    result = CliRunner().invoke(
        app, ["bench", "rating", "--quick", "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    for name in (
        "scorecards_per_s", "float_scorecards_per_s", "committee_ratings_per_s",
        "decision_to_enforced_ms", "decision_to_enforced_ms_p90", "direct_set_credit_line_ms",
    ):  # fmt: skip
        assert figures[name] > 0, name


def test_synthetic_banks_are_valid_and_spread_over_grades() -> None:
    banks = synthetic_reports(300)
    assert len({reports[0].bic for reports in banks}) == 300
    grades = {score_bank(load_method("1"), reports).grade.letters for reports in banks}
    assert len(grades) >= 8
