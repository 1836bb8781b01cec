"""Requests against access and the IMF link; weighted votes; bad input with no effect."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from interbank.network_port import ScratchNetwork
from interbank.reserve.pool import ReservePool
from interbank.reserve.rules import ReserveError

from .conftest import BILLION, USD, balances

DAY = date(2025, 2, 3)


def _refused(
    pool: ReservePool, network: ScratchNetwork, code: str, text: str, call: Callable[[], object]
) -> None:
    """The call is refused with this reason and leaves records and balances as they were."""
    decisions_before, balances_before = pool.store.count(), balances(network)
    with pytest.raises(ReserveError) as caught:
        call()
    assert caught.value.reason_code == code, caught.value
    assert text in caught.value.text, caught.value.text
    assert pool.store.count() == decisions_before
    assert balances(network) == balances_before


def test_south_africa_without_imf_programme_draws_at_most_three_billion(
    pool: ReservePool, network: ScratchNetwork
) -> None:
    # Section 1.7: request 3.0 accepted; 3.01 refused ("exceeds de-linked 30%").
    _refused(
        pool,
        network,
        "AM02",
        "exceeds the de-linked 30% of ZA's access",
        lambda: pool.request("ZA", "liquidity", "de_linked", 3_010_000_000 * USD, DAY),
    )
    drawing = pool.request("ZA", "liquidity", "de_linked", 3 * BILLION, DAY)
    assert drawing.status == "pending" and drawing.amount_minor == 3 * BILLION


def test_south_africa_with_imf_programme_draws_up_to_ten_billion(
    pool: ReservePool, network: ScratchNetwork
) -> None:
    _refused(
        pool,
        network,
        "AG01",
        "ZA has no IMF programme on track",
        lambda: pool.request("ZA", "liquidity", "imf_linked", 1 * BILLION, DAY),
    )
    pool.set_imf_programme("ZA", True, DAY)
    _refused(
        pool,
        network,
        "AM02",
        "exceeds ZA's maximum access",
        lambda: pool.request("ZA", "liquidity", "imf_linked", 10_010_000_000 * USD, DAY),
    )
    assert pool.request("ZA", "liquidity", "imf_linked", 10 * BILLION, DAY).status == "pending"
    # The whole access is in use now, de-linked portion included.
    _refused(
        pool,
        network,
        "AM02",
        "leaves 0.00",
        lambda: pool.request("ZA", "liquidity", "de_linked", 1 * USD, DAY),
    )


def test_china_without_imf_programme_draws_at_most_six_point_one_five_billion(
    pool: ReservePool, network: ScratchNetwork
) -> None:
    _refused(
        pool,
        network,
        "AM02",
        "de-linked",
        lambda: pool.request("CN", "liquidity", "de_linked", 6_160_000_000 * USD, DAY),
    )
    drawing = pool.request("CN", "precautionary", "de_linked", 6_150_000_000 * USD, DAY)
    assert drawing.instrument == "precautionary"


def test_requests_in_flight_use_access(pool: ReservePool, network: ScratchNetwork) -> None:
    pool.request("ZA", "liquidity", "de_linked", 2 * BILLION, DAY)
    _refused(
        pool,
        network,
        "AM02",
        "less 2,000,000,000.00 already drawn or requested",
        lambda: pool.request("ZA", "liquidity", "de_linked", 1_000_000_001 * USD, DAY),
    )
    assert pool.request("ZA", "liquidity", "de_linked", 1 * BILLION, DAY).request_id == "R-0002"


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (("XX", "liquidity", "de_linked", 1), "AG01", "'XX' is not a member"),
        (("ZA", "swapline", "de_linked", 1), "FF01", "instrument 'swapline'"),
        (("ZA", "liquidity", "half", 1), "FF01", "portion 'half'"),
        (("ZA", "liquidity", "de_linked", 0), "AM01", "positive"),
        (("ZA", "liquidity", "de_linked", -5), "AM12", "positive"),
        (("ZA", "liquidity", "de_linked", 10**18), "AM02", "network's limit"),
    ],
)
def test_bad_requests(
    pool: ReservePool,
    network: ScratchNetwork,
    args: tuple,
    code: str,  # type: ignore[type-arg]
    text: str,
) -> None:
    _refused(pool, network, code, text, lambda: pool.request(*args, DAY))


def test_the_calendar_does_not_go_back(pool: ReservePool, network: ScratchNetwork) -> None:
    pool.request("ZA", "liquidity", "de_linked", 1 * BILLION, DAY)
    _refused(
        pool,
        network,
        "FF01",
        "does not go back",
        lambda: pool.request("ZA", "liquidity", "de_linked", 1, DAY - timedelta(days=1)),
    )


def test_votes_decide_by_weight_china_alone_is_not_enough(pool: ReservePool) -> None:
    request = pool.request("IN", "liquidity", "de_linked", 1 * BILLION, DAY).request_id
    assert pool.vote(request, "CN", True, DAY).status == "pending"
    assert pool.vote(request, "BR", False, DAY).status == "pending"  # no: 18.10
    assert pool.vote(request, "RU", False, DAY).status == "pending"  # no: 36.20
    drawing = pool.vote(request, "ZA", False, DAY)  # no: 41.95 >= 40.95
    assert drawing.status == "rejected" and drawing.reason == "no weighted majority"
    kinds = [d.kind for d in pool.store.decisions()][-5:]
    assert kinds == ["vote", "vote", "vote", "vote", "rejected"]


def test_china_and_south_africa_approve(pool: ReservePool) -> None:
    request = pool.request("IN", "liquidity", "de_linked", 1 * BILLION, DAY).request_id
    pool.vote(request, "CN", True, DAY)
    drawing = pool.vote(request, "ZA", True, DAY)
    assert drawing.status == "approved" and drawing.decided_on == DAY


def test_brazil_russia_and_south_africa_approve(pool: ReservePool) -> None:
    request = pool.request("IN", "liquidity", "de_linked", 1 * BILLION, DAY).request_id
    pool.vote(request, "BR", True, DAY)
    assert pool.vote(request, "RU", True, DAY).status == "pending"  # 36.20
    assert pool.vote(request, "ZA", True, DAY).status == "approved"  # 41.95 > 40.95


def test_bad_votes_have_no_effect(pool: ReservePool, network: ScratchNetwork) -> None:
    request = pool.request("IN", "liquidity", "de_linked", 1 * BILLION, DAY).request_id
    pool.vote(request, "BR", True, DAY)
    _refused(
        pool,
        network,
        "AG01",
        "'US' is not a member of the pool: only members vote",
        lambda: pool.vote(request, "US", True, DAY),
    )
    _refused(
        pool,
        network,
        "DUPL",
        "BR already voted yes on R-0001",
        lambda: pool.vote(request, "BR", False, DAY),
    )
    _refused(
        pool,
        network,
        "AG01",
        "IN requested R-0001 and does not vote on it",
        lambda: pool.vote(request, "IN", True, DAY),
    )
    _refused(
        pool, network, "NARR", "no request 'R-9999'", lambda: pool.vote("R-9999", "CN", True, DAY)
    )
    late = DAY + timedelta(days=11)
    _refused(
        pool,
        network,
        "AG01",
        "voting on R-0001 closed on 2025-02-13",
        lambda: pool.vote(request, "CN", True, late),
    )
    assert pool.state.drawings[request].votes == (("BR", True, DAY),)


def test_undecided_request_expires_and_frees_access(pool: ReservePool) -> None:
    request = pool.request("ZA", "liquidity", "de_linked", 3 * BILLION, DAY).request_id
    assert pool.review(DAY + timedelta(days=10)) == []
    [expiry] = pool.review(DAY + timedelta(days=11))
    assert expiry.kind == "expired" and pool.state.drawings[request].status == "expired"
    assert pool.request("ZA", "liquidity", "de_linked", 3 * BILLION, DAY + timedelta(days=11))


def test_vote_on_a_decided_request_is_refused(pool: ReservePool, network: ScratchNetwork) -> None:
    request = pool.request("IN", "liquidity", "de_linked", 1 * BILLION, DAY).request_id
    pool.vote(request, "CN", True, DAY)
    pool.vote(request, "ZA", True, DAY)
    _refused(
        pool,
        network,
        "AG01",
        "voting on R-0001 is closed: it is approved",
        lambda: pool.vote(request, "BR", True, DAY),
    )


def test_all_members_vote_when_the_rulebook_says_so(network: ScratchNetwork) -> None:
    from interbank.reserve.rulebook import load_binding, load_rulebook, parse_rulebook
    from interbank.reserve.store import DecisionStore

    text = load_rulebook().text.replace('voters = "providers"', 'voters = "all_members"')
    pool = ReservePool.create(DecisionStore.in_memory(), parse_rulebook(text), DAY, network)
    pool.bind(load_binding(), DAY)
    request = pool.request("CN", "liquidity", "de_linked", 1 * BILLION, DAY).request_id
    # China votes on its own request now: 39.95 + 18.10 = 58.05 > 50.
    pool.vote(request, "CN", True, DAY)
    assert pool.vote(request, "IN", True, DAY).status == "approved"
