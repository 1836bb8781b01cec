"""The workflow: proposals, votes, quorum, history; and the signed chain's tamper checks."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from interbank.rating.committee import Agency, DamagedStoreError, WorkflowError
from interbank.rating.scale import Grade
from interbank.rating.scorecard import Adjustments
from interbank.rating.signing import generate_key, public_key_hex

from .conftest import BIC, Staff, make_staff, rate, report


def test_a_rating_takes_effect_at_quorum(staff: Staff) -> None:
    agency = staff.agency
    agency.add_financials(staff.analyst, [report()])
    proposal = agency.propose(staff.analyst, BIC)
    assert proposal.grade == Grade.of("A-") and proposal.body["score"] == "73.7500"
    agency.vote(staff.members[0], proposal.seq, approve=True)
    agency.vote(staff.members[1], proposal.seq, approve=True)
    with pytest.raises(WorkflowError, match="has 2 votes"):
        agency.decide(staff.members[0], proposal.seq)  # quorum 2, but 3 votes needed
    agency.vote(staff.members[2], proposal.seq, approve=False, comment="capital is thin")
    decision = agency.decide(staff.members[0], proposal.seq, dt.date(2026, 1, 5))
    assert (decision.grade, decision.approvals, decision.rejections) == (Grade.of("A-"), 2, 1)
    assert decision.method_version == "1" and decision.effective_on == "2026-01-05"
    assert agency.state.current(BIC) == decision
    assert agency.verify() == []


def test_history_keeps_every_rating(staff: Staff) -> None:
    first = rate(staff, [report(reporting_date="2024-12-31")])
    second = rate(staff, [report(problem_loans="400.00")])
    history = staff.agency.state.history(BIC)
    assert [d.grade.letters for d in history] == ["A-", "BBB-"]
    assert [d.seq for d in history] == [first.seq, second.seq]
    assert second.outlook == "negative" and second.watch


def test_workflow_refusals(staff: Staff) -> None:
    agency = staff.agency
    with pytest.raises(WorkflowError, match="no financials"):
        agency.propose(staff.analyst, BIC)
    with pytest.raises(WorkflowError, match="not a registered analyst"):
        agency.add_financials(staff.members[0], [report()])
    agency.add_financials(staff.analyst, [report()])
    proposal = agency.propose(staff.analyst, BIC)
    with pytest.raises(WorkflowError, match="open proposal"):
        agency.propose(staff.analyst, BIC)
    with pytest.raises(WorkflowError, match="not a committee member"):
        agency.vote(staff.analyst, proposal.seq, approve=True)
    with pytest.raises(WorkflowError, match="no registered rater"):
        agency.vote(generate_key(), proposal.seq, approve=True)
    agency.vote(staff.members[0], proposal.seq, approve=True)
    with pytest.raises(WorkflowError, match="a vote is not changed"):
        agency.vote(staff.members[0], proposal.seq, approve=False)
    agency.withdraw(staff.analyst, proposal.seq, "new figures are due")
    with pytest.raises(WorkflowError, match="needs a rationale"):
        agency.propose(staff.analyst, BIC, outlook="positive")
    with pytest.raises(WorkflowError, match="only the administrator"):
        agency.add_rater(staff.analyst, "x", "X", ["committee"], public_key_hex(generate_key()))


def test_the_proposer_does_not_vote(tmp_path: Path) -> None:
    staff = make_staff(tmp_path / "a.db")
    both = generate_key()
    staff.agency.add_rater(
        staff.admin, "dual", "Dual", ["analyst", "committee"], public_key_hex(both)
    )
    staff.agency.add_financials(both, [report()])
    proposal = staff.agency.propose(both, BIC)
    with pytest.raises(WorkflowError, match="own proposal"):
        staff.agency.vote(both, proposal.seq, approve=True)


def test_a_proposal_whose_quorum_is_out_of_reach_is_rejected(staff: Staff) -> None:
    staff.agency.add_financials(staff.analyst, [report()])
    proposal = staff.agency.propose(staff.analyst, BIC)
    staff.agency.vote(staff.members[0], proposal.seq, approve=False)
    staff.agency.vote(staff.members[1], proposal.seq, approve=False)
    assert staff.agency.state.proposals[proposal.seq].status == "rejected"
    with pytest.raises(WorkflowError, match="is rejected"):
        staff.agency.vote(staff.members[2], proposal.seq, approve=True)
    assert staff.agency.state.current(BIC) is None


def test_adjusted_proposal_and_override_with_rationale(staff: Staff) -> None:
    decision = rate(
        staff,
        [report()],
        adjustments=Adjustments.of({"external_support": 2}),
        outlook="positive",
        rationale="state support committed in writing",
    )
    assert decision.grade == Grade.of("A+") and decision.outlook == "positive"


def test_committee_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="at least 3"):
        Agency.create(tmp_path / "a.db", generate_key(), votes_min=2)
    with pytest.raises(WorkflowError, match="majority"):
        Agency.create(tmp_path / "b.db", generate_key(), votes_min=5, approvals_quorum=2)


# --- tampering --------------------------------------------------------------------------------


def _edit(path: str, seq: int, change: dict[str, object]) -> None:
    """What someone with write access to the file could do: rewrite a record's body."""
    db = sqlite3.connect(path)
    (body,) = db.execute("SELECT body FROM records WHERE seq = ?", (seq,)).fetchone()
    db.execute(
        "UPDATE records SET body = ? WHERE seq = ?",
        (json.dumps({**json.loads(body), **change}), seq),
    )
    db.commit()
    db.close()


