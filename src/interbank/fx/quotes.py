"""Quote rates derived from reference rates: what a provider would publish.

A provider quotes below the reference rate by its spread (it pays out fewer units of
the target currency per unit it takes in), and rounds the result down to a number of
significant digits, in its own favour. The result is an exact decimal string the
engine accepts as a quote rate (``parse_rate``).
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from interbank.engine.pvp import RATE_SCALE_MAX, parse_rate
from interbank.fx.reference import decimal_context

SIGNIFICANT_DIGITS_DEFAULT = 8
SPREAD_BP_MAX = 5_000  # half the reference: beyond that it is not a quote but a mistake


def quote_rate_text(
    reference: Decimal, spread_bp: int, significant_digits: int = SIGNIFICANT_DIGITS_DEFAULT
) -> str:
    """``reference * (1 - spread_bp / 10,000)``, rounded down to ``significant_digits``
    (and to at most RATE_SCALE_MAX places after the point)."""
    assert reference > 0 and 0 <= spread_bp <= SPREAD_BP_MAX and 1 <= significant_digits <= 18
    context = decimal_context()
    kept = context.divide(Decimal(10_000 - spread_bp), Decimal(10_000))
    rate = context.multiply(reference, kept)
    places = min(RATE_SCALE_MAX, max(0, significant_digits - rate.adjusted() - 1))
    step = Decimal(1).scaleb(-places, context)
    shown = rate.quantize(step, rounding=decimal.ROUND_DOWN, context=context)
    text = format(shown, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if parse_rate(text) is None:
        raise ValueError(f"reference {reference} less {spread_bp} bp gives no valid rate")
    return text
