"""Capital and loan steps the bank refuses: each with a clear reason and no effect
(nothing recorded, no balance moved)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from fractions import Fraction

import pytest

from interbank.lending.bank import DevelopmentBank
from interbank.lending.store import DecisionStore
from interbank.lending.terms import LendingError, LendingRulebook, parse_bank_binding
from interbank.network_port import ScratchNetwork

from .conftest import RUPEE, START, balances, fund, loan_terms

SIGNED = date(2024, 1, 1)


def _refused(
    bank: DevelopmentBank, network: ScratchNetwork, code: str, text: str, call: Callable[[], object]
) -> None:
    count, before = bank.store.count(), balances(network)
    with pytest.raises(LendingError) as caught:
        call()
    assert caught.value.reason_code == code, caught.value
    assert text in caught.value.text, caught.value.text
    assert bank.store.count() == count, "a refused step recorded something"
    assert balances(network) == before, "a refused step moved money"


@pytest.fixture
def signed(bank: DevelopmentBank, rulebook: LendingRulebook) -> DevelopmentBank:
    terms = loan_terms(rulebook, tranches=(("2024-01-01", "60000000"), ("2024-06-01", "40000000")))
    bank.sign(terms, SIGNED)
    return bank


def test_disbursement_beyond_the_undisbursed_amount(
    signed: DevelopmentBank, network: ScratchNetwork
) -> None:
    _refused(
        signed,
        network,
        "AM02",
        "beyond the undisbursed amount available on 2024-01-01: 60,000,000.00",
        lambda: signed.disburse("L-1", 60_000_001 * RUPEE, SIGNED),
    )
    signed.disburse("L-1", 60_000_000 * RUPEE, SIGNED)
    later = date(2024, 6, 1)
    signed.cancel("L-1", 10_000_000 * RUPEE, later)
    _refused(
        signed,
        network,
        "AM02",
        "available on 2024-06-01: 30,000,000.00",
        lambda: signed.disburse("L-1", 30_000_001 * RUPEE, later),
    )
    _refused(
        signed,
        network,
        "AM02",
        "only 30,000,000.00 INR is undisbursed",
        lambda: signed.cancel("L-1", 30_000_001 * RUPEE, later),
    )


def test_repayment_in_the_wrong_currency(signed: DevelopmentBank, network: ScratchNetwork) -> None:
    signed.disburse("L-1", 60_000_000 * RUPEE, SIGNED)
    zar_account = network.settlement_account("GGRBINBB", "ZAR")
    usd_account = network.settlement_account("GGRBINBB", "USD")
    assert usd_account is not None
    _refused(
        signed,
        network,
        "AM03",
        f"account {usd_account} is in USD; L-1 is repaid in INR",
        lambda: signed.repay("L-1", date(2024, 7, 1), from_account_id=usd_account),
    )
    assert zar_account is None  # and an account that is not there is refused as such:
    _refused(
        signed,
        network,
        "AC01",
        "is not a settlement account",
        lambda: signed.repay("L-1", date(2024, 7, 1), from_account_id=123456789),
    )


def test_bad_loans_are_not_signed(
    bank: DevelopmentBank, network: ScratchNetwork, rulebook: LendingRulebook
) -> None:
    cases = [
        (
            loan_terms(rulebook, tranches=(("2024-01-01", "99999999.99"),)),
            "AM02",
            "the tranches must add up to the loan amount",
        ),
        (
            loan_terms(rulebook, tranches=(("2025-07-01", "100000000"),)),
            "FF01",
            "outside the availability period",
        ),
        (loan_terms(rulebook, grace=36, maturity=36), "FF01", "grace period must end"),
        (loan_terms(rulebook, maturity=40), "FF01", "whole numbers of payment intervals"),
        (loan_terms(rulebook, shape="bullet", grace=0, maturity=300), "AM02", "beyond aiib-2016"),
        (
            loan_terms(rulebook, extra="borrower_account_id = 101"),
            "AM03",
            "account 101 is in CNY; the loan is in INR",
        ),
    ]
    for terms, code, text in cases:
        _refused(bank, network, code, text, lambda t=terms: bank.sign(t, SIGNED))  # type: ignore[misc]
    bank.sign(loan_terms(rulebook), SIGNED)
    _refused(
        bank,
        network,
        "DUPL",
        "loan L-1 is already signed",
        lambda: bank.sign(loan_terms(rulebook), SIGNED),
    )


def test_no_disbursement_while_dues_are_unpaid(
    signed: DevelopmentBank, network: ScratchNetwork
) -> None:
    signed.disburse("L-1", 60_000_000 * RUPEE, SIGNED)
    _refused(
        signed,
        network,
        "AG01",
        "dues unpaid since 2024-07-01",
        lambda: signed.disburse("L-1", 1 * RUPEE, date(2024, 7, 2)),
    )


def test_capital_floor_for_the_founders(network: ScratchNetwork, rulebook: LendingRulebook) -> None:
    # A sixth member (the binding maps "AE" to a demo participant for the test) may not
    # take the founders' 100,000 paid-in shares below 55% of the votes.
    binding = parse_bank_binding(
        """format = 1
account_id_base = 7100000000
lending_currencies = ["USD", "INR"]
[bank]
bic = "DVBKCNSH"
name = "Members' Development Bank (test)"
[usd_agent]
bic = "PUSAUS33"
name = "USD agent (test)"
[member]
BR = "BCATBRDF"
RU = "NVCBRUMM"
IN = "GGRBINBB"
CN = "JDRBCNBJ"
ZA = "KPRBZAPP"
AE = "HVBKZAJJ"
"""
    )
    bank = DevelopmentBank.create(DecisionStore.in_memory(), rulebook, START, network)
    bank.bind(binding, START)
    bank.subscribe_initial(START)
    # 100,000 / 190,000 = 52.63% < 55%.
    _refused(
        bank,
        network,
        "AG01",
        "founders' voting power would fall to 52.63%",
        lambda: bank.subscribe("AE", 90_000, 0, START),
    )
    bank.subscribe("AE", 80_000, 320_000, START)  # 100,000 / 180,000 = 55.56%
    voting = {row.member: row.voting_percent for row in bank.voting()}
    assert voting["AE"] == Fraction(80_000 * 100, 180_000)
    assert sum(v for m, v in voting.items() if m != "AE") == Fraction(100_000 * 100, 180_000)
    _refused(
        bank, network, "AG01", "'EG' is not a member", lambda: bank.subscribe("EG", 1, 0, START)
    )


def test_capital_paid_in_no_more_than_owed(bank: DevelopmentBank, network: ScratchNetwork) -> None:
    usd = network.settlement_account("GGRBINBB", "USD")
    assert usd is not None
    fund(network, usd, 3_000_000_000 * 100)
    # India owes 20,000 shares x USD 100,000 = USD 2,000,000,000 of paid-in capital.
    outcome = bank.pay_capital("IN", 150_000_000 * 100, START)
    assert outcome.settled
    _refused(
        bank,
        network,
        "AM02",
        "more than the 1,850,000,000.00 of paid-in capital",
        lambda: bank.pay_capital("IN", 1_850_000_001 * 100, START),
    )
    row = next(r for r in bank.voting() if r.member == "IN")
    assert row.paid_minor == 150_000_000 * 100 and row.exercisable_votes == 1_500
