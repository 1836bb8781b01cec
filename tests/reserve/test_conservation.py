"""Hypothesis: no sequence of reserve commands breaks per-currency conservation.

Random requests, votes, swaps, renewals, repayments, reviews, IMF status changes and
unrelated movements of members' USD (so that repayments sometimes fail) are run on a
copy of the demo network. After every step each currency sums to zero on the network,
no member uses more than its access, and a refused command changed nothing.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from interbank.engine import Engine, Issue, Redeem
from interbank.network_port import ScratchNetwork
from interbank.reserve.pool import ReservePool
from interbank.reserve.rulebook import Rulebook, load_binding
from interbank.reserve.rules import ReserveError
from interbank.reserve.store import DecisionStore

from .conftest import START, USD, balances

MEMBERS = ("CN", "BR", "IN", "RU", "ZA")
# Days between steps: mostly the same day or a few days, sometimes past a maturity.
DAY_STEPS = (0, 0, 0, 1, 2, 5, 11, 31, 182, 183, 200, 366)

operation = st.one_of(
    st.tuples(
        st.just("request"),
        st.sampled_from(MEMBERS),
        st.sampled_from(["de_linked", "imf_linked"]),
        st.integers(1, 4_000_000).map(lambda n: n * 1_000 * USD),
    ),
    st.tuples(st.just("vote"), st.integers(0, 3), st.sampled_from(MEMBERS), st.booleans()),
    st.tuples(st.just("approve"), st.integers(0, 3)),
    st.tuples(
        st.just("draw"),
        st.sampled_from(MEMBERS),
        st.integers(1, 3_000_000).map(lambda n: n * 1_000 * USD),
    ),
    st.tuples(st.just("settle"), st.integers(0, 3), st.sampled_from(["18.5", "0.137", "7.1234"])),
    st.tuples(st.just("repay"), st.integers(0, 3)),
    st.tuples(st.just("renew"), st.integers(0, 3)),
    st.tuples(
        st.just("review"),
    ),
    st.tuples(st.just("imf"), st.sampled_from(MEMBERS), st.booleans()),
    st.tuples(st.just("spend_usd"), st.sampled_from(MEMBERS), st.integers(0, 100)),
    st.tuples(st.just("fund_usd"), st.sampled_from(MEMBERS), st.integers(1, 10**6)),
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.tuples(operation, st.sampled_from(DAY_STEPS)), min_size=4, max_size=30))
def test_no_sequence_of_reserve_commands_breaks_conservation(
    demo_snapshot: bytes,
    rulebook: Rulebook,
    steps: list[tuple[tuple, int]],  # type: ignore[type-arg]
) -> None:
    network = ScratchNetwork(Engine.restore(demo_snapshot))
    pool = ReservePool.create(DecisionStore.in_memory(), rulebook, START, network)
    pool.bind(load_binding(), START)
    today = START
    external_id = 10**35
    for (op, *args), days in steps:
        today += timedelta(days=days)
        requests = sorted(pool.state.drawings)
        count, before = pool.store.count(), balances(network)
        try:
            if op == "request":
                pool.request(args[0], "liquidity", args[1], args[2], today)
            elif op == "vote" and requests:
                pool.vote(requests[-1 - args[0] % len(requests)], args[1], args[2], today)
            elif op == "draw":  # request, votes until decided, swap: several commands
                request = pool.request(args[0], "liquidity", "de_linked", args[1], today).request_id
                for voter in MEMBERS:
                    if voter != args[0] and pool.state.drawings[request].status == "pending":
                        pool.vote(request, voter, True, today)
                count, before = pool.store.count(), balances(network)
                pool.settle(request, "5.25", "4.5", today)
            elif op == "approve" and requests:
                request = requests[-1 - args[0] % len(requests)]
                for voter in MEMBERS:
                    if pool.state.drawings[request].status == "pending":
                        with contextlib.suppress(ReserveError):
                            pool.vote(request, voter, True, today)
            elif op == "settle" and requests:
                pool.settle(requests[-1 - args[0] % len(requests)], args[1], "4.5", today)
            elif op == "repay" and requests:
                pool.repay(requests[-1 - args[0] % len(requests)], today)
            elif op == "renew" and requests:
                pool.renew(requests[-1 - args[0] % len(requests)], "3.9", today)
            elif op == "review":
                pool.review(today)
            elif op == "imf":
                pool.set_imf_programme(args[0], args[1], today)
            elif op in ("spend_usd", "fund_usd"):
                account = pool.state.members[args[0]].account("USD")
                assert account is not None
                facts = network.account(account)
                assert facts is not None
                external_id += 1
                if op == "spend_usd" and facts.available_minor * args[1] // 100 > 0:
                    network.submit(
                        [Redeem(external_id, account, facts.available_minor * args[1] // 100)]
                    )
                elif op == "fund_usd":
                    network.submit([Issue(external_id, account, args[1] * 1_000_000 * USD)])
            event(f"ran {op}")
        except ReserveError as error:
            event(f"refused {op}: {error.text[:50]}")
            assert pool.store.count() == count, "a refused command recorded something"
            assert balances(network) == before, "a refused command moved money"
        assert set(network.totals_by_currency().values()) == {0}
        state = pool.state
        for code in MEMBERS:
            assert state.open_amount_minor(code, None, True) <= rulebook.max_access_minor(code)
            assert state.open_amount_minor(code, "de_linked", True) <= rulebook.de_linked_cap_minor(
                code
            )
    for drawing in pool.state.drawings.values():
        event(f"status {drawing.status}")
    # The records rebuild to the same state from the store alone.
    assert ReservePool(pool.store, network).state == pool.state
