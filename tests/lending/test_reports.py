"""Schedule, statement and portfolio: rows, CSV, and self-contained HTML with a chart."""

from __future__ import annotations

import csv
import io
from datetime import date

from interbank.lending.bank import DevelopmentBank
from interbank.lending.report import (
    PortfolioRow,
    ScheduleRow,
    balance_points,
    portfolio_html,
    portfolio_rows,
    schedule_rows,
    statement_html,
    statement_rows,
    to_csv,
)
from interbank.lending.terms import LendingRulebook

from .conftest import RUPEE, loan_terms


def _loan_with_history(bank: DevelopmentBank, rulebook: LendingRulebook) -> None:
    terms = loan_terms(
        rulebook,
        grace=12,
        maturity=36,
        tranches=(("2024-01-01", "60000000"), ("2024-06-01", "40000000")),
    )
    bank.sign(terms, date(2024, 1, 1))
    bank.disburse("L-1", 60_000_000 * RUPEE, date(2024, 1, 1))
    bank.repay("L-1", date(2024, 7, 1))
    bank.disburse("L-1", 40_000_000 * RUPEE, date(2024, 7, 2))


def test_schedule_marks_paid_and_scheduled_periods_and_sums_to_the_loan(
    bank: DevelopmentBank, rulebook: LendingRulebook
) -> None:
    _loan_with_history(bank, rulebook)
    rows = schedule_rows(bank.state.loans["L-1"], date(2024, 7, 2))
    assert [r.status for r in rows] == ["paid"] + ["scheduled"] * 5
    principal = sum(int(r.principal.replace(".", "")) for r in rows)
    assert principal == 100_000_000 * RUPEE
    assert rows[-1].outstanding_after == "0.00"
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows, ScheduleRow))))
    assert parsed[0]["status"] == "paid" and len(parsed) == 6


def test_statement_lists_settled_transfers_with_the_balance_after(
    bank: DevelopmentBank, rulebook: LendingRulebook
) -> None:
    _loan_with_history(bank, rulebook)
    rows = statement_rows(bank.state, "L-1")
    assert [(r.what, r.outstanding_after) for r in rows] == [
        ("disbursement", "60000000.00"),
        ("front-end fee", "60000000.00"),
        ("interest", "60000000.00"),
        ("commitment fee", "60000000.00"),
        ("disbursement", "100000000.00"),
    ]


def test_html_pages_are_self_contained_with_an_inline_svg_chart(
    bank: DevelopmentBank, rulebook: LendingRulebook
) -> None:
    _loan_with_history(bank, rulebook)
    for page in (
        statement_html(bank.state, "L-1", date(2024, 7, 2)),
        portfolio_html(bank.state, date(2024, 7, 2)),
    ):
        assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<polyline" in page
        lowered = page.lower()
        for external in ("<script", "<link", "<img", "@import", "url(", "src="):
            assert external not in lowered
        # The only URL is the SVG namespace, which is a name, not a request.
        assert lowered.count("http") == lowered.count('xmlns="http://www.w3.org/2000/svg"')
    points = balance_points(bank.state.loans["L-1"])
    assert points[0] == (date(2024, 1, 1), 60_000_000 * RUPEE, 60_000_000 * RUPEE)
    assert points[-1][2] == 0  # scheduled to be repaid by maturity


def test_portfolio_summary(bank: DevelopmentBank, rulebook: LendingRulebook) -> None:
    _loan_with_history(bank, rulebook)
    [row] = portfolio_rows(bank.state, date(2024, 7, 2))
    assert (row.loan_id, row.disbursed, row.outstanding, row.status) == (
        "L-1",
        "100000000.00",
        "100000000.00",
        "active",
    )
    assert row.average_maturity_years == "2.25" and row.spread_bp == 75
    header = to_csv([row], PortfolioRow).splitlines()[0]
    assert header.startswith("loan_id,borrower,currency")
