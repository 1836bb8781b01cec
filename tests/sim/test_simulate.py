"""interbank simulate: scenario validation, a hand-derivable cycle, conservation, determinism."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from interbank.cli import app
from interbank.sim.scenario import ScenarioError, load_scenario, parse_scenario
from interbank.sim.simulate import simulate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"

CYCLE = """
[scenario]
name = "cycle"
day_minutes = 60

[[participants]]
bic = "AAAACNSH"
currency = "CNY"
balance = 0
[[participants]]
bic = "BBBBCNSH"
currency = "CNY"
balance = 0
[[participants]]
bic = "CCCCCNSH"
currency = "CNY"
balance = 0

[[flows]]
csv = "cycle.csv"
"""
CYCLE_CSV = """time_s,from,to,amount
10,AAAACNSH,BBBBCNSH,100
20,BBBBCNSH,CCCCCNSH,100
30,CCCCCNSH,AAAACNSH,100
"""


def _cycle(tmp_path: Path) -> Path:
    (tmp_path / "cycle.csv").write_text(CYCLE_CSV)
    path = tmp_path / "cycle.toml"
    path.write_text(CYCLE)
    return path


def _base() -> dict[str, Any]:
    return {
        "participants": [
            {"bic": "AAAACNSH", "currency": "CNY", "balance": 10},
            {"bic": "BBBBCNSH", "currency": "CNY", "balance": 10},
        ],
        "flows": [{"count": 3, "value": {"distribution": "fixed", "amount": 5}}],
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["participants"][1].update(balance=-1), "participants[1].balance"),
        (lambda d: d["participants"][0].update(currency="XYZ"), "participants[0].currency"),
        (lambda d: d["participants"][0].update(bic="bad"), "participants[0].bic"),
        (lambda d: d["participants"][1].update(bic="AAAACNSH"), "participants[1].bic"),
        (lambda d: d["participants"][0].update(colour="red"), "participants[0].colour"),
        (lambda d: d["flows"][0].update(count=0), "flows[0].count"),
        (lambda d: d["flows"][0].update(pattern="noon"), "flows[0].pattern"),
        (lambda d: d["flows"][0].update(to=["ZZZZCNSH"]), "flows[0].to"),
        (lambda d: d["flows"][0]["value"].update(distribution="pareto"),
         "flows[0].value.distribution"),
        (lambda d: d.update(shocks=[{"kind": "meteor", "at_minute": 1}]), "shocks[0].kind"),
        (lambda d: d.update(shocks=[{"kind": "outage", "at_minute": 1}]), "shocks[0].minutes"),
        (lambda d: d.update(shocks=[{"kind": "default", "at_minute": 9999,
                                     "participant": "AAAACNSH"}]), "shocks[0].at_minute"),
        (lambda d: d.update(lsm={"enabled": "yes"}), "lsm.enabled"),
        (lambda d: d.pop("flows"), "flows"),
    ],
)  # fmt: skip
def test_validation_names_the_field(change: Callable[[Any], Any], field: str) -> None:
    data = _base()
    change(data)
    with pytest.raises(ScenarioError) as error:
        parse_scenario(data)
    assert str(error.value).startswith(f"{field}:"), str(error.value)


def test_a_cycle_settles_only_with_the_lsm(tmp_path: Path) -> None:
    scenario = load_scenario(_cycle(tmp_path))
    with_lsm = simulate(scenario).totals()
    assert with_lsm["settled_count"] == 3
    assert with_lsm["settled_value_minor"] == 300
    assert with_lsm["unsettled_count"] == 0
    # one batch stamped at 60 s settles all three together: delays 50, 40, 30
    assert with_lsm["delay_median_s"] == 40
    assert with_lsm["liquidity_used_minor"] == 0  # the lower bound: a cycle nets to zero
    assert with_lsm["lower_bound_minor"] == 0
    assert with_lsm["upper_bound_minor"] == 100  # on arrival, the first payer is 100 short
    plain = simulate(dataclasses.replace(scenario, lsm=False)).totals()
    assert plain["settled_count"] == 0
    assert plain["unsettled_value_minor"] == 300


@pytest.mark.parametrize("name", ["calm_day", "gridlocked_day", "participant_default"])
def test_conservation_per_currency(name: str) -> None:
    report = simulate(load_scenario(EXAMPLES / f"{name}.toml"))
    assert report.conservation == {"CNY": 0}  # the engine's books, issuance included
    total = report.totals()
    assert total["settled_count"] + total["unsettled_count"] == total["sent_count"]
    scenario = load_scenario(EXAMPLES / f"{name}.toml")
    for p in report.participants.values():
        assert p.closing_minor >= -scenario.participant(p.bic).credit_line_minor
    opening = sum(p.opening_minor for p in report.participants.values())
    assert sum(p.closing_minor for p in report.participants.values()) == opening


def test_shocks_leave_payments_unsettled() -> None:
    report = simulate(load_scenario(EXAMPLES / "participant_default.toml"))
    defaulted = report.participants["LTSBCNSZ"]
    assert defaulted.unsettled_count > 0
    calm = simulate(load_scenario(EXAMPLES / "calm_day.toml")).totals()
    assert calm["unsettled_count"] == 0


def test_same_seed_same_report(tmp_path: Path) -> None:
    runner = CliRunner()
    path = str(EXAMPLES / "gridlocked_day.toml")
    first = runner.invoke(app, ["simulate", path, "--json", "--out", str(tmp_path / "a")])
    second = runner.invoke(app, ["simulate", path, "--json", "--out", str(tmp_path / "b")])
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    assert json.loads(first.output.splitlines()[-1])["total"]["lsm_runs"] > 0
    html = (tmp_path / "a" / "report.html").read_text()
    assert html == (tmp_path / "b" / "report.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def test_compare_and_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    on, off = EXAMPLES / "gridlocked_day.toml", EXAMPLES / "gridlocked_no_lsm.toml"
    result = runner.invoke(app, ["simulate", str(on), "--json", "--compare", str(off)])
    assert result.exit_code == 0, result.output
    both = json.loads(result.output.splitlines()[-1])
    assert [r["lsm"] for r in both] == [True, False]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[participants]]\nbic = "AAAACNSH"\n')
    result = runner.invoke(app, ["simulate", str(bad)])
    assert result.exit_code == 2
    assert "participants[0].currency" in result.output


def test_a_bic_the_engine_refuses_is_a_usage_error(tmp_path: Path) -> None:
    path = _cycle(tmp_path)
    path.write_text(path.read_text().replace("AAAACNSH", "AAAAQQSH"))
    (tmp_path / "cycle.csv").write_text(CYCLE_CSV.replace("AAAACNSH", "AAAAQQSH"))
    result = CliRunner().invoke(app, ["simulate", str(path)])
    assert result.exit_code == 2, result.output
    assert "AAAAQQSH" in result.output
