"""A loan's whole life on a real network (journal on disk), reconciled to the cent.

Shaped on the NDB's Rajasthan water facility [V]: USD 345,000,000 to the Republic of
India (here its central bank's USD account), signed 13 Feb 2018, in tranches. Funded by
the members' paid-in capital, which they pay over the network. Along the way: a late
payment with penalty interest, a new rate fixing, a cancellation, a prepayment. At the
end the loan's records are checked against the network's journal (replayed from disk).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from interbank.engine import Issue
from interbank.lending.bank import DevelopmentBank
from interbank.lending.store import DecisionStore
from interbank.lending.terms import LendingRulebook, load_bank_binding, parse_loan_terms
from interbank.network_port import open_network
from interbank.node import verify
from interbank.sim import demo_network

USD = 100
SIGNED = date(2018, 2, 13)

LOAN = """
loan_id = "NDB-IN-RJ-1"
borrower_bic = "GGRBINBB"
currency = "USD"
amount = 345_000_000
signed_on = 2018-02-13
reference_rate_percent = 2.10
shape = "equal_principal"
grace_months = 48
maturity_months = 144

[[tranche]]
on = 2018-02-13
amount = 100_000_000

[[tranche]]
on = 2019-03-01
amount = 120_000_000

[[tranche]]
on = 2020-03-01
amount = 125_000_000
"""


def test_full_loan_life_reconciles_with_the_journal(
    tmp_path: Path, rulebook: LendingRulebook
) -> None:
    db = str(tmp_path / "net.db")
    with open_network(db, create=True) as network:
        assert all(r.ok for r in network.submit(demo_network(1).setup_commands()))
        bank = DevelopmentBank.create(
            DecisionStore.open(db + ".lending"), rulebook, date(2018, 1, 2), network
        )
        bank.bind(load_bank_binding(), date(2018, 1, 2))
        bank.subscribe_initial(date(2018, 1, 2))
        # Members hold USD at the agent and pay USD 150,000,000 of capital each.
        ids = iter(range(10**36, 10**36 + 1000))
        for member, bic in bank.state.members.items():
            account = network.settlement_account(bic, "USD")
            assert account is not None
            assert network.submit([Issue(next(ids), account, 150_000_000 * USD)])[0].ok
            assert bank.pay_capital(member, 150_000_000 * USD, date(2018, 1, 2)).settled
        bank_usd = bank.state.bank_account("USD")
        borrower = network.settlement_account("GGRBINBB", "USD")
        assert bank_usd is not None and borrower is not None
        capital = network.account(bank_usd)
        assert capital is not None and capital.balance_minor == 750_000_000 * USD

        loan = bank.sign(parse_loan_terms(LOAN, rulebook), SIGNED)
        # Principal at 54 ... 144 months: 16 instalments, average (4.5 + 12.0) / 2 = 8.25
        # years -> AIIB bucket ">8-10" -> 90 bp.
        assert loan.plan.spread_bp == 90

        def pay_due(on: date) -> None:
            # The borrower is sent what is due (its budget), then repays.
            loan = bank.state.loans["NDB-IN-RJ-1"]
            period = loan.next_unpaid()
            assert period is not None
            dues = bank.dues("NDB-IN-RJ-1", period)
            assert network.submit([Issue(next(ids), borrower, dues.total_minor + 10**6 * USD)])[
                0
            ].ok
            outcomes = bank.repay("NDB-IN-RJ-1", on)
            assert all(o.settled for o in outcomes), outcomes[-1].reason

        assert bank.disburse("NDB-IN-RJ-1", 100_000_000 * USD, SIGNED).settled
        dates = loan.plan.payment_dates
        for n, due in enumerate(dates):
            if due == date(2019, 2, 13):
                pay_due(due)
                assert bank.disburse("NDB-IN-RJ-1", 120_000_000 * USD, date(2019, 3, 1)).settled
                continue
            if due == date(2020, 2, 13):
                pay_due(due)
                bank.cancel("NDB-IN-RJ-1", 25_000_000 * USD, date(2020, 3, 1))
                assert bank.disburse("NDB-IN-RJ-1", 100_000_000 * USD, date(2020, 3, 1)).settled
                bank.fix_rate("NDB-IN-RJ-1", date(2020, 8, 13), "0.35", date(2020, 3, 1))
                continue
            if due == date(2023, 2, 13):  # ten days late: arrears, then penalty interest
                [arrears] = bank.review(due + timedelta(days=1))
                assert arrears.kind == "arrears"
                pay_due(due + timedelta(days=10))
                assert bank.state.loans["NDB-IN-RJ-1"].arrears_since is None
                continue
            if due == date(2024, 2, 13):
                pay_due(due)
                assert network.submit([Issue(next(ids), borrower, 20_000_000 * USD)])[0].ok
                assert bank.prepay("NDB-IN-RJ-1", 20_000_000 * USD, due).settled
                continue
            pay_due(due)
            assert n == dates.index(due)

        loan = bank.state.loans["NDB-IN-RJ-1"]
        assert loan.closed() and loan.events.disbursed_minor() == 320_000_000 * USD
        assert loan.events.cancelled_minor() == 25_000_000 * USD
        penalties = [p.penalty_minor for p in loan.paid if p.penalty_minor]
        assert len(penalties) == 1

        reconciliation = bank.reconcile("NDB-IN-RJ-1")
        assert reconciliation.ok, [line for line in reconciliation.lines if not line.ok]
        lines = {line.item: line for line in reconciliation.lines}
        assert lines["disbursement"].journal_minor == 320_000_000 * USD
        assert lines["principal"].journal_minor + lines["prepayment"].journal_minor == (
            320_000_000 * USD
        )
        assert lines["front-end fee"].journal_minor == 862_500 * USD  # 0.25% of 345,000,000
        assert lines["outstanding"].journal_minor == 0
        # The bank's USD account moved by exactly the loan's cash flows.
        inflows = sum(
            line.journal_minor
            for line in reconciliation.lines
            if line.item not in ("disbursement", "outstanding")
        )
        final = network.account(bank_usd)
        assert final is not None
        assert final.balance_minor == 750_000_000 * USD - 320_000_000 * USD + inflows
        assert set(network.totals_by_currency().values()) == {0}
    report = verify(db)
    assert report.ok, report.problems
    # Reopened from disk: the records fold to the same loan and still reconcile.
    with open_network(db) as network:
        reopened = DevelopmentBank(DecisionStore.open(db + ".lending"), network)
        assert reopened.state.loans["NDB-IN-RJ-1"] == loan
        assert reopened.reconcile("NDB-IN-RJ-1").ok
