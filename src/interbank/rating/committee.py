"""The rating workflow: raters, financials, proposals, votes, decisions, enforcements.

Every step is a signed record in the agency store (``store.py``); the state (who may
do what, which proposals are open, each bank's rating history) is a fold over the
records, checked record by record as it is read: the chain, the signature, the
author's role and the workflow's rules. A store where any record fails is "damaged":
it can be read and verified, but nothing more is written to it, so nothing changes
silently on top of a change nobody signed.

The rules: an analyst proposes a rating with its scorecard (computed here from the
recorded financials, so the grade in a proposal is always the method's); committee
members other than the proposer vote once each; the rating takes effect when at least
``votes_min`` (3 or more) votes are cast, at least ``approvals_quorum`` approve and
approvals outnumber rejections. The decision records the effective date and the
method version, and becomes the bank's current rating.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from interbank.rating.financials import BankFinancials, FinancialsError, parse_financials_json
from interbank.rating.method import MethodError, load_method
from interbank.rating.scale import Grade
from interbank.rating.scorecard import OUTLOOKS, Adjustments, Scorecard, decimal_text, score_bank
from interbank.rating.signing import check_public_key_hex, public_key_hex, signature_holds
from interbank.rating.store import (
    GENESIS_PREV_HASH,
    Record,
    RecordStore,
    canonical_json,
    record_hash,
)

ROLES = ("analyst", "committee")
VOTES_MIN_FLOOR = 3  # the "a committee of at least three raters"
_ID_CHARS_MAX = 64
_TEXT_CHARS_MAX = 4000

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class WorkflowError(ValueError):
    """A step the workflow does not allow now (the text says why)."""


class DamagedStoreError(Exception):
    """A record of the store does not check; nothing more may be written."""


@dataclass(frozen=True, slots=True)
class Rater:
    rater_id: str
    name: str
    roles: tuple[str, ...]
    public_key: str


@dataclass(frozen=True, slots=True)
class Vote:
    seq: int
    rater_id: str
    approve: bool
    comment: str


@dataclass(frozen=True, slots=True)
class Proposal:
    seq: int
    author: str
    bic: str
    method_version: str
    reporting_dates: tuple[str, ...]
    grade: Grade
    outlook: str
    watch: bool
    body: dict[str, Any]
    votes: tuple[Vote, ...] = ()
    status: str = "open"  # open, approved, rejected, withdrawn

    def approvals(self) -> int:
        return sum(1 for v in self.votes if v.approve)

    def rejections(self) -> int:
        return sum(1 for v in self.votes if not v.approve)


@dataclass(frozen=True, slots=True)
class Decision:
    """A rating in force from ``effective_on`` until the bank's next decision."""

    seq: int
    hash: bytes
    proposal_seq: int
    bic: str
    grade: Grade
    outlook: str
    watch: bool
    effective_on: str
    method_version: str
    pd_pct: str
    score: str
    approvals: int
    rejections: int
    decided_by: str
    recorded_at: str


@dataclass(frozen=True, slots=True)
class Enforcement:
    seq: int
    decision_seq: int
    round_number: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    text: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.text}"


