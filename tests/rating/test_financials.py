"""Loading financials: JSON and CSV, and every problem named by bank, date and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interbank.rating import FinancialsError, load_financials, parse_financials_csv, score_bank
from interbank.rating.financials import AMOUNT_FIELDS, parse_financials_json
from interbank.rating.method import load_method

from .conftest import BIC, CORNER_BANK

HEADER = ",".join(CORNER_BANK)


def problems_of(text: str) -> list[str]:
    with pytest.raises(FinancialsError) as caught:
        parse_financials_json(text)
    return [str(p) for p in caught.value.problems]


def test_json_amounts_become_minor_units_exactly() -> None:
    (report,) = parse_financials_json(json.dumps({**CORNER_BANK, "net_income": "-12.34"}))
    assert report.tangible_common_equity_minor == 120_000
    assert report.net_income_minor == -1234
    assert report.reporting_date.isoformat() == "2025-12-31"
    # A JSON number is read as its text, never as a binary float.
    (same,) = parse_financials_json(json.dumps(CORNER_BANK).replace('"1200.00"', "1200.10"))
    assert same.tangible_common_equity_minor == 120_010


def test_csv_matches_json(tmp_path: Path) -> None:
    values = ",".join(str(v) for v in CORNER_BANK.values())
    path = tmp_path / "banks.csv"
    path.write_text(f"{HEADER},camels_composite\n{values},2\n")
    (from_csv,) = load_financials(path)
    (from_json,) = parse_financials_json(json.dumps({**CORNER_BANK, "camels_composite": 2}))
    assert from_csv == from_json
    assert from_csv.camels.composite == 2 and from_csv.camels.capital is None


def test_every_problem_names_bank_date_and_field() -> None:
    bad = {
        **CORNER_BANK,
        "problem_loans": "-5",
        "liquid_assets": "12.345",
        "camels_composite": 7,
        "sovereign_grade": "AAAA",
        "colour": "blue",
    }
    del bad["market_funds"]
    assert problems_of(json.dumps(bad)) == [
        f"bank {BIC}, 2025-12-31, field colour: unknown field (a typo?)",
        f"bank {BIC}, 2025-12-31, field market_funds: missing",
        f"bank {BIC}, 2025-12-31, field problem_loans: -5 is negative; only net_income may be",
        f"bank {BIC}, 2025-12-31, field liquid_assets: amount 12.345 has 3 decimals; CNY allows 2",
        f"bank {BIC}, 2025-12-31, field camels_composite: '7' is not a CAMELS score 1..5",
        f"bank {BIC}, 2025-12-31, field sovereign_grade: "
        "'AAAA' is not a grade (AAA, AA+, ..., C, D)",
    ]


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"reporting_date": "2025-02-30"}, "reporting_date", "is not a date"),
        ({"currency": "XYZ"}, "currency", "not an ISO 4217 currency"),
        ({"bic": "NOT A BIC"}, "bic", "is not a BIC"),
        ({"gross_loans": "0", "problem_loans": "0"}, "gross_loans", "is zero"),
        ({"problem_loans": "6000.00"}, "problem_loans", "larger than gross_loans"),
        ({"net_income": "1e3"}, "net_income", "not a plain non-negative decimal"),
        ({"in_default": "maybe"}, "in_default", "not true or false"),
    ],
)
def test_single_field_problems(changes: dict[str, str], field: str, text: str) -> None:
    (problem,) = problems_of(json.dumps({**CORNER_BANK, **changes}))
    assert f"field {field}: " in problem and text in problem


def test_missing_date_and_bank_still_say_where() -> None:
    record = {k: v for k, v in CORNER_BANK.items() if k not in ("bic", "reporting_date")}
    found = problems_of(json.dumps([record]))
    assert found[:2] == [
        "bank ?, ?, field bic: missing",
        "bank ?, ?, field reporting_date: missing",
    ]


def test_empty_csv_cells_are_missing_values() -> None:
    values = [str(v) for v in CORNER_BANK.values()]
    values[list(CORNER_BANK).index("liquid_assets")] = ""
    with pytest.raises(FinancialsError) as caught:
        parse_financials_csv(f"{HEADER}\n{','.join(values)}\n", "banks.csv")
    assert str(caught.value) == f"banks.csv: bank {BIC}, 2025-12-31, field liquid_assets: missing"


def test_a_report_given_twice_is_refused() -> None:
    found = problems_of(json.dumps([CORNER_BANK, CORNER_BANK]))
    assert found == [f"bank {BIC}, 2025-12-31, field reporting_date: given twice"]


def test_nothing_of_a_bad_file_is_used(tmp_path: Path) -> None:
    good = dict(CORNER_BANK, bic="PDBKCNGZ")
    bad = dict(CORNER_BANK, gross_loans="")
    path = tmp_path / "two.json"
    path.write_text(json.dumps([good, bad]))
    with pytest.raises(FinancialsError, match="gross_loans: missing"):
        load_financials(path)


def test_not_json_and_wrong_suffix(tmp_path: Path) -> None:
    assert problems_of("{not json")[0].startswith("bank ?, ?, field (file): not JSON")
    path = tmp_path / "banks.xlsx"
    path.write_text("")
    with pytest.raises(FinancialsError, match=r"name a \.json or a \.csv file"):
        load_financials(path)


def test_missing_history_and_camels_are_noted_not_fatal() -> None:
    """Optional data missing: the method uses what there is and says so."""
    (report,) = parse_financials_json(json.dumps(CORNER_BANK))
    card = score_bank(load_method("1"), [report])
    assert card.notes == (
        "1 of 3 reports: averaged factors use what there is",
        "no CAMELS composite: no supervisory overlay",
    )
    assert card.factors[1].reports_used == 1


def test_every_amount_field_is_required() -> None:
    for field in AMOUNT_FIELDS:
        record = {k: v for k, v in CORNER_BANK.items() if k != field}
        assert problems_of(json.dumps(record)) == [
            f"bank {BIC}, 2025-12-31, field {field}: missing"
        ]
