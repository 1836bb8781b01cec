"""Reference rates: the sample file loads, every bad line is named with its reason code."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from interbank.fx import (
    ReferenceRatesError,
    load_reference_rates,
    parse_csv,
    parse_json,
    quote_rate_text,
)
from interbank.fx.reference import FILE_BYTES_MAX

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "reference-rates.csv"
HEADER = "date,pair,rate\n"


def _problems(text: str, *, as_json: bool = False) -> list[tuple[int, str | None, str]]:
    with pytest.raises(ReferenceRatesError) as caught:
        parse_json(text) if as_json else parse_csv(text)
    return [(p.line, p.field, p.reason_code) for p in caught.value.problems]


def test_the_sample_file_loads_and_says_its_figures_are_made_up() -> None:
    text = SAMPLE.read_text()
    assert "MADE-UP" in text.splitlines()[1]
    rates = load_reference_rates(SAMPLE)
    assert rates.dates == [dt.date(2026, 11, 25), dt.date(2026, 11, 26), dt.date(2026, 11, 27)]
    codes = {c for r in rates.rates for c in (r.base, r.quote)}
    assert {"CNY", "RUB", "INR", "BRL", "ZAR", "USD", "JPY", "BHD"} <= codes


def test_published_inverse_and_cross_lookups() -> None:
    rates = parse_csv(HEADER + "2026-01-02,USD/CNY,7.25\n2026-01-02,USD/RUB,100\n")
    published = rates.lookup("USD", "CNY")
    assert published is not None and published.rate == Decimal("7.25") and published.exact
    inverse = rates.lookup("CNY", "USD")
    assert inverse is not None and inverse.how == "inverse"
    # 1 / 7.25 = 0.137931034482758620689655172413793... (34 significant digits kept)
    assert inverse.rate == Decimal("0.1379310344827586206896551724137931")
    cross = rates.lookup("RUB", "CNY")
    assert cross is not None and cross.how == "cross via USD"
    assert cross.rate == Decimal("0.07250000000000000000000000000000000")  # 7.25 / 100
    assert rates.lookup("CNY", "CNY") is None
    assert rates.lookup("CNY", "JPY") is None


def test_the_latest_date_on_or_before_the_one_asked() -> None:
    rates = parse_csv(HEADER + "2026-01-02,USD/CNY,7.1\n2026-01-05,USD/CNY,7.2\n")
    assert rates.lookup("USD", "CNY", dt.date(2026, 1, 4)).rate == Decimal("7.1")  # type: ignore[union-attr]
    assert rates.lookup("USD", "CNY", dt.date(2026, 1, 5)).rate == Decimal("7.2")  # type: ignore[union-attr]
    assert rates.lookup("USD", "CNY", dt.date(2030, 1, 1)).rate == Decimal("7.2")  # type: ignore[union-attr]
    assert rates.lookup("USD", "CNY", dt.date(2026, 1, 1)) is None
    assert rates.lookup("USD", "CNY").date == dt.date(2026, 1, 5)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        ("2026-13-01,USD/CNY,7.1", "date", "DT01"),
        ("20260101,USD/CNY,7.1", "date", "DT01"),
        ("2026-1-01,USD/CNY,7.1", "date", "DT01"),
        ("2026-01-02,USD/XXX,7.1", "pair", "AM03"),
        ("2026-01-02,USD/XAU,7.1", "pair", "AM03"),
        ("2026-01-02,USDCNY,7.1", "pair", "FF01"),
        ("2026-01-02,usd/cny,7.1", "pair", "FF01"),
        ("2026-01-02,USD/USD,1", "pair", "FF01"),
        ("2026-01-02,USD/CNY,0", "rate", "FF01"),
        ("2026-01-02,USD/CNY,0.000", "rate", "FF01"),
        ("2026-01-02,USD/CNY,-7.1", "rate", "FF01"),
        ("2026-01-02,USD/CNY,7.1e0", "rate", "FF01"),
        ("2026-01-02,USD/CNY, 7.1", "rate", "FF01"),
        ("2026-01-02,USD/CNY,7,1", None, "FF01"),
        ("2026-01-02,USD/CNY,7.1234567890123", "rate", "FF01"),  # 13 places
        ("2026-01-02,USD/CNY,1234567890123456789", "rate", "FF01"),  # 19 digits
        ("2026-01-02,USD/CNY,", "rate", "FF01"),
    ],
)
def test_each_bad_csv_line_names_its_field_and_reason(
    line: str, field: str | None, reason: str
) -> None:
    assert _problems(HEADER + "2026-01-02,USD/RUB,99\n" + line + "\n") == [(3, field, reason)]


def test_every_problem_is_reported_at_once() -> None:
    text = HEADER + "2026-01-02,USD/CNY,0\n2026-01-99,USD/RUB,99\n2026-01-02,USD/ZZZ,1\n"
    assert _problems(text) == [(2, "rate", "FF01"), (3, "date", "DT01"), (4, "pair", "AM03")]


def test_a_pair_twice_or_with_its_inverse_on_one_date_is_dupl() -> None:
    assert _problems(HEADER + "2026-01-02,USD/CNY,7.1\n2026-01-02,USD/CNY,7.2\n") == [
        (3, "pair", "DUPL")
    ]
    assert _problems(HEADER + "2026-01-02,USD/CNY,7.1\n2026-01-02,CNY/USD,0.14\n") == [
        (3, "pair", "DUPL")
    ]
    parse_csv(HEADER + "2026-01-02,USD/CNY,7.1\n2026-01-03,USD/CNY,7.2\n")  # other date: fine


def test_header_comments_and_empty_files() -> None:
    assert _problems("pair,date,rate\n2026-01-02,USD/CNY,7.1\n") == [(1, None, "FF01")]
    assert _problems("# only a comment\n") == [(0, None, "FF01")]
    assert _problems(HEADER) == [(0, None, "FF01")]
    rates = parse_csv("\ufeff# note\n\n" + HEADER + "# another\n2026-01-02,USD/CNY,7.1\r\n")
    assert len(rates.rates) == 1 and rates.rates[0].rate_text == "7.1"


def test_json_form_and_its_strictness() -> None:
    good = [{"date": "2026-01-02", "pair": "USD/CNY", "rate": "7.1830"}]
    rates = parse_json(json.dumps(good))
    assert rates.rates[0].rate == Decimal("7.1830")
    # A JSON number has been through binary float in most producers: refused.
    assert _problems('[{"date": "2026-01-02", "pair": "USD/CNY", "rate": 7.1}]', as_json=True) == [
        (0, None, "FF01")
    ]
    assert _problems('[{"date": "2026-01-02", "pair": "USD/CNY", "rate": 7}]', as_json=True)
    assert _problems('{"rates": []}', as_json=True) == [(0, None, "FF01")]
    assert _problems("[]", as_json=True) == [(0, None, "FF01")]
    assert _problems("[1]", as_json=True) == [(0, None, "FF01")]  # a number, refused whole
    assert _problems('["x"]', as_json=True) == [(1, None, "FF01")]
    assert _problems('[{"date": "2026-01-02", "pair": "USD/CNY"}]', as_json=True) == [
        (1, "rate", "FF01")
    ]
    extra = '[{"date": "2026-01-02", "pair": "USD/CNY", "rate": "7", "note": "x"}]'
    assert _problems(extra, as_json=True) == [(1, "note", "FF01")]
    twice = '[{"date": "2026-01-02", "pair": "USD/CNY", "rate": "7", "rate": "8"}]'
    assert _problems(twice, as_json=True) == [(0, "rate", "FF01")]
    assert _problems('[{"date": "2026-01-02", "pair": "USD/CNY", "rate": NaN}]', as_json=True)
    assert _problems("[{", as_json=True) == [(0, None, "FF01")]
    bad_rate = '[{"date": "2026-01-02", "pair": "USD/CNY", "rate": "0"}]'
    assert _problems(bad_rate, as_json=True) == [(1, "rate", "FF01")]


def test_files_by_suffix_size_and_encoding(tmp_path: Path) -> None:
    data = tmp_path / "rates.json"
    data.write_text('[{"date": "2026-01-02", "pair": "USD/CNY", "rate": "7.18"}]')
    assert load_reference_rates(data).rates[0].pair == "USD/CNY"
    for name, content in (
        ("rates.txt", HEADER.encode()),
        ("big.csv", b"#" * (FILE_BYTES_MAX + 1)),
        ("latin.csv", HEADER.encode() + "2026-01-02,USD/CNY,7\xe9\n".encode("latin-1")),
    ):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ReferenceRatesError) as caught:
            load_reference_rates(path)
        assert caught.value.reason_code == "FF01"


def test_quote_rates_derived_from_a_reference_round_down_in_the_providers_favour() -> None:
    # 7.1875 * (1 - 25/10,000) = 7.16953125 -> 8 significant digits, rounded down: 7.1695312
    assert quote_rate_text(Decimal("7.1875"), 25) == "7.1695312"
    # 1 / 13.83 = 0.0723065798987... ; less 10 bp = 0.07223427...: 8 significant digits
    one_over = Decimal(1) / Decimal("13.83")
    assert quote_rate_text(one_over, 10) == "0.072234273"
    assert quote_rate_text(Decimal("154.10"), 0) == "154.1"
    assert quote_rate_text(Decimal("100"), 0, significant_digits=2) == "100"
