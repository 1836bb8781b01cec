"""A bound development bank on a private copy of the demo network (no journal: fast).

The bank is registered as a direct participant with accounts in USD and the five demo
currencies; the five demo central banks are the founding members. Loans in the tests
are in INR to the demo's Indian central bank (GGRBINBB), funded by an issue into the
bank's INR account (standing in for the bank's own borrowing, which is not modelled).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from itertools import count

import pytest

from interbank.engine import Engine, Issue
from interbank.lending.bank import DevelopmentBank
from interbank.lending.store import DecisionStore
from interbank.lending.terms import (
    LendingRulebook,
    LoanTerms,
    load_bank_binding,
    load_lending_rulebook,
    parse_loan_terms,
)
from interbank.network_port import ScratchNetwork
from interbank.sim import demo_network

START = date(2018, 1, 2)
RUPEE = 100  # minor units per rupee
BORROWER = "GGRBINBB"


@pytest.fixture(scope="session")
def demo_snapshot() -> bytes:
    engine = Engine()
    assert all(r.ok for r in engine.execute_many(demo_network(1).setup_commands(), 1))
    return engine.snapshot()


@pytest.fixture(scope="session")
def rulebook() -> LendingRulebook:
    return load_lending_rulebook()


@pytest.fixture
def network(demo_snapshot: bytes) -> ScratchNetwork:
    return ScratchNetwork(Engine.restore(demo_snapshot))


@pytest.fixture
def bank(network: ScratchNetwork, rulebook: LendingRulebook) -> DevelopmentBank:
    bank = DevelopmentBank.create(DecisionStore.in_memory(), rulebook, START, network)
    bank.bind(load_bank_binding(), START)
    bank.subscribe_initial(START)
    inr = bank.state.bank_account("INR")
    assert inr is not None
    assert network.submit([Issue(10**36, inr, 10**12 * RUPEE)])[0].ok
    return bank


_ids: Iterator[int] = count(10**37)


def fund(network: ScratchNetwork, account_id: int, amount_minor: int) -> None:
    assert network.submit([Issue(next(_ids), account_id, amount_minor)])[0].ok


LOAN = """
loan_id = "{loan_id}"
borrower_bic = "GGRBINBB"
currency = "INR"
amount = {amount}
signed_on = {signed_on}
reference_rate_percent = {reference}
shape = "{shape}"
grace_months = {grace}
maturity_months = {maturity}
{extra}
{tranches}
"""


def loan_terms(
    rulebook: LendingRulebook,
    *,
    loan_id: str = "L-1",
    amount: str = "100000000",
    signed_on: str = "2024-01-01",
    reference: str = "5.00",
    shape: str = "equal_principal",
    grace: int = 12,
    maturity: int = 36,
    tranches: tuple[tuple[str, str], ...] = (("2024-01-01", "100000000"),),
    extra: str = "",
) -> LoanTerms:
    text = LOAN.format(
        loan_id=loan_id,
        amount=amount,
        signed_on=signed_on,
        reference=reference,
        shape=shape,
        grace=grace,
        maturity=maturity,
        extra=extra,
        tranches="\n".join(f"[[tranche]]\non = {d}\namount = {a}" for d, a in tranches),
    )
    return parse_loan_terms(text, rulebook)


def balances(network: ScratchNetwork) -> dict[int, int]:
    return {a.account_id: a.balance_minor for a in network.engine.accounts()}
