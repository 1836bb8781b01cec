"""Scenarios and the simulator: synthetic networks and business days, fed to the engine.

This part owns deterministic generators: the demo network (five central banks and
their commercial banks, accounts, credit lines and opening funding, three FX providers
and their quotes) and a synthetic business day of payments as columnar batches, some
of them cross-currency, plus the summary of a day's results. Everything is drawn from
a ``random.Random`` seeded by the caller, never from the global random source or a
clock, so a seed names one exact day. It may import ``interbank.engine``,
``interbank.money`` and ``interbank.fx`` (the reference rates its FX providers quote
from) only.
"""

from interbank.sim.day import DayPlan, plan_day
from interbank.sim.fx import CROSS_PAYMENTS_PER_10K_DEMO
from interbank.sim.network import (
    CURRENCIES,
    Network,
    SimAccount,
    SimBank,
    demo_network,
)
from interbank.sim.summary import DaySummary, PairFigures

__all__ = [
    "CROSS_PAYMENTS_PER_10K_DEMO",
    "CURRENCIES",
    "DayPlan",
    "DaySummary",
    "Network",
    "PairFigures",
    "SimAccount",
    "SimBank",
    "demo_network",
    "plan_day",
]
