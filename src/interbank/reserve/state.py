"""The pool's state: immutable records, and the fold that rebuilds them from decisions.

Nothing here decides anything: ``fold`` replays what the store says happened, in order.
A decision of a kind it does not know is an error (a newer program wrote the store), not
something to skip, because skipping it would show a state that is not the real one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from interbank.reserve.store import Decision

# Request statuses. Those in OPEN_STATUSES use access.
PENDING = "pending"  # being voted on
APPROVED = "approved"  # voted through, swap not settled yet
REJECTED = "rejected"
EXPIRED = "expired"  # no decision within the vote window
LAPSED = "lapsed"  # approved but not settled within the availability period
ACTIVE = "active"  # swap settled, reverse leg not yet
ARREARS = "arrears"  # maturity passed without repayment
REPAID = "repaid"
OPEN_STATUSES = (PENDING, APPROVED, ACTIVE, ARREARS)


@dataclass(frozen=True, slots=True)
class Flow:
    """One command of a network step, as recorded before it was submitted."""

    command_id: int
    kind: str  # "transfer", "issue" or "redeem"
    debit_account_id: int  # for issue: 0 (the issuance account); for redeem: the account
    credit_account_id: int  # for redeem: 0 (the issuance account)
    amount_minor: int
    currency: str
    linked: bool
    label: str

    def as_json(self) -> dict[str, Any]:
        return {
            "command_id": str(self.command_id),
            "kind": self.kind,
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
            data["kind"],
            data["debit"],
            data["credit"],
            data["amount_minor"],
            data["currency"],
            data["linked"],
            data["label"],
        )


@dataclass(frozen=True, slots=True)
class Step:
    """A network step: submitted (recorded first), then settled or refused."""

    purpose: str  # "swap", "renewal", "repayment"
    attempt: int
    on: date
    flows: tuple[Flow, ...]
    detail: dict[str, Any]
    outcome: str | None = None  # None: submitted, outcome not recorded yet
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Leg:
    provider: str
    usd_minor: int
    local_minor: int


@dataclass(frozen=True, slots=True)
class Swap:
    spot_rate: str
    local_currency: str
    settled_on: date
    period_start: date  # interest runs from here (settlement, or the last renewal)
    maturity_on: date
    reference_rate_percent: str
    spread_bp: int
    renewals: int
    legs: tuple[Leg, ...]


@dataclass(frozen=True, slots=True)
class Drawing:
    """A request and, once approved and settled, the drawing it became."""

    request_id: str
    member: str
    instrument: str
    portion: str
    amount_minor: int
    requested_on: date
    status: str = PENDING
    votes: tuple[tuple[str, bool, date], ...] = ()
    decided_on: date | None = None
    reason: str = ""
    swap: Swap | None = None
    steps: tuple[Step, ...] = ()
    arrears_since: date | None = None
    repaid_on: date | None = None
    interest_paid_minor: int = 0

    def pending_step(self) -> Step | None:
        return next((s for s in self.steps if s.outcome is None), None)

    def attempts(self, purpose: str) -> int:
        return sum(1 for s in self.steps if s.purpose == purpose)


@dataclass(frozen=True, slots=True)
class MemberBinding:
    """Who a member is on the network: its central bank and its settlement accounts."""

    code: str
    bic: str
    local_currency: str
    accounts: tuple[tuple[str, int], ...]  # (currency, account id)

    def account(self, code: str) -> int | None:
        return dict(self.accounts).get(code)


@dataclass(frozen=True, slots=True)
class PoolState:
    rulebook_sha256: str = ""
    rulebook_version: str = ""
    members: dict[str, MemberBinding] = field(default_factory=dict)
    imf_on_track: dict[str, bool] = field(default_factory=dict)
    drawings: dict[str, Drawing] = field(default_factory=dict)
    drills: int = 0
    last_seq: int = 0
    last_on: date | None = None

    def open_amount_minor(
        self, member: str, portion: str | None, count_pending: bool, exclude: str | None = None
    ) -> int:
        """What a member has drawn, or has approved (and, if counted, requested), and not
        repaid: the part of its access in use. ``portion`` None counts both portions."""
        statuses = OPEN_STATUSES if count_pending else (APPROVED, ACTIVE, ARREARS)
        return sum(
            d.amount_minor
            for d in self.drawings.values()
            if d.member == member
            and d.status in statuses
            and portion in (None, d.portion)
            and d.request_id != exclude
        )

    def in_arrears(self, member: str) -> list[Drawing]:
        return [d for d in self.drawings.values() if d.member == member and d.status == ARREARS]


def fold(decisions: Iterable[Decision], state: PoolState | None = None) -> PoolState:
    """Apply decisions in order to ``state`` (default: the empty pool)."""
    current = state or PoolState()
    members = dict(current.members)
    imf = dict(current.imf_on_track)
    drawings = dict(current.drawings)
    sha, version, drills, last, last_on = (
        current.rulebook_sha256,
        current.rulebook_version,
        current.drills,
        current.last_seq,
        current.last_on,
    )
    for decision in decisions:
        p, on, kind = decision.payload, decision.on, decision.kind
        last, last_on = decision.seq, on
        if kind == "rulebook_adopted":
            sha, version = p["sha256"], p["version"]
        elif kind == "member_bound":
            members[p["code"]] = MemberBinding(
                p["code"],
                p["bic"],
                p["local_currency"],
                tuple((c, int(a)) for c, a in sorted(p["accounts"].items())),
            )
        elif kind == "imf_status":
            imf[p["member"]] = bool(p["on_track"])
        elif kind == "request":
            drawings[p["request_id"]] = Drawing(
                p["request_id"],
                p["member"],
                p["instrument"],
                p["portion"],
                int(p["amount_minor"]),
                on,
            )
        elif kind == "drill":
            drills += 1
        else:
            drawing = drawings[decision.subject]
            drawings[drawing.request_id] = _apply_to_drawing(drawing, kind, p, on)
    return PoolState(sha, version, members, imf, drawings, drills, last, last_on)


def _apply_to_drawing(d: Drawing, kind: str, p: dict[str, Any], on: date) -> Drawing:
    if kind == "vote":
        return replace(d, votes=(*d.votes, (p["voter"], bool(p["approve"]), on)))
    if kind in (APPROVED, REJECTED, EXPIRED, LAPSED):
        return replace(
            d,
            status=kind,
            decided_on=on if kind != LAPSED else d.decided_on,
            reason=p.get("reason", ""),
        )
    if kind == "step_submitted":
        step = Step(
            p["purpose"],
            int(p["attempt"]),
            on,
            tuple(Flow.of_json(f) for f in p["flows"]),
            p["detail"],
        )
        return replace(d, steps=(*d.steps, step))
    if kind in ("step_settled", "step_refused"):
        pending = d.pending_step()
        assert pending is not None, (d.request_id, kind)
        done = replace(
            pending,
            outcome="settled" if kind == "step_settled" else "refused",
            reason=p.get("reason", ""),
        )
        steps = tuple(done if s is pending else s for s in d.steps)
        d = replace(d, steps=steps)
        return _settled(d, done, on) if done.outcome == "settled" else d
    if kind == ARREARS:
        return replace(d, status=ARREARS, arrears_since=date.fromisoformat(p["since"]))
    raise ValueError(f"unknown decision kind {kind!r}: written by a newer program?")


def _settled(d: Drawing, step: Step, on: date) -> Drawing:
    detail = step.detail
    if step.purpose == "swap":
        swap = Swap(
            spot_rate=detail["spot_rate"],
            local_currency=detail["local_currency"],
            settled_on=on,
            period_start=on,
            maturity_on=date.fromisoformat(detail["maturity_on"]),
            reference_rate_percent=detail["reference_rate_percent"],
            spread_bp=int(detail["spread_bp"]),
            renewals=0,
            legs=tuple(
                Leg(g["provider"], g["usd_minor"], g["local_minor"]) for g in detail["legs"]
            ),
        )
        return replace(d, status=ACTIVE, swap=swap)
    assert d.swap is not None
    interest = int(detail["interest_minor"])
    if step.purpose == "renewal":
        swap = replace(
            d.swap,
            period_start=date.fromisoformat(detail["period_start"]),
            maturity_on=date.fromisoformat(detail["maturity_on"]),
            reference_rate_percent=detail["reference_rate_percent"],
            renewals=d.swap.renewals + 1,
        )
        return replace(d, swap=swap, interest_paid_minor=d.interest_paid_minor + interest)
    assert step.purpose == "repayment", step.purpose
    return replace(
        d, status=REPAID, repaid_on=on, interest_paid_minor=d.interest_paid_minor + interest
    )
