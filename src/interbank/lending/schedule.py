"""Loan arithmetic: dates, day counts, repayment shapes, average maturity, accruals.

Pure functions of a loan's terms and of what happened to it (disbursements,
cancellations, prepayments, rate fixings), so the schedule, the statement and the
reconciliation all compute the same figures from the same facts.

Rounding rules (also in docs/lending.md):

- interest and fees accrue exactly (``Fraction``) over the sub-periods in which the
  balance is constant and are rounded once per payment period, to the minor unit,
  half away from zero;
- principal instalments are each rounded half up; the last takes what is left, so the
  instalments sum to the principal exactly;
- the front-end fee and a prepayment premium are rounded half up once.

Day counts: ``ACT/360`` and ``ACT/365F`` (actual days over 360 or 365), and ``30/360``
in its ISDA "bond basis" form (a 31st is the 30th; an end date on the 31st counts as
the 30th when the start date is the 30th or 31st).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from interbank.lending.terms import (
    TRANCHES_MAX,
    LendingError,
    LendingRulebook,
    LoanTerms,
    SpreadTable,
)


def round_half_up(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero."""
    magnitude = abs(value) + Fraction(1, 2)
    rounded = magnitude.numerator // magnitude.denominator
    return rounded if value >= 0 else -rounded


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later; the month's last day when it has no such day."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)


def year_fraction(day_count: str, start: date, end: date) -> Fraction:
    """The fraction of a year from ``start`` to ``end`` under the day count."""
    assert start <= end, (start, end)
    if day_count == "ACT/360":
        return Fraction((end - start).days, 360)
    if day_count == "ACT/365F":
        return Fraction((end - start).days, 365)
    assert day_count == "30/360", day_count
    d1 = min(start.day, 30)
    d2 = 30 if end.day == 31 and d1 == 30 else end.day
    days = 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)
    return Fraction(days, 360)


@dataclass(frozen=True, slots=True)
class LoanPlan:
    """What follows from the terms at signing."""

    payment_dates: tuple[date, ...]
    principal_dates: tuple[date, ...]
    shares: tuple[Fraction, ...]  # of the principal, one per principal date, sum 1
    average_maturity_years: Fraction
    spread_bp: int
    front_end_fee_minor: int
    availability_end: date  # no disbursement on or after; the commitment fee stops

    def all_in_rate_percent(self, reference_percent: Decimal) -> Fraction:
        return Fraction(reference_percent) + Fraction(self.spread_bp, 100)


def spread_for(table: SpreadTable, years: Fraction) -> int:
    """The spread of the bucket the average maturity falls in; LendingError if none."""
    for bucket in table.buckets:
        if years <= Fraction(bucket.up_to_years):
            return bucket.spread_bp
    last = table.buckets[-1].up_to_years
    raise LendingError(
        "AM02",
        f"average maturity {_years_text(years)} years is beyond {table.name}'s "
        f"longest bucket ({last} years)",
    )


def _years_text(years: Fraction) -> str:
    hundredths = round_half_up(years * 100)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def annuity_shares(periods: int, rate_per_period: Fraction) -> list[Fraction]:
    """Principal parts of a level payment: part k is r(1+r)^(k-1) / ((1+r)^n - 1)."""
    if rate_per_period == 0:
        return [Fraction(1, periods)] * periods
    growth = (1 + rate_per_period) ** periods - 1
    return [rate_per_period * (1 + rate_per_period) ** k / growth for k in range(periods)]