@dataclass(slots=True)
class AgencyState:
    """What the records say so far. Built only by ``_Fold``."""

    seq: int = 0
    head_hash: bytes = GENESIS_PREV_HASH
    agency_name: str = ""
    admin_id: str = ""
    votes_min: int = VOTES_MIN_FLOOR
    approvals_quorum: int = 2
    raters: dict[str, Rater] = field(default_factory=dict)
    financials: dict[tuple[str, str], BankFinancials] = field(default_factory=dict)
    proposals: dict[int, Proposal] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    enforcements: list[Enforcement] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def reports_of(self, bic: str) -> list[BankFinancials]:
        return sorted(
            (f for (b, _), f in self.financials.items() if b == bic), key=lambda f: f.reporting_date
        )

    def history(self, bic: str) -> list[Decision]:
        return [d for d in self.decisions if d.bic == bic]

    def current(self, bic: str) -> Decision | None:
        history = self.history(bic)
        return history[-1] if history else None

    def committee(self) -> list[Rater]:
        return [r for r in self.raters.values() if "committee" in r.roles]

    def open_proposal(self, bic: str) -> Proposal | None:
        return next(
            (p for p in self.proposals.values() if p.bic == bic and p.status == "open"), None
        )

    def decision(self, seq: int) -> Decision:
        for decision in self.decisions:
            if decision.seq == seq:
                return decision
        raise WorkflowError(f"no decision at seq {seq}")

    def rater_of_key(self, public_key: str) -> Rater:
        for rater in self.raters.values():
            if rater.public_key == public_key:
                return rater
        raise WorkflowError("this key belongs to no registered rater")


