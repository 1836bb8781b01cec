"""The reference notes' worked examples for loans (section 2.5, [D] from [V]/[S]
inputs), day counts, dates and repayment shapes, with hand-derived expectations."""

from __future__ import annotations

import itertools
from datetime import date
from fractions import Fraction

import pytest

from interbank.lending.bank import DevelopmentBank
from interbank.lending.schedule import (
    add_months,
    allocate,
    annuity_shares,
    commitment_fee_minor,
    plan_loan,
    spread_for,
    year_fraction,
)
from interbank.lending.terms import LendingError, LendingRulebook
from interbank.network_port import ScratchNetwork

from .conftest import RUPEE, loan_terms

USD = 100


def test_average_maturity_twelve_point_seven_five_years_prices_at_115_bp(
    rulebook: LendingRulebook,
) -> None:
    # One disbursement, 5 years' grace, 30 equal semi-annual instalments at t = 5.5 ... 20:
    # average maturity (5.5 + 20.0) / 2 = 12.75 years -> AIIB bucket ">12-15" -> 1.15%.
    terms = loan_terms(
        rulebook,
        grace=60,
        maturity=240,
        signed_on="2018-02-13",
        tranches=(("2018-02-13", "100000000"),),
    )
    plan = plan_loan(terms, rulebook)
    assert len(plan.principal_dates) == 30
    assert plan.principal_dates[0] == date(2023, 8, 13)
    assert plan.principal_dates[-1] == date(2038, 2, 13)
    assert plan.average_maturity_years == Fraction(51, 4)
    assert plan.spread_bp == 115
    # The IBRD Group A table prices the same loan at 120 bp.
    assert spread_for(rulebook.table("ibrd-2020-group-a"), plan.average_maturity_years) == 120


@pytest.mark.parametrize(
    ("years", "aiib_bp"),
    [
        (Fraction(8), 75),
        (Fraction(801, 100), 90),
        (Fraction(10), 90),
        (Fraction(12), 100),
        (Fraction(15), 115),
        (Fraction(1501, 100), 130),
        (Fraction(20), 140),
    ],
)
def test_spread_bucket_bounds_are_inclusive_above(
    rulebook: LendingRulebook, years: Fraction, aiib_bp: int
) -> None:
    assert spread_for(rulebook.table("aiib-2016"), years) == aiib_bp


def test_average_maturity_beyond_the_table_is_refused(rulebook: LendingRulebook) -> None:
    terms = loan_terms(rulebook, shape="bullet", grace=0, maturity=252)
    with pytest.raises(LendingError, match=r"average maturity 21\.00 years is beyond") as caught:
        plan_loan(terms, rulebook)
    assert caught.value.reason_code == "AM02"


def test_commitment_fee_worked_example() -> None:
    # Undisbursed USD 80,000,000 for 182 days at 0.25% p.a., ACT/360 = 101,111.11.
    fee = commitment_fee_minor(80_000_000 * USD, 25, "ACT/360", date(2024, 1, 1), date(2024, 7, 1))
    assert fee == 10_111_111


def test_commitment_fee_and_front_end_fee_on_a_loan(
    bank: DevelopmentBank, network: ScratchNetwork, rulebook: LendingRulebook
) -> None:
    # 100,000,000 signed 2024-01-01; 20,000,000 disbursed that day; the first period to
    # 2024-07-01 is 182 days (2024 is a leap year): commitment fee on 80,000,000 is
    # 101,111.11; front-end fee 0.25% x 100,000,000 = 250,000.00 once, with the first
    # disbursement; interest on 20,000,000 at 5.00% + 0.75% = 5.75% for 182/360:
    # 581,444.444... -> 581,444.44.
    terms = loan_terms(rulebook, tranches=(("2024-01-01", "20000000"), ("2024-06-01", "80000000")))
    bank.sign(terms, date(2024, 1, 1))
    first = bank.disburse("L-1", 20_000_000 * RUPEE, date(2024, 1, 1))
    assert [(f.label, f.amount_minor) for f in first.flows] == [
        ("disbursement", 20_000_000 * RUPEE),
        ("front-end fee", 250_000 * RUPEE),
    ]
    dues = bank.dues("L-1", 0)
    assert dues.due_on == date(2024, 7, 1)
    assert dues.commitment_fee_minor == 10_111_111
    assert dues.interest_minor == 58_138_889
    assert dues.principal_minor == 0


def test_front_end_fee_rounds_half_up_once(rulebook: LendingRulebook) -> None:
    # 0.25% of 2.00 rupees is 0.5 paise -> 1 paise (half up); of 1.99 it is 0.4975 -> 0.
    half = loan_terms(rulebook, amount="2.00", tranches=(("2024-01-01", "2.00"),))
    assert plan_loan(half, rulebook).front_end_fee_minor == 1
    under = loan_terms(rulebook, amount="1.99", tranches=(("2024-01-01", "1.99"),))
    assert plan_loan(under, rulebook).front_end_fee_minor == 0


def test_day_counts() -> None:
    start, end = date(2024, 1, 31), date(2024, 3, 31)
    assert year_fraction("ACT/360", start, end) == Fraction(60, 360)
    assert year_fraction("ACT/365F", start, end) == Fraction(60, 365)
    # 30/360 bond basis: 31st -> 30th on both ends here: 2 x 30 days.
    assert year_fraction("30/360", start, end) == Fraction(60, 360)
    # The end date's 31st stays when the start is not the 30th or 31st: 33 days.
    assert year_fraction("30/360", date(2023, 2, 28), date(2023, 3, 31)) == Fraction(33, 360)
    assert year_fraction("30/360", date(2024, 2, 13), date(2024, 8, 13)) == Fraction(1, 2)


def test_month_arithmetic_keeps_the_day_or_the_month_end() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2018, 2, 13), 240) == date(2038, 2, 13)


def test_equal_principal_instalments_sum_exactly() -> None:
    parts = allocate(100_000_000 * USD, (Fraction(1, 30),) * 30)
    assert parts[:29] == [333_333_333] * 29
    assert parts[-1] == 333_333_343
    assert sum(parts) == 100_000_000 * USD


def test_annuity_principal_grows_by_one_plus_the_period_rate() -> None:
    shares = annuity_shares(4, Fraction(3, 100))
    assert sum(shares) == 1
    assert all(b == a * Fraction(103, 100) for a, b in itertools.pairwise(shares))
    assert annuity_shares(3, Fraction(0)) == [Fraction(1, 3)] * 3


def test_annuity_loan_pays_a_level_amount_each_period(rulebook: LendingRulebook) -> None:
    # 30/360 makes every half-year exactly 1/2 a year, so principal + interest is level
    # (to the rounding of each instalment).
    terms = loan_terms(
        rulebook, shape="annuity", grace=0, maturity=60, extra='day_count = "30/360"'
    )
    plan = plan_loan(terms, rulebook)
    assert plan.spread_bp == 75  # average maturity under 8 years
    from interbank.lending.schedule import LoanEvents, period_dues

    events = LoanEvents(disbursements=((date(2024, 1, 1), 100_000_000 * USD),))
    totals = {period_dues(terms, plan, events, k).total_minor for k in range(10)}
    assert max(totals) - min(totals) <= 1


def test_bullet_repays_everything_at_maturity(rulebook: LendingRulebook) -> None:
    terms = loan_terms(rulebook, shape="bullet", grace=0, maturity=96)
    plan = plan_loan(terms, rulebook)
    assert plan.principal_dates == (date(2032, 1, 1),)
    assert plan.average_maturity_years == 8 and plan.spread_bp == 75
