"""The quote book as people read it: every quote the network holds, with names not numbers.

The engine keeps quotes inside its state (they are journaled commands) and offers no
public listing yet, so this module is the one place outside the engine that reads
``engine._fx.quotes``; when the engine gains a public accessor, only ``quote_book``
changes. Reading never changes the engine.
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
    participants = engine.participants()
    currencies = engine._currencies
    views = [
        QuoteView(
            quote.quote_id,
            participants[quote.provider].bic,
            currencies[quote.from_currency],
            currencies[quote.to_currency],
            quote.rate_text,
            quote.amount_min_minor,
            quote.amount_max_minor,
            quote.fee_minor,
            quote.expires_at_ns,
        )
        for quote in engine._fx.quotes.values()
    ]
    return sorted(views, key=lambda v: v.quote_id)