def plan_loan(terms: LoanTerms, rulebook: LendingRulebook) -> LoanPlan:
    """Check the terms and derive the plan; LendingError names what is wrong."""
    if terms.amount_minor <= 0:
        raise LendingError("AM01", "the loan amount must be positive")
    interval = terms.interval_months
    if not 1 <= interval <= 12 or 12 % interval:
        raise LendingError("FF01", "interval_months is 1, 2, 3, 4, 6 or 12")
    if terms.maturity_months % interval or terms.grace_months % interval:
        raise LendingError("FF01", "grace and maturity are whole numbers of payment intervals")
    if terms.shape != "bullet" and terms.grace_months >= terms.maturity_months:
        raise LendingError("FF01", "the grace period must end before maturity")
    months = list(range(interval, terms.maturity_months + 1, interval))
    payment_dates = [add_months(terms.signed_on, m) for m in months]
    if terms.shape == "bullet":
        principal_months = [terms.maturity_months]
    else:
        principal_months = [m for m in months if m > terms.grace_months]
    principal_dates = [add_months(terms.signed_on, m) for m in principal_months]
    table = rulebook.table(terms.spread_table)
    count = len(principal_months)

    def shares_at(spread_bp: int) -> list[Fraction]:
        if terms.shape == "equal_principal":
            return [Fraction(1, count)] * count
        if terms.shape == "bullet":
            return [Fraction(1)]
        rate = (Fraction(terms.reference_rate_percent) + Fraction(spread_bp, 100)) / 100
        return annuity_shares(count, rate * interval / 12)

    def average(shares: list[Fraction]) -> Fraction:
        return sum(
            (s * Fraction(m, 12) for s, m in zip(shares, principal_months, strict=True)),
            Fraction(0),
        )

    # An annuity's shape depends on its rate and its rate on its average maturity: take
    # the spread of the equal-principal shape, reshape at that rate, and repeat until
    # the bucket stops moving; if it ever cycles, take the higher spread (the lender's
    # side), which is stable because a higher rate only lengthens the average.
    spread = spread_for(table, average([Fraction(1, count)] * count))
    seen = {spread}
    while True:
        shares = shares_at(spread)
        again = spread_for(table, average(shares))
        if again == spread:
            break
        if again in seen:
            spread = max(spread, again)
            shares = shares_at(spread)
            break
        seen.add(again)
        spread = again
    availability_end = principal_dates[0]
    tranches = terms.tranches
    if not tranches or len(tranches) > TRANCHES_MAX:
        raise LendingError("FF01", f"a loan has 1 to {TRANCHES_MAX} tranches")
    if any(t.amount_minor <= 0 for t in tranches):
        raise LendingError("AM01", "every tranche is a positive amount")
    if sum(t.amount_minor for t in tranches) != terms.amount_minor:
        raise LendingError("AM02", "the tranches must add up to the loan amount")
    for tranche in tranches:
        if not terms.signed_on <= tranche.on < availability_end:
            raise LendingError(
                "FF01",
                f"tranche on {tranche.on} is outside the availability period "
                f"{terms.signed_on} to {availability_end - timedelta(days=1)}",
            )
    fee = round_half_up(Fraction(terms.amount_minor * terms.front_end_fee_bp, 10_000))
    return LoanPlan(
        tuple(payment_dates),
        tuple(principal_dates),
        tuple(shares),
        average(shares),
        spread,
        fee,
        availability_end,
    )


def allocate(base_minor: int, shares: tuple[Fraction, ...]) -> list[int]:
    """Instalments of ``base_minor`` by shares: each rounded half up, the last the rest."""
    parts = [round_half_up(base_minor * share) for share in shares[:-1]]
    parts.append(base_minor - sum(parts))
    assert parts[-1] >= 0, (base_minor, shares)
    return parts


# --- what happened to a loan, and what it owes -------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoanEvents:
    disbursements: tuple[tuple[date, int], ...] = ()
    cancellations: tuple[tuple[date, int], ...] = ()
    prepayments: tuple[tuple[date, int], ...] = ()
    fixings: tuple[tuple[date, Decimal], ...] = ()  # (period start, reference rate %)

    def disbursed_minor(self, through: date | None = None) -> int:
        return sum(a for d, a in self.disbursements if through is None or d <= through)

    def cancelled_minor(self, through: date | None = None) -> int:
        return sum(a for d, a in self.cancellations if through is None or d <= through)

    def prepaid_minor(self, through: date | None = None) -> int:
        return sum(a for d, a in self.prepayments if through is None or d <= through)


