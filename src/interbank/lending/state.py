"""The bank's state: immutable records, and the fold that rebuilds them from decisions.

Nothing here decides anything: ``fold`` replays what the store says happened, in order.
A decision of a kind it does not know is an error (a newer program wrote the store).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from interbank.lending.schedule import LoanEvents, LoanPlan
from interbank.lending.store import Decision
from interbank.lending.terms import LoanTerms

CAPITAL_SUBJECT_PREFIX = "capital/"


@dataclass(frozen=True, slots=True)
class Flow:
    """One command of a network step, as recorded before it was submitted."""

    command_id: int
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    currency: str
    linked: bool
    label: str  # what it pays: "disbursement", "front-end fee", "principal", ...

    def as_json(self) -> dict[str, Any]:
        return {
            "command_id": str(self.command_id),
            "debit": self.debit_account_id,
            "credit": self.credit_account_id,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "linked": self.linked,
            "label": self.label,
        }

    @staticmethod
    def of_json(data: dict[str, Any]) -> Flow:
        return Flow(
            int(data["command_id"]),
            data["debit"],
            data["credit"],
            data["amount_minor"],
            data["currency"],
            data["linked"],
            data["label"],
        )


@dataclass(frozen=True, slots=True)
class Step:
    purpose: str  # "capital", "disbursement", "repayment", "prepayment"
    attempt: int
    on: date
    flows: tuple[Flow, ...]
    detail: dict[str, Any]
    outcome: str | None = None  # None: submitted, no outcome recorded yet
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PaidPeriod:
    period: int
    paid_on: date
    principal_minor: int
    interest_minor: int
    commitment_fee_minor: int
    penalty_minor: int


@dataclass(frozen=True, slots=True)
class Loan:
    terms: LoanTerms
    plan: LoanPlan
    borrower_account_id: int
    bank_account_id: int
    events: LoanEvents = field(default_factory=LoanEvents)
    paid: tuple[PaidPeriod, ...] = ()
    front_end_fee_paid_minor: int = 0
    premiums_paid_minor: int = 0
    arrears_since: date | None = None

    def paid_periods(self) -> set[int]:
        return {p.period for p in self.paid}

    def next_unpaid(self) -> int | None:
        paid = self.paid_periods()
        return next((k for k in range(len(self.plan.payment_dates)) if k not in paid), None)

    def undisbursed_minor(self) -> int:
        return (
            self.terms.amount_minor - self.events.disbursed_minor() - self.events.cancelled_minor()
        )

    def closed(self) -> bool:
        return self.next_unpaid() is None


@dataclass(frozen=True, slots=True)
class Subscription:
    member: str
    bic: str
    founder: bool
    paid_in_shares: int
    callable_shares: int
    paid_minor: int = 0


@dataclass(frozen=True, slots=True)
class BankState:
    rulebook_sha256: str = ""
    bank_bic: str = ""
    bank_accounts: tuple[tuple[str, int], ...] = ()
    members: dict[str, str] = field(default_factory=dict)  # member code -> central bank BIC
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    loans: dict[str, Loan] = field(default_factory=dict)
    steps: dict[str, tuple[Step, ...]] = field(default_factory=dict)  # by subject
    last_seq: int = 0
    last_on: date | None = None

    def bank_account(self, code: str) -> int | None:
        return dict(self.bank_accounts).get(code)

    def pending_step(self, subject: str) -> Step | None:
        return next((s for s in self.steps.get(subject, ()) if s.outcome is None), None)

    def attempts(self, subject: str, purpose: str) -> int:
        return sum(1 for s in self.steps.get(subject, ()) if s.purpose == purpose)


def plan_as_json(plan: LoanPlan) -> dict[str, Any]:
    return {
        "payment_dates": [d.isoformat() for d in plan.payment_dates],
        "principal_dates": [d.isoformat() for d in plan.principal_dates],
        "shares": [f"{s.numerator}/{s.denominator}" for s in plan.shares],
        "average_maturity_years": str(plan.average_maturity_years),
        "spread_bp": plan.spread_bp,
        "front_end_fee_minor": plan.front_end_fee_minor,
        "availability_end": plan.availability_end.isoformat(),
    }


def plan_of_json(data: dict[str, Any]) -> LoanPlan:
    return LoanPlan(
        tuple(date.fromisoformat(d) for d in data["payment_dates"]),
        tuple(date.fromisoformat(d) for d in data["principal_dates"]),
        tuple(Fraction(s) for s in data["shares"]),
        Fraction(data["average_maturity_years"]),
        int(data["spread_bp"]),
        int(data["front_end_fee_minor"]),
        date.fromisoformat(data["availability_end"]),
    )


def fold(decisions: Iterable[Decision], state: BankState | None = None) -> BankState:
    """Apply decisions in order to ``state`` (default: the empty bank)."""
    s = state or BankState()
    sha, bank_bic, bank_accounts = s.rulebook_sha256, s.bank_bic, s.bank_accounts
    members, subscriptions = dict(s.members), dict(s.subscriptions)
    loans, steps = dict(s.loans), dict(s.steps)
    last, last_on = s.last_seq, s.last_on
    for decision in decisions:
        p, on, kind, subject = decision.payload, decision.on, decision.kind, decision.subject
        last, last_on = decision.seq, on
        if kind == "rulebook_adopted":
            sha = p["sha256"]
        elif kind == "bank_bound":
            bank_bic = p["bic"]
            bank_accounts = tuple(sorted((c, int(a)) for c, a in p["accounts"].items()))
            members.update(p["members"])
        elif kind == "subscribed":
            before = subscriptions.get(p["member"])
            subscriptions[p["member"]] = Subscription(
                p["member"],
                p["bic"],
                bool(p["founder"]),
                p["paid_in_shares"] + (before.paid_in_shares if before else 0),
                p["callable_shares"] + (before.callable_shares if before else 0),
                before.paid_minor if before else 0,
            )
        elif kind == "signed":
            terms = LoanTerms.of_json(p["terms"])
            loans[terms.loan_id] = Loan(
                terms,
                plan_of_json(p["plan"]),
                int(p["borrower_account_id"]),
                int(p["bank_account_id"]),
            )
        elif kind == "cancelled":
            loan = loans[subject]
            events = replace(
                loan.events,
                cancellations=(*loan.events.cancellations, (on, int(p["amount_minor"]))),
            )
            loans[subject] = replace(loan, events=events)
        elif kind == "rate_fixed":
            loan = loans[subject]
            fixing = (date.fromisoformat(p["period_start"]), Decimal(p["reference_rate_percent"]))
            events = replace(loan.events, fixings=(*loan.events.fixings, fixing))
            loans[subject] = replace(loan, events=events)
        elif kind == "arrears":
            loans[subject] = replace(loans[subject], arrears_since=date.fromisoformat(p["since"]))
        elif kind == "step_submitted":
            step = Step(
                p["purpose"],
                int(p["attempt"]),
                on,
                tuple(Flow.of_json(f) for f in p["flows"]),
                p["detail"],
            )
            steps[subject] = (*steps.get(subject, ()), step)
        elif kind in ("step_settled", "step_refused"):
            pending = next(x for x in steps[subject] if x.outcome is None)
            done = replace(
                pending,
                outcome="settled" if kind == "step_settled" else "refused",
                reason=p.get("reason", ""),
            )
            steps[subject] = tuple(done if x is pending else x for x in steps[subject])
            if done.outcome == "settled":
                if subject.startswith(CAPITAL_SUBJECT_PREFIX):
                    member = subject.removeprefix(CAPITAL_SUBJECT_PREFIX)
                    held = subscriptions[member]
                    subscriptions[member] = replace(
                        held, paid_minor=held.paid_minor + int(done.detail["amount_minor"])
                    )
                else:
                    loans[subject] = _settled(loans[subject], done, on)
        else:
            raise ValueError(f"unknown decision kind {kind!r}: written by a newer program?")
    return BankState(
        sha, bank_bic, bank_accounts, members, subscriptions, loans, steps, last, last_on
    )


def _settled(loan: Loan, step: Step, on: date) -> Loan:
    detail = step.detail
    events = loan.events
    if step.purpose == "disbursement":
        events = replace(
            events, disbursements=(*events.disbursements, (on, detail["amount_minor"]))
        )
        return replace(
            loan,
            events=events,
            front_end_fee_paid_minor=loan.front_end_fee_paid_minor
            + int(detail["front_end_fee_minor"]),
        )
    if step.purpose == "prepayment":
        events = replace(events, prepayments=(*events.prepayments, (on, detail["amount_minor"])))
        return replace(
            loan,
            events=events,
            premiums_paid_minor=loan.premiums_paid_minor + int(detail["premium_minor"]),
        )
    assert step.purpose == "repayment", step.purpose
    paid = PaidPeriod(
        int(detail["period"]),
        on,
        int(detail["principal_minor"]),
        int(detail["interest_minor"]),
        int(detail["commitment_fee_minor"]),
        int(detail["penalty_minor"]),
    )
    loan = replace(loan, paid=(*loan.paid, paid))
    # Arrears end when nothing that fell due before today is unpaid any more.
    first_unpaid = loan.next_unpaid()
    if first_unpaid is None or loan.plan.payment_dates[first_unpaid] >= on:
        loan = replace(loan, arrears_since=None)
    return loan
