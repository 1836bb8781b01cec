"""Ratings reach the network: a downgrade lowers the credit line through a real node,
and the engine then queues (RTGS payment) or rejects (transfer) what it settled before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from interbank.engine import (
    AccountKind,
    Issue,
    OpenAccount,
    RegisterParticipant,
    ResultCode,
    Role,
    Transfer,
)
from interbank.engine.commands import Payment
from interbank.node import Node, NodeSettings
from interbank.rating.controls import CollateralItem, CollateralPool
from interbank.rating.enforce import act_on_decision, is_agency_command_id
from interbank.rating.scale import Grade

from .conftest import BIC, Staff, rate, report

CENTRAL, OTHER = "JDRBCNBJ", "PDBKCNGZ"
ISSUANCE, BANK_ACCOUNT, OTHER_ACCOUNT = 1, 10, 20

# Capital 1,000.00 CNY. Strong: capital 16%, problem loans 1%, net income 1.5%, market
# funds 10%, liquid assets 40% -> 0.30*90 + 25 + 15 + 15 + 15 = 97: AAA, cap 2.25 x
# capital = 2,250.00. Weak, a year later: capital 8% (40), problem loans 4% (60; mean
# 2.5% scores more), net income 0.5% (50), market funds 30% (50), liquid 20% (60) ->
# 12 + 15 + 7.5 + 7.5 + 9 = 51: BB, cap 0.40 x capital = 400.00.
STRONG = {
    "reporting_date": "2024-12-31",
    "tangible_common_equity": "1000.00",
    "risk_weighted_assets": "6250.00",
    "problem_loans": "50.00",
    "net_income": "150.00",
    "market_funds": "1000.00",
    "liquid_assets": "4000.00",
}
WEAK = {
    "reporting_date": "2025-12-31",
    "tangible_common_equity": "1000.00",
    "risk_weighted_assets": "12500.00",
    "problem_loans": "200.00",
    "net_income": "50.00",
    "market_funds": "3000.00",
    "liquid_assets": "2000.00",
}
# Sovereign AA paper with 200 days to run: 0.5% haircut -> 995.00 lendable.
POOL = CollateralPool(
    BIC,
    BANK_ACCOUNT,
    "CNY",
    (CollateralItem("CN-GOV-26", "sovereign", Grade.of("AA"), 200, 100_000),),
)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with Node.open(
        str(tmp_path / "net.db"), create=True, settings=NodeSettings(linger_us=0)
    ) as node:
        results = node.submit(
            [
                RegisterParticipant(1, CENTRAL, "Jade Reserve Bank", Role.CENTRAL_BANK, "CNY"),
                RegisterParticipant(2, BIC, "Yellow River Commercial Bank", Role.DIRECT),
                RegisterParticipant(3, OTHER, "Pearl Delta Bank", Role.DIRECT),
                OpenAccount(4, ISSUANCE, CENTRAL, "CNY", AccountKind.ISSUANCE),
                OpenAccount(5, BANK_ACCOUNT, BIC, "CNY"),
                OpenAccount(6, OTHER_ACCOUNT, OTHER, "CNY"),
                Issue(7, BANK_ACCOUNT, 10_000),  # 100.00 of its own
                Issue(8, OTHER_ACCOUNT, 1_000_000),
            ]
        )
        assert all(r.ok for r in results), results
        yield node


def line_of(node: Node) -> int:
    account = node.engine.account(BANK_ACCOUNT)
    assert account is not None
    return account.credit_line_minor


def test_downgrade_lowers_the_line_and_a_payment_settled_before_now_queues(
    staff: Staff, node: Node
) -> None:
    strong = rate(staff, [report(**STRONG)])
    assert strong.grade == Grade.of("AAA")
    first = act_on_decision(staff.agency, staff.admin, node, strong, [POOL])
    assert first.complete and line_of(node) == 99_500

    # 600.00 with 100.00 of its own: settles on credit, each time paid back.
    assert node.submit([Payment(100, BANK_ACCOUNT, OTHER_ACCOUNT, 60_000)])[0].ok
    assert node.submit([Transfer(101, OTHER_ACCOUNT, BANK_ACCOUNT, 60_000)])[0].ok
    assert node.submit([Transfer(102, BANK_ACCOUNT, OTHER_ACCOUNT, 60_000)])[0].ok
    assert node.submit([Transfer(103, OTHER_ACCOUNT, BANK_ACCOUNT, 60_000)])[0].ok

    weak = rate(staff, [report(**WEAK)])
    assert weak.grade == Grade.of("BB") and weak.outlook == "negative"
    outcome = act_on_decision(staff.agency, staff.admin, node, weak, [POOL])
    assert outcome.complete and line_of(node) == 40_000  # 0.40 x 1,000.00

    # The same payments again: the RTGS payment waits, the transfer is refused (AM04).
    (queued,) = node.submit([Payment(200, BANK_ACCOUNT, OTHER_ACCOUNT, 60_000)])
    assert queued.code == ResultCode.QUEUED and node.engine.waiting(200) is not None
    (refused,) = node.submit([Transfer(201, BANK_ACCOUNT, OTHER_ACCOUNT, 60_000)])
    assert refused.code == ResultCode.INSUFFICIENT_FUNDS and refused.reason == "AM04"

    # Every line change went through the node under an agency-tagged id.
    ids = [int(c, 16) for e in staff.agency.state.enforcements for c in e.body["command_ids"]]
    assert len(ids) == 2 and all(is_agency_command_id(i) for i in ids)


def test_a_line_in_use_is_held_at_usage_then_lowered_as_it_is_repaid(
    staff: Staff, node: Node
) -> None:
    strong = rate(staff, [report(**STRONG)])
    act_on_decision(staff.agency, staff.admin, node, strong, [POOL])
    # Use 800.00 of credit: 100.00 own + 800.00 = 900.00 paid out.
    assert node.submit([Transfer(100, BANK_ACCOUNT, OTHER_ACCOUNT, 90_000)])[0].ok

    weak = rate(staff, [report(**WEAK)])
    held = act_on_decision(staff.agency, staff.admin, node, weak, [POOL])
    (account,) = held.accounts
    assert not held.complete and account.note == "held at current usage"
    assert line_of(node) == 80_000 and account.usage_minor == 80_000
    # No more credit: even 0.01 more is refused.
    assert node.submit([Transfer(101, BANK_ACCOUNT, OTHER_ACCOUNT, 1)])[0].reason == "AM04"

    # Repaid in part (to 300.00 of usage): the next round lowers the line to the target.
    assert node.submit([Transfer(102, OTHER_ACCOUNT, BANK_ACCOUNT, 50_000)])[0].ok
    lowered = act_on_decision(staff.agency, staff.admin, node, weak, [POOL])
    assert lowered.complete and lowered.round_number == 2 and line_of(node) == 40_000
    # A round with nothing to do sends nothing.
    again = act_on_decision(staff.agency, staff.admin, node, weak, [POOL])
    assert again.command_ids == () and again.complete
    assert staff.agency.verify() == []


def test_default_suspends_the_participant_and_an_upgrade_reactivates_it(
    staff: Staff, node: Node
) -> None:
    defaulted = rate(staff, [report(**STRONG, in_default=True)])
    assert defaulted.grade.is_default
    outcome = act_on_decision(staff.agency, staff.admin, node, defaulted, [POOL])
    assert outcome.participant_action == "suspend" and line_of(node) == 0
    assert next(p for p in node.engine.participants() if p.bic == BIC).suspended
    (moved,) = node.submit([Transfer(100, BANK_ACCOUNT, OTHER_ACCOUNT, 100)])
    assert moved.reason == "AC06"

    cured = rate(staff, [report(**WEAK)])
    outcome = act_on_decision(staff.agency, staff.admin, node, cured, [POOL])
    assert outcome.participant_action == "reactivate" and line_of(node) == 40_000
    assert not next(p for p in node.engine.participants() if p.bic == BIC).suspended


def test_a_pool_for_a_missing_account_is_reported_not_fatal(staff: Staff, node: Node) -> None:
    decision = rate(staff, [report(**STRONG)])
    stray = CollateralPool(BIC, 999, "CNY", POOL.items)
    outcome = act_on_decision(staff.agency, staff.admin, node, decision, [POOL, stray])
    assert [a.reason for a in outcome.accounts] == ["OK", "AC01"]
