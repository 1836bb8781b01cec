"""The quote book as people read it: every quote the network holds, with names not numbers.

The engine keeps quotes inside its state (they are journaled commands) and lists them
with ``Engine.quotes()``; this module adds what people need to read them (validity at
a time). Reading never changes the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from interbank.engine.pvp import parse_rate

if TYPE_CHECKING:
    from interbank.engine import Engine


@dataclass(frozen=True, slots=True)
class QuoteView:
    """One firm quote: the provider takes ``from_currency`` and pays ``to_currency``."""

    quote_id: int
    provider_bic: str
    from_currency: str
    to_currency: str
    rate_text: str  # units of to_currency per unit of from_currency, exact
    amount_min_minor: int  # of from_currency, fee included
    amount_max_minor: int
    fee_minor: int  # of from_currency, kept by the provider before converting
    expires_at_ns: int

    @property
    def rate_mantissa_scale(self) -> tuple[int, int]:
        parsed = parse_rate(self.rate_text)
        assert parsed is not None, "the engine only holds valid rates"
        return parsed

    def valid_at(self, now_ns: int) -> bool:
        return now_ns < self.expires_at_ns


def quote_book(engine: Engine) -> list[QuoteView]:
    """Every quote the engine holds (expired ones too, until it drops them), by id."""
    return [
        QuoteView(
            quote.quote_id,
            quote.provider_bic,
            quote.from_currency,
            quote.to_currency,
            quote.rate,
            quote.amount_min_minor,
            quote.amount_max_minor,
            quote.fee_minor,
            quote.expires_at_ns,
        )
        for quote in engine.quotes()
    ]