class Agency:
    """The agency store opened for work. Not thread-safe: one per thread or process."""

    def __init__(self, store: RecordStore, clock: Clock = _utc_now) -> None:
        self._store = store
        self._clock = clock
        self._fold = _Fold(audit=False)
        self._catch_up()

    @staticmethod
    def create(
        path: str | Path,
        admin_key: Ed25519PrivateKey,
        *,
        admin_id: str = "admin",
        agency_name: str = "interbank joint credit agency",
        votes_min: int = VOTES_MIN_FLOOR,
        approvals_quorum: int = 2,
        clock: Clock = _utc_now,
    ) -> Agency:
        if votes_min < VOTES_MIN_FLOOR:
            raise WorkflowError(f"votes_min is at least {VOTES_MIN_FLOOR}")
        if not votes_min // 2 + 1 <= approvals_quorum <= votes_min:
            raise WorkflowError(
                f"approvals_quorum is a majority of votes_min: {votes_min // 2 + 1}..{votes_min}"
            )
        _check_id(admin_id, "admin id")
        store = RecordStore.open(path, create=True)
        body = {
            "agency_name": agency_name,
            "admin_id": admin_id,
            "admin_public_key": public_key_hex(admin_key),
            "votes_min": votes_min,
            "approvals_quorum": approvals_quorum,
        }
        with store.writing():
            store.append("genesis", admin_id, body, admin_key, _stamp(clock))
        return Agency(store, clock)

    @staticmethod
    def open(path: str | Path, clock: Clock = _utc_now) -> Agency:
        return Agency(RecordStore.open(path), clock)

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Agency:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> str:
        return self._store.path

    @property
    def state(self) -> AgencyState:
        self._catch_up()
        return self._fold.state

    def records(self) -> list[Record]:
        return list(self._store.records())

    def _catch_up(self) -> None:
        for record in self._store.records(after_seq=self._fold.state.seq):
            self._fold.apply(record)

    def _write(
        self,
        key: Ed25519PrivateKey,
        kind: str,
        body: dict[str, Any],
        check: Callable[[AgencyState, Rater], None],
    ) -> Record:
        """Append one record: read up to the head, check the step, sign, commit."""
        with self._store.writing():
            self._catch_up()
            state = self._fold.state
            self._refuse_if_damaged(state)
            author = state.rater_of_key(public_key_hex(key))
            check(state, author)
            record = self._store.append(kind, author.rater_id, body, key, _stamp(self._clock))
            # Fold our own record through the same checks as anyone else's.
            self._fold.apply(record)
            if self._fold.state.problems:
                raise AssertionError(
                    f"the store refused its own record: {self._fold.state.problems[-1]}"
                )
        return record

    def _refuse_if_damaged(self, state: AgencyState) -> None:
        if state.problems:
            raise DamagedStoreError(
                f"the agency store {self.path} is damaged ({state.problems[0]}); "
                "nothing more is written until it is restored"
            )

    # --- steps --------------------------------------------------------------------

    def add_rater(
        self,
        admin_key: Ed25519PrivateKey,
        rater_id: str,
        name: str,
        roles: Sequence[str],
        public_key: str,
    ) -> Record:
        body = {
            "rater_id": rater_id,
            "name": name,
            "roles": sorted(set(roles)),
            "public_key": public_key,
        }

        def check(state: AgencyState, author: Rater) -> None:
            _rater_body_problem(state, author.rater_id, body, raise_it=True)

        return self._write(admin_key, "rater", body, check)

    def add_financials(
        self, key: Ed25519PrivateKey, reports: Iterable[BankFinancials], source: str = ""
    ) -> list[Record]:
        """Record reports (one record each). A report for a bank and date already
        recorded replaces it for later proposals; the old one stays in the chain."""
        records = []
        for report in reports:
            body = {"report": report.as_record(), "source": source[:200]}
            records.append(self._write(key, "financials", body, _needs_role("analyst")))
        return records

    def propose(
        self,
        key: Ed25519PrivateKey,
        bic: str,
        *,
        adjustments: Adjustments | None = None,
        outlook: str | None = None,
        watch: bool | None = None,
        rationale: str = "",
        method_version: str = "1",
    ) -> Proposal:
        bic = bic.strip().upper()
        state = self.state
        self._refuse_if_damaged(state)
        reports = state.reports_of(bic)
        if not reports:
            raise WorkflowError(f"no financials recorded for {bic}; load them first")
        adjustments = adjustments or Adjustments()
        card = score_bank(load_method(method_version), reports, adjustments)
        body = proposal_body(card, reports, adjustments, outlook, watch, rationale)

        def check(state: AgencyState, author: Rater) -> None:
            _needs_role("analyst")(state, author)
            _proposal_body_problem(state, body, raise_it=True)

        record = self._write(key, "proposal", body, check)
        return self.state.proposals[record.seq]

    def vote(
        self, key: Ed25519PrivateKey, proposal_seq: int, approve: bool, comment: str = ""
    ) -> Record:
        body = {"proposal_seq": proposal_seq, "approve": approve, "comment": comment}

        def check(state: AgencyState, author: Rater) -> None:
            _vote_problem(state, author.rater_id, body, raise_it=True)

        return self._write(key, "vote", body, check)

    def decide(
        self, key: Ed25519PrivateKey, proposal_seq: int, effective_on: dt.date | None = None
    ) -> Decision:
        """Record the decision on a proposal whose votes reach the quorum."""
        effective = (effective_on or self._clock().date()).isoformat()
        body = {"proposal_seq": proposal_seq, "effective_on": effective}

        def check(state: AgencyState, author: Rater) -> None:
            _decision_problem(state, author.rater_id, body, raise_it=True)

        record = self._write(key, "decision", body, check)
        return self.state.decision(record.seq)

    def withdraw(self, key: Ed25519PrivateKey, proposal_seq: int, reason: str) -> Record:
        body = {"proposal_seq": proposal_seq, "reason": reason}

        def check(state: AgencyState, author: Rater) -> None:
            _withdrawal_problem(state, author.rater_id, body, raise_it=True)

        return self._write(key, "withdrawal", body, check)

    def record_enforcement(self, key: Ed25519PrivateKey, body: dict[str, Any]) -> Record:
        """Keep what was submitted to the network for a decision, and what it answered."""

        def check(state: AgencyState, author: Rater) -> None:
            if author.rater_id != state.admin_id and "committee" not in author.roles:
                raise WorkflowError(
                    "only the administrator or a committee member records enforcement"
                )
            state.decision(int(body.get("decision_seq", 0)))

        return self._write(key, "enforcement", body, check)

    def verify(self) -> list[Problem]:
        """Check every record from the first: chain, signatures, roles, rules, and that
        each proposal's grade is what its method makes of its recorded financials."""
        fold = _Fold(audit=True)
        for record in self._store.records():
            fold.apply(record)
        return list(fold.state.problems)


