"""A drawing on a real network (journal on disk): every transfer the pool recorded as
settled is in the journal, replayed from disk, exactly as recorded; reopening the pool
from its records gives the same state; the journal verifies."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from interbank.network_port import open_network
from interbank.node import verify
from interbank.reserve.pool import ReservePool
from interbank.reserve.rulebook import Rulebook, load_binding
from interbank.reserve.store import DecisionStore
from interbank.sim import demo_network

from .conftest import USD


def test_swap_and_reverse_leg_are_in_the_journal_as_recorded(
    tmp_path: Path, rulebook: Rulebook
) -> None:
    db = str(tmp_path / "net.db")
    with open_network(db, create=True) as network:
        assert all(r.ok for r in network.submit(demo_network(1).setup_commands()))
        pool = ReservePool.create(
            DecisionStore.open(db + ".reserve"), rulebook, date(2025, 1, 2), network
        )
        pool.bind(load_binding(), date(2025, 1, 2))
        request = pool.request(
            "RU", "liquidity", "de_linked", 500_000_000 * USD, date(2025, 1, 3)
        ).request_id
        for voter in ("CN", "IN"):
            pool.vote(request, voter, True, date(2025, 1, 3))
        assert pool.settle(request, "98.75", "4.33", date(2025, 1, 6)).settled
        assert pool.repay(request, date(2025, 7, 7)).settled
        flows = [f for s in pool.state.drawings[request].steps for f in s.flows]
        moves = network.settled_moves([f.command_id for f in flows])
        for flow in flows:
            move = moves[flow.command_id]
            assert move.amount_minor == flow.amount_minor and move.currency == flow.currency
            if flow.kind == "transfer":
                assert (move.debit_account_id, move.credit_account_id) == (
                    flow.debit_account_id,
                    flow.credit_account_id,
                )
        assert set(network.totals_by_currency().values()) == {0}
        state = pool.state
    assert verify(db).ok
    assert ReservePool(DecisionStore.open(db + ".reserve")).state == state
