"""Hypothesis: no sequence of loan commands breaks per-currency conservation, a refused
command changes nothing, and every loan always reconciles with what the network settled.

Random loans (shapes, day counts, grace, tranches) are signed, disbursed, repaid (on
time, late or not at all when the borrower has spent its money), prepaid, cancelled and
re-fixed, with dates moving forward, on a copy of the demo network.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from interbank.engine import Engine, Issue, Redeem
from interbank.lending.bank import DevelopmentBank
from interbank.lending.store import DecisionStore
from interbank.lending.terms import LendingError, LendingRulebook, load_bank_binding
from interbank.network_port import ScratchNetwork

from .conftest import RUPEE, START, balances, loan_terms

DAY_STEPS = (0, 0, 1, 10, 30, 90, 181, 184, 366)

operation = st.one_of(
    st.tuples(st.just("sign"), st.sampled_from(["equal_principal", "annuity", "bullet"]),
              st.sampled_from(["ACT/360", "30/360", "ACT/365F"]), st.sampled_from([12, 24]),
              st.integers(1, 9)),
    st.tuples(st.just("disburse"), st.integers(0, 3), st.integers(1, 100)),
    st.tuples(st.just("repay"), st.integers(0, 3)),
    st.tuples(st.just("prepay"), st.integers(0, 3), st.integers(1, 100)),
    st.tuples(st.just("cancel"), st.integers(0, 3), st.integers(1, 100)),
    st.tuples(st.just("fix"), st.integers(0, 3), st.sampled_from(["0", "3.5", "12.25"])),
    st.tuples(st.just("review"),),
    st.tuples(st.just("spend"), st.integers(0, 100)),
    st.tuples(st.just("fund"), st.integers(1, 10**7)),
)  # fmt: skip


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.tuples(operation, st.sampled_from(DAY_STEPS)), min_size=4, max_size=30))
def test_no_sequence_of_loan_commands_breaks_conservation(
    demo_snapshot: bytes,
    rulebook: LendingRulebook,
    steps: list[tuple[tuple, int]],  # type: ignore[type-arg]
) -> None:
    network = ScratchNetwork(Engine.restore(demo_snapshot))
    bank = DevelopmentBank.create(DecisionStore.in_memory(), rulebook, START, network)
    bank.bind(load_bank_binding(), START)
    inr = bank.state.bank_account("INR")
    borrower = network.settlement_account("GGRBINBB", "INR")
    assert inr is not None and borrower is not None
    network.submit([Issue(10**36, inr, 10**11 * RUPEE)])
    today = START
    external_id = 10**37
    # Every example starts with one loan signed and half disbursed, so that the random
    # steps meet a live loan from the first one on.
    first = loan_terms(rulebook, loan_id="L-0", amount="10000000", signed_on=today.isoformat(),
                       tranches=((today.isoformat(), "10000000"),))  # fmt: skip
    bank.sign(first, today)
    assert bank.disburse("L-0", 5_000_000 * RUPEE, today).settled
    for (op, *args), days in steps:
        today += timedelta(days=days)
        loans = sorted(bank.state.loans)
        count, before = bank.store.count(), balances(network)
        try:
            if op == "sign":
                shape, day_count, grace, tranche_count = args
                per = 10_000_000 // tranche_count
                tranches = tuple(
                    ((today + timedelta(days=30 * n)).isoformat(), str(per if n else
                     10_000_000 - per * (tranche_count - 1)))
                    for n in range(tranche_count)
                )  # fmt: skip
                terms = loan_terms(
                    rulebook, loan_id=f"L-{len(loans) + 1}", amount="10000000",
                    signed_on=today.isoformat(), shape=shape, grace=grace, maturity=60,
                    tranches=tranches, extra=f'day_count = "{day_count}"',
                )  # fmt: skip
                bank.sign(terms, today)
            elif op in ("disburse", "prepay", "cancel") and loans:
                loan = bank.state.loans[loans[args[0] % len(loans)]]
                terms, events = loan.terms, loan.events
                if op == "disburse":
                    released = sum(t.amount_minor for t in terms.tranches if t.on <= today)
                    room = min(released, terms.amount_minor - events.cancelled_minor())
                    amount = max(1, (room - events.disbursed_minor()) * args[1] // 100)
                    bank.disburse(terms.loan_id, amount, today)
                elif op == "cancel":
                    bank.cancel(
                        terms.loan_id, max(1, loan.undisbursed_minor() * args[1] // 100), today
                    )
                else:  # prepay on the next payment date after the availability period
                    later = [d for d in loan.plan.payment_dates
                             if d >= today and d >= loan.plan.availability_end]  # fmt: skip
                    if later:
                        today = later[0]
                        bank.repay(terms.loan_id, today)
                        count, before = bank.store.count(), balances(network)
                        outstanding = (
                            events.disbursed_minor()
                            - events.prepaid_minor()
                            - sum(p.principal_minor for p in bank.state.loans[terms.loan_id].paid)
                        )
                        amount = max(1, outstanding * args[1] // 100)
                        bank.prepay(terms.loan_id, amount, today)
            elif op == "repay" and loans:
                bank.repay(loans[args[0] % len(loans)], today)
            elif op == "fix" and loans:
                loan = bank.state.loans[loans[args[0] % len(loans)]]
                unpaid = loan.next_unpaid()
                if unpaid is not None:
                    start = (
                        loan.terms.signed_on if unpaid == 0 else loan.plan.payment_dates[unpaid - 1]
                    )
                    bank.fix_rate(loan.terms.loan_id, start, args[1], today)
            elif op == "review":
                bank.review(today)
            elif op in ("spend", "fund"):
                facts = network.account(borrower)
                assert facts is not None
                external_id += 1
                if op == "spend" and facts.available_minor * args[0] // 100:
                    network.submit(
                        [Redeem(external_id, borrower, facts.available_minor * args[0] // 100)]
                    )
                elif op == "fund":
                    network.submit([Issue(external_id, borrower, args[0] * RUPEE)])
        except LendingError as error:
            event(f"refused {op}: {error.reason_code}")
            assert bank.store.count() == count, "a refused command recorded something"
            assert balances(network) == before, "a refused command moved money"
        assert set(network.totals_by_currency().values()) == {0}
        for loan in bank.state.loans.values():
            assert (
                loan.events.disbursed_minor() + loan.events.cancelled_minor()
                <= loan.terms.amount_minor
            )
    for loan in bank.state.loans.values():
        event(f"periods paid: {min(len(loan.paid), 3)}{'+' if len(loan.paid) >= 3 else ''}")
        event("disbursed" if loan.events.disbursements else "never disbursed")
        if loan.arrears_since or any(p.penalty_minor for p in loan.paid):
            event("arrears or penalty")
    for loan_id in bank.state.loans:
        reconciliation = bank.reconcile(loan_id)
        assert reconciliation.ok, [line for line in reconciliation.lines if not line.ok]
    assert DevelopmentBank(bank.store, network).state == bank.state
