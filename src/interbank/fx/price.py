"""The price of a cross-currency payment as a sender sees it before committing.

gpi-style transparency: the amount that leaves the sender, every conversion with its
rate and fee, the amount the creditor receives, the all-in rate (fees and rounding
included), and how far that is from the central bank's reference rate. Built from the
engine's ``PriceView`` (the route it would take now) and the quote book; the figures
are recomputed here with the engine's own ``convert_minor`` and must agree with it.

Rates and deviations are ``Decimal`` built from integers and exact decimal strings;
nothing here is ever a float. Shown figures are rounded half even, for display only:
the money that moves is always the engine's integer minor units.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from interbank.engine.pvp import PriceView, convert_minor
from interbank.fx.book import QuoteView
from interbank.fx.reference import (
    EXACT_PRODUCT_DIGITS,
    RateLookup,
    ReferenceRates,
    decimal_context,
)
from interbank.money import currency, format_amount

# Display precision: rates with this many significant digits, deviations to 1/100 bp.
RATE_SHOWN_DIGITS = 10
BASIS_POINTS_SHOWN = Decimal("0.01")
_BASIS_POINTS_PER_UNIT = 10_000
# Ids up to this are written as JSON integers, larger ones as UUID strings: the same
# rule as command_json.id_to_json, so readers whose numbers are doubles never round one.
_ID_JSON_INT_MAX = 2**53 - 1


def id_text(quote_id: int) -> int | str:
    """A quote id as commands write it: an integer, or a UUID when it is that large."""
    return quote_id if quote_id <= _ID_JSON_INT_MAX else str(uuid.UUID(int=quote_id))


@dataclass(frozen=True, slots=True)
class ConversionStep:
    """One quote of the route: what goes in, the fee, the rate, what comes out."""

    quote_id: int
    provider_bic: str
    from_currency: str
    to_currency: str
    amount_from_minor: int  # gross, fee included
    fee_minor: int  # in from_currency
    rate_text: str
    amount_to_minor: int  # rounded down to to_currency's minor unit
    reference: RateLookup | None
    markup_bp: Decimal | None  # (reference - rate) / reference, in basis points


@dataclass(frozen=True, slots=True)
class PricePresentation:
    """Everything the sender is told. ``markup_bp`` > 0: worse than the reference rate."""

    amount_in_minor: int
    currency_in: str
    amount_out_minor: int
    currency_out: str
    steps: tuple[ConversionStep, ...]
    legs: tuple[tuple[int, int, int, str], ...]  # (debit account, credit account, minor, ccy)
    effective_rate: Decimal  # units out per unit in, all fees and rounding included
    reference: RateLookup | None
    amount_out_at_reference_minor: int | None  # the amount in at the reference rate, no fee
    markup_bp: Decimal | None

    @property
    def cost_minor(self) -> int | None:
        """What the receiver gets less than at the reference rate (currency_out)."""
        if self.amount_out_at_reference_minor is None:
            return None
        return self.amount_out_at_reference_minor - self.amount_out_minor

    def to_json(self) -> dict[str, Any]:
        """Strings for every decimal (no float), minor units beside them."""
        c_in, c_out = self.currency_in, self.currency_out
        return {
            "amount_in": format_amount(self.amount_in_minor, c_in),
            "currency_in": c_in,
            "amount_in_minor": self.amount_in_minor,
            "amount_out": format_amount(self.amount_out_minor, c_out),
            "currency_out": c_out,
            "amount_out_minor": self.amount_out_minor,
            "effective_rate": rate_text_shown(self.effective_rate),
            "fees": [
                {
                    "quote_id": id_text(s.quote_id),
                    "fee": format_amount(s.fee_minor, s.from_currency),
                    "currency": s.from_currency,
                    "fee_minor": s.fee_minor,
                }
                for s in self.steps
            ],
            "conversions": [_step_json(s) for s in self.steps],
            "legs": [
                {
                    "debit_account_id": d,
                    "credit_account_id": c,
                    "amount": format_amount(m, code),
                    "currency": code,
                    "amount_minor": m,
                }
                for d, c, m, code in self.legs
            ],
            "reference": _reference_json(self.reference),
            "amount_out_at_reference": (
                None
                if self.amount_out_at_reference_minor is None
                else format_amount(self.amount_out_at_reference_minor, c_out)
            ),
            "cost": None if self.cost_minor is None else format_amount(self.cost_minor, c_out),
            "markup_bp": None if self.markup_bp is None else str(self.markup_bp),
        }

    def lines(self, names: Mapping[str, str] | None = None) -> list[str]:
        """The presentation as plain text, one figure a line (``names``: BIC -> name)."""
        names = names or {}
        c_in, c_out = self.currency_in, self.currency_out
        out = [f"you send         {format_amount(self.amount_in_minor, c_in)} {c_in}"]
        for n, s in enumerate(self.steps, start=1):
            who = names.get(s.provider_bic, s.provider_bic)
            out.append(
                f"conversion {n}     quote {id_text(s.quote_id)} by {who}: "
                f"{format_amount(s.amount_from_minor, s.from_currency)} {s.from_currency}"
                f" - fee {format_amount(s.fee_minor, s.from_currency)} {s.from_currency}"
                f" at {s.rate_text} {s.to_currency} per {s.from_currency}"
                f" = {format_amount(s.amount_to_minor, s.to_currency)} {s.to_currency}"
                f" (rounded down)"
            )
            if s.reference is not None and s.markup_bp is not None:
                out.append(
                    f"                  reference {rate_text_shown(s.reference.rate)} "
                    f"({s.reference.how}, {s.reference.date}): {_markup_words(s.markup_bp)}"
                )
        out.append(f"receiver gets    {format_amount(self.amount_out_minor, c_out)} {c_out}")
        out.append(
            f"all-in rate      {rate_text_shown(self.effective_rate)} {c_out} per {c_in} "
            f"(every fee and rounding included)"
        )
        if self.reference is not None and self.markup_bp is not None:
            assert self.amount_out_at_reference_minor is not None and self.cost_minor is not None
            out.append(
                f"reference rate   {rate_text_shown(self.reference.rate)} {c_out} per {c_in} "
                f"({self.reference.how}, {self.reference.date}): "
                f"{format_amount(self.amount_out_at_reference_minor, c_out)} {c_out} "
                f"without fees"
            )
            out.append(
                f"cost             {format_amount(self.cost_minor, c_out)} {c_out}, "
                f"{_markup_words(self.markup_bp)}"
            )
        else:
            out.append("reference rate   none loaded for this pair (give --rates FILE)")
        legs = "; ".join(
            f"{d} -> {c} {format_amount(m, code)} {code}" for d, c, m, code in self.legs
        )
        out.append(f"legs             {legs} (all settle together or none does)")
        return out


def present(
    view: PriceView,
    quotes: Mapping[int, QuoteView],
    rates: ReferenceRates | None = None,
    on_date: dt.date | None = None,
) -> PricePresentation:
    """Explain ``view`` step by step, against the reference rates of ``on_date``."""
    steps: list[ConversionStep] = []
    amount = view.amount_in_minor
    for quote_id in view.quote_ids:
        quote = quotes[quote_id]
        mantissa, scale = quote.rate_mantissa_scale
        out_minor = convert_minor(
            amount - quote.fee_minor,
            mantissa,
            scale,
            currency(quote.from_currency).exponent,
            currency(quote.to_currency).exponent,
        )
        reference = (
            None if rates is None else rates.lookup(quote.from_currency, quote.to_currency, on_date)
        )
        steps.append(
            ConversionStep(
                quote_id,
                quote.provider_bic,
                quote.from_currency,
                quote.to_currency,
                amount,
                quote.fee_minor,
                quote.rate_text,
                out_minor,
                reference,
                None if reference is None else markup_bp(Decimal(quote.rate_text), reference.rate),
            )
        )
        amount = out_minor
    # The engine's own figure and ours must be one figure, or the page would mislead.
    assert amount == view.amount_out_minor, (amount, view)
    effective = effective_rate(
        view.amount_in_minor, view.currency_in, view.amount_out_minor, view.currency_out
    )
    reference = (
        None if rates is None else rates.lookup(view.currency_in, view.currency_out, on_date)
    )
    at_reference = None
    markup = None
    if reference is not None:
        at_reference = amount_at_rate_minor(
            view.amount_in_minor, view.currency_in, reference.rate, view.currency_out
        )
        markup = markup_bp(effective, reference.rate)
    return PricePresentation(
        view.amount_in_minor,
        view.currency_in,
        view.amount_out_minor,
        view.currency_out,
        tuple(steps),
        view.legs,
        effective,
        reference,
        at_reference,
        markup,
    )


def effective_rate(
    amount_in_minor: int, currency_in: str, amount_out_minor: int, currency_out: str
) -> Decimal:
    """Units of currency_out received per unit of currency_in sent."""
    context = decimal_context()
    units_in = Decimal(amount_in_minor).scaleb(-currency(currency_in).exponent, context)
    units_out = Decimal(amount_out_minor).scaleb(-currency(currency_out).exponent, context)
    return context.divide(units_out, units_in)


def amount_at_rate_minor(
    amount_in_minor: int, currency_in: str, rate: Decimal, currency_out: str
) -> int:
    """The amount in converted at ``rate`` with no fee, rounded down like the engine."""
    context = decimal_context(EXACT_PRODUCT_DIGITS)
    shift = currency(currency_out).exponent - currency(currency_in).exponent
    exact = context.multiply(Decimal(amount_in_minor), rate).scaleb(shift, context)
    return int(exact.to_integral_value(rounding=decimal.ROUND_FLOOR, context=context))


def markup_bp(rate: Decimal, reference: Decimal) -> Decimal:
    """How much worse ``rate`` is than ``reference`` for the sender, in basis points."""
    context = decimal_context()
    relative = context.divide(context.subtract(reference, rate), reference)
    bp = context.multiply(relative, Decimal(_BASIS_POINTS_PER_UNIT))
    return bp.quantize(BASIS_POINTS_SHOWN, rounding=decimal.ROUND_HALF_EVEN, context=context)


def rate_text_shown(rate: Decimal) -> str:
    """A rate for people: RATE_SHOWN_DIGITS significant digits (at least every integer
    digit), rounded half even, no exponent."""
    context = decimal_context()
    if rate == 0:
        return "0"
    # Never round away integer digits: 12345678901.5 shows as 12345678902.
    places = max(0, RATE_SHOWN_DIGITS - rate.adjusted() - 1)
    step = Decimal(1).scaleb(-places, context)
    shown = rate.quantize(step, rounding=decimal.ROUND_HALF_EVEN, context=context)
    text = format(shown, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _markup_words(bp: Decimal) -> str:
    if bp > 0:
        return f"{bp} bp below the reference"
    if bp < 0:
        return f"{-bp} bp above the reference"
    return "at the reference"


def _step_json(step: ConversionStep) -> dict[str, Any]:
    return {
        "quote_id": id_text(step.quote_id),
        "provider_bic": step.provider_bic,
        "from_currency": step.from_currency,
        "to_currency": step.to_currency,
        "amount_from": format_amount(step.amount_from_minor, step.from_currency),
        "fee": format_amount(step.fee_minor, step.from_currency),
        "rate": step.rate_text,
        "amount_to": format_amount(step.amount_to_minor, step.to_currency),
        "reference": _reference_json(step.reference),
        "markup_bp": None if step.markup_bp is None else str(step.markup_bp),
    }


def _reference_json(lookup: RateLookup | None) -> dict[str, Any] | None:
    if lookup is None:
        return None
    return {
        "rate": rate_text_shown(lookup.rate),
        "date": lookup.date.isoformat(),
        "how": lookup.how,
        "pairs": [r.pair for r in lookup.sources],
    }
