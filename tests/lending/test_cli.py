"""``interbank lending ...``: capital, a loan and its reports from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from interbank.cli import app

runner = CliRunner()

LOAN = """
loan_id = "NDB-IN-1"
borrower_bic = "GGRBINBB"
currency = "USD"
amount = 345_000_000
signed_on = 2018-02-13
reference_rate_percent = 2.10
shape = "equal_principal"
grace_months = 24
maturity_months = 60

[[tranche]]
on = 2018-03-01
amount = 100_000_000

[[tranche]]
on = 2019-03-01
amount = 245_000_000
"""


def run(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_capital_loan_and_reports(tmp_path: Path) -> None:
    db = str(tmp_path / "net.db")
    assert run("init", "--db", db, "--demo-network").exit_code == 0
    # The reserve pool's demo binding gives the members USD reserves to pay capital with.
    assert run("reserve", "init", "--db", db, "--on", "2018-01-02").exit_code == 0
    assert run("lending", "init", "--db", db, "--on", "2018-01-02").exit_code == 0
    for member in ("BR", "RU", "IN", "CN", "ZA"):
        paid = run("lending", "pay-capital", member, "150000000", "--db", db, "--on", "2018-01-02")
        assert paid.exit_code == 0, paid.output
    capital = json.loads(run("lending", "capital", "--db", db, "--json").output)
    assert {row["voting_percent"] for row in capital} == {"20.00"}
    assert {row["exercisable_votes"] for row in capital} == {1_500}
    loan_file = tmp_path / "loan.toml"
    loan_file.write_text(LOAN)
    signed = run("lending", "sign", str(loan_file), "--db", db)
    assert signed.exit_code == 0 and "spread 75 bp" in signed.output
    beyond = run(
        "lending", "disburse", "NDB-IN-1", "100000000.01", "--db", db, "--on", "2018-03-01"
    )
    assert beyond.exit_code == 1 and "AM02" in beyond.output and "beyond" in beyond.output
    assert (
        run(
            "lending", "disburse", "NDB-IN-1", "100000000", "--db", db, "--on", "2018-03-01"
        ).exit_code
        == 0
    )
    repaid = run("lending", "repay", "NDB-IN-1", "--db", db, "--on", "2018-08-13")
    assert repaid.exit_code == 0 and "interest" in repaid.output
    html, csv_file = tmp_path / "statement.html", tmp_path / "statement.csv"
    statement = run(
        "lending",
        "statement",
        "NDB-IN-1",
        "--db",
        db,
        "--html",
        str(html),
        "--csv",
        str(csv_file),
        "--on",
        "2018-08-14",
    )
    assert statement.exit_code == 0
    assert "<svg" in html.read_text() and csv_file.read_text().startswith("on,what,amount")
    portfolio = json.loads(
        run("lending", "portfolio", "--db", db, "--json", "--on", "2018-08-14").output
    )
    assert portfolio[0]["outstanding"] == "100000000.00"
    reconciled = run("lending", "reconcile", "NDB-IN-1", "--db", db)
    assert reconciled.exit_code == 0 and "NO" not in reconciled.output


def test_bad_loan_file_is_a_usage_error(tmp_path: Path) -> None:
    db = str(tmp_path / "net.db")
    assert run("init", "--db", db, "--demo-network").exit_code == 0
    assert run("lending", "init", "--db", db, "--on", "2018-01-02").exit_code == 0
    loan_file = tmp_path / "loan.toml"
    loan_file.write_text(LOAN.replace('currency = "USD"', 'currency = "USD"\ncolour = "red"'))
    refused = run("lending", "sign", str(loan_file), "--db", db)
    assert refused.exit_code == 2 and "unknown key(s): colour" in refused.output
    assert "Traceback" not in refused.output
