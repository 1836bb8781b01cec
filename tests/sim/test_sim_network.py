"""The demo network: its shape, its determinism, and that the engine accepts it."""

from __future__ import annotations

import pytest

from interbank.engine import AccountKind, Engine, Issue, Role
from interbank.sim import CURRENCIES, demo_network
from interbank.sim.network import COUNTRY_OF


def test_five_central_banks_with_their_country_codes() -> None:
    network = demo_network(1)
    central = [b for b in network.banks if b.role == Role.CENTRAL_BANK]
    assert sorted(b.home_currency for b in central) == sorted(CURRENCIES)
    for bank in central:
        assert len(bank.bic) == 8 and bank.bic.isalnum() and bank.bic.isupper()
        assert bank.bic[4:6] == COUNTRY_OF[bank.home_currency]
        kinds = {a.kind for a in network.accounts if a.bic == bank.bic}
        assert kinds == {AccountKind.ISSUANCE, AccountKind.SETTLEMENT}


def test_commercial_banks_from_the_five_countries_some_in_several_currencies() -> None:
    network = demo_network(1)
    commercial = [b for b in network.banks if b.role == Role.DIRECT]
    assert len(commercial) >= 20
    assert {b.bic[4:6] for b in commercial} == set(COUNTRY_OF.values())
    currencies_held = {
        b.bic: {a.currency for a in network.accounts if a.bic == b.bic} for b in commercial
    }
    assert all(b.home_currency in currencies_held[b.bic] for b in commercial)
    assert sum(1 for held in currencies_held.values() if len(held) > 1) >= 3
    assert any(a.credit_line_minor > 0 for a in network.accounts)
    assert any(a.credit_line_minor == 0 for a in network.accounts)


@pytest.mark.parametrize("seed", [1, 2, 3, 42])
def test_the_engine_accepts_the_whole_setup(seed: int) -> None:
    network = demo_network(seed)
    engine = Engine()
    commands = network.setup_commands()
    results = engine.execute_many(commands, 1)
    assert [r.reason for r in results if not r.ok] == []
    funded = {c.account_id for c in commands if isinstance(c, Issue)}
    settlement = {a.account_id for a in network.accounts if a.kind == AccountKind.SETTLEMENT}
    assert funded == settlement
    for account in network.accounts:
        view = engine.account(account.account_id)
        assert view is not None and view.currency == account.currency
        assert view.credit_line_minor == account.credit_line_minor
        if account.kind == AccountKind.SETTLEMENT:
            assert view.balance_minor == account.funding_minor
        else:  # the issuance account is the counterpart of all money issued
            issued = sum(
                a.funding_minor for a in network.accounts if a.currency == account.currency
            )
            assert view.balance_minor == -issued
    assert set(engine.totals_by_currency().values()) == {0}


def test_same_seed_same_network_other_seed_other_network() -> None:
    assert demo_network(7) == demo_network(7)
    assert demo_network(7).setup_commands() == demo_network(7).setup_commands()
    assert demo_network(7).accounts != demo_network(8).accounts
