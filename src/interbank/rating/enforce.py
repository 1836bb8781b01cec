"""Rating actions as engine commands: the agency's one door into the network.

This thin module (it may import ``interbank.engine`` command types; the rest of
``rating/`` may not) turns control targets into ``SetCreditLine``,
``SuspendParticipant`` and ``ReactivateParticipant`` commands and submits them through
a node, so that the journal is the audit trail of what the network was told.

A downgrade can ask for a credit line below what the bank is using right now; the
engine refuses that (``CREDIT_LINE_BELOW_USAGE``, AM04) because it would put the
account under its floor. The agency then sets the line to the larger of the target and
the current usage: the bank can draw no more credit from that moment (any payment
needing more waits in the RTGS queue, a plain transfer is refused), and each later
enforcement round lowers the line further as the usage falls, until it reaches the
target. Command ids carry the tag ``AGENCY_COMMAND_TAG`` in their top 16 bits and are
derived from the decision's record hash, so that re-running a round is idempotent
and every agency command in the journal points back at a signed decision.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from interbank.engine.codes import ResultCode
from interbank.engine.commands import (
    Command,
    ReactivateParticipant,
    Result,
    SetCreditLine,
    SuspendParticipant,
)
from interbank.engine.ledger import AccountView, ParticipantView
from interbank.rating.committee import Agency, Decision
from interbank.rating.controls import CollateralPool, ControlTarget, controls_for, pools_as_records
from interbank.rating.method import load_method

AGENCY_COMMAND_TAG = 0xA6E7
_TAG_SHIFT = 112
_ATTEMPTS_MAX = 4  # a line refused below usage is re-read and re-sent at most this often


class EngineReader(Protocol):
    def account(self, account_id: int) -> AccountView | None: ...

    def participants(self) -> list[ParticipantView]: ...


class Submitter(Protocol):
    """What enforcement needs of ``interbank.node.Node``."""

    @property
    def engine(self) -> EngineReader: ...

    def submit(self, commands: Sequence[Command]) -> list[Result]: ...


@dataclass(frozen=True, slots=True)
class AccountOutcome:
    account_id: int
    target_minor: int
    line_before_minor: int | None  # None: no such open settlement account
    line_set_minor: int | None
    usage_minor: int
    reason: str  # ISO 20022 reason of the engine's answer, or "" when nothing was sent
    command_id: int | None
    note: str

    @property
    def at_target(self) -> bool:
        return self.line_set_minor == self.target_minor


@dataclass(frozen=True, slots=True)
class EnforcementOutcome:
    round_number: int
    accounts: tuple[AccountOutcome, ...]
    participant_action: str  # "", "suspend" or "reactivate"
    participant_reason: str
    command_ids: tuple[int, ...]

    @property
    def complete(self) -> bool:
        """Every line at its target (nothing held at usage, nothing refused)."""
        return all(a.at_target for a in self.accounts if a.line_before_minor is not None)


def is_agency_command_id(command_id: int) -> bool:
    return command_id >> _TAG_SHIFT == AGENCY_COMMAND_TAG


def agency_command_id(
    decision_hash: bytes, purpose: str, subject: str, value: int, round_number: int, attempt: int
) -> int:
    """A 128-bit command id: the agency tag, then 112 bits of a hash of the decision
    and of what the command does, so a different command never reuses an id."""
    text = f"{purpose}|{subject}|{value}|{round_number}|{attempt}".encode()
    digest = hashlib.sha256(decision_hash + text).digest()
    return (AGENCY_COMMAND_TAG << _TAG_SHIFT) | int.from_bytes(digest[:14], "big")


def enforce(
    node: Submitter,
    targets: Sequence[ControlTarget],
    decision_hash: bytes,
    round_number: int,
    *,
    reactivate: bool = False,
) -> EnforcementOutcome:
    """Submit the commands that bring the network to ``targets``; return what it did.

    ``reactivate``: the bank was suspended by an earlier agency action and its new
    grade no longer calls for it, so it is reactivated.
    """
    if not targets:
        return EnforcementOutcome(round_number, (), "", "", ())
    bic = targets[0].bic
    assert all(t.bic == bic for t in targets), "one bank per enforcement"
    outcomes: dict[int, AccountOutcome] = {}
    sent: list[int] = []
    pending = list(targets)
    for attempt in range(_ATTEMPTS_MAX):
        commands: list[Command] = []
        planned: list[tuple[ControlTarget, AccountView, int, int]] = []
        for target in pending:
            account = node.engine.account(target.account_id)
            if (
                account is None
                or account.closed
                or account.bic != bic
                or account.currency != target.currency
            ):
                outcomes[target.account_id] = AccountOutcome(
                    target.account_id, target.credit_line_minor, None, None, 0, "AC01", None,
                    "no open settlement account of this bank in this currency",
                )  # fmt: skip
                continue
            usage = max(0, -account.available_minor)
            line = max(target.credit_line_minor, usage)
            if line == account.credit_line_minor:
                note = "at target" if line == target.credit_line_minor else "held at current usage"
                outcomes[target.account_id] = AccountOutcome(
                    target.account_id, target.credit_line_minor, account.credit_line_minor, line,
                    usage, "", None, note,
                )  # fmt: skip
                continue
            command_id = agency_command_id(
                decision_hash, "line", str(target.account_id), line, round_number, attempt
            )
            commands.append(SetCreditLine(command_id, target.account_id, line))
            planned.append((target, account, command_id, line))
        if not commands:
            break
        results = node.submit(commands)
        sent.extend(c.id for c in commands)
        retry: list[ControlTarget] = []
        for (target, account, command_id, line), result in zip(planned, results, strict=True):
            if result.code == ResultCode.CREDIT_LINE_BELOW_USAGE and attempt + 1 < _ATTEMPTS_MAX:
                retry.append(target)  # usage grew between the read and the command
                continue
            line_set = line if result.ok else account.credit_line_minor
            usage = max(0, -account.available_minor)
            note = (
                "at target"
                if line_set == target.credit_line_minor
                else ("held at current usage" if result.ok else result.text)
            )
            outcomes[target.account_id] = AccountOutcome(
                target.account_id, target.credit_line_minor, account.credit_line_minor, line_set,
                usage, result.reason or "OK", command_id, note,
            )  # fmt: skip
        pending = retry
        if not pending:
            break
    action, reason = "", ""
    suspend = any(t.participant_suspended for t in targets)
    participant = next((p for p in node.engine.participants() if p.bic == bic), None)
    if participant is not None and suspend != participant.suspended and (suspend or reactivate):
        command_id = agency_command_id(
            decision_hash, "participant", bic, int(suspend), round_number, 0
        )
        command: Command = (
            SuspendParticipant(command_id, bic)
            if suspend
            else ReactivateParticipant(command_id, bic)
        )
        (result,) = node.submit([command])
        sent.append(command_id)
        action, reason = ("suspend" if suspend else "reactivate"), result.reason or "OK"
    ordered = tuple(outcomes[t.account_id] for t in targets)
    return EnforcementOutcome(round_number, ordered, action, reason, tuple(sent))


def targets_for(
    agency: Agency, decision: Decision, pools: Sequence[CollateralPool]
) -> list[ControlTarget]:
    """The control targets of a decided rating for the bank's pledged accounts."""
    state = agency.state
    proposal = state.proposals[decision.proposal_seq]
    latest = state.financials[(decision.bic, proposal.reporting_dates[-1])]
    method = load_method(decision.method_version)
    return [
        controls_for(
            method, decision.grade, latest.tangible_common_equity_minor, latest.currency, pool
        )
        for pool in pools
        if pool.bic == decision.bic
    ]


