"""The scorecard: from a bank's financials to a score, a grade, an outlook and a PD.

Pure functions over immutable records. The steps, in order, each recorded so that a
report can show them: factor ratios and points, the weighted score, the anchor grade
from the score, the analyst's qualitative adjustments, the CAMELS overlay, the
sovereign ceiling; D overrides everything when the bank is in default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from interbank.rating.financials import BankFinancials
from interbank.rating.method import Factor, Method
from interbank.rating.scale import NOTCH_DEFAULT, Grade

OUTLOOKS = ("positive", "stable", "negative")


class AdjustmentError(ValueError):
    """Qualitative adjustments the method does not allow."""


@dataclass(frozen=True, slots=True)
class Adjustments:
    """The analyst's qualitative notches by key (positive = upgrade)."""

    notches: tuple[tuple[str, int], ...] = ()

    @staticmethod
    def of(values: Mapping[str, int]) -> Adjustments:
        return Adjustments(tuple(sorted((k, v) for k, v in values.items() if v != 0)))

    def total(self) -> int:
        return sum(n for _, n in self.notches)

    def check(self, method: Method) -> None:
        for key, notches in self.notches:
            rule = method.adjustment(key)
            if rule is None:
                known = ", ".join(r.key for r in method.adjustments)
                raise AdjustmentError(
                    f"no qualitative adjustment {key!r} in method {method.version} ({known})"
                )
            if not rule.notches_min <= notches <= rule.notches_max:
                raise AdjustmentError(
                    f"{key} {notches:+d}: method {method.version} allows "
                    f"{rule.notches_min:+d} to {rule.notches_max:+d} notches"
                )
        if not method.adjustments_total_min <= self.total() <= method.adjustments_total_max:
            raise AdjustmentError(
                f"adjustments add up to {self.total():+d}; method {method.version} allows "
                f"{method.adjustments_total_min:+d} to {method.adjustments_total_max:+d}"
            )


@dataclass(frozen=True, slots=True)
class FactorResult:
    key: str
    title: str
    ratio_latest_pct: Fraction
    ratio_mean_pct: Fraction | None  # None when the factor uses the latest report only
    ratio_used_pct: Fraction
    reports_used: int
    points: Fraction  # 0..100
    weight_pct: int
    contribution: Fraction  # points x weight / 100: its share of the score


@dataclass(frozen=True, slots=True)
class NotchStep:
    """One move from the anchor grade: what moved it, by how much, where it landed."""

    label: str
    notches: int  # positive = upgrade; the move actually made (after the scale's ends)
    grade: Grade


@dataclass(frozen=True, slots=True)
class Scorecard:
    bic: str
    name: str
    reporting_date: str
    currency: str
    method_version: str
    factors: tuple[FactorResult, ...]
    score: Fraction
    anchor_grade: Grade
    steps: tuple[NotchStep, ...]
    grade: Grade
    pd_pct: Fraction
    cqs: int | None
    outlook: str
    watch: bool
    watch_reasons: tuple[str, ...]
    previous_score: Fraction | None
    notes: tuple[str, ...] = field(default=())
    capital_minor: int = 0  # tangible common equity: the base of the net debit cap


