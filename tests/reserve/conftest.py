"""A bound reserve pool on a private copy of the demo network (no journal: fast).

The demo network's five central banks are the members; the default rulebook (the 2014
treaty) and the demo binding register the USD settlement agent and fund each member's
USD account with its commitment. Dates are fixed, so every expectation is exact.
"""

from __future__ import annotations

from datetime import date

import pytest

from interbank.engine import Engine
from interbank.network_port import ScratchNetwork
from interbank.reserve.pool import ReservePool
from interbank.reserve.rulebook import Rulebook, load_binding, load_rulebook
from interbank.reserve.store import DecisionStore
from interbank.sim import demo_network

START = date(2025, 1, 2)
USD = 100  # minor units per US dollar
BILLION = 10**9 * USD


@pytest.fixture(scope="session")
def demo_snapshot() -> bytes:
    engine = Engine()
    results = engine.execute_many(demo_network(1).setup_commands(), 1)
    assert all(r.ok for r in results)
    return engine.snapshot()


@pytest.fixture(scope="session")
def rulebook() -> Rulebook:
    return load_rulebook()


@pytest.fixture
def network(demo_snapshot: bytes) -> ScratchNetwork:
    return ScratchNetwork(Engine.restore(demo_snapshot))


@pytest.fixture
def pool(network: ScratchNetwork, rulebook: Rulebook) -> ReservePool:
    pool = ReservePool.create(DecisionStore.in_memory(), rulebook, START, network)
    pool.bind(load_binding(), START)
    return pool


def balances(network: ScratchNetwork) -> dict[int, int]:
    return {a.account_id: a.balance_minor for a in network.engine.accounts()}