@dataclass(frozen=True, slots=True)
class Dues:
    """What falls due on one payment date."""

    period: int  # index into the plan's payment dates
    due_on: date
    start: date
    principal_minor: int
    interest_minor: int
    commitment_fee_minor: int
    reference_rate_percent: Decimal

    @property
    def total_minor(self) -> int:
        return self.principal_minor + self.interest_minor + self.commitment_fee_minor


def principal_plan(plan: LoanPlan, events: LoanEvents) -> list[int]:
    """Principal due on each principal date: the disbursed amount by shares, less
    prepayments taken from the last instalments first (inverse order of maturity)."""
    parts = allocate(events.disbursed_minor(), plan.shares)
    for _, amount in events.prepayments:
        left = amount
        for n in range(len(parts) - 1, -1, -1):
            take = min(parts[n], left)
            parts[n] -= take
            left -= take
            if not left:
                break
        assert left == 0, "prepaid more than is outstanding"
    return parts


def outstanding_minor(plan: LoanPlan, events: LoanEvents, on: date) -> int:
    """Principal outstanding for the day ``on``: disbursed through it, less principal
    due and prepaid through it (a payment date's repayment stops that day's interest)."""
    principal = principal_plan(plan, events)
    due = sum(p for d, p in zip(plan.principal_dates, principal, strict=True) if d <= on)
    return events.disbursed_minor(on) - due - events.prepaid_minor(on)


def reference_rate(terms: LoanTerms, events: LoanEvents, period_start: date) -> Decimal:
    """The fixing in force for a period starting on ``period_start``."""
    rate = terms.reference_rate_percent
    for fixed_on, fixed in sorted(events.fixings):
        if fixed_on <= period_start:
            rate = fixed
    return rate


def period_dues(terms: LoanTerms, plan: LoanPlan, events: LoanEvents, period: int) -> Dues:
    """Principal, interest and commitment fee due on payment date number ``period``."""
    end = plan.payment_dates[period]
    start = terms.signed_on if period == 0 else plan.payment_dates[period - 1]
    reference = reference_rate(terms, events, start)
    rate = plan.all_in_rate_percent(reference) / 100
    fee_rate = Fraction(terms.commitment_fee_bp, 10_000)
    fee_from = terms.signed_on + timedelta(days=terms.commitment_fee_start_days)
    cuts = sorted(
        {start, end}
        | {d for d, _ in events.disbursements if start < d < end}
        | {d for d, _ in events.cancellations if start < d < end}
        | {d for d in (fee_from, plan.availability_end) if start < d < end}
    )
    interest = Fraction(0)
    fee = Fraction(0)
    for a, b in pairwise(cuts):
        fraction = year_fraction(terms.day_count, a, b)
        interest += outstanding_minor(plan, events, a) * rate * fraction
        if fee_from <= a < plan.availability_end:
            undisbursed = terms.amount_minor - events.disbursed_minor(a) - events.cancelled_minor(a)
            fee += undisbursed * fee_rate * fraction
    principal = 0
    if end in plan.principal_dates:
        principal = principal_plan(plan, events)[plan.principal_dates.index(end)]
    return Dues(
        period, end, start, principal, round_half_up(interest), round_half_up(fee), reference
    )


def penalty_minor(terms: LoanTerms, plan: LoanPlan, dues: Dues, paid_on: date) -> int:
    """Penalty interest on an overdue amount: the period's all-in rate plus the penalty
    spread, on everything that fell due, for every day from the due date to payment."""
    if paid_on <= dues.due_on:
        return 0
    rate = (
        plan.all_in_rate_percent(dues.reference_rate_percent)
        + Fraction(terms.penalty_spread_bp, 100)
    ) / 100
    fraction = year_fraction(terms.day_count, dues.due_on, paid_on)
    return round_half_up(dues.total_minor * rate * fraction)


def commitment_fee_minor(
    amount_minor: int, fee_bp: int, day_count: str, start: date, end: date
) -> int:
    """The commitment fee on a constant undisbursed amount (the worked example's form)."""
    return round_half_up(
        amount_minor * Fraction(fee_bp, 10_000) * year_fraction(day_count, start, end)
    )