def _seq_of(agency: Agency, kind: str, nth: int = 0) -> int:
    return [r.seq for r in agency.records() if r.kind == kind][nth]


def test_a_changed_vote_is_detected(staff: Staff) -> None:
    rate(staff, [report()], approvals=2)
    vote = _seq_of(staff.agency, "vote", 2)  # the one rejection
    _edit(staff.agency.path, vote, {"approve": True})
    problems = Agency.open(staff.agency.path).verify()
    assert problems and problems[0].seq == vote
    assert (
        "signature does not verify" in problems[0].text
        or "changed after signing" in problems[0].text
    )


def test_a_changed_rating_is_detected(staff: Staff) -> None:
    rate(staff, [report()])
    proposal = _seq_of(staff.agency, "proposal")
    _edit(staff.agency.path, proposal, {"grade": "AAA"})
    problems = Agency.open(staff.agency.path).verify()
    assert problems[0].seq == proposal


def test_a_changed_rating_re_signed_by_its_author_is_still_caught(staff: Staff) -> None:
    """Even the analyst's own key cannot make a grade the method does not give: the
    audit recomputes every proposal's scorecard from the recorded financials."""
    from interbank.rating.store import RecordStore

    staff.agency.add_financials(staff.analyst, [report()])
    other = RecordStore.open(staff.agency.path)
    body = _forged_proposal(staff)
    with other.writing():
        other.append("proposal", "ana", body, staff.analyst, "2026-01-05T09:00:00+00:00")
    other.close()
    problems = Agency.open(staff.agency.path).verify()
    assert len(problems) == 1 and "method 1 gives A-" in problems[0].text


def _forged_proposal(staff: Staff) -> dict[str, object]:
    from interbank.rating.committee import proposal_body
    from interbank.rating.method import load_method
    from interbank.rating.scorecard import score_bank

    reports = staff.agency.state.reports_of(BIC)
    body = proposal_body(
        score_bank(load_method("1"), reports), reports, Adjustments(), None, None, ""
    )
    return {**body, "grade": "AA"}


def test_removed_and_reordered_records_break_the_chain(staff: Staff) -> None:
    rate(staff, [report()])
    vote = _seq_of(staff.agency, "vote", 0)
    db = sqlite3.connect(staff.agency.path)
    db.execute("DELETE FROM records WHERE seq = ?", (vote,))
    db.commit()
    db.close()
    texts = [str(p) for p in Agency.open(staff.agency.path).verify()]
    assert any(f"seq {vote + 1}: follows seq {vote - 1}" in t for t in texts)
    assert any("chain is broken" in t for t in texts)


def test_a_damaged_store_takes_no_more_records(staff: Staff) -> None:
    staff.agency.add_financials(staff.analyst, [report()])
    _edit(staff.agency.path, _seq_of(staff.agency, "financials"), {"source": "elsewhere"})
    agency = Agency.open(staff.agency.path)
    with pytest.raises(DamagedStoreError, match="damaged"):
        agency.propose(staff.analyst, BIC)


def test_a_record_signed_with_an_unregistered_key_is_caught(staff: Staff) -> None:
    from interbank.rating.store import RecordStore

    store = RecordStore.open(staff.agency.path)
    with store.writing():
        store.append("financials", "ana", {"report": {}, "source": ""}, generate_key(), "t")
    store.close()
    (problem,) = Agency.open(staff.agency.path).verify()
    assert "signature does not verify" in problem.text
