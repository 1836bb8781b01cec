"""The development bank at work: capital, loans, disbursements, repayments, reconciliation.

Each operation reads the state (a fold of the record store), checks the request against
the loan's terms and the rulebook, and either refuses it with a ``LendingError``
(nothing recorded, nothing moved) or records its decisions in one transaction.
Operations that move money record the step and its transfers first ("submitted"),
submit them as one linked chain (all or none), then record the outcome: settled, or
refused with the network's reason (recorded: a refusal by the network is a fact, not
bad input).

Money moves only by transfers between settlement accounts:
  capital        member's central bank -> bank (capital currency)
  disbursement   bank -> borrower, with the front-end fee borrower -> bank on the first
                 (the two settle together, so the fee is paid out of the proceeds)
  repayment      borrower -> bank: principal, interest, commitment fee, penalty
  prepayment     borrower -> bank: the amount and its premium
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from interbank.engine.codes import ResultCode
from interbank.engine.commands import (
    AccountKind,
    Command,
    OpenAccount,
    RegisterParticipant,
    Result,
    Role,
    Transfer,
)
from interbank.lending.schedule import (
    Dues,
    outstanding_minor,
    penalty_minor,
    period_dues,
    plan_loan,
    round_half_up,
)
from interbank.lending.state import (
    CAPITAL_SUBJECT_PREFIX,
    BankState,
    Flow,
    Loan,
    Step,
    fold,
    plan_as_json,
)
from interbank.lending.store import Decision, DecisionStore
from interbank.lending.terms import (
    BankBinding,
    LendingError,
    LendingRulebook,
    LoanTerms,
    parse_lending_rulebook,
)
from interbank.money import AMOUNT_MINOR_MAX, currency
from interbank.network_port import Network, derive_command_id

LOANS_MAX = 100_000


@dataclass(frozen=True, slots=True)
class StepOutcome:
    subject: str
    purpose: str
    settled: bool
    reason: str
    flows: tuple[Flow, ...]
    decisions: tuple[Decision, ...]


@dataclass(frozen=True, slots=True)
class VotingRow:
    member: str
    founder: bool
    paid_in_shares: int
    callable_shares: int
    voting_percent: Fraction
    paid_minor: int
    exercisable_votes: int  # paid-in shares whose price has been received


@dataclass(frozen=True, slots=True)
class ReconLine:
    item: str
    records_minor: int  # what the loan's records (recomputed from its terms) say
    journal_minor: int  # what the network's journal settled
    ok: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class Reconciliation:
    loan_id: str
    currency: str
    lines: tuple[ReconLine, ...]

    @property
    def ok(self) -> bool:
        return all(line.ok for line in self.lines)


class DevelopmentBank:
    """The bank over one record store and (for steps that move money) one network."""

    def __init__(self, store: DecisionStore, network: Network | None = None) -> None:
        self.store = store
        self.network = network
        self._state = fold(store.decisions())
        self.rulebook = self._stored_rulebook()

    @staticmethod
    def create(
        store: DecisionStore, rulebook: LendingRulebook, on: date, network: Network | None = None
    ) -> DevelopmentBank:
        if store.count():
            raise LendingError("DUPL", f"{store.location} already holds a bank's records")
        with store.transaction():
            store.append(on, "rulebook_adopted", rulebook.name, _rulebook_payload(rulebook))
        return DevelopmentBank(store, network)

    def _stored_rulebook(self) -> LendingRulebook:
        adopted = [d for d in self.store.decisions() if d.kind == "rulebook_adopted"]
        if not adopted:
            raise LendingError("NARR", f"{self.store.location} holds no bank (no rulebook)")
        return parse_lending_rulebook(adopted[-1].payload["text"])

    @property
    def state(self) -> BankState:
        return self._state

    def _refresh(self, on: date | None = None) -> None:
        self._state = fold(self.store.decisions(self._state.last_seq), self._state)
        if on is not None:
            if not isinstance(on, date):
                raise LendingError("FF01", f"{on!r} is not a date")
            last = self._state.last_on
            if last is not None and on < last:
                raise LendingError(
                    "FF01",
                    f"{on} is before the bank's last decision ({last}); "
                    "the bank's calendar does not go back",
                )

    def _record(self, entries: Sequence[tuple[date, str, str, dict[str, Any]]]) -> list[Decision]:
        with self.store.transaction():
            written = [self.store.append(*entry) for entry in entries]
        self._state = fold(written, self._state)
        return written

    def adopt(self, rulebook: LendingRulebook, on: date) -> Decision:
        """A new rulebook version; loans already signed keep their frozen plan."""
        self._refresh(on)
        decision = self._record(
            [(on, "rulebook_adopted", rulebook.name, _rulebook_payload(rulebook))]
        )[0]
        self.rulebook = rulebook
        return decision

    # --- the bank on the network ------------------------------------------------------------

    def bind(self, binding: BankBinding, on: date) -> Decision:
        """Register the bank (and a USD agent if the capital currency has no issuer) and
        open its settlement accounts; record which central bank is which member."""
        network = self._network()
        self._refresh(on)
        namespace = self.store.namespace
        commands: list[Command] = []
        taken: set[int] = set()

        def free_id() -> int:
            account_id = binding.account_id_base
            while account_id in taken or network.account(account_id) is not None:
                account_id += 1
            taken.add(account_id)
            return account_id

        capital = self.rulebook.capital_currency
        if capital == "USD" and network.issuer(capital) is None:
            commands += [
                RegisterParticipant(
                    derive_command_id(namespace, "bind", "agent"),
                    binding.usd_agent_bic,
                    binding.usd_agent_name,
                    Role.CENTRAL_BANK,
                    capital,
                ),
                OpenAccount(
                    derive_command_id(namespace, "bind", "agent", "account"),
                    free_id(),
                    binding.usd_agent_bic,
                    capital,
                    AccountKind.ISSUANCE,
                ),
            ]
        if network.participant(binding.bank_bic) is None:
            commands.append(
                RegisterParticipant(
                    derive_command_id(namespace, "bind", "bank"),
                    binding.bank_bic,
                    binding.bank_name,
                    Role.DIRECT,
                )
            )
        accounts: dict[str, int] = {}
        for code in dict.fromkeys((capital, *binding.lending_currencies)):
            account_id = network.settlement_account(binding.bank_bic, code)
            if account_id is None:
                account_id = free_id()
                commands.append(
                    OpenAccount(
                        derive_command_id(namespace, "bind", "bank", code),
                        account_id,
                        binding.bank_bic,
                        code,
                    )
                )
            accounts[code] = account_id
        for code, bic in binding.members:
            if network.participant(bic) is None:
                raise LendingError(
                    "RC01", f"member {code}'s central bank {bic} is not on the network"
                )
            # Members pay capital from an account in the capital currency.
            if network.settlement_account(bic, capital) is None:
                commands.append(
                    OpenAccount(
                        derive_command_id(namespace, "bind", "member", code),
                        free_id(),
                        bic,
                        capital,
                    )
                )
        refused = [r for r in network.submit(commands) if not r.ok]
        if refused:
            raise LendingError(refused[0].reason, f"the network refused: {refused[0].text}")
        return self._record(
            [
                (
                    on,
                    "bank_bound",
                    binding.bank_bic,
                    {
                        "bic": binding.bank_bic,
                        "accounts": accounts,
                        "members": dict(binding.members),
                    },
                )
            ]
        )[0]

    # --- capital ---------------------------------------------------------------------------

    def subscribe(
        self, member: str, paid_in_shares: int, callable_shares: int, on: date
    ) -> Decision:
        """A member subscribes shares; refused if the founders' vote would fall below the
        floor. Voting power counts paid-in shares."""
        self._refresh(on)
        bic = self._state.members.get(member)
        if bic is None:
            raise LendingError("AG01", f"{member!r} is not a member named in the binding")
        for value, what in ((paid_in_shares, "paid-in"), (callable_shares, "callable")):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
                raise LendingError("FF01", f"{what} shares: a whole number from 0 to 10^9")
        if paid_in_shares + callable_shares == 0:
            raise LendingError("AM01", "a subscription is at least one share")
        founder = member in self.rulebook.founders
        votes = {m: s.paid_in_shares for m, s in self._state.subscriptions.items()}
        votes[member] = votes.get(member, 0) + paid_in_shares
        total = sum(votes.values())
        founders = sum(v for m, v in votes.items() if m in self.rulebook.founders)
        floor = Fraction(self.rulebook.founders_vote_floor_percent)
        if total and Fraction(founders * 100, total) < floor:
            share = Fraction(founders * 100, total)
            raise LendingError(
                "AG01",
                f"the founders' voting power would fall to {_percent(share)}%, below "
                f"the floor of {self.rulebook.founders_vote_floor_percent}%",
            )
        return self._record(
            [
                (
                    on,
                    "subscribed",
                    member,
                    {
                        "member": member,
                        "bic": bic,
                        "founder": founder,
                        "paid_in_shares": paid_in_shares,
                        "callable_shares": callable_shares,
                    },
                )
            ]
        )[0]

    def subscribe_initial(self, on: date) -> list[Decision]:
        """The rulebook's initial subscriptions (the founders'), in its order."""
        return [
            self.subscribe(s.member, s.paid_in_shares, s.callable_shares, on)
            for s in self.rulebook.initial
        ]

    def voting(self) -> list[VotingRow]:
        self._refresh()
        subscriptions = self._state.subscriptions
        total = sum(s.paid_in_shares for s in subscriptions.values())
        par = self.rulebook.share_par_minor
        return [
            VotingRow(
                s.member,
                s.founder,
                s.paid_in_shares,
                s.callable_shares,
                Fraction(s.paid_in_shares * 100, total) if total else Fraction(0),
                s.paid_minor,
                min(s.paid_minor // par, s.paid_in_shares),
            )
            for s in subscriptions.values()
        ]

    def pay_capital(self, member: str, amount_minor: int, on: date) -> StepOutcome:
        """A member pays part of its paid-in capital: a transfer from its central bank's
        account in the capital currency to the bank's."""
        self._refresh(on)
        subscription = self._state.subscriptions.get(member)
        if subscription is None:
            raise LendingError("AG01", f"{member!r} has no subscription")
        self._positive(amount_minor)
        owed = subscription.paid_in_shares * self.rulebook.share_par_minor - subscription.paid_minor
        if amount_minor > owed:
            raise LendingError(
                "AM02",
                f"{self._units(amount_minor, self.rulebook.capital_currency)} is more than "
                f"the {self._units(owed, self.rulebook.capital_currency)} of paid-in capital "
                f"{member} still owes",
            )
        network = self._network()
        code = self.rulebook.capital_currency
        source = network.settlement_account(subscription.bic, code)
        if source is None:
            raise LendingError("AM03", f"{member}'s central bank holds no {code} account")
        target = self._bank_account(code)
        subject = CAPITAL_SUBJECT_PREFIX + member
        return self._run_step(
            subject,
            "capital",
            on,
            [(source, target, amount_minor, code, "paid-in capital")],
            {"member": member, "amount_minor": amount_minor},
        )

    # --- loans -------------------------------------------------------------------------------

    def sign(self, terms: LoanTerms, on: date) -> Loan:
        """Sign a loan: its terms are checked, its plan (dates, shape, average maturity,
        spread, front-end fee) derived and frozen in the records."""
        self._refresh(on)
        if on != terms.signed_on:
            raise LendingError("FF01", f"the loan says it is signed on {terms.signed_on}, not {on}")
        if terms.loan_id in self._state.loans:
            raise LendingError("DUPL", f"loan {terms.loan_id} is already signed")
        if len(self._state.loans) >= LOANS_MAX:
            raise LendingError("NARR", f"the bank keeps at most {LOANS_MAX} loans")
        plan = plan_loan(terms, self.rulebook)
        network = self._network()
        if network.participant(terms.borrower_bic) is None:
            raise LendingError("RC01", f"borrower {terms.borrower_bic} is not on the network")
        account_id = terms.borrower_account_id or network.settlement_account(
            terms.borrower_bic, terms.currency
        )
        if account_id is None:
            raise LendingError(
                "AM03", f"{terms.borrower_bic} holds no {terms.currency} settlement account"
            )
        facts = network.account(account_id)
        if facts is None or not facts.settlement or facts.closed:
            raise LendingError("AC01", f"account {account_id} is not an open settlement account")
        if facts.currency != terms.currency:
            raise LendingError(
                "AM03",
                f"account {account_id} is in {facts.currency}; the loan is in {terms.currency}",
            )
        bank_account = self._bank_account(terms.currency)
        self._record(
            [
                (
                    on,
                    "signed",
                    terms.loan_id,
                    {
                        "terms": terms.as_json(),
                        "plan": plan_as_json(plan),
                        "borrower_account_id": account_id,
                        "bank_account_id": bank_account,
                    },
                )
            ]
        )
        return self._state.loans[terms.loan_id]

    def disburse(self, loan_id: str, amount_minor: int, on: date) -> StepOutcome:
        """Pay out part of the loan, within the tranches available by ``on``."""
        self._refresh(on)
        loan = self._loan(loan_id)
        self._positive(amount_minor)
        self._no_step_in_flight(loan_id)
        terms, plan = loan.terms, loan.plan
        if on < terms.signed_on:
            raise LendingError("FF01", f"{on} is before the signing ({terms.signed_on})")
        if on >= plan.availability_end:
            raise LendingError(
                "AG01",
                f"the availability period of {loan_id} ended on "
                f"{plan.availability_end - timedelta(days=1)}",
            )
        self._not_overdue(loan, on)
        released = sum(t.amount_minor for t in terms.tranches if t.on <= on)
        cap = min(released, terms.amount_minor - loan.events.cancelled_minor())
        available = max(cap - loan.events.disbursed_minor(), 0)
        if amount_minor > available:
            code = terms.currency
            raise LendingError(
                "AM02",
                f"{self._units(amount_minor, code)} {code} is beyond the undisbursed "
                f"amount available on {on}: {self._units(available, code)} (tranches released "
                f"{self._units(released, code)}, disbursed "
                f"{self._units(loan.events.disbursed_minor(), code)}, cancelled "
                f"{self._units(loan.events.cancelled_minor(), code)})",
            )
        fee = plan.front_end_fee_minor if not loan.events.disbursements else 0
        flows = [
            (
                loan.bank_account_id,
                loan.borrower_account_id,
                amount_minor,
                terms.currency,
                "disbursement",
            )
        ]
        if fee:
            flows.append(
                (
                    loan.borrower_account_id,
                    loan.bank_account_id,
                    fee,
                    terms.currency,
                    "front-end fee",
                )
            )
        return self._run_step(
            loan_id,
            "disbursement",
            on,
            flows,
            {"amount_minor": amount_minor, "front_end_fee_minor": fee},
        )

    def cancel(self, loan_id: str, amount_minor: int, on: date) -> Decision:
        """Cancel part of the undisbursed amount: the commitment fee stops on it."""
        self._refresh(on)
        loan = self._loan(loan_id)
        self._positive(amount_minor)
        if on >= loan.plan.availability_end:
            raise LendingError("AG01", f"the availability period of {loan_id} has ended")
        if amount_minor > loan.undisbursed_minor():
            code = loan.terms.currency
            raise LendingError(
                "AM02", f"only {self._units(loan.undisbursed_minor(), code)} {code} is undisbursed"
            )
        return self._record([(on, "cancelled", loan_id, {"amount_minor": amount_minor})])[0]

    def fix_rate(
        self, loan_id: str, period_start: date, reference_rate_percent: str, on: date
    ) -> Decision:
        """Fix the reference rate for the periods starting on or after ``period_start``
        (a payment date or the signing date) whose interest is not paid yet."""
        self._refresh(on)
        loan = self._loan(loan_id)
        starts = (loan.terms.signed_on, *loan.plan.payment_dates[:-1])
        if period_start not in starts:
            raise LendingError("FF01", f"{period_start} is not the start of a period of {loan_id}")
        period = starts.index(period_start)
        if period in loan.paid_periods():
            raise LendingError("AG01", f"the period from {period_start} is paid already")
        rate = _rate(reference_rate_percent)
        return self._record(
            [
                (
                    on,
                    "rate_fixed",
                    loan_id,
                    {
                        "period_start": period_start.isoformat(),
                        "reference_rate_percent": str(rate),
                    },
                )
            ]
        )[0]

    def dues(self, loan_id: str, period: int) -> Dues:
        loan = self._loan(loan_id)
        return period_dues(loan.terms, loan.plan, loan.events, period)

    def repay(
        self, loan_id: str, on: date, from_account_id: int | None = None
    ) -> list[StepOutcome]:
        """Pay every period due on or before ``on`` that is not paid yet, oldest first, each
        as one chain (principal, interest, commitment fee, penalty); stop at a refusal."""
        self._refresh(on)
        loan = self._loan(loan_id)
        self._no_step_in_flight(loan_id)
        source = self._paying_account(loan, from_account_id)
        outcomes: list[StepOutcome] = []
        while True:
            loan = self._state.loans[loan_id]
            period = loan.next_unpaid()
            if period is None or loan.plan.payment_dates[period] > on:
                break
            dues = period_dues(loan.terms, loan.plan, loan.events, period)
            penalty = penalty_minor(loan.terms, loan.plan, dues, on)
            code = loan.terms.currency
            flows = [
                (source, loan.bank_account_id, amount, code, label)
                for amount, label in (
                    (dues.principal_minor, "principal"),
                    (dues.interest_minor, "interest"),
                    (dues.commitment_fee_minor, "commitment fee"),
                    (penalty, "penalty interest"),
                )
            ]
            outcome = self._run_step(
                loan_id,
                "repayment",
                on,
                flows,
                {
                    "period": period,
                    "due_on": dues.due_on.isoformat(),
                    "principal_minor": dues.principal_minor,
                    "interest_minor": dues.interest_minor,
                    "commitment_fee_minor": dues.commitment_fee_minor,
                    "penalty_minor": penalty,
                },
            )
            outcomes.append(outcome)
            if not outcome.settled:
                break
        if not outcomes:
            raise LendingError("NARR", f"nothing of {loan_id} is due on or before {on}")
        return outcomes

    def prepay(
        self, loan_id: str, amount_minor: int, on: date, from_account_id: int | None = None
    ) -> StepOutcome:
        """Repay principal early, on a payment date once that date's dues are paid; it is
        taken off the last instalments first, and bears the premium."""
        self._refresh(on)
        loan = self._loan(loan_id)
        self._positive(amount_minor)
        self._no_step_in_flight(loan_id)
        source = self._paying_account(loan, from_account_id)
        plan = loan.plan
        if on not in plan.payment_dates or on < plan.availability_end:
            raise LendingError(
                "AG01",
                f"{loan_id} may be prepaid only on a payment date from {plan.availability_end} on",
            )
        unpaid = loan.next_unpaid()
        if unpaid is not None and plan.payment_dates[unpaid] <= on:
            raise LendingError("AG01", f"pay what is due on {plan.payment_dates[unpaid]} first")
        outstanding = outstanding_minor(plan, loan.events, on)
        code = loan.terms.currency
        if amount_minor > outstanding:
            raise LendingError(
                "AM02",
                f"{self._units(amount_minor, code)} {code} is more than the "
                f"{self._units(outstanding, code)} outstanding",
            )
        premium = round_half_up(Fraction(amount_minor * loan.terms.prepayment_premium_bp, 10_000))
        flows = [
            (source, loan.bank_account_id, amount_minor, code, "prepayment"),
            (source, loan.bank_account_id, premium, code, "prepayment premium"),
        ]
        return self._run_step(
            loan_id,
            "prepayment",
            on,
            flows,
            {"amount_minor": amount_minor, "premium_minor": premium},
        )

    def review(self, on: date) -> list[Decision]:
        """What a date passing decides: loans with dues unpaid after their date go into
        arrears (and may not draw until they are paid); undisbursed amounts left when
        the availability period ends are cancelled."""
        self._refresh(on)
        entries: list[tuple[date, str, str, dict[str, Any]]] = []
        for loan_id, loan in self._state.loans.items():
            if self._state.pending_step(loan_id) is not None:
                continue
            period = loan.next_unpaid()
            if period is not None and loan.arrears_since is None:
                due_on = loan.plan.payment_dates[period]
                if on > due_on:
                    entries.append(
                        (
                            on,
                            "arrears",
                            loan_id,
                            {
                                "since": (due_on + timedelta(days=1)).isoformat(),
                                "period": period,
                            },
                        )
                    )
            left = loan.undisbursed_minor()
            if left and on >= loan.plan.availability_end:
                entries.append(
                    (
                        on,
                        "cancelled",
                        loan_id,
                        {
                            "amount_minor": left,
                            "reason": "availability period ended",
                        },
                    )
                )
        return self._record(entries) if entries else []

    def resume(self) -> list[StepOutcome]:
        """Finish steps recorded as submitted without an outcome (after a crash)."""
        self._refresh()
        outcomes = []
        for subject in list(self._state.steps):
            step = self._state.pending_step(subject)
            if step is not None:
                outcomes.append(self._submit_step(subject, step))
        return outcomes

    # --- reconciliation ----------------------------------------------------------------------

    def reconcile(self, loan_id: str) -> Reconciliation:
        """Check a loan against the network's journal, to the cent: every transfer the
        records say settled is in the journal as recorded (accounts, amount, currency),
        none of a refused step is, and the totals by kind equal what the loan's terms
        give when recomputed from its events."""
        self._refresh()
        loan = self._loan(loan_id)
        steps = self._state.steps.get(loan_id, ())
        settled = [f for s in steps if s.outcome == "settled" for f in s.flows]
        refused = [f for s in steps if s.outcome == "refused" for f in s.flows]
        moves = self._network().settled_moves([f.command_id for f in settled + refused])
        lines: list[ReconLine] = []
        journal_by_label: dict[str, int] = {}
        for flow in settled:
            move = moves.get(flow.command_id)
            if move is None:
                lines.append(
                    ReconLine(
                        f"{flow.label} {flow.command_id:032x}",
                        flow.amount_minor,
                        0,
                        False,
                        "not settled in the journal",
                    )
                )
                continue
            same = (
                move.debit_account_id,
                move.credit_account_id,
                move.amount_minor,
                move.currency,
            ) == (flow.debit_account_id, flow.credit_account_id, flow.amount_minor, flow.currency)
            if not same:
                lines.append(
                    ReconLine(
                        f"{flow.label} {flow.command_id:032x}",
                        flow.amount_minor,
                        move.amount_minor,
                        False,
                        "differs from the records",
                    )
                )
            journal_by_label[flow.label] = journal_by_label.get(flow.label, 0) + move.amount_minor
        for flow in refused:
            if flow.command_id in moves:
                lines.append(
                    ReconLine(
                        f"{flow.label} {flow.command_id:032x}",
                        0,
                        moves[flow.command_id].amount_minor,
                        False,
                        "refused in the records, settled in the journal",
                    )
                )
        expected = self._expected_totals(loan)
        for label, amount in expected.items():
            journal = journal_by_label.get(label, 0)
            lines.append(ReconLine(label, amount, journal, amount == journal))
        records_outstanding = (
            loan.events.disbursed_minor()
            - sum(p.principal_minor for p in loan.paid)
            - loan.events.prepaid_minor()
        )
        journal_outstanding = (
            journal_by_label.get("disbursement", 0)
            - journal_by_label.get("principal", 0)
            - journal_by_label.get("prepayment", 0)
        )
        lines.append(
            ReconLine(
                "outstanding",
                records_outstanding,
                journal_outstanding,
                records_outstanding == journal_outstanding,
            )
        )
        return Reconciliation(loan_id, loan.terms.currency, tuple(lines))

    def _expected_totals(self, loan: Loan) -> dict[str, int]:
        """Totals recomputed from the terms and the events, not copied from the records."""
        terms, plan, events = loan.terms, loan.plan, loan.events
        totals = {
            "disbursement": events.disbursed_minor(),
            "front-end fee": plan.front_end_fee_minor if events.disbursements else 0,
            "principal": 0,
            "interest": 0,
            "commitment fee": 0,
            "penalty interest": 0,
            "prepayment": events.prepaid_minor(),
            "prepayment premium": sum(
                round_half_up(Fraction(a * terms.prepayment_premium_bp, 10_000))
                for _, a in events.prepayments
            ),
        }
        for paid in loan.paid:
            dues = period_dues(terms, plan, events, paid.period)
            totals["principal"] += dues.principal_minor
            totals["interest"] += dues.interest_minor
            totals["commitment fee"] += dues.commitment_fee_minor
            totals["penalty interest"] += penalty_minor(terms, plan, dues, paid.paid_on)
        return totals

    # --- steps -------------------------------------------------------------------------------

    def _run_step(
        self,
        subject: str,
        purpose: str,
        on: date,
        flows: list[tuple[int, int, int, str, str]],
        detail: dict[str, Any],
    ) -> StepOutcome:
        self._network()
        attempt = self._state.attempts(subject, purpose) + 1
        kept = [f for f in flows if f[2] > 0]  # nothing due under a heading moves nothing
        namespace = self.store.namespace
        recorded = [
            Flow(
                derive_command_id(namespace, subject, purpose, attempt, n),
                debit,
                credit,
                amount,
                code,
                n < len(kept) - 1,
                label,
            )
            for n, (debit, credit, amount, code, label) in enumerate(kept)
        ]
        if any(f.amount_minor > AMOUNT_MINOR_MAX for f in recorded):
            raise LendingError("AM02", "a transfer would be over the network's limit")
        self._record(
            [
                (
                    on,
                    "step_submitted",
                    subject,
                    {
                        "purpose": purpose,
                        "attempt": attempt,
                        "detail": detail,
                        "flows": [f.as_json() for f in recorded],
                    },
                )
            ]
        )
        step = self._state.pending_step(subject)
        assert step is not None
        return self._submit_step(subject, step)

    def _submit_step(self, subject: str, step: Step) -> StepOutcome:
        network = self._network()
        commands = [
            Transfer(
                f.command_id, f.debit_account_id, f.credit_account_id, f.amount_minor, f.linked
            )
            for f in step.flows
        ]
        results = network.submit(commands) if commands else []
        failed = _first_failure(results, step.flows)
        entries: list[tuple[date, str, str, dict[str, Any]]] = []
        if failed is None:
            entries.append((step.on, "step_settled", subject, {"purpose": step.purpose}))
        else:
            entries.append(
                (step.on, "step_refused", subject, {"purpose": step.purpose, "reason": failed})
            )
            loan = self._state.loans.get(subject)
            if step.purpose == "repayment" and loan is not None and loan.arrears_since is None:
                due_on = date.fromisoformat(step.detail["due_on"])
                if step.on > due_on:
                    entries.append(
                        (
                            step.on,
                            "arrears",
                            subject,
                            {
                                "since": (due_on + timedelta(days=1)).isoformat(),
                                "period": step.detail["period"],
                            },
                        )
                    )
        written = self._record(entries)
        return StepOutcome(
            subject, step.purpose, failed is None, failed or "", step.flows, tuple(written)
        )

    # --- checks and lookups ----------------------------------------------------------------------

    def _network(self) -> Network:
        if self.network is None:
            raise LendingError("NARR", "this step needs the network: open the bank with one")
        return self.network

    def _loan(self, loan_id: str) -> Loan:
        loan = self._state.loans.get(loan_id)
        if loan is None:
            raise LendingError("NARR", f"no loan {loan_id!r}")
        return loan

    def _bank_account(self, code: str) -> int:
        account = self._state.bank_account(code)
        if account is None:
            raise LendingError("AM03", f"the bank holds no {code} account: bind it first")
        return account

    def _paying_account(self, loan: Loan, from_account_id: int | None) -> int:
        if from_account_id is None:
            return loan.borrower_account_id
        facts = self._network().account(from_account_id)
        if facts is None or not facts.settlement:
            raise LendingError("AC01", f"account {from_account_id} is not a settlement account")
        if facts.currency != loan.terms.currency:
            raise LendingError(
                "AM03",
                f"account {from_account_id} is in {facts.currency}; {loan.terms.loan_id} "
                f"is repaid in {loan.terms.currency}",
            )
        if facts.bic != loan.terms.borrower_bic:
            raise LendingError(
                "AG01",
                f"account {from_account_id} is not the borrower's ({loan.terms.borrower_bic})",
            )
        return from_account_id

    def _no_step_in_flight(self, subject: str) -> None:
        step = self._state.pending_step(subject)
        if step is not None:
            raise LendingError(
                "NARR", f"{subject} has a {step.purpose} step without an outcome; run resume first"
            )

    def _not_overdue(self, loan: Loan, on: date) -> None:
        period = loan.next_unpaid()
        if loan.arrears_since is not None or (
            period is not None and loan.plan.payment_dates[period] < on
        ):
            due = loan.plan.payment_dates[period] if period is not None else on
            raise LendingError(
                "AG01",
                f"{loan.terms.loan_id} has dues unpaid since {due}: no disbursement "
                "until they are paid",
            )

    @staticmethod
    def _positive(amount_minor: int) -> None:
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
            raise LendingError("FF01", "amounts are whole numbers of minor units")
        if amount_minor <= 0:
            raise LendingError(
                "AM01" if amount_minor == 0 else "AM12", "the amount must be positive"
            )
        if amount_minor > AMOUNT_MINOR_MAX:
            raise LendingError("AM02", "the amount is over the network's limit for one payment")

    @staticmethod
    def _units(amount_minor: int, code: str) -> str:
        exponent = currency(code).exponent
        whole, fraction = divmod(amount_minor, 10**exponent)
        return f"{whole:,}.{fraction:0{exponent}d}" if exponent else f"{whole:,}"


def _first_failure(results: Sequence[Result], flows: Sequence[Flow]) -> str | None:
    for result, flow in zip(results, flows, strict=True):
        if not result.ok and result.code != ResultCode.LINKED_EVENT_FAILED:
            return f"{result.reason} {result.text} ({flow.label})"
    return None


def _rulebook_payload(rulebook: LendingRulebook) -> dict[str, Any]:
    return {
        "name": rulebook.name,
        "version": rulebook.version,
        "sha256": rulebook.sha256,
        "text": rulebook.text,
    }


def _percent(value: Fraction) -> str:
    hundredths = round_half_up(value * 100)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def _rate(text: str) -> Decimal:
    try:
        rate = Decimal(text)
    except (InvalidOperation, TypeError):
        raise LendingError("FF01", f"rate {text!r} is not a decimal number") from None
    if not rate.is_finite() or rate < 0 or rate > 100 or "e" in str(text).lower():
        raise LendingError("FF01", f"rate {text!r} is not a plain decimal from 0 to 100")
    return rate
