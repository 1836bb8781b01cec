"""The pool's arithmetic: pure functions over the rulebook, exact to the minor unit.

Rounding rules, written once here and in docs/reserve-pool.md:

- every amount is computed exactly (``Fraction``) and rounded once, at the end, to the
  minor unit, half away from zero (``round_half_up``);
- a drawing is split among providers by the largest-remainder method, so the parts sum
  to the drawing exactly; a tie in remainders goes to the member listed first;
- access figures are ceilings and are rounded down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from interbank.money import currency
from interbank.reserve.rulebook import Rulebook

# A spot rate or reference rate is written with at most this many decimals and is below
# RATE_MAX: enough for any real quote, small enough that a typo is caught.
RATE_DECIMALS_MAX = 12
RATE_MAX = Decimal(10) ** 9


class ReserveError(ValueError):
    """A request, vote or step the pool refuses; nothing was recorded and nothing moved.

    ``reason_code`` is the ISO 20022 reason a rejection carries (AM02 over a limit,
    AG01 not allowed, DUPL done already, AM03 currency, FF01 bad format, NARR other).
    """

    def __init__(self, reason_code: str, text: str) -> None:
        super().__init__(f"{reason_code}: {text}")
        self.reason_code = reason_code
        self.text = text


def round_half_up(value: Fraction) -> int:
    """Round to the nearest integer, halves away from zero."""
    magnitude = abs(value) + Fraction(1, 2)
    rounded = magnitude.numerator // magnitude.denominator
    return rounded if value >= 0 else -rounded


def parse_rate(text: str, what: str) -> Decimal:
    """A positive exact decimal rate ("18.2512"); ReserveError FF01 otherwise."""
    if not isinstance(text, str) or not text or len(text) > 40:
        raise ReserveError("FF01", f"{what} {text!r} is not a decimal number")
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise ReserveError("FF01", f"{what} {text!r} is not a decimal number") from None
    if not rate.is_finite() or "e" in text.lower() or text.strip() != text:
        raise ReserveError("FF01", f"{what} {text!r} is not a plain decimal number")
    exponent = rate.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > RATE_DECIMALS_MAX:
        raise ReserveError("FF01", f"{what} {text} has more than {RATE_DECIMALS_MAX} decimals")
    if rate < 0 or rate >= RATE_MAX:
        raise ReserveError("FF01", f"{what} {text} is out of range")
    return rate


def split_pro_rata(total_minor: int, weights: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """Split ``total_minor`` in proportion to the weights, parts summing to it exactly."""
    assert total_minor >= 0 and weights and all(w > 0 for _, w in weights)
    weight_total = sum(w for _, w in weights)
    shares = [Fraction(total_minor * w, weight_total) for _, w in weights]
    floors = [s.numerator // s.denominator for s in shares]
    left = total_minor - sum(floors)
    # Largest remainder first; among equal remainders the earlier member (stable sort).
    order = sorted(range(len(weights)), key=lambda n: -(shares[n] - floors[n]))
    for n in order[:left]:
        floors[n] += 1
    return [(code, floors[n]) for n, (code, _) in enumerate(weights)]


def convert_minor(amount_minor: int, from_code: str, to_code: str, rate: Decimal) -> int:
    """``amount_minor`` of ``from_code`` in ``to_code`` at ``rate`` (to units per from unit)."""
    shift = currency(to_code).exponent - currency(from_code).exponent
    return round_half_up(Fraction(amount_minor) * Fraction(rate) * Fraction(10) ** shift)


def interest_minor(
    principal_minor: int, rate_percent: Fraction, start: date, end: date, basis_days: int
) -> int:
    """Simple interest on the actual days from start to end over a fixed year basis."""
    days = (end - start).days
    assert days >= 0, (start, end)
    return round_half_up(
        Fraction(principal_minor) * rate_percent / 100 * Fraction(days, basis_days)
    )


@dataclass(frozen=True, slots=True)
class Tally:
    eligible: tuple[str, ...]
    eligible_percent: Fraction
    yes_percent: Fraction
    no_percent: Fraction
    needed_percent: Fraction  # approval needs yes strictly above this
    outcome: str | None  # "approved", "rejected" or None while undecided


def voters(rulebook: Rulebook, requester: str) -> tuple[str, ...]:
    if rulebook.voters == "providers":
        return tuple(code for code in rulebook.codes() if code != requester)
    return rulebook.codes()


def tally(rulebook: Rulebook, requester: str, votes: Sequence[tuple[str, bool]]) -> Tally:
    """Weighted votes so far; decided as soon as the outcome can no longer change."""
    eligible = voters(rulebook, requester)
    weights = dict(rulebook.weights_percent)
    total = sum((weights[code] for code in eligible), Fraction(0))
    yes = sum((weights[code] for code, approve in votes if approve), Fraction(0))
    no = sum((weights[code] for code, approve in votes if not approve), Fraction(0))
    needed = total * Fraction(rulebook.approval_share_percent) / 100
    outcome = None
    if yes > needed:
        outcome = "approved"
    elif total - no <= needed:  # even every vote still out could not pass it
        outcome = "rejected"
    return Tally(eligible, total, yes, no, needed, outcome)


def percent_text(value: Fraction) -> str:
    """A percentage for people, to two decimals (rounded half up)."""
    hundredths = round_half_up(value * 100)
    return f"{hundredths // 100}.{hundredths % 100:02d}"
