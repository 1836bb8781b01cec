"""Improving any factor, or the supervisor's composite, never worsens the grade."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from interbank.rating import BankFinancials, Camels, load_method, score_bank

METHOD = load_method("1")
UNIT = 100  # minor units per CNY


@st.composite
def reports(draw: st.DrawFn) -> BankFinancials:
    """A consistent balance sheet in whole CNY, with ratios across every corner."""
    assets = draw(st.integers(1_000, 10**9))
    loans = draw(st.integers(1, assets))
    return BankFinancials(
        bic="YRCBCNSH",
        reporting_date=dt.date(2025, 12, 31),
        currency="CNY",
        tangible_common_equity_minor=draw(st.integers(0, assets // 4)) * UNIT,
        risk_weighted_assets_minor=draw(st.integers(1, assets)) * UNIT,
        problem_loans_minor=draw(st.integers(0, loans)) * UNIT,
        gross_loans_minor=loans * UNIT,
        net_income_minor=draw(st.integers(-assets // 40, assets // 40)) * UNIT,
        tangible_assets_minor=assets * UNIT,
        market_funds_minor=draw(st.integers(0, assets)) * UNIT,
        liquid_assets_minor=draw(st.integers(0, assets)) * UNIT,
        camels=Camels(composite=draw(st.none() | st.integers(1, 5))),
    )


def _improved(report: BankFinancials, factor: str, fraction: float) -> BankFinancials:
    """The same bank with one factor's own figure moved the good way (only that figure,
    so only that ratio moves)."""
    assets = report.tangible_assets_minor
    if factor == "capital":
        room = assets // 4 - report.tangible_common_equity_minor
        return _with(
            report,
            tangible_common_equity_minor=report.tangible_common_equity_minor + int(room * fraction),
        )
    if factor == "asset_risk":
        return _with(
            report,
            problem_loans_minor=report.problem_loans_minor
            - int(report.problem_loans_minor * fraction),
        )
    if factor == "profitability":
        room = assets // 40 - report.net_income_minor
        return _with(report, net_income_minor=report.net_income_minor + int(room * fraction))
    if factor == "funding_structure":
        return _with(
            report,
            market_funds_minor=report.market_funds_minor
            - int(report.market_funds_minor * fraction),
        )
    room = assets - report.liquid_assets_minor
    return _with(report, liquid_assets_minor=report.liquid_assets_minor + int(room * fraction))


def _with(report: BankFinancials, **changes: int) -> BankFinancials:
    from dataclasses import replace

    return replace(report, **changes)


FACTORS = [f.key for f in METHOD.factors]
FRACTIONS = st.floats(0, 1, allow_nan=False)  # how far to move: test input, not money


@settings(max_examples=300, deadline=None)
@given(report=reports(), factor=st.sampled_from(FACTORS), fraction=FRACTIONS)
def test_improving_one_factor_never_worsens_grade_or_score(
    report: BankFinancials, factor: str, fraction: float
) -> None:
    before = score_bank(METHOD, [report])
    after = score_bank(METHOD, [_improved(report, factor, fraction)])
    assert after.score >= before.score
    assert after.grade <= before.grade  # a smaller notch is a better grade


@settings(max_examples=150, deadline=None)
@given(
    earlier=reports(),
    report=reports(),
    factor=st.sampled_from(FACTORS),
    fraction=FRACTIONS,
)
def test_with_history_improving_the_latest_report_never_worsens_grade(
    earlier: BankFinancials, report: BankFinancials, factor: str, fraction: float
) -> None:
    """The averaged factors take the weaker of latest and mean: still monotone."""
    earlier = _with(earlier, reporting_date=dt.date(2024, 12, 31))  # type: ignore[arg-type]
    before = score_bank(METHOD, [earlier, report])
    after = score_bank(METHOD, [earlier, _improved(report, factor, fraction)])
    assert after.grade <= before.grade


@settings(max_examples=100, deadline=None)
@given(report=reports(), composite=st.integers(1, 5), better=st.integers(1, 4))
def test_a_better_camels_composite_never_worsens_grade(
    report: BankFinancials, composite: int, better: int
) -> None:
    worse = score_bank(METHOD, [_with(report, camels=Camels(composite=composite))])  # type: ignore[arg-type]
    improved = max(1, composite - better)
    best = score_bank(METHOD, [_with(report, camels=Camels(composite=improved))])  # type: ignore[arg-type]
    assert best.grade <= worse.grade
