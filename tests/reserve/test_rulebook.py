"""The default rulebook against the reference notes' worked examples, and bad rulebooks.

Expectations are derived by hand from figures tagged V/S/D in
credit-reserve-lending.md section 1 (commitments [V], multipliers and the 30% rule [S],
weights [S] and the 5%/95% rule [D]).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from interbank.reserve.rulebook import (
    Rulebook,
    RulebookError,
    derived_weights_percent,
    load_binding,
    load_rulebook,
    parse_rulebook,
)
from interbank.reserve.rules import percent_text, split_pro_rata, tally

from .conftest import BILLION, USD


def test_commitments_and_maximum_access_per_member(rulebook: Rulebook) -> None:
    # Section 1.2: access = commitment x multiplier; China 41 x 0.5 = 20.5 (not 21).
    commitments = {m.code: m.commitment_minor for m in rulebook.members}
    assert commitments == {
        "CN": 41 * BILLION,
        "BR": 18 * BILLION,
        "IN": 18 * BILLION,
        "RU": 18 * BILLION,
        "ZA": 5 * BILLION,
    }
    access = {code: rulebook.max_access_minor(code) for code in rulebook.codes()}
    assert access == {
        "CN": 20_500_000_000 * USD,
        "BR": 18 * BILLION,
        "IN": 18 * BILLION,
        "RU": 18 * BILLION,
        "ZA": 10 * BILLION,
    }
    assert sum(access.values()) == 84_500_000_000 * USD


def test_de_linked_share_is_thirty_percent_of_access(rulebook: Rulebook) -> None:
    caps = {code: rulebook.de_linked_cap_minor(code) for code in rulebook.codes()}
    assert caps == {
        "CN": 6_150_000_000 * USD,
        "BR": 5_400_000_000 * USD,
        "IN": 5_400_000_000 * USD,
        "RU": 5_400_000_000 * USD,
        "ZA": 3 * BILLION,
    }
    assert sum(caps.values()) == 25_350_000_000 * USD


def test_voting_weights_follow_the_five_ninety_five_rule_and_sum_to_100(
    rulebook: Rulebook,
) -> None:
    weights = dict(rulebook.weights_percent)
    assert {c: percent_text(w) for c, w in weights.items()} == {
        "CN": "39.95",
        "BR": "18.10",
        "IN": "18.10",
        "RU": "18.10",
        "ZA": "5.75",
    }
    assert sum(weights.values()) == 100
    # China = 5/5 + 95 x 41/100 = 39.95, exactly.
    derived = derived_weights_percent(
        {m.code: m.commitment_minor for m in rulebook.members},
        rulebook.basic_votes_percent,
        rulebook.proportional_votes_percent,
    )
    assert derived == weights
    assert derived["CN"] == Fraction(3995, 100)


def test_weighted_majority_worked_example(rulebook: Rulebook) -> None:
    # India requests; providers hold 39.95 + 18.10 x 2 + 5.75 = 81.90; approval > 40.95.
    empty = tally(rulebook, "IN", [])
    assert empty.eligible == ("CN", "BR", "RU", "ZA")
    assert empty.eligible_percent == Fraction(8190, 100)
    assert empty.needed_percent == Fraction(4095, 100)
    assert tally(rulebook, "IN", [("CN", True)]).outcome is None  # 39.95 alone: not yet
    china_alone = tally(rulebook, "IN", [("CN", True), ("BR", False), ("RU", False), ("ZA", False)])
    assert china_alone.outcome == "rejected"
    assert tally(rulebook, "IN", [("CN", True), ("ZA", True)]).outcome == "approved"  # 45.70
    three = tally(rulebook, "IN", [("BR", True), ("RU", True), ("ZA", True)])
    assert three.yes_percent == Fraction(4195, 100) and three.outcome == "approved"
    # Rejected as soon as approval is out of reach: 18.10 + 18.10 + 5.75 = 41.95 no.
    assert (
        tally(rulebook, "IN", [("BR", False), ("RU", False), ("ZA", False)]).outcome == "rejected"
    )


def test_pro_rata_funding_of_a_ten_billion_drawing_by_south_africa() -> None:
    # Section 1.7 [U rule, D arithmetic]: China 41/95 x 10 = 4.3158, the others 1.8947.
    weights = [("CN", 41), ("BR", 18), ("IN", 18), ("RU", 18)]
    parts = dict(split_pro_rata(10 * BILLION, weights))
    assert parts == {
        "CN": 431_578_947_368,
        "BR": 189_473_684_211,
        "IN": 189_473_684_211,
        "RU": 189_473_684_210,
    }
    assert sum(parts.values()) == 10 * BILLION


def test_every_rule_names_its_source(rulebook: Rulebook) -> None:
    sources = dict(rulebook.provenance)
    assert sources["member.commitment"].startswith("V:")
    assert sources["voting.weights_percent"].startswith("S:")
    assert sources["instrument.maturity_days"].startswith("U:")
    assert all(text[:2] in ("V:", "S:", "D:", "U:") for text in sources.values())


# --- bad rulebooks: each refused with a clear reason ---------------------------------------


def _default_text() -> str:
    return load_rulebook().text


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("ZA = 5.75 }", "ZA = 5.70 }", "voting.weights_percent sums to 99.95, not 100"),
        (
            "CN = 39.95, BR = 18.10",
            "CN = 40.00, BR = 18.05",
            "voting.weights_percent.CN is 40 but the voting rule gives 39.95",
        ),
        (
            "basic_votes_percent = 5",
            "basic_votes_percent = 6",
            "basic_votes_percent + proportional_votes_percent is 101, not 100",
        ),
        ("access_multiplier = 0.5", "access_multiplier = 0", "must be a positive number"),
        ('day_count = "ACT/360"', 'day_count = "ACT/999"', "interest.day_count"),
        ('voters = "providers"', 'voters = "everyone"', "voting.voters"),
        (
            "vote_window_days = 10",
            "vote_window_days = 10\nquorum = 3",
            "unknown key(s): voting.quorum",
        ),
        ("approval_share_percent = 50", "approval_share_percent = 100", "below 100"),
        ('reserve_currency = "USD"', 'reserve_currency = "XXY"', "rulebook.reserve_currency"),
        ('code = "ZA"', 'code = "CN"', "member CN appears twice"),
        (
            'portion = "imf_linked"\nmaturity_days = 365\nrenewals_max = 2\nspread_bp = 150\n'
            "availability_days = 365",
            'portion = "de_linked"\nmaturity_days = 365\nrenewals_max = 2\n'
            "spread_bp = 150\navailability_days = 365",
            "precautionary/de_linked appear twice",
        ),
    ],
)
def test_bad_rulebooks_are_refused_with_the_reason(old: str, new: str, message: str) -> None:
    text = _default_text()
    assert old in text, old
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(
            text.replace(old, new, 1)
            if "appear twice" not in message
            else _last_replaced(text, old, new)
        )
    assert message in caught.value.text
    assert caught.value.reason_code == "FF01"


def _last_replaced(text: str, old: str, new: str) -> str:
    head, _, tail = text.rpartition(old)
    return head + new + tail


def test_not_toml_and_missing_sections(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match="not TOML"):
        parse_rulebook("format = ")
    with pytest.raises(RulebookError, match="rulebook is missing"):
        parse_rulebook("format = 1\n")
    path = tmp_path / "missing.toml"
    with pytest.raises(RulebookError, match="cannot read"):
        load_rulebook(str(path))


def test_demo_binding_names_every_member(rulebook: Rulebook) -> None:
    binding = load_binding()
    assert sorted(m.code for m in binding.members) == sorted(rulebook.codes())
    assert binding.usd_agent_bic == "PUSAUS33"
