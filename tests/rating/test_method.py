"""Method v1 by hand: factor points, the score, grade bounds, PDs, haircuts and caps.

Figures taken from ../shared/reference/credit-reserve-lending.md are used only where
that file tags them V, S or D; each test says which table it comes from.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from interbank.rating import GRADES, Grade, load_method, score_bank
from interbank.rating.controls import CollateralItem, CollateralPool, controls_for, haircut_pct
from interbank.rating.method import MethodError, load_method_file, method_versions, parse_method
from interbank.rating.scorecard import AdjustmentError, Adjustments

from .conftest import report

METHOD = load_method("1")
V1_TEXT = (Path(__file__).resolve().parents[2] / "src/interbank/rating/methods/v1.toml").read_text()


def test_scale_has_21_notches_and_d() -> None:
    assert len(GRADES) == 22 and GRADES[0] == "AAA" and GRADES[20] == "C" and GRADES[21] == "D"
    assert Grade.of("BBB−") == Grade.of("bbb-") == Grade(10)
    assert Grade.of("A").moved(+1) == Grade.of("A+") and Grade.of("AAA").moved(5) == Grade.of("AAA")
    assert Grade.of("C").moved(-3) == Grade.of("C")  # the scorecard never gives D


def test_shipped_versions() -> None:
    assert "1" in method_versions()
    with pytest.raises(MethodError):
        load_method("99")


def test_hand_computed_corner_bank() -> None:
    """Every ratio on a corner: 0.30*70 + 0.25*85 + 0.15*75 + 0.15*75 + 0.15*60."""
    card = score_bank(METHOD, [report()])
    assert [(f.key, f.points) for f in card.factors] == [
        ("capital", 70), ("asset_risk", 85), ("profitability", 75),
        ("funding_structure", 75), ("liquid_resources", 60),
    ]  # fmt: skip
    assert [f.contribution for f in card.factors] == [
        21,
        Fraction(85, 4),
        Fraction(45, 4),
        Fraction(45, 4),
        9,
    ]
    assert card.score == Fraction("73.75")
    assert card.anchor_grade == card.grade == Grade.of("A-")  # A- from 70, A from 74
    assert card.outlook == "stable" and not card.watch


def test_hand_computed_interpolated_bank() -> None:
    """Ratios between corners: capital 10% lies half way from 8% (40) to 12% (70): 55;
    problem loans 3%: half way from 2% (85) to 4% (60): 72.5; liquid assets 25%: half
    way from 20% (60) to 30% (85): 72.5. Score = 0.30*55 + 0.25*72.5 + 0.15*75 +
    0.15*75 + 0.15*72.5 = 16.5 + 18.125 + 11.25 + 11.25 + 10.875 = 68.0: BBB+."""
    card = score_bank(
        METHOD,
        [report(tangible_common_equity="1000.00", problem_loans="150.00", liquid_assets="2500.00")],
    )
    assert [f.points for f in card.factors] == [55, Fraction("72.5"), 75, 75, Fraction("72.5")]
    assert card.score == 68
    assert card.grade == Grade.of("BBB+")


def test_weaker_of_latest_and_mean() -> None:
    """Asset risk: 2% then 4% problem loans: latest 4% (60 points), mean 3% (72.5);
    the latest is weaker and is used. Reversed (4% then 2%): the mean 3% is used."""
    worsening = score_bank(
        METHOD, [report(reporting_date="2024-12-31"), report(problem_loans="200.00")]
    )
    asset = worsening.factors[1]
    assert (asset.ratio_latest_pct, asset.ratio_mean_pct, asset.ratio_used_pct) == (4, 3, 4)
    assert asset.points == 60
    improving = score_bank(
        METHOD, [report(reporting_date="2024-12-31", problem_loans="200.00"), report()]
    )
    asset = improving.factors[1]
    assert (asset.ratio_used_pct, asset.points) == (3, Fraction("72.5"))


def test_outlook_and_watch_from_the_previous_report() -> None:
    """Problem loans 2% -> 4%: the score falls by 0.25*(85-60) = 6.25 points: negative
    outlook (<= -4), no watch (|change| < 8). Then to 8% (30 points, mean 4.67%):
    a fall of 0.25*(85-30) = 13.75 from the first: watch."""
    before = report(reporting_date="2024-12-31")
    card = score_bank(METHOD, [before, report(problem_loans="200.00")])
    assert card.previous_score == Fraction("73.75") and card.score == Fraction("67.5")
    assert card.outlook == "negative" and not card.watch
    card = score_bank(METHOD, [before, report(problem_loans="400.00")])
    assert card.score == Fraction("60") and card.watch
    assert card.watch_reasons == ("score moved -13.75 since the previous report",)


def test_watch_on_thin_capital_and_camels_worsening() -> None:
    thin = score_bank(METHOD, [report(tangible_common_equity="500.00")])  # 5% < 6%
    assert thin.watch and "capital ratio 5.00% is below 6.00%" in thin.watch_reasons
    camels = score_bank(
        METHOD,
        [report(reporting_date="2024-12-31", camels_composite=1), report(camels_composite=3)],
    )
    assert "CAMELS composite worsened from 1 to 3" in camels.watch_reasons


@pytest.mark.parametrize("notch", range(1, 21))
def test_grade_boundaries(notch: int) -> None:
    """A score on a grade's lower bound gets that grade; the smallest step below it,
    the next grade down."""
    bound = METHOD.score_lower_bounds[notch - 1]
    assert METHOD.grade_of_score(bound) == Grade(notch)
    assert METHOD.grade_of_score(bound - Fraction(1, 10**9)) == Grade(notch + 1)


def test_boundary_through_the_scorecard() -> None:
    """Liquid assets of 16% give 0.15 * 48 = 7.2 instead of 9 points: 73.75 - 1.8 =
    71.95, still A- (bound 70). At 10% (30 points): 73.75 - 4.5 = 69.25, BBB+."""
    assert score_bank(METHOD, [report(liquid_assets="1600.00")]).grade == Grade.of("A-")
    card = score_bank(METHOD, [report(liquid_assets="1000.00")])
    assert card.score == Fraction("69.25") and card.grade == Grade.of("BBB+")


def test_notching_camels_sovereign_and_default() -> None:
    card = score_bank(
        METHOD,
        [report(camels_composite=4, sovereign_grade="BBB")],
        Adjustments.of({"external_support": 2, "risk_concentration": -1}),
    )
    # A- +2 -1 = A; CAMELS 4: -3 = BBB; the sovereign's BBB is no ceiling to BBB.
    assert [s.grade.letters for s in card.steps] == ["A+", "A", "BBB"]
    assert card.grade == Grade.of("BBB")
    ceiling = score_bank(METHOD, [report(sovereign_grade="BBB-")])
    assert ceiling.grade == Grade.of("BBB-") and ceiling.steps[-1].label == "sovereign ceiling BBB-"
    defaulted = score_bank(METHOD, [report(in_default=True)])
    assert defaulted.grade == Grade.of("D") and defaulted.pd_pct == 100


def test_adjustments_outside_the_method_are_refused() -> None:
    with pytest.raises(AdjustmentError, match="allows"):
        score_bank(METHOD, [report()], Adjustments.of({"external_support": 3}))
    with pytest.raises(AdjustmentError, match="no qualitative adjustment"):
        score_bank(METHOD, [report()], Adjustments.of({"charm": 1}))
    with pytest.raises(AdjustmentError, match="add up"):
        score_bank(
            METHOD, [report()],
            Adjustments.of({"management_and_governance": -2, "risk_concentration": -2}),
        )  # fmt: skip


def test_pd_per_grade_from_the_sp_one_year_column() -> None:
    """S&P 2024 study, Table 24, one-year column [S]: AA 0.02, A 0.05, BBB 0.14,
    BB 0.56, B 2.93, CCC/C 26.12; AAA's 0.00 and AA's 0.02 are lifted to the 0.05%
    floor [S] (a [D] step). Every notch of a category shares its rate."""
    pd = {g: METHOD.pd_pct(Grade.of(g)) for g in GRADES}
    assert pd["AAA"] == pd["AA+"] == pd["AA-"] == pd["A"] == Fraction("0.05")
    assert pd["BBB+"] == pd["BBB-"] == Fraction("0.14")
    assert pd["BB"] == Fraction("0.56") and pd["B-"] == Fraction("2.93")
    assert pd["CCC+"] == pd["C"] == Fraction("26.12") and pd["D"] == 100
    assert list(METHOD.pd_pct_by_notch) == sorted(METHOD.pd_pct_by_notch)


def test_credit_quality_steps() -> None:
    """EU 2016/1799 Annex I [V], typical S&P grades [S]."""
    steps = {
        g: METHOD.cqs(Grade.of(g))
        for g in ("AAA", "AA-", "A+", "A-", "BBB", "BB+", "B-", "CCC+", "C", "D")
    }
    assert steps == {
        "AAA": 1,
        "AA-": 1,
        "A+": 2,
        "A-": 2,
        "BBB": 3,
        "BB+": 4,
        "B-": 5,
        "CCC+": 6,
        "C": 6,
        "D": None,
    }


def _item(kind: str, grade: str | None, days: int, value_minor: int = 100_000) -> CollateralItem:
    return CollateralItem("x", kind, None if grade is None else Grade.of(grade), days, value_minor)


def test_haircuts_basel_ii_table() -> None:
    """Basel II comprehensive approach haircuts [V] (CBB CA-4.3.7 = Basel II para 151)."""
    assert haircut_pct(METHOD, _item("sovereign", "AA", 200)) == Fraction("0.5")
    assert haircut_pct(METHOD, _item("sovereign", "AA", 4 * 365)) == 2  # the [D] worked test's H_c
    assert haircut_pct(METHOD, _item("other", "AAA", 6 * 365)) == 8
    assert haircut_pct(METHOD, _item("sovereign", "BBB-", 365)) == 1
    assert haircut_pct(METHOD, _item("other", "A+", 1826)) == 12
    assert haircut_pct(METHOD, _item("sovereign", "BB", 30)) == 15
    assert haircut_pct(METHOD, _item("other", "BB", 30)) is None  # not eligible
    assert haircut_pct(METHOD, _item("sovereign", "B+", 30)) is None
    assert haircut_pct(METHOD, _item("cash", None, 0)) == 0


def test_credit_line_is_collateral_after_haircuts_capped_by_net_debit_cap() -> None:
    """Fed PSR cap multiples [V]: High 2.25, Above average 1.875, De minimis 0.40.
    The [D] worked test: capital 1 bn, above average -> 1.875 bn; de minimis -> 400 m."""
    pool = CollateralPool("YRCBCNSH", 10, "CNY", (
        _item("sovereign", "AA", 200, 1_000_000_000_00),  # 0.5% -> 995,000,000.00
        _item("other", "BB", 30, 5_000_000_00),  # not eligible
    ))  # fmt: skip
    capital = 1_000_000_000_00  # one billion, in minor units
    high = controls_for(METHOD, Grade.of("AA"), capital, "CNY", pool)
    assert high.collateral_after_haircuts_minor == 995_000_000_00
    assert high.net_debit_cap_minor == 2_250_000_000_00
    assert high.credit_line_minor == 995_000_000_00  # collateral binds
    above = controls_for(METHOD, Grade.of("A"), capital, "CNY", pool)
    assert above.net_debit_cap_minor == 1_875_000_000_00
    de_minimis = controls_for(METHOD, Grade.of("BB-"), capital, "CNY", pool)
    assert de_minimis.net_debit_cap_minor == 400_000_000_00
    assert de_minimis.credit_line_minor == 400_000_000_00  # the cap binds
    zero = controls_for(METHOD, Grade.of("B"), capital, "CNY", pool)
    assert zero.net_debit_cap_minor == 0 and zero.credit_line_minor == 0
    assert not de_minimis.credit_suspended  # BB- is the last grade with credit
    suspended = controls_for(METHOD, Grade.of("B+"), capital, "CNY", pool)
    assert suspended.credit_suspended and not suspended.participant_suspended
    defaulted = controls_for(METHOD, Grade.of("D"), capital, "CNY", pool)
    assert defaulted.participant_suspended and defaulted.credit_line_minor == 0
    foreign = controls_for(METHOD, Grade.of("AA"), capital, "USD", pool)
    assert foreign.net_debit_cap_minor is None and foreign.credit_line_minor == 995_000_000_00


def test_haircut_rounds_down_in_the_networks_favour() -> None:
    pool = CollateralPool("YRCBCNSH", 10, "CNY", (_item("sovereign", "AA", 10, 199),))
    # 199 * 0.995 = 198.005 -> 198 minor units
    assert controls_for(METHOD, Grade.of("AA"), 10**9, "CNY", pool).credit_line_minor == 198


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("weight_pct = 30", "weight_pct = 31", "add up to 100"),
        ("points = [0, 40, 70, 90, 100]", "points = [0, 40, 30, 90, 100]", "one way only"),
        (
            'ratio_pct = ["4", "8", "12", "16", "20"]',
            "ratio_pct = [4, 8, 12, 16, 20]",
            "decimal written as a string",
        ),
        ('"95", "90"', '"90", "95"', "fall strictly"),
        ('multiple = "0.40"', 'multiple = "3"', "larger multiple"),
        ('direction = "higher_is_better"', 'direction = "up"', "one of"),
        ('numerator = "problem_loans"', 'numerator = "goodwill"', "not a figure"),
    ],
)
def test_bad_method_files_are_refused_by_key(old: str, new: str, message: str) -> None:
    assert old in V1_TEXT
    with pytest.raises(MethodError, match=message):
        parse_method(V1_TEXT.replace(old, new, 1), "draft.toml")


def test_method_file_from_disk(tmp_path: Path) -> None:
    draft = tmp_path / "v2.toml"
    draft.write_text(V1_TEXT.replace('version = "1"', 'version = "2"'))
    assert load_method_file(draft).version == "2"
    draft.write_text("not = [toml")
    with pytest.raises(MethodError, match="not TOML"):
        load_method_file(draft)


def test_the_published_grade_table_is_the_method_file() -> None:
    """docs/rating-method.md's grade table says what methods/v1.toml does."""
    from interbank.rating.scorecard import decimal_text

    doc = (Path(__file__).resolve().parents[2] / "docs/rating-method.md").read_text()
    for notch, letters in enumerate(GRADES, start=1):
        grade = Grade(notch)
        row = re.search(
            rf"^\| {re.escape(letters)} \| {notch} \| ([^|]+)\| ([^|]+)\| ([^|]+)\| ([^|]+)\|",
            doc,
            re.M,
        )
        assert row is not None, letters
        bound, pd, cqs, multiple = (cell.strip() for cell in row.groups())
        if notch <= 21:
            assert Fraction(bound) == METHOD.score_lower_bounds[notch - 1], letters
        assert Fraction(pd) == METHOD.pd_pct(grade), letters
        assert cqs == str(METHOD.cqs(grade) or "—"), letters
        assert Fraction(multiple) == METHOD.cap_band(grade).multiple, letters
    for factor in METHOD.factors:
        assert f"| `{factor.key}` |" in doc and f"| {factor.weight_pct} |" in doc
    assert decimal_text(METHOD.pd_floor_pct) == "0.05" and "Table 24" in doc
