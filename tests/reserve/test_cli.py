"""``interbank reserve ...``: a drawing's life from the command line, and its errors
(one line with the reason code, the documented exit code, never a traceback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from interbank.cli import app

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_a_drawing_from_request_to_repayment(tmp_path: Path) -> None:
    db = str(tmp_path / "net.db")
    assert run("init", "--db", db, "--demo-network").exit_code == 0
    started = run("reserve", "init", "--db", db, "--on", "2025-01-02")
    assert started.exit_code == 0, started.output
    assert "5 members bound" in started.output
    over = run("reserve", "request", "ZA", "3000000000.01", "--db", db, "--on", "2025-01-03")
    assert over.exit_code == 1 and "AM02" in over.output and "Traceback" not in over.output
    made = run("reserve", "request", "ZA", "3000000000", "--db", db, "--on", "2025-01-03", "--json")
    assert json.loads(made.output) == {"request_id": "R-0001", "status": "pending"}
    vote = run("reserve", "vote", "R-0001", "CN", "--yes", "--db", db, "--on", "2025-01-03")
    assert "yes 39.95%" in vote.output and "pending" in vote.output
    twice = run("reserve", "vote", "R-0001", "CN", "--no", "--db", db, "--on", "2025-01-03")
    assert twice.exit_code == 1 and "DUPL" in twice.output
    outsider = run("reserve", "vote", "R-0001", "US", "--yes", "--db", db, "--on", "2025-01-03")
    assert outsider.exit_code == 1 and "not a member" in outsider.output
    assert (
        "approved"
        in run("reserve", "vote", "R-0001", "BR", "--yes", "--db", db, "--on", "2025-01-03").output
    )
    settled = run(
        "reserve",
        "settle",
        "R-0001",
        "--spot-rate",
        "18.25",
        "--reference-rate",
        "4.30",
        "--db",
        db,
        "--on",
        "2025-01-05",
    )
    assert settled.exit_code == 0 and "settled on the network" in settled.output
    schedule = json.loads(run("reserve", "schedule", "R-0001", "--db", db, "--json").output)
    assert schedule["maturity_on"] == "2025-07-06" and len(schedule["legs"]) == 4
    repaid = run("reserve", "repay", "R-0001", "--db", db, "--on", "2025-07-06")
    assert repaid.exit_code == 0, repaid.output
    status = json.loads(run("reserve", "status", "--db", db, "--json").output)
    assert status["drawings"][0]["status"] == "repaid"
    drill = run(
        "reserve",
        "drill",
        "IN",
        "100000000",
        "--spot-rate",
        "83.10",
        "--reference-rate",
        "4.30",
        "--db",
        db,
        "--on",
        "2025-08-01",
    )
    assert drill.exit_code == 0 and "drill completed" in drill.output
    assert run("verify", "--db", db).exit_code == 0


def test_rulebook_show_and_check(tmp_path: Path) -> None:
    shown = run("reserve", "rulebook", "--json")
    data = json.loads(shown.output)
    assert [m["voting_percent"] for m in data["members"]] == [
        "39.95",
        "18.10",
        "18.10",
        "18.10",
        "5.75",
    ]
    bad = tmp_path / "bad.toml"
    from interbank.reserve.rulebook import load_rulebook

    bad.write_text(load_rulebook().text.replace("ZA = 5.75 }", "ZA = 5.70 }"))
    refused = run("reserve", "rulebook", str(bad))
    assert refused.exit_code == 2 and "sums to 99.95, not 100" in refused.output


def test_no_pool_and_no_network(tmp_path: Path) -> None:
    db = str(tmp_path / "none.db")
    missing = run("reserve", "status", "--db", db)
    assert missing.exit_code == 3 and "interbank reserve init" in missing.output
    nothing = run("reserve", "init", "--db", db)
    assert nothing.exit_code == 3 and "Traceback" not in nothing.output