def act_on_decision(
    agency: Agency,
    key: Ed25519PrivateKey,
    node: Submitter,
    decision: Decision,
    pools: Sequence[CollateralPool],
) -> EnforcementOutcome:
    """Recompute the bank's controls from a decision, submit them, and record the round.

    Run it right after the decision, and again (a new round) to lower a line that was
    held at usage, or after the bank pledged other collateral.
    """
    state = agency.state
    earlier = [e for e in state.enforcements if state.decision(e.decision_seq).bic == decision.bic]
    round_number = 1 + sum(1 for e in earlier if e.decision_seq == decision.seq)
    suspended_by_us = False
    for record in earlier:  # the last participant action of the agency on this bank
        action = record.body.get("participant_action", "")
        if action:
            suspended_by_us = action == "suspend"
    mine = [p for p in pools if p.bic == decision.bic]
    targets = targets_for(agency, decision, mine)
    outcome = enforce(node, targets, decision.hash, round_number, reactivate=suspended_by_us)
    agency.record_enforcement(key, enforcement_body(decision, mine, targets, outcome))
    return outcome


def enforcement_body(
    decision: Decision,
    pools: Sequence[CollateralPool],
    targets: Sequence[ControlTarget],
    outcome: EnforcementOutcome,
) -> dict[str, Any]:
    return {
        "decision_seq": decision.seq,
        "bic": decision.bic,
        "round": outcome.round_number,
        "pools": pools_as_records(pools),
        "targets": [
            {
                "account_id": t.account_id,
                "currency": t.currency,
                "collateral_minor": t.collateral_minor,
                "collateral_after_haircuts_minor": t.collateral_after_haircuts_minor,
                "net_debit_cap_minor": t.net_debit_cap_minor,
                "credit_line_target_minor": t.credit_line_minor,
                "credit_suspended": t.credit_suspended,
            }
            for t in targets
        ],
        "accounts": [
            {
                "account_id": a.account_id,
                "line_before_minor": a.line_before_minor,
                "line_set_minor": a.line_set_minor,
                "usage_minor": a.usage_minor,
                "reason": a.reason,
                "command_id": None if a.command_id is None else f"{a.command_id:032x}",
                "note": a.note,
            }
            for a in outcome.accounts
        ],
        "participant_action": outcome.participant_action,
        "participant_reason": outcome.participant_reason,
        "command_ids": [f"{c:032x}" for c in outcome.command_ids],
        "complete": outcome.complete,
    }