def proposal_body(
    card: Scorecard,
    reports: Sequence[BankFinancials],
    adjustments: Adjustments,
    outlook: str | None,
    watch: bool | None,
    rationale: str,
) -> dict[str, Any]:
    """The proposal as recorded: the scorecard's figures as exact decimal strings."""
    window = [r for r in reports if r.reporting_date.isoformat() <= card.reporting_date]
    return {
        "bic": card.bic,
        "method_version": card.method_version,
        "reporting_dates": [r.reporting_date.isoformat() for r in window],
        "financials_sha256": financials_digest(window),
        "adjustments": dict(adjustments.notches),
        "score": decimal_text(card.score, 4),
        "anchor_grade": card.anchor_grade.letters,
        "grade": card.grade.letters,
        "pd_pct": decimal_text(card.pd_pct, 4),
        "suggested_outlook": card.outlook,
        "suggested_watch": card.watch,
        "watch_reasons": list(card.watch_reasons),
        "outlook": outlook or card.outlook,
        "watch": card.watch if watch is None else watch,
        "rationale": rationale,
        "factors": {
            f.key: {
                "ratio_used_pct": decimal_text(f.ratio_used_pct, 4),
                "points": decimal_text(f.points, 4),
            }
            for f in card.factors
        },
    }


def financials_digest(reports: Sequence[BankFinancials]) -> str:
    ordered = sorted(reports, key=lambda r: r.reporting_date)
    return hashlib.sha256(canonical_json([r.as_record() for r in ordered]).encode()).hexdigest()


def _stamp(clock: Clock) -> str:
    return clock().astimezone(dt.UTC).isoformat(timespec="microseconds")


def _check_id(value: object, what: str) -> str:
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= _ID_CHARS_MAX
        or not value.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise WorkflowError(
            f"{what} {value!r}: 1..{_ID_CHARS_MAX} letters, digits, '-', '_' or '.'"
        )
    return value


def _fail(raise_it: bool, text: str) -> str:
    if raise_it:
        raise WorkflowError(text)
    return text


def _needs_role(role: str) -> Callable[[AgencyState, Rater], None]:
    def check(state: AgencyState, author: Rater) -> None:
        if role not in author.roles:
            raise WorkflowError(f"{author.rater_id} is not a registered {role}")

    return check


def _rater_body_problem(
    state: AgencyState, author: str, body: dict[str, Any], raise_it: bool = False
) -> str | None:
    if author != state.admin_id:
        return _fail(raise_it, "only the administrator registers raters")
    try:
        _check_id(body.get("rater_id"), "rater id")
        check_public_key_hex(body.get("public_key", ""))
    except ValueError as error:
        return _fail(raise_it, str(error))
    roles = body.get("roles")
    if not isinstance(roles, list) or not roles or not set(roles) <= set(ROLES):
        return _fail(raise_it, f"roles: one or more of {', '.join(ROLES)}")
    if body["rater_id"] in state.raters or body["rater_id"] == state.admin_id:
        return _fail(raise_it, f"rater {body['rater_id']} is registered already")
    if any(r.public_key == body["public_key"] for r in state.raters.values()):
        # One key, one person: otherwise one signer could cast two committee votes.
        return _fail(raise_it, "this public key is registered to another rater")
    if not isinstance(body.get("name"), str) or not body["name"].strip():
        return _fail(raise_it, "name: missing")
    return None


