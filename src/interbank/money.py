"""Money: currencies with their ISO 4217 exponents, amounts as int minor units.

This module owns the only conversion between the decimal strings people write at the
edges ("1234.50") and the integers the engine counts in (123450 minor units of a
two-decimal currency). It never touches float. It imports only the standard library
and the ISO 4217 table (the ``iso4217`` package, read once per currency code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import iso4217

# The largest amount of one payment, in minor units: 10**17 is 10**15 units of a
# two-decimal currency, far above any real interbank payment and far below int64.
AMOUNT_MINOR_MAX: int = 10**17

# Amounts have at most this many integer digits at the edge; anything longer is
# rejected before it is turned into an int (no unbounded parsing of hostile input).
_AMOUNT_TEXT_LENGTH_MAX = 40
_AMOUNT_PATTERN = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_CODE_PATTERN = re.compile(r"[A-Z]{3}")


class MoneyError(ValueError):
    """Bad money input, with the ISO 20022 reason code a rejection should carry."""

    def __init__(self, reason_code: str, text: str) -> None:
        super().__init__(f"{reason_code}: {text}")
        self.reason_code = reason_code
        self.text = text


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency: alphabetic code, numeric code and minor-unit exponent."""

    code: str
    numeric: int
    exponent: int

    def __post_init__(self) -> None:
        assert _CODE_PATTERN.fullmatch(self.code), self.code
        assert 0 <= self.exponent <= 4, self.exponent


@lru_cache(maxsize=512)
def currency(code: str) -> Currency:
    """The currency for an ISO 4217 alphabetic code; AM03 when it is not one.

    Funds (XUA, XDR, ...) and metals without a minor unit are refused: the network
    settles only currencies with a defined exponent.
    """
    if not isinstance(code, str) or not _CODE_PATTERN.fullmatch(code):
        raise MoneyError("AM03", f"{code!r} is not an ISO 4217 currency code")
    try:
        entry = iso4217.Currency(code)
    except ValueError:
        raise MoneyError("AM03", f"{code} is not an ISO 4217 currency code") from None
    exponent = entry.exponent
    if exponent is None:
        raise MoneyError("AM03", f"{code} has no minor unit and is not settled here")
    return Currency(code=code, numeric=int(entry.number), exponent=int(exponent))


def parse_amount(text: str, code: str) -> int:
    """Parse a decimal amount string into int minor units of the currency.

    Accepts plain non-negative decimals ("0.5", "1234.50"); refuses signs, exponents,
    spaces, thousands separators, and more decimals than the currency has (CH20).
    Zero is returned as 0: whether zero is allowed is the engine's rule (AM01).
    """
    cur = currency(code)
    if not isinstance(text, str) or len(text) > _AMOUNT_TEXT_LENGTH_MAX:
        raise MoneyError("AM12", f"amount {text!r} is not a decimal number")
    match = _AMOUNT_PATTERN.fullmatch(text)
    if match is None:
        raise MoneyError("AM12", f"amount {text!r} is not a plain non-negative decimal")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > cur.exponent:
        raise MoneyError(
            "CH20",
            f"amount {text} has {len(fraction)} decimals; {code} allows {cur.exponent}",
        )
    minor: int = int(whole) * 10**cur.exponent + int(fraction.ljust(cur.exponent, "0") or "0")
    if minor > AMOUNT_MINOR_MAX:
        raise MoneyError("AM02", f"amount {text} {code} is over the network's limit")
    return minor


def format_amount(amount_minor: int, code: str) -> str:
    """Format int minor units as the decimal string ISO 20022 expects ("1234.50")."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool):
        raise TypeError(f"amounts are int minor units, not {type(amount_minor).__name__}")
    cur = currency(code)
    sign = "-" if amount_minor < 0 else ""
    magnitude = -amount_minor if amount_minor < 0 else amount_minor
    if cur.exponent == 0:
        return f"{sign}{magnitude}"
    whole, fraction = divmod(magnitude, 10**cur.exponent)
    return f"{sign}{whole}.{fraction:0{cur.exponent}d}"