def score_bank(
    method: Method,
    reports: Sequence[BankFinancials],
    adjustments: Adjustments | None = None,
) -> Scorecard:
    """Rate a bank from its reports (one bank, any order; the latest is rated).

    Earlier reports feed the averaged factors and, one report back, the outlook and
    the watch: the previous score is the same method applied to the reports up to the
    previous one, with no adjustments.
    """
    if not reports:
        raise ValueError("no reports to rate")
    ordered = sorted(reports, key=lambda r: r.reporting_date)
    if len({r.bic for r in ordered}) != 1:
        raise ValueError("reports of more than one bank: rate one bank at a time")
    if len({r.reporting_date for r in ordered}) != len(ordered):
        raise ValueError(f"{ordered[0].bic}: two reports share a reporting date")
    adjustments = adjustments or Adjustments()
    adjustments.check(method)
    window = ordered[-method.averaging_reports_max :]
    latest = ordered[-1]
    notes: list[str] = []
    if len(window) < method.averaging_reports_max:
        notes.append(
            f"{len(window)} of {method.averaging_reports_max} reports: averaged factors use "
            f"what there is"
        )
    factors = tuple(_factor(factor, window) for factor in method.factors)
    score = sum((f.contribution for f in factors), Fraction(0))
    anchor = method.grade_of_score(score)
    grade = anchor
    steps: list[NotchStep] = []
    for key, notches in adjustments.notches:
        moved = grade.moved(notches)
        steps.append(NotchStep(f"adjustment: {key}", grade.notch - moved.notch, moved))
        grade = moved
    composite = latest.camels.composite
    if composite is None:
        notes.append("no CAMELS composite: no supervisory overlay")
    elif method.camels_composite_notches[composite - 1]:
        moved = grade.moved(method.camels_composite_notches[composite - 1])
        steps.append(NotchStep(f"CAMELS composite {composite}", grade.notch - moved.notch, moved))
        grade = moved
    sovereign = latest.sovereign_grade
    if method.sovereign_ceiling and sovereign is not None and grade < sovereign:
        # The ceiling may be D only if the sovereign defaulted; a bank then gets C at worst
        # from the scorecard, and D only from its own default.
        ceiling = sovereign if not sovereign.is_default else Grade(NOTCH_DEFAULT - 1)
        if grade < ceiling:
            steps.append(
                NotchStep(f"sovereign ceiling {sovereign}", grade.notch - ceiling.notch, ceiling)
            )
            grade = ceiling
    if latest.in_default:
        steps.append(NotchStep("in default", grade.notch - NOTCH_DEFAULT, Grade(NOTCH_DEFAULT)))
        grade = Grade(NOTCH_DEFAULT)
    previous_score = None
    if len(ordered) > 1:
        previous_window = ordered[:-1][-method.averaging_reports_max :]
        previous_score = sum(
            (_factor(factor, previous_window).contribution for factor in method.factors),
            Fraction(0),
        )
    outlook, watch_reasons = _outlook_and_watch(method, score, previous_score, factors, ordered)
    return Scorecard(
        bic=latest.bic,
        name=latest.name,
        reporting_date=latest.reporting_date.isoformat(),
        currency=latest.currency,
        method_version=method.version,
        factors=factors,
        score=score,
        anchor_grade=anchor,
        steps=tuple(steps),
        grade=grade,
        pd_pct=method.pd_pct(grade),
        cqs=method.cqs(grade),
        outlook=outlook,
        watch=bool(watch_reasons),
        watch_reasons=watch_reasons,
        previous_score=previous_score,
        notes=tuple(notes),
        capital_minor=latest.tangible_common_equity_minor,
    )


def _ratio_pct(factor: Factor, report: BankFinancials) -> Fraction:
    return Fraction(
        100 * report.figure_minor(factor.numerator), report.figure_minor(factor.denominator)
    )


def _factor(factor: Factor, window: Sequence[BankFinancials]) -> FactorResult:
    latest = _ratio_pct(factor, window[-1])
    mean = None
    used = latest
    reports_used = 1
    if factor.averaging == "weaker_of_latest_and_mean":
        ratios = [_ratio_pct(factor, r) for r in window]
        mean = sum(ratios, Fraction(0)) / len(ratios)
        reports_used = len(ratios)
        # "Weaker" is judged by points, not by the ratio, so it holds for either direction.
        used = latest if factor.points_at(latest) <= factor.points_at(mean) else mean
    points = factor.points_at(used)
    return FactorResult(
        key=factor.key,
        title=factor.title,
        ratio_latest_pct=latest,
        ratio_mean_pct=mean,
        ratio_used_pct=used,
        reports_used=reports_used,
        points=points,
        weight_pct=factor.weight_pct,
        contribution=points * factor.weight_pct / 100,
    )


def _outlook_and_watch(
    method: Method,
    score: Fraction,
    previous_score: Fraction | None,
    factors: tuple[FactorResult, ...],
    ordered: Sequence[BankFinancials],
) -> tuple[str, tuple[str, ...]]:
    reasons: list[str] = []
    outlook = "stable"
    if previous_score is not None:
        change = score - previous_score
        if change >= method.outlook_score_change_positive:
            outlook = "positive"
        elif change <= method.outlook_score_change_negative:
            outlook = "negative"
        if abs(change) >= method.watch_score_change_abs:
            reasons.append(f"score moved {_points(change)} since the previous report")
        before, now = ordered[-2].camels.composite, ordered[-1].camels.composite
        if (
            before is not None
            and now is not None
            and now - before >= method.watch_camels_composite_worsening
        ):
            reasons.append(f"CAMELS composite worsened from {before} to {now}")
    capital = next((f for f in factors if f.key == "capital"), None)
    if capital is not None and capital.ratio_latest_pct < method.watch_capital_ratio_pct_below:
        reasons.append(
            f"capital ratio {decimal_text(capital.ratio_latest_pct)}% is below "
            f"{decimal_text(method.watch_capital_ratio_pct_below)}%"
        )
    return outlook, tuple(reasons)


def _points(value: Fraction) -> str:
    """A fraction as a signed decimal with two places, rounded half away from zero."""
    return decimal_text(value, places=2, signed=True)


def decimal_text(value: Fraction, places: int = 2, signed: bool = False) -> str:
    """Exact fraction to text with ``places`` decimals (half away from zero)."""
    scale = 10**places
    magnitude = abs(value) * scale
    whole = int(magnitude)
    if magnitude - whole >= Fraction(1, 2):
        whole += 1
    sign = "-" if value < 0 and whole else ("+" if signed and whole else "")
    digits = str(whole).rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}" if places else f"{sign}{digits}"
