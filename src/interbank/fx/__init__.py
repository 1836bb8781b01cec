"""FX: reference rates, quotes and prices for people, cross-currency orchestration.

This part owns what surrounds the engine's payment-versus-payment settlement: loading
and checking central-bank reference rates (CSV or JSON, exact decimal strings), the
quote book as people read it, quote rates derived from reference rates with a spread,
and the price presentation a sender sees before committing (amount out, every rate
and fee, the deviation from the reference rate). The engine decides routes, rounding
and settlement; this part explains them and never moves money. Nothing here uses
float. It may import ``interbank.engine`` types and ``interbank.money`` only.
"""

from interbank.fx.book import QuoteView, quote_book
from interbank.fx.price import (
    ConversionStep,
    PricePresentation,
    amount_at_rate_minor,
    effective_rate,
    markup_bp,
    present,
    rate_text_shown,
)
from interbank.fx.quotes import quote_rate_text
from interbank.fx.reference import (
    RateLookup,
    RateProblem,
    ReferenceRate,
    ReferenceRates,
    ReferenceRatesError,
    load_reference_rates,
    parse_csv,
    parse_json,
)

__all__ = [
    "ConversionStep",
    "PricePresentation",
    "QuoteView",
    "RateLookup",
    "RateProblem",
    "ReferenceRate",
    "ReferenceRates",
    "ReferenceRatesError",
    "amount_at_rate_minor",
    "effective_rate",
    "load_reference_rates",
    "markup_bp",
    "parse_csv",
    "parse_json",
    "present",
    "quote_book",
    "quote_rate_text",
    "rate_text_shown",
]
