"""The demo's FX providers and their quotes, derived from the sample reference rates.

Three fictional dealers quote overlapping sets of pairs so that the day meets every
kind of route: a pair two providers compete on (RUB/CNY), pairs one provider quotes,
and pairs nobody quotes directly (RUB/BRL, INR/ZAR, ...), which the engine routes
through CNY, its reference currency here, with one provider (two legs) or two (three
legs). Each quote is the reference rate less the provider's spread, rounded down in its
favour (``fx.quote_rate_text``); figures come from ``examples/reference-rates.csv``
(made up for the demo), read from the source tree.

Quotes in the demo stand for the whole run: the simulator reads no clock, so they
expire at a fixed far date rather than at the end of a day it cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from interbank.engine.commands import Role
from interbank.fx import ReferenceRates, load_reference_rates, quote_rate_text
from interbank.money import currency

SAMPLE_RATES_PATH = Path(__file__).resolve().parents[3] / "examples" / "reference-rates.csv"

# 2100-01-01T00:00:00Z: beyond any demo run (see the module docstring).
QUOTES_EXPIRE_AT_NS = 4_102_444_800 * 10**9

# Cross-currency payments per 10,000 rows of the demo's day (3%).
CROSS_PAYMENTS_PER_10K_DEMO = 300

# A provider's funding in each of its currencies, in reference units (see network.py):
# deep enough for a day of small and medium pairs, not for every large one at once.
PROVIDER_FUNDING_REFERENCE = 20_000_000_000


@dataclass(frozen=True, slots=True)
class ProviderPlan:
    """One dealer: who it is, what it quotes, at what spread, for what sizes and fee."""

    home_currency: str
    bic: str
    name: str
    pairs: tuple[tuple[str, str], ...]  # each quoted in both directions
    spread_bp: int
    amount_max_reference: int  # largest payment it takes, in reference units
    fee_reference: int  # its fee per payment, in reference units of the from-currency


# Meridian is the CNY hub for everyone; Steppe undercuts it on small RUB/CNY tickets;
# Southern Cross quotes BRL and ZAR against each other and against CNY.
PROVIDERS: tuple[ProviderPlan, ...] = (
    ProviderPlan(
        "CNY", "MRDNCNSH", "Meridian FX",
        (("CNY", "RUB"), ("CNY", "INR"), ("CNY", "BRL"), ("CNY", "ZAR")),
        spread_bp=30, amount_max_reference=10**7, fee_reference=1,
    ),
    ProviderPlan(
        "RUB", "STPXRUMM", "Steppe Exchange", (("RUB", "CNY"), ("RUB", "INR")),
        spread_bp=20, amount_max_reference=10**5, fee_reference=0,
    ),
    ProviderPlan(
        "ZAR", "SCFXZAJJ", "Southern Cross FX", (("ZAR", "BRL"), ("ZAR", "CNY"), ("BRL", "CNY")),
        spread_bp=35, amount_max_reference=10**7, fee_reference=0,
    ),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SimQuote:
    provider_bic: str
    from_currency: str
    to_currency: str
    rate: str
    amount_min_minor: int
    amount_max_minor: int
    fee_minor: int
    expires_at_ns: int


def provider_currencies(plan: ProviderPlan) -> list[str]:
    return sorted({code for pair in plan.pairs for code in pair})


def sample_rates() -> ReferenceRates:
    """The sample reference rates the demo's quotes derive from."""
    return load_reference_rates(SAMPLE_RATES_PATH)


def demo_quotes(rates: ReferenceRates, units_per_reference: dict[str, int]) -> tuple[SimQuote, ...]:
    """Every provider's quotes, both directions of each pair, in a fixed order."""
    quotes: list[SimQuote] = []
    for plan in PROVIDERS:
        for a, b in plan.pairs:
            for c_from, c_to in ((a, b), (b, a)):
                lookup = rates.lookup(c_from, c_to)
                assert lookup is not None, f"no reference rate for {c_from}/{c_to}"
                minor_per_reference = units_per_reference[c_from] * 10 ** currency(c_from).exponent
                fee_minor = plan.fee_reference * minor_per_reference
                quotes.append(
                    SimQuote(
                        plan.bic, c_from, c_to, quote_rate_text(lookup.rate, plan.spread_bp),
                        fee_minor + 1, plan.amount_max_reference * minor_per_reference,
                        fee_minor, QUOTES_EXPIRE_AT_NS,
                    )
                )  # fmt: skip
    return tuple(quotes)


def provider_banks() -> list[tuple[str, str, Role, str]]:
    """(bic, name, role, home currency) of each provider, in order."""
    return [(p.bic, p.name, Role.DIRECT, p.home_currency) for p in PROVIDERS]
