"""money.py: exact decimal text <-> int minor units, and nothing else gets through.

Round trips are checked for currencies with 0 (JPY), 2 (EUR, CNY), 3 (BHD) and 4 (CLF)
decimals. Expected values are built by string and int arithmetic only, never by float or
Decimal, so the test cannot share a rounding mistake with the code it checks.
"""

from __future__ import annotations

import ast
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import interbank.money
from interbank.money import AMOUNT_MINOR_MAX, MoneyError, currency, format_amount, parse_amount

EXPONENTS: dict[str, int] = {"JPY": 0, "EUR": 2, "CNY": 2, "BHD": 3, "CLF": 4}
CODES = sorted(EXPONENTS)
MONEY_PROPERTY = settings(max_examples=300, deadline=None)


def _reason(text: object, code: object) -> str:
    with pytest.raises(MoneyError) as refused:
        parse_amount(text, code)  # type: ignore[arg-type]
    return refused.value.reason_code


@pytest.mark.parametrize("code", CODES)
def test_currency_exponents_are_iso_4217(code: str) -> None:
    assert currency(code).exponent == EXPONENTS[code]
    assert currency(code).code == code


@MONEY_PROPERTY
@given(code=st.sampled_from(CODES), amount_minor=st.integers(0, AMOUNT_MINOR_MAX))
def test_format_then_parse_gives_back_every_amount(code: str, amount_minor: int) -> None:
    exponent = EXPONENTS[code]
    text = format_amount(amount_minor, code)
    # The canonical shape: no leading zeros, exactly ``exponent`` decimals.
    shape = r"(0|[1-9][0-9]*)" + (rf"\.[0-9]{{{exponent}}}" if exponent else "")
    assert re.fullmatch(shape, text), text
    parsed = parse_amount(text, code)
    assert type(parsed) is int and parsed == amount_minor


@MONEY_PROPERTY
@given(
    code=st.sampled_from(CODES),
    whole=st.integers(0, 10**15),
    data=st.data(),
)
def test_parse_then_format_gives_back_every_plain_decimal(
    code: str, whole: int, data: st.DataObject
) -> None:
    exponent = EXPONENTS[code]
    fraction = data.draw(st.text("0123456789", min_size=0, max_size=exponent), label="fraction")
    text = str(whole) + (f".{fraction}" if fraction else "")
    # Expected minor units by digit arithmetic: "12.5" EUR is the digits "12" + "50".
    expected = int(str(whole) + fraction.ljust(exponent, "0"))
    if expected > AMOUNT_MINOR_MAX:
        assert _reason(text, code) == "AM02"
        return
    parsed = parse_amount(text, code)
    assert type(parsed) is int and parsed == expected
    padded = fraction.ljust(exponent, "0")
    assert format_amount(parsed, code) == (f"{whole}.{padded}" if exponent else str(whole))


@pytest.mark.parametrize(
    ("amount_minor", "code", "text"),
    [(-150, "EUR", "-1.50"), (-5, "JPY", "-5"), (-1, "BHD", "-0.001"), (0, "BHD", "0.000")],
)
def test_format_writes_signs_and_leading_zeros(amount_minor: int, code: str, text: str) -> None:
    assert format_amount(amount_minor, code) == text


@pytest.mark.parametrize(
    "text",
    [
        "-1",
        "+1",
        "-0",
        "1e3",
        "1E3",
        "1e-2",
        " 1",
        "1 ",
        "1 000",
        "1,000",
        "1,50",
        "1_000",
        "01",
        "00",
        "00.5",
        ".5",
        "5.",
        "1.2.3",
        "",
        "0x10",
        "NaN",
        "inf",
        "Infinity",
        "١٢",
        "１２",
        "½",
        "1.5\t",
        "\n1",
    ],
)
def test_parse_refuses_anything_but_a_plain_non_negative_decimal(text: str) -> None:
    assert _reason(text, "EUR") == "AM12"


def test_parse_refuses_a_trailing_newline() -> None:
    assert _reason("1\n", "EUR") == "AM12"


@pytest.mark.parametrize("value", [5, 1.5, None, b"1", Decimal("1"), ["1"]], ids=repr)
def test_parse_refuses_what_is_not_a_string(value: object) -> None:
    assert _reason(value, "EUR") == "AM12"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1.0", "JPY"),
        ("1.5", "JPY"),
        ("1.005", "CNY"),
        ("1.500", "EUR"),
        ("0.001", "EUR"),
        ("1.0005", "BHD"),
        ("0.00001", "CLF"),
    ],
)
def test_parse_refuses_more_decimals_than_the_currency_has_ch20(text: str, code: str) -> None:
    # Even trailing zeros count: the message states more precision than the currency has.
    assert _reason(text, code) == "CH20"


def test_parse_refuses_overlong_text_before_turning_it_into_an_int() -> None:
    assert _reason("1" * 41, "JPY") == "AM12"  # length, not the value, refuses it
    assert _reason("0." + "0" * 38, "EUR") == "CH20"  # 40 characters: length is fine


def test_parse_refuses_amounts_over_the_network_limit_am02() -> None:
    assert parse_amount(str(AMOUNT_MINOR_MAX), "JPY") == AMOUNT_MINOR_MAX
    assert _reason(str(AMOUNT_MINOR_MAX + 1), "JPY") == "AM02"
    assert _reason("1000000000000000.01", "EUR") == "AM02"


@pytest.mark.parametrize("code", ["ABC", "eur", "XAU", "XDR", "", "EURO", 5, None], ids=repr)
def test_unknown_or_unsettled_currency_is_refused_am03(code: object) -> None:
    with pytest.raises(MoneyError) as refused:
        currency(code)
    assert refused.value.reason_code == "AM03"
    assert _reason("1", code) == "AM03"


@MONEY_PROPERTY
@given(text=st.text("0123456789.-+eE ,_", max_size=24), code=st.sampled_from(CODES))
def test_whatever_parse_accepts_is_a_plain_decimal_within_the_currency_s_precision(
    text: str, code: str
) -> None:
    try:
        parsed = parse_amount(text, code)
    except MoneyError as refused:
        assert refused.reason_code in {"AM12", "CH20", "AM02"}
        return
    exponent = EXPONENTS[code]
    shape = r"(0|[1-9][0-9]*)" + (rf"(\.[0-9]{{1,{exponent}}})?" if exponent else "")
    assert re.fullmatch(shape, text), text
    assert type(parsed) is int and 0 <= parsed <= AMOUNT_MINOR_MAX


def test_large_amounts_stay_exact_where_float_would_round() -> None:
    # 99,999,999,999,999,999 has no exact float; a float on the way would show here.
    assert parse_amount("999999999999999.99", "EUR") == 99_999_999_999_999_999
    assert format_amount(99_999_999_999_999_999, "EUR") == "999999999999999.99"
    assert parse_amount("99999999999999.999", "BHD") == 99_999_999_999_999_999


def test_money_module_never_uses_float() -> None:
    # No float literal, no float(), no true division (whose result is a float).
    source = Path(interbank.money.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    for node in ast.walk(tree):
        where = ast.dump(node)
        assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), where
        assert not (isinstance(node, ast.Name) and node.id == "float"), where
        is_division = isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.Div)
        assert not is_division, where


def test_format_refuses_what_is_not_an_int() -> None:
    for value in (1.5, True, Decimal("1")):
        with pytest.raises(TypeError):
            format_amount(value, "EUR")  # type: ignore[arg-type]