def _proposal_body_problem(
    state: AgencyState, body: dict[str, Any], raise_it: bool = False
) -> str | None:
    bic = body.get("bic", "")
    if state.open_proposal(bic) is not None:
        open_seq = state.open_proposal(bic).seq  # type: ignore[union-attr]
        return _fail(
            raise_it, f"{bic} has an open proposal (seq {open_seq}); decide or withdraw it first"
        )
    if body.get("outlook") not in OUTLOOKS:
        return _fail(raise_it, f"outlook: one of {', '.join(OUTLOOKS)}")
    if not isinstance(body.get("watch"), bool):
        return _fail(raise_it, "watch: true or false")
    if not isinstance(body.get("rationale"), str) or len(body["rationale"]) > _TEXT_CHARS_MAX:
        return _fail(raise_it, f"rationale: text of at most {_TEXT_CHARS_MAX} characters")
    overridden = body["outlook"] != body.get("suggested_outlook") or body["watch"] != body.get(
        "suggested_watch"
    )
    if overridden and not body["rationale"].strip():
        return _fail(raise_it, "an outlook or watch other than the method's needs a rationale")
    dates = body.get("reporting_dates")
    if (
        not isinstance(dates, list)
        or not dates
        or any((bic, d) not in state.financials for d in dates)
    ):
        return _fail(raise_it, "reporting_dates: financials not recorded")
    return None


def _vote_problem(
    state: AgencyState, author: str, body: dict[str, Any], raise_it: bool = False
) -> str | None:
    rater = state.raters.get(author)
    if rater is None or "committee" not in rater.roles:
        return _fail(raise_it, f"{author} is not a committee member")
    proposal = state.proposals.get(body.get("proposal_seq", -1))
    if proposal is None:
        return _fail(raise_it, f"no proposal at seq {body.get('proposal_seq')}")
    if proposal.status != "open":
        return _fail(raise_it, f"proposal {proposal.seq} is {proposal.status}")
    if proposal.author == author:
        return _fail(raise_it, "the proposing analyst does not vote on their own proposal")
    if any(v.rater_id == author for v in proposal.votes):
        return _fail(
            raise_it, f"{author} has voted on proposal {proposal.seq}; a vote is not changed"
        )
    if not isinstance(body.get("approve"), bool):
        return _fail(raise_it, "approve: true or false")
    if not isinstance(body.get("comment"), str) or len(body["comment"]) > _TEXT_CHARS_MAX:
        return _fail(raise_it, f"comment: text of at most {_TEXT_CHARS_MAX} characters")
    return None


def _decision_problem(
    state: AgencyState, author: str, body: dict[str, Any], raise_it: bool = False
) -> str | None:
    rater = state.raters.get(author)
    if author != state.admin_id and (rater is None or "committee" not in rater.roles):
        return _fail(raise_it, f"{author} may not record decisions")
    proposal = state.proposals.get(body.get("proposal_seq", -1))
    if proposal is None:
        return _fail(raise_it, f"no proposal at seq {body.get('proposal_seq')}")
    if proposal.status != "open":
        return _fail(raise_it, f"proposal {proposal.seq} is {proposal.status}")
    votes, approvals, rejections = len(proposal.votes), proposal.approvals(), proposal.rejections()
    if votes < state.votes_min or approvals < state.approvals_quorum or approvals <= rejections:
        return _fail(
            raise_it,
            f"proposal {proposal.seq} has {votes} votes ({approvals} for, {rejections} "
            "against); it needs "
            f"{state.votes_min} votes with {state.approvals_quorum} for and more for than against",
        )
    try:
        dt.date.fromisoformat(body.get("effective_on", ""))
    except (TypeError, ValueError):
        return _fail(raise_it, "effective_on: a date like 2026-01-31")
    current = state.current(proposal.bic)
    if current is not None and body["effective_on"] < current.effective_on:
        return _fail(
            raise_it, f"effective_on is before the current rating's ({current.effective_on})"
        )
    return None


def _withdrawal_problem(
    state: AgencyState, author: str, body: dict[str, Any], raise_it: bool = False
) -> str | None:
    proposal = state.proposals.get(body.get("proposal_seq", -1))
    if proposal is None or proposal.status != "open":
        return _fail(raise_it, f"no open proposal at seq {body.get('proposal_seq')}")
    if author not in (proposal.author, state.admin_id):
        return _fail(raise_it, "only its analyst or the administrator withdraws a proposal")
    if not isinstance(body.get("reason"), str) or not body["reason"].strip():
        return _fail(raise_it, "reason: missing")
    return None


