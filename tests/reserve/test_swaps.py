"""Drawings settled as currency swaps on the network, repaid with interest, renewed,
late (arrears), resumed after a crash, and rehearsed in a drill.

The worked drawing: South Africa draws USD 9,500,000.00 (liquidity, de-linked) at a
spot rate of 18.50 ZAR per USD, reference rate 4.50% plus the rulebook's 150 bp spread
(6.00%, ACT/360). Providers' shares, pro rata to commitments 41:18:18:18 of 95:
China 4,100,000.00 and 1,800,000.00 each for Brazil, India and Russia; in ZAR at 18.50:
75,850,000.00 and 33,300,000.00. Interest for the 182 days to maturity:
China 4,100,000 x 6% x 182/360 = 124,366.666... -> 124,366.67; the others
1,800,000 x 6% x 182/360 = 54,600.00 each.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from interbank.engine import Issue, Redeem
from interbank.network_port import ScratchNetwork
from interbank.reserve.pool import ReservePool
from interbank.reserve.rules import ReserveError

from .conftest import USD, balances

REQUESTED = date(2025, 2, 3)
SETTLED = date(2025, 2, 5)
MATURITY = date(2025, 8, 6)  # SETTLED + 182 days
AMOUNT = 9_500_000 * USD


def _approved(pool: ReservePool, amount_minor: int = AMOUNT) -> str:
    request = pool.request("ZA", "liquidity", "de_linked", amount_minor, REQUESTED).request_id
    pool.vote(request, "CN", True, REQUESTED)
    assert pool.vote(request, "BR", True, REQUESTED).status == "approved"
    return request


def _usd(pool: ReservePool, code: str) -> int:
    account = pool.state.members[code].account("USD")
    assert account is not None
    return account


def _local(pool: ReservePool, code: str, currency: str) -> int:
    account = pool.state.members[code].account(currency)
    assert account is not None
    return account


def test_swap_settles_both_legs_pro_rata(pool: ReservePool, network: ScratchNetwork) -> None:
    request = _approved(pool)
    before = balances(network)
    outcome = pool.settle(request, "18.50", "4.50", SETTLED)
    assert outcome.settled, outcome.reason
    after = balances(network)
    moved = {a: after[a] - before.get(a, 0) for a in after if after[a] != before.get(a, 0)}
    assert moved == {
        _usd(pool, "ZA"): AMOUNT,
        _usd(pool, "CN"): -4_100_000 * USD,
        _usd(pool, "BR"): -1_800_000 * USD,
        _usd(pool, "IN"): -1_800_000 * USD,
        _usd(pool, "RU"): -1_800_000 * USD,
        _local(pool, "CN", "ZAR"): 75_850_000 * USD,
        _local(pool, "BR", "ZAR"): 33_300_000 * USD,
        _local(pool, "IN", "ZAR"): 33_300_000 * USD,
        _local(pool, "RU", "ZAR"): 33_300_000 * USD,
        # South Africa's issuance account is the counterpart of the ZAR it created.
        _issuance(network, "ZAR"): -175_750_000 * USD,
    }
    assert set(network.totals_by_currency().values()) == {0}
    drawing = pool.state.drawings[request]
    assert drawing.status == "active" and drawing.swap is not None
    assert drawing.swap.maturity_on == MATURITY and drawing.swap.spot_rate == "18.50"
    # Every command of the chain was linked but the last: both legs or none.
    assert [f.linked for f in outcome.flows] == [True] * 8 + [False]


def _issuance(network: ScratchNetwork, currency: str) -> int:
    return next(
        a.account_id
        for a in network.engine.accounts()
        if a.currency == currency and a.kind.value == "issuance"
    )


def test_repayment_at_maturity_with_interest(pool: ReservePool, network: ScratchNetwork) -> None:
    request = _approved(pool)
    pool.settle(request, "18.50", "4.50", SETTLED)
    before = balances(network)
    outcome = pool.repay(request, MATURITY)
    assert outcome.settled, outcome.reason
    interest = {f.label: f.amount_minor for f in outcome.flows if "interest" in f.label}
    assert interest == {
        "ZA pays CN interest": 12_436_667,
        "ZA pays BR interest": 5_460_000,
        "ZA pays IN interest": 5_460_000,
        "ZA pays RU interest": 5_460_000,
    }
    after = balances(network)
    assert after[_usd(pool, "ZA")] - before[_usd(pool, "ZA")] == -(AMOUNT + 28_816_667)
    assert after[_usd(pool, "CN")] - before[_usd(pool, "CN")] == 4_100_000 * USD + 12_436_667
    # The ZAR went back to South Africa and was redeemed: providers hold none of it now.
    assert after[_local(pool, "CN", "ZAR")] == 0 and after[_local(pool, "RU", "ZAR")] == 0
    assert after[_issuance(network, "ZAR")] == before[_issuance(network, "ZAR")] + 175_750_000 * USD
    drawing = pool.state.drawings[request]
    assert drawing.status == "repaid" and drawing.interest_paid_minor == 28_816_667
    assert set(network.totals_by_currency().values()) == {0}


def test_a_drawing_above_access_never_reaches_the_network(
    pool: ReservePool, network: ScratchNetwork
) -> None:
    before = balances(network)
    with pytest.raises(ReserveError, match="exceeds ZA's maximum access"):
        pool.set_imf_programme("ZA", True, REQUESTED)
        pool.request("ZA", "liquidity", "imf_linked", 10_000_000_001 * USD, REQUESTED)
    assert balances(network) == before


def test_missed_repayment_raises_arrears_and_blocks_new_drawings(
    pool: ReservePool, network: ScratchNetwork
) -> None:
    request = _approved(pool)
    pool.settle(request, "18.50", "4.50", SETTLED)
    # South Africa spends its USD reserves before maturity.
    usd = _usd(pool, "ZA")
    spent = network.account(usd)
    assert spent is not None
    assert network.submit([Redeem(10**30, usd, spent.available_minor)])[0].ok
    refused = pool.repay(request, MATURITY)
    assert not refused.settled and refused.reason.startswith("AM04")
    assert "ZA repays CN" in refused.reason
    assert pool.state.drawings[request].status == "active"  # due today: not late yet
    [arrears] = pool.review(MATURITY + timedelta(days=1))
    assert arrears.kind == "arrears" and arrears.payload["since"] == "2025-08-07"
    with pytest.raises(ReserveError, match="ZA is in arrears on R-0001") as caught:
        pool.request("ZA", "liquidity", "de_linked", 1 * USD, MATURITY + timedelta(days=1))
    assert caught.value.reason_code == "AG01"
    # Funds arrive; repaid ten days late: 192 days at 6.00% plus 10 days at 2.00%.
    assert network.submit([Issue(10**30 + 1, usd, 10_000_000 * USD)])[0].ok
    late = MATURITY + timedelta(days=10)
    outcome = pool.repay(request, late)
    assert outcome.settled, outcome.reason
    interest = {f.label: f.amount_minor for f in outcome.flows if "interest" in f.label}
    # China: 131,200.00 + 2,277.78; others: 57,600.00 + 1,000.00.
    assert interest["ZA pays CN interest"] == 13_120_000 + 227_778
    assert interest["ZA pays BR interest"] == 5_760_000 + 100_000
    assert pool.state.drawings[request].status == "repaid"
    assert pool.request("ZA", "liquidity", "de_linked", 1 * USD, late).status == "pending"


def test_a_failed_repayment_after_maturity_is_arrears_at_once(
    pool: ReservePool, network: ScratchNetwork
) -> None:
    request = _approved(pool)
    pool.settle(request, "18.50", "4.50", SETTLED)
    usd = _usd(pool, "ZA")
    spent = network.account(usd)
    assert spent is not None and network.submit([Redeem(10**30, usd, spent.available_minor)])[0].ok
    outcome = pool.repay(request, MATURITY + timedelta(days=3))
    assert not outcome.settled
    assert [d.kind for d in outcome.decisions] == ["step_refused", "arrears"]
    assert pool.state.drawings[request].arrears_since == MATURITY + timedelta(days=1)


def test_renewals_within_the_rulebook_limit(pool: ReservePool, network: ScratchNetwork) -> None:
    request = _approved(pool)
    pool.settle(request, "18.50", "4.50", SETTLED)
    maturity = MATURITY
    za_before = balances(network)[_usd(pool, "ZA")]
    first = pool.renew(request, "4.25", maturity)
    assert first.settled and sum(f.amount_minor for f in first.flows) == 28_816_667
    assert balances(network)[_usd(pool, "ZA")] == za_before - 28_816_667
    swap = pool.state.drawings[request].swap
    assert swap is not None and swap.period_start == maturity and swap.renewals == 1
    assert swap.maturity_on == maturity + timedelta(days=182)
    for _ in range(2):
        maturity = pool.state.drawings[request].swap.maturity_on  # type: ignore[union-attr]
        assert pool.renew(request, "4.25", maturity).settled
    maturity = pool.state.drawings[request].swap.maturity_on  # type: ignore[union-attr]
    with pytest.raises(ReserveError, match="renewed 3 times, the most the rulebook allows"):
        pool.renew(request, "4.25", maturity)
    # Interest at the renewed rate: 4.25% + 1.50% for 182 days on China's 4,100,000.00.
    outcome = pool.repay(request, maturity)
    china = next(f for f in outcome.flows if f.label == "ZA pays CN interest")
    assert china.amount_minor == 11_918_472  # 4,100,000 x 5.75% x 182/360 = 119,184.722...
    assert set(network.totals_by_currency().values()) == {0}


def test_approval_lapses_when_not_drawn_in_time(pool: ReservePool) -> None:
    request = _approved(pool)
    with pytest.raises(ReserveError, match="was available until 2025-03-05"):
        pool.settle(request, "18.50", "4.50", REQUESTED + timedelta(days=31))
    [lapse] = pool.review(REQUESTED + timedelta(days=31))
    assert lapse.kind == "lapsed" and pool.state.drawings[request].status == "lapsed"


@pytest.mark.parametrize(
    ("rate", "reference", "text"),
    [
        ("0", "4.5", "above zero"),
        ("-1", "4.5", "out of range"),
        ("1e3", "4.5", "plain decimal"),
        ("18.5", "abc", "not a decimal"),
        ("18.5000000000001", "4.5", "more than 12 decimals"),
    ],
)
def test_bad_rates_are_refused(
    pool: ReservePool, network: ScratchNetwork, rate: str, reference: str, text: str
) -> None:
    request = _approved(pool)
    before, count = balances(network), pool.store.count()
    with pytest.raises(ReserveError, match=text):
        pool.settle(request, rate, reference, SETTLED)
    assert balances(network) == before and pool.store.count() == count


def test_a_step_interrupted_after_the_network_settled_it_settles_once(
    pool: ReservePool, network: ScratchNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = _approved(pool)
    real_submit = network.submit

    def crash_after_submit(commands):  # type: ignore[no-untyped-def]
        real_submit(commands)
        raise RuntimeError("power cut after the journal, before the pool's records")

    monkeypatch.setattr(network, "submit", crash_after_submit)
    with pytest.raises(RuntimeError):
        pool.settle(request, "18.50", "4.50", SETTLED)
    monkeypatch.setattr(network, "submit", real_submit)
    reopened = ReservePool(pool.store, network)
    assert reopened.state.drawings[request].pending_step() is not None
    with pytest.raises(ReserveError, match="run resume first"):
        reopened.settle(request, "18.50", "4.50", SETTLED)
    before = balances(network)
    [outcome] = reopened.resume()
    assert outcome.settled
    assert balances(network) == before  # the engine answered the first results: no second swap
    assert reopened.state.drawings[request].status == "active"


def test_drill_runs_the_whole_cycle_without_moving_real_balances(
    pool: ReservePool, network: ScratchNetwork
) -> None:
    before, count = balances(network), pool.store.count()
    report = pool.drill(
        "IN", "liquidity", "de_linked", 100_000_000 * USD, "83.10", "4.30", REQUESTED
    )
    assert report.outcome == "completed" and report.conserved
    assert balances(network) == before
    assert pool.store.count() == count + 1 and pool.state.drills == 1
    assert pool.state.drawings == {}  # the drill's request lives only in its copy
    # India draws 100m; providers CN/BR/RU/ZA 41:18:18:5 of 82: 50,000,000.00,
    # 21,951,219.51 twice and 6,097,560.98 (largest remainder). At 5.80% for 182 days
    # ACT/360: 1,466,111.11 + 643,658.54 x 2 + 178,794.04 = 2,932,222.23.
    assert report.interest_minor == 293_222_223
    failed = pool.drill("IN", "liquidity", "de_linked", 6 * 10**9 * USD, "83.10", "4.30", REQUESTED)
    assert failed.outcome == "failed" and "exceeds the de-linked" in failed.log[-1]


def test_a_provider_short_of_usd_fails_the_whole_swap_and_a_retry_settles(
    pool: ReservePool, network: ScratchNetwork
) -> None:
    request = _approved(pool)
    china = _usd(pool, "CN")
    reserves = network.account(china)
    assert reserves is not None
    assert network.submit([Redeem(10**30, china, reserves.available_minor)])[0].ok
    before = balances(network)
    refused = pool.settle(request, "18.50", "4.50", SETTLED)
    assert not refused.settled and refused.reason.startswith("AM04")
    assert "(CN pays USD)" in refused.reason
    # Both legs or neither: not even the other providers' USD or the issued ZAR moved.
    assert balances(network) == before
    drawing = pool.state.drawings[request]
    assert drawing.status == "approved" and drawing.steps[-1].outcome == "refused"
    # China's reserves come back; a second attempt (new command ids) settles.
    assert network.submit([Issue(10**30 + 1, china, 41 * 10**9 * USD)])[0].ok
    retried = pool.settle(request, "18.50", "4.50", SETTLED)
    assert retried.settled
    first_ids = {f.command_id for f in refused.flows}
    assert first_ids.isdisjoint(f.command_id for f in retried.flows)
    assert pool.state.drawings[request].status == "active"
