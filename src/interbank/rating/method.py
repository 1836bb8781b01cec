"""The rating method as data: read and check a versioned ``methods/v*.toml`` file.

The code holds no weight, threshold or table of its own: everything a rating depends
on is in the method file, and a rating records the method version it was made with.
Decimals in the file are strings, read as exact fractions, so that a grade never
depends on binary floating point.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from interbank.rating.scale import (
    GRADES,
    NOTCH_DEFAULT,
    NOTCH_WORST_PERFORMING,
    Grade,
    GradeError,
    category_of,
)

# The figures of the financials a factor may divide (see financials.py).
RATIO_FIGURES: frozenset[str] = frozenset(
    {
        "tangible_common_equity", "risk_weighted_assets", "problem_loans", "gross_loans",
        "net_income", "tangible_assets", "market_funds", "liquid_assets",
    }
)  # fmt: skip
DIRECTIONS = ("higher_is_better", "lower_is_better")
AVERAGINGS = ("latest", "weaker_of_latest_and_mean")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
_VERSION = re.compile(r"[0-9]+(\.[0-9]+)*")
_METHOD_FILE_BYTES_MAX = 1 << 20


class MethodError(ValueError):
    """A method file that cannot be used; the text names the file and the key."""


@dataclass(frozen=True, slots=True)
class Factor:
    key: str
    title: str
    numerator: str
    denominator: str
    direction: str
    weight_pct: int
    averaging: str
    ratio_pct: tuple[Fraction, ...]  # corners, strictly increasing
    points: tuple[int, ...]  # points at each corner, 0..100

    def points_at(self, ratio_pct: Fraction) -> Fraction:
        """Points for a ratio: straight lines between corners, flat outside."""
        corners = self.ratio_pct
        if ratio_pct <= corners[0]:
            return Fraction(self.points[0])
        if ratio_pct >= corners[-1]:
            return Fraction(self.points[-1])
        for i in range(1, len(corners)):
            if ratio_pct <= corners[i]:
                x0, x1 = corners[i - 1], corners[i]
                y0, y1 = self.points[i - 1], self.points[i]
                return y0 + (y1 - y0) * (ratio_pct - x0) / (x1 - x0)
        raise AssertionError("unreachable: the ratio is inside the corners")


@dataclass(frozen=True, slots=True)
class AdjustmentRule:
    key: str
    notches_min: int
    notches_max: int


@dataclass(frozen=True, slots=True)
class CapBand:
    """Net debit cap multiple for the grades ``best`` .. ``worst``."""

    best: Grade
    worst: Grade
    multiple: Fraction
    category: str


@dataclass(frozen=True, slots=True)
class HaircutBand:
    """Haircuts (percent) per maturity bucket for issuers graded ``best`` .. ``worst``.

    ``other_pct`` None: paper of non-sovereign issuers in this band is not eligible.
    """

    best: Grade
    worst: Grade
    sovereign_pct: tuple[Fraction, ...]
    other_pct: tuple[Fraction, ...] | None


@dataclass(frozen=True, slots=True)
class Method:
    version: str
    title: str
    published_on: str
    factors: tuple[Factor, ...]
    averaging_reports_max: int
    score_lower_bounds: tuple[Fraction, ...]  # one per grade AAA..C
    adjustments: tuple[AdjustmentRule, ...]
    adjustments_total_min: int
    adjustments_total_max: int
    camels_composite_notches: tuple[int, ...]  # for composite 1..5
    sovereign_ceiling: bool
    outlook_score_change_positive: Fraction
    outlook_score_change_negative: Fraction
    watch_score_change_abs: Fraction
    watch_camels_composite_worsening: int
    watch_capital_ratio_pct_below: Fraction
    pd_source: str
    pd_floor_pct: Fraction
    pd_floor_source: str
    pd_pct_by_notch: tuple[Fraction, ...]  # one per grade AAA..D, never decreasing
    cqs_source: str
    cqs_worst_notch: tuple[int, ...]  # worst notch of each credit quality step 1..6
    credit_suspended_notch: int
    participant_suspended_notch: int
    cap_bands: tuple[CapBand, ...]
    haircut_source: str
    haircut_maturity_days_max: tuple[int, ...]
    haircut_cash_pct: Fraction
    haircut_bands: tuple[HaircutBand, ...]

    def grade_of_score(self, score: Fraction) -> Grade:
        for notch, bound in enumerate(self.score_lower_bounds, start=1):
            if score >= bound:
                return Grade(notch)
        raise AssertionError("C's bound is 0 and scores are never negative")

    def pd_pct(self, grade: Grade) -> Fraction:
        return self.pd_pct_by_notch[grade.notch - 1]

    def cqs(self, grade: Grade) -> int | None:
        """The EU credit quality step of a grade (None for D)."""
        for step, worst in enumerate(self.cqs_worst_notch, start=1):
            if grade.notch <= worst:
                return step
        return None

    def cap_band(self, grade: Grade) -> CapBand:
        for band in self.cap_bands:
            if band.best <= grade <= band.worst:
                return band
        raise AssertionError("the loader checked that the cap bands cover the scale")

    def adjustment(self, key: str) -> AdjustmentRule | None:
        return next((rule for rule in self.adjustments if rule.key == key), None)


def method_versions() -> list[str]:
    """The versions of the methods shipped with the package, oldest first."""
    folder = resources.files("interbank.rating") / "methods"
    names = [entry.name for entry in folder.iterdir() if entry.name.endswith(".toml")]
    versions = [name.removeprefix("v").removesuffix(".toml") for name in names]
    return sorted(versions, key=lambda v: tuple(int(p) for p in v.split(".")))


@lru_cache(maxsize=16)
def load_method(version: str = "1") -> Method:
    """The shipped method of this version (``methods/v{version}.toml``)."""
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise MethodError(f"{version!r} is not a method version (like 1 or 1.1)")
    entry = resources.files("interbank.rating") / "methods" / f"v{version}.toml"
    if not entry.is_file():
        raise MethodError(f"no method version {version}; shipped: {', '.join(method_versions())}")
    method = parse_method(entry.read_text(encoding="utf-8"), f"methods/v{version}.toml")
    if method.version != version:
        raise MethodError(f"methods/v{version}.toml says it is version {method.version}")
    return method


def load_method_file(path: str | Path) -> Method:
    """A method from any file (to check a draft before it is published)."""
    file = Path(path)
    if file.stat().st_size > _METHOD_FILE_BYTES_MAX:
        raise MethodError(f"{file}: over {_METHOD_FILE_BYTES_MAX} bytes")
    return parse_method(file.read_text(encoding="utf-8"), str(file))


def parse_method(text: str, where: str) -> Method:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MethodError(f"{where}: not TOML: {error}") from None
    try:
        return _Reader(data, where).method()
    except GradeError as error:
        raise MethodError(f"{where}: {error}") from None


class _Reader:
    """Reads one method file, naming the key of the first thing that is wrong."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def fail(self, key: str, text: str) -> MethodError:
        return MethodError(f"{self.where}: {key}: {text}")

    def table(self, key: str) -> dict[str, Any]:
        value: object = self.data
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                raise self.fail(key, "missing")
            value = value[part]
        if not isinstance(value, dict):
            raise self.fail(key, "is not a table")
        return value

    def get(self, table: dict[str, Any], key: str, name: str, kind: type) -> Any:
        if key not in table:
            raise self.fail(name, "missing")
        value = table[key]
        if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
            raise self.fail(name, f"is {value!r}, not an integer")
        if kind is not int and not isinstance(value, kind):
            raise self.fail(name, f"is {value!r}, not a {kind.__name__}")
        return value

    def decimal(self, value: object, name: str) -> Fraction:
        if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
            raise self.fail(name, f"is {value!r}, not a decimal written as a string")
        return Fraction(value)

    def decimals(self, table: dict[str, Any], key: str, name: str) -> tuple[Fraction, ...]:
        values = self.get(table, key, name, list)
        return tuple(self.decimal(v, f"{name}[{i}]") for i, v in enumerate(values))

    def method(self) -> Method:
        head = self.table("method")
        version = self.get(head, "version", "method.version", str)
        if not _VERSION.fullmatch(version):
            raise self.fail("method.version", f"{version!r} is not like 1 or 1.1")
        factors = self.factors()
        bounds = self.decimals(
            self.table("grades"), "score_lower_bounds", "grades.score_lower_bounds"
        )
        if len(bounds) != NOTCH_WORST_PERFORMING:
            raise self.fail(
                "grades.score_lower_bounds", f"needs {NOTCH_WORST_PERFORMING} bounds, AAA to C"
            )
        if any(a <= b for a, b in itertools.pairwise(bounds)) or bounds[-1] != 0:
            raise self.fail("grades.score_lower_bounds", "must fall strictly, down to 0 for C")
        if bounds[0] > 100:
            raise self.fail("grades.score_lower_bounds", "AAA's bound is above the best score, 100")
        notching = self.table("notching")
        camels = tuple(
            self.get(
                notching, "camels_composite_notches", "notching.camels_composite_notches", list
            )
        )
        if len(camels) != 5 or not all(isinstance(n, int) and n <= 0 for n in camels):
            raise self.fail(
                "notching.camels_composite_notches",
                "five notch moves (0 or less) for composite 1..5",
            )
        if any(a < b for a, b in itertools.pairwise(camels)):
            raise self.fail(
                "notching.camels_composite_notches", "a weaker composite may not notch up"
            )
        total_min = self.get(
            notching, "adjustments_total_min", "notching.adjustments_total_min", int
        )
        total_max = self.get(
            notching, "adjustments_total_max", "notching.adjustments_total_max", int
        )
        if not total_min <= 0 <= total_max:
            raise self.fail("notching", "adjustments_total_min <= 0 <= adjustments_total_max")
        outlook, watch = self.table("outlook"), self.table("watch")
        positive = self.decimal(
            outlook.get("score_change_positive"), "outlook.score_change_positive"
        )
        negative = self.decimal(
            outlook.get("score_change_negative"), "outlook.score_change_negative"
        )
        if not negative < 0 < positive:
            raise self.fail("outlook", "score_change_negative < 0 < score_change_positive")
        pd = self.table("pd")
        floor = self.decimal(pd.get("floor_pct"), "pd.floor_pct")
        cqs = self.table("cqs")
        cqs_worst = tuple(
            Grade.of(self.get({"g": g}, "g", f"cqs.worst_grade_of_step[{i}]", str)).notch
            for i, g in enumerate(
                self.get(cqs, "worst_grade_of_step", "cqs.worst_grade_of_step", list)
            )
        )
        if (
            len(cqs_worst) != 6
            or list(cqs_worst) != sorted(set(cqs_worst))
            or cqs_worst[-1] != NOTCH_WORST_PERFORMING
        ):
            raise self.fail("cqs.worst_grade_of_step", "six grades, strictly worse, ending at C")
        controls = self.table("controls")
        credit_off = Grade.of(
            self.get(
                controls,
                "credit_suspended_at_or_worse",
                "controls.credit_suspended_at_or_worse",
                str,
            )
        )
        participant_off = Grade.of(
            self.get(
                controls,
                "participant_suspended_at_or_worse",
                "controls.participant_suspended_at_or_worse",
                str,
            )
        )
        if participant_off < credit_off:
            raise self.fail("controls", "a suspended participant must have lost its credit first")
        haircuts = self.table("haircuts")
        maturity = tuple(
            self.get(haircuts, "maturity_days_max", "haircuts.maturity_days_max", list)
        )
        if not all(isinstance(d, int) and d > 0 for d in maturity) or list(maturity) != sorted(
            set(maturity)
        ):
            raise self.fail("haircuts.maturity_days_max", "whole days, strictly increasing")
        return Method(
            version=version,
            title=self.get(head, "title", "method.title", str),
            published_on=self.get(head, "published_on", "method.published_on", str),
            factors=factors,
            averaging_reports_max=self.positive(
                self.table("averaging"), "reports_max", "averaging.reports_max"
            ),
            score_lower_bounds=bounds,
            adjustments=self.adjustments(),
            adjustments_total_min=total_min,
            adjustments_total_max=total_max,
            camels_composite_notches=camels,
            sovereign_ceiling=self.get(
                notching, "sovereign_ceiling", "notching.sovereign_ceiling", bool
            ),
            outlook_score_change_positive=positive,
            outlook_score_change_negative=negative,
            watch_score_change_abs=self.decimal(
                watch.get("score_change_abs"), "watch.score_change_abs"
            ),
            watch_camels_composite_worsening=self.positive(
                watch, "camels_composite_worsening", "watch.camels_composite_worsening"
            ),
            watch_capital_ratio_pct_below=self.decimal(
                watch.get("capital_ratio_pct_below"), "watch.capital_ratio_pct_below"
            ),
            pd_source=self.get(pd, "source", "pd.source", str),
            pd_floor_pct=floor,
            pd_floor_source=self.get(pd, "floor_source", "pd.floor_source", str),
            pd_pct_by_notch=self.pd_by_notch(pd, floor),
            cqs_source=self.get(cqs, "source", "cqs.source", str),
            cqs_worst_notch=cqs_worst,
            credit_suspended_notch=credit_off.notch,
            participant_suspended_notch=participant_off.notch,
            cap_bands=self.cap_bands(controls),
            haircut_source=self.get(haircuts, "source", "haircuts.source", str),
            haircut_maturity_days_max=maturity,
            haircut_cash_pct=self.percent(haircuts.get("cash_pct"), "haircuts.cash_pct"),
            haircut_bands=self.haircut_bands(haircuts, len(maturity) + 1),
        )

    def positive(self, table: dict[str, Any], key: str, name: str) -> int:
        value: int = self.get(table, key, name, int)
        if value < 1:
            raise self.fail(name, "must be at least 1")
        return value

    def percent(self, value: object, name: str) -> Fraction:
        number = self.decimal(value, name)
        if not 0 <= number <= 100:
            raise self.fail(name, "a percentage between 0 and 100")
        return number

    def factors(self) -> tuple[Factor, ...]:
        raw = self.data.get("factors")
        if not isinstance(raw, list) or not raw:
            raise self.fail("factors", "missing: at least one [[factors]]")
        factors: list[Factor] = []
        for i, table in enumerate(raw):
            name = f"factors[{i}]"
            key = self.get(table, "key", f"{name}.key", str)
            name = f"factors.{key}"
            corners = self.decimals(table, "ratio_pct", f"{name}.ratio_pct")
            points = tuple(self.get(table, "points", f"{name}.points", list))
            if len(corners) < 2 or len(points) != len(corners):
                raise self.fail(name, "ratio_pct and points: the same length, at least 2")
            if any(a >= b for a, b in itertools.pairwise(corners)):
                raise self.fail(f"{name}.ratio_pct", "must rise strictly")
            if not all(
                isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 100 for p in points
            ):
                raise self.fail(f"{name}.points", "whole points 0..100")
            direction = self.get(table, "direction", f"{name}.direction", str)
            # Monotone points are what makes "a better ratio never lowers the grade" true.
            rising = all(a <= b for a, b in itertools.pairwise(points))
            falling = all(a >= b for a, b in itertools.pairwise(points))
            if direction not in DIRECTIONS:
                raise self.fail(f"{name}.direction", f"one of {', '.join(DIRECTIONS)}")
            if (direction == "higher_is_better" and not rising) or (
                direction == "lower_is_better" and not falling
            ):
                raise self.fail(f"{name}.points", f"must move one way only ({direction})")
            averaging = self.get(table, "averaging", f"{name}.averaging", str)
            if averaging not in AVERAGINGS:
                raise self.fail(f"{name}.averaging", f"one of {', '.join(AVERAGINGS)}")
            figures = []
            for end in ("numerator", "denominator"):
                figure = self.get(table, end, f"{name}.{end}", str)
                if figure not in RATIO_FIGURES:
                    raise self.fail(
                        f"{name}.{end}", f"{figure!r} is not a figure of the financials"
                    )
                figures.append(figure)
            factors.append(
                Factor(
                    key=key,
                    title=self.get(table, "title", f"{name}.title", str),
                    numerator=figures[0],
                    denominator=figures[1],
                    direction=direction,
                    weight_pct=self.positive(table, "weight_pct", f"{name}.weight_pct"),
                    averaging=averaging,
                    ratio_pct=corners,
                    points=points,
                )
            )
        if len({f.key for f in factors}) != len(factors):
            raise self.fail("factors", "keys must be unique")
        if sum(f.weight_pct for f in factors) != 100:
            raise self.fail("factors", "weight_pct must add up to 100")
        return tuple(factors)

    def adjustments(self) -> tuple[AdjustmentRule, ...]:
        rules: list[AdjustmentRule] = []
        for i, table in enumerate(self.data.get("adjustments", [])):
            key = self.get(table, "key", f"adjustments[{i}].key", str)
            low = self.get(table, "notches_min", f"adjustments.{key}.notches_min", int)
            high = self.get(table, "notches_max", f"adjustments.{key}.notches_max", int)
            if not low <= 0 <= high:
                raise self.fail(f"adjustments.{key}", "notches_min <= 0 <= notches_max")
            rules.append(AdjustmentRule(key, low, high))
        if len({r.key for r in rules}) != len(rules):
            raise self.fail("adjustments", "keys must be unique")
        return tuple(rules)

    def pd_by_notch(self, pd: dict[str, Any], floor: Fraction) -> tuple[Fraction, ...]:
        rates = self.get(pd, "category_one_year_pct", "pd.category_one_year_pct", dict)
        default = self.percent(pd.get("default_pct"), "pd.default_pct")
        by_notch: list[Fraction] = []
        for notch in range(1, NOTCH_DEFAULT + 1):
            category = category_of(Grade(notch))
            if category == "D":
                rate = default
            elif category not in rates:
                raise self.fail("pd.category_one_year_pct", f"no rate for {category}")
            else:
                rate = max(
                    floor, self.percent(rates[category], f"pd.category_one_year_pct.{category}")
                )
            # A default study's small cohorts can invert (more defaults in a better
            # category); a PD master scale never may, so carry the worst rate down.
            by_notch.append(max(rate, by_notch[-1]) if by_notch else rate)
        return tuple(by_notch)

    def cap_bands(self, controls: dict[str, Any]) -> tuple[CapBand, ...]:
        bands: list[CapBand] = []
        for i, table in enumerate(
            self.get(controls, "net_debit_cap", "controls.net_debit_cap", list)
        ):
            name = f"controls.net_debit_cap[{i}]"
            multiple = self.decimal(table.get("multiple"), f"{name}.multiple")
            if multiple < 0:
                raise self.fail(f"{name}.multiple", "may not be negative")
            bands.append(
                CapBand(
                    best=Grade.of(self.get(table, "best", f"{name}.best", str)),
                    worst=Grade.of(self.get(table, "worst", f"{name}.worst", str)),
                    multiple=multiple,
                    category=self.get(table, "category", f"{name}.category", str),
                )
            )
        self.cover(bands, "controls.net_debit_cap", NOTCH_DEFAULT)
        if any(a.multiple < b.multiple for a, b in itertools.pairwise(bands)):
            raise self.fail("controls.net_debit_cap", "a worse grade may not get a larger multiple")
        return tuple(bands)

    def haircut_bands(self, haircuts: dict[str, Any], buckets: int) -> tuple[HaircutBand, ...]:
        bands: list[HaircutBand] = []
        for i, table in enumerate(self.get(haircuts, "bands", "haircuts.bands", list)):
            name = f"haircuts.bands[{i}]"
            sovereign = tuple(
                self.percent(v, f"{name}.sovereign_pct[{j}]")
                for j, v in enumerate(
                    self.get(table, "sovereign_pct", f"{name}.sovereign_pct", list)
                )
            )
            other = None
            if "other_pct" in table:
                other = tuple(
                    self.percent(v, f"{name}.other_pct[{j}]")
                    for j, v in enumerate(self.get(table, "other_pct", f"{name}.other_pct", list))
                )
            for cuts, label in ((sovereign, "sovereign_pct"), (other, "other_pct")):
                if cuts is not None and len(cuts) != buckets:
                    raise self.fail(
                        f"{name}.{label}", f"one haircut per maturity bucket ({buckets})"
                    )
                if cuts is not None and list(cuts) != sorted(cuts):
                    raise self.fail(
                        f"{name}.{label}", "a longer maturity may not get a smaller haircut"
                    )
            bands.append(
                HaircutBand(
                    best=Grade.of(self.get(table, "best", f"{name}.best", str)),
                    worst=Grade.of(self.get(table, "worst", f"{name}.worst", str)),
                    sovereign_pct=sovereign,
                    other_pct=other,
                )
            )
        # Haircut bands need not reach D: grades past the last band are not eligible.
        self.cover(bands, "haircuts.bands", bands[-1].worst.notch if bands else 0)
        return tuple(bands)

    def cover(self, bands: list[Any], name: str, last_notch: int) -> None:
        """Bands must run from AAA to ``last_notch`` without gap or overlap."""
        expected = 1
        for band in bands:
            if band.best.notch != expected or band.worst < band.best:
                raise self.fail(
                    name, f"bands must run from AAA without gap or overlap (at {band.best})"
                )
            expected = band.worst.notch + 1
        if expected != last_notch + 1 or not bands:
            raise self.fail(
                name, f"bands must reach {GRADES[last_notch - 1] if last_notch else 'AAA'}"
            )