class _Fold:
    """Applies records one by one, checking each; problems are kept, not raised."""

    def __init__(self, audit: bool) -> None:
        self.state = AgencyState()
        self.audit = audit

    def apply(self, record: Record) -> None:
        state = self.state
        problems_before = len(state.problems)
        self._check_envelope(record)
        if len(state.problems) == problems_before:
            text = self._apply_body(record)
            if text is not None:
                state.problems.append(
                    Problem(record.seq, f"{record.kind} by {record.author}: {text}")
                )
        state.seq = record.seq
        state.head_hash = record.hash

    def _check_envelope(self, record: Record) -> None:
        state = self.state
        problems = state.problems
        if record.seq != state.seq + 1:
            problems.append(Problem(record.seq, f"follows seq {state.seq}: records are missing"))
        if record.prev_hash != state.head_hash:
            problems.append(
                Problem(
                    record.seq,
                    "prev_hash is not the hash of the record before: the chain is broken",
                )
            )
        signed = record.signed_bytes()
        if record_hash(signed, record.signature) != record.hash:
            problems.append(
                Problem(record.seq, "stored hash does not match the record: changed after signing")
            )
        if record.kind == "genesis":
            key = record.body.get("admin_public_key", "") if record.seq == 1 else ""
            if record.seq != 1:
                problems.append(Problem(record.seq, "a second genesis record"))
        elif record.author == state.admin_id:
            key = state.raters[state.admin_id].public_key if state.admin_id in state.raters else ""
        else:
            rater = state.raters.get(record.author)
            key = rater.public_key if rater is not None else ""
            if rater is None:
                problems.append(
                    Problem(record.seq, f"author {record.author} is not a registered rater")
                )
        if key and not signature_holds(key, record.signature, signed):
            problems.append(
                Problem(
                    record.seq,
                    f"{record.kind} by {record.author}: the signature does not verify "
                    "(the record was changed after it was signed, or signed by another key)",
                )
            )

    def _apply_body(self, record: Record) -> str | None:
        state = self.state
        body = record.body
        kind = record.kind
        if kind == "genesis":
            state.agency_name = str(body.get("agency_name", ""))
            state.admin_id = str(body.get("admin_id", ""))
            state.votes_min = int(body.get("votes_min", VOTES_MIN_FLOOR))
            state.approvals_quorum = int(body.get("approvals_quorum", 2))
            if state.votes_min < VOTES_MIN_FLOOR or record.author != state.admin_id:
                return "genesis settings out of range"
            # The administrator is a rater of no role: it signs registrations and
            # enforcements, and may record decisions, but neither proposes nor votes.
            state.raters[state.admin_id] = Rater(
                state.admin_id, "administrator", (), str(body.get("admin_public_key"))
            )
            return None
        if state.seq == 0 or not state.admin_id:
            return "the first record must be the genesis"
        if kind == "rater":
            text = _rater_body_problem(state, record.author, body)
            if text is None:
                state.raters[body["rater_id"]] = Rater(
                    body["rater_id"], body["name"], tuple(body["roles"]), body["public_key"]
                )
            return text
        if kind == "financials":
            rater = state.raters.get(record.author)
            if rater is None or "analyst" not in rater.roles:
                return f"{record.author} is not an analyst"
            try:
                (report,) = parse_financials_json(
                    canonical_json(body.get("report")), f"seq {record.seq}"
                )
            except (FinancialsError, ValueError) as error:
                return f"financials do not check: {error}"
            state.financials[(report.bic, report.reporting_date.isoformat())] = report
            return None
        if kind == "proposal":
            rater = state.raters.get(record.author)
            if rater is None or "analyst" not in rater.roles:
                return f"{record.author} is not an analyst"
            text = _proposal_body_problem(state, body)
            if text is None and self.audit:
                text = self._audit_proposal(body)
            if text is None:
                state.proposals[record.seq] = Proposal(
                    seq=record.seq,
                    author=record.author,
                    bic=body["bic"],
                    method_version=str(body.get("method_version")),
                    reporting_dates=tuple(body["reporting_dates"]),
                    grade=Grade.of(body["grade"]),
                    outlook=body["outlook"],
                    watch=body["watch"],
                    body=body,
                )
            return text
        if kind == "vote":
            text = _vote_problem(state, record.author, body)
            if text is None:
                proposal = state.proposals[body["proposal_seq"]]
                votes = (
                    *proposal.votes,
                    Vote(record.seq, record.author, body["approve"], body["comment"]),
                )
                proposal = replace(proposal, votes=votes)
                if self._quorum_out_of_reach(proposal):
                    proposal = replace(proposal, status="rejected")
                state.proposals[proposal.seq] = proposal
            return text
        if kind == "decision":
            text = _decision_problem(state, record.author, body)
            if text is None:
                proposal = state.proposals[body["proposal_seq"]]
                state.proposals[proposal.seq] = replace(proposal, status="approved")
                state.decisions.append(
                    Decision(
                        seq=record.seq,
                        hash=record.hash,
                        proposal_seq=proposal.seq,
                        bic=proposal.bic,
                        grade=proposal.grade,
                        outlook=proposal.outlook,
                        watch=proposal.watch,
                        effective_on=body["effective_on"],
                        method_version=proposal.method_version,
                        pd_pct=str(proposal.body.get("pd_pct")),
                        score=str(proposal.body.get("score")),
                        approvals=proposal.approvals(),
                        rejections=proposal.rejections(),
                        decided_by=record.author,
                        recorded_at=record.recorded_at,
                    )
                )
            return text
        if kind == "withdrawal":
            text = _withdrawal_problem(state, record.author, body)
            if text is None:
                proposal = state.proposals[body["proposal_seq"]]
                state.proposals[proposal.seq] = replace(proposal, status="withdrawn")
            return text
        if kind == "enforcement":
            if not any(d.seq == body.get("decision_seq") for d in state.decisions):
                return f"no decision at seq {body.get('decision_seq')}"
            state.enforcements.append(
                Enforcement(record.seq, int(body["decision_seq"]), int(body.get("round", 0)), body)
            )
            return None
        return f"unknown record kind {kind!r}"

    def _quorum_out_of_reach(self, proposal: Proposal) -> bool:
        state = self.state
        voters = [r for r in state.committee() if r.rater_id != proposal.author]
        still_to_vote = len(voters) - len(proposal.votes)
        approvals_possible = proposal.approvals() + still_to_vote
        return (
            approvals_possible < state.approvals_quorum
            or approvals_possible <= proposal.rejections()
        )

    def _audit_proposal(self, body: dict[str, Any]) -> str | None:
        """Recompute the scorecard from the recorded financials and compare."""
        state = self.state
        try:
            method = load_method(str(body.get("method_version")))
            reports = [state.financials[(body["bic"], d)] for d in body["reporting_dates"]]
            adjustments = Adjustments.of(
                {str(k): int(v) for k, v in dict(body.get("adjustments", {})).items()}
            )
            card = score_bank(method, reports, adjustments)
        except (MethodError, KeyError, ValueError) as error:
            return f"its scorecard cannot be recomputed: {error}"
        if financials_digest(reports) != body.get("financials_sha256"):
            return "its financials were replaced after it was made"
        if card.grade.letters != body.get("grade") or decimal_text(card.score, 4) != body.get(
            "score"
        ):
            return (
                f"it says {body.get('grade')} (score {body.get('score')}) but method "
                f"{method.version} gives {card.grade} (score {decimal_text(card.score, 4)})"
            )
        return None
