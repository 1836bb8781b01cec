"""``interbank bench rating``: how fast the agency rates banks and acts in the network.

Measured, never asserted. Three figures, each beside a baseline run in the same
process and the same run:

* ``scorecards_per_s``: banks rated from three annual reports each (scorecard, grade,
  PD, outlook, watch) and their controls computed (haircuts, cap, credit line), in
  exact fractions. Baseline: the same formulas in binary floats, a plain loop, which
  is what a spreadsheet or a quick script would do (``float_scorecards_per_s``).
* ``committee_ratings_per_s``: banks taken through the signed workflow in the agency
  store: financials, proposal, three votes and the decision (six signed, fsynced
  records each).
* ``decision_to_enforced_ms``: from the moment a decision is durable in the agency
  store to the new credit line being durable in the journal and enforced by the
  engine (the bank's controls recomputed, ``SetCreditLine`` submitted through a real
  ``Node`` on SQLite and read back from the engine). Baseline: one ``SetCreditLine``
  submitted straight to the same node (``direct_set_credit_line_ms``), the floor of
  any path into the network.

Medians of ``runs`` repetitions; the enforcement figures are medians (and p90) over
``decisions`` decisions that alternate between a downgrade and an upgrade, so every
one really changes a line.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interbank.rating.controls import CollateralItem, CollateralPool, controls_for
from interbank.rating.financials import BankFinancials
from interbank.rating.method import Method, load_method
from interbank.rating.scale import Grade
from interbank.rating.scorecard import score_bank

Progress = Callable[[str], None]
_CENTRAL = "JDRBCNBJ"
_BANK = "YRCBCNSH"
_OTHER = "PDBKCNGZ"
_ACCOUNT, _OTHER_ACCOUNT, _ISSUANCE = 10, 20, 1


@dataclass(frozen=True, slots=True)
class RatingBenchReport:
    quick: bool
    banks: int
    runs: int
    scorecards_per_s: float
    float_scorecards_per_s: float
    committee_banks: int
    committee_ratings_per_s: float
    decisions: int
    decide_ms: float
    decision_to_enforced_ms: float
    decision_to_enforced_ms_p90: float
    decision_to_recorded_ms: float
    direct_set_credit_line_ms: float
    load_average_1m: float

    def figures(self) -> dict[str, Any]:
        return {
            "suite": "rating",
            "quick": self.quick,
            "banks": self.banks,
            "runs": self.runs,
            "scorecards_per_s": round(self.scorecards_per_s, 1),
            "float_scorecards_per_s": round(self.float_scorecards_per_s, 1),
            "exact_vs_float": round(self.scorecards_per_s / self.float_scorecards_per_s, 3),
            "committee_banks": self.committee_banks,
            "committee_ratings_per_s": round(self.committee_ratings_per_s, 1),
            "decisions": self.decisions,
            "decide_ms": round(self.decide_ms, 3),
            "decision_to_enforced_ms": round(self.decision_to_enforced_ms, 3),
            "decision_to_enforced_ms_p90": round(self.decision_to_enforced_ms_p90, 3),
            "decision_to_recorded_ms": round(self.decision_to_recorded_ms, 3),
            "direct_set_credit_line_ms": round(self.direct_set_credit_line_ms, 3),
            "enforced_vs_direct": round(
                self.decision_to_enforced_ms / self.direct_set_credit_line_ms, 2
            ),
            "load_average_1m": self.load_average_1m,
        }


def synthetic_reports(banks: int, seed: int = 7) -> list[list[BankFinancials]]:
    """Three annual reports per bank, ratios spread across every factor's corners."""
    rng = random.Random(f"interbank-rating-bench-{seed}")
    result = []
    for n in range(banks):
        bic = f"B{n // 26 // 26 % 26 + 65:c}{n // 26 % 26 + 65:c}{n % 26 + 65:c}CNBJ"[:8]
        bic = f"{chr(65 + n // 17576 % 26)}{bic[1:]}"
        reports = []
        for year in (2023, 2024, 2025):
            assets = rng.randint(10**6, 10**9) * 100
            loans = assets * rng.randint(30, 70) // 100
            reports.append(
                BankFinancials(
                    bic=bic,
                    reporting_date=dt.date(year, 12, 31),
                    currency="CNY",
                    tangible_common_equity_minor=assets * rng.randint(2, 12) // 100,
                    risk_weighted_assets_minor=assets * rng.randint(40, 80) // 100,
                    problem_loans_minor=loans * rng.randint(0, 200) // 1000,
                    gross_loans_minor=loans,
                    net_income_minor=assets * rng.randint(-15, 25) // 1000,
                    tangible_assets_minor=assets,
                    market_funds_minor=assets * rng.randint(5, 60) // 100,
                    liquid_assets_minor=assets * rng.randint(2, 45) // 100,
                )
            )
        result.append(reports)
    return result


def _pool(bic: str, account_id: int) -> CollateralPool:
    return CollateralPool(
        bic, account_id, "CNY",
        (
            CollateralItem("gov", "sovereign", Grade.of("AA"), 200, 10**11),
            CollateralItem("corp", "other", Grade.of("A"), 900, 5 * 10**10),
        ),
    )  # fmt: skip


def _rate_exact(method: Method, banks: list[list[BankFinancials]]) -> int:
    lines = 0
    for reports in banks:
        card = score_bank(method, reports)
        latest = reports[-1]
        target = controls_for(
            method, card.grade, latest.tangible_common_equity_minor, "CNY", _pool(latest.bic, 1)
        )
        lines += target.credit_line_minor
    return lines


def _rate_float(method: Method, banks: list[list[BankFinancials]]) -> int:
    """The baseline: the same scorecard in binary floats, as a quick script would."""
    factors = [
        (
            f.numerator,
            f.denominator,
            f.weight_pct / 100,
            [float(x) for x in f.ratio_pct],
            f.points,
            f.averaging,
        )
        for f in method.factors
    ]
    bounds = [float(b) for b in method.score_lower_bounds]

    def points(x: float, xs: list[float], ys: tuple[int, ...]) -> float:
        if x <= xs[0]:
            return float(ys[0])
        for i in range(1, len(xs)):
            if x <= xs[i]:
                return ys[i - 1] + (ys[i] - ys[i - 1]) * (x - xs[i - 1]) / (xs[i] - xs[i - 1])
        return float(ys[-1])

    lines = 0
    for reports in banks:
        score = 0.0
        for numerator, denominator, weight, xs, ys, averaging in factors:
            ratios = [
                100 * r.figure_minor(numerator) / r.figure_minor(denominator) for r in reports
            ]
            latest = points(ratios[-1], xs, ys)
            if averaging != "latest":
                latest = min(latest, points(sum(ratios) / len(ratios), xs, ys))
            score += weight * latest
        notch = next(i for i, b in enumerate(bounds, start=1) if score >= b)
        multiple = float(method.cap_band(Grade(notch)).multiple)
        collateral = 10**11 * 0.995 + 5 * 10**10 * 0.98
        lines += int(min(collateral, multiple * reports[-1].tangible_common_equity_minor))
    return lines


def _per_s(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def measure(quick: bool = False, progress: Progress | None = None) -> RatingBenchReport:
    say = progress or (lambda _m: None)
    banks_count, runs, committee_banks, decisions = (
        (2_000, 3, 20, 20) if quick else (10_000, 5, 60, 60)
    )
    method = load_method("1")
    banks = synthetic_reports(banks_count)
    say(f"scorecards: {banks_count} banks x 3 reports, {runs} runs, exact and float")
    exact, floats = [], []
    for _ in range(runs):
        start = time.perf_counter()
        _rate_exact(method, banks)
        exact.append(_per_s(banks_count, time.perf_counter() - start))
        start = time.perf_counter()
        _rate_float(method, banks)
        floats.append(_per_s(banks_count, time.perf_counter() - start))
    with tempfile.TemporaryDirectory(prefix="interbank-bench-rating-") as folder:
        say(f"committee: {committee_banks} banks through the signed workflow")
        committee_rate = _committee(Path(folder), banks[:committee_banks])
        say(f"enforcement: {decisions} decisions through a real node")
        enforcement = _enforcement(Path(folder), decisions)
    return RatingBenchReport(
        quick=quick,
        banks=banks_count,
        runs=runs,
        scorecards_per_s=statistics.median(exact),
        float_scorecards_per_s=statistics.median(floats),
        committee_banks=committee_banks,
        committee_ratings_per_s=committee_rate,
        decisions=decisions,
        load_average_1m=round(os.getloadavg()[0], 2),
        **enforcement,
    )


def _staff(path: Path) -> tuple[Any, Any, Any, list[Any]]:
    from interbank.rating.committee import Agency
    from interbank.rating.signing import generate_key, public_key_hex

    admin, analyst = generate_key(), generate_key()
    members = [generate_key() for _ in range(3)]
    agency = Agency.create(path, admin)
    agency.add_rater(admin, "ana", "Analyst", ["analyst"], public_key_hex(analyst))
    for i, key in enumerate(members, start=1):
        agency.add_rater(admin, f"m{i}", f"Member {i}", ["committee"], public_key_hex(key))
    return agency, admin, analyst, members


def _committee(folder: Path, banks: list[list[BankFinancials]]) -> float:
    agency, _admin, analyst, members = _staff(folder / "committee.db")
    start = time.perf_counter()
    for reports in banks:
        agency.add_financials(analyst, reports[-1:])
        proposal = agency.propose(analyst, reports[-1].bic)
        for key in members:
            agency.vote(key, proposal.seq, approve=True)
        agency.decide(members[0], proposal.seq)
    elapsed = time.perf_counter() - start
    agency.close()
    return _per_s(len(banks), elapsed)


def _enforcement(folder: Path, decisions: int) -> dict[str, float]:
    from interbank.engine import AccountKind, Issue, OpenAccount, RegisterParticipant, Role
    from interbank.engine.commands import SetCreditLine
    from interbank.node import Node, NodeSettings
    from interbank.rating.enforce import enforce, enforcement_body, targets_for

    agency, admin, analyst, members = _staff(folder / "enforce.db")
    strong = _bench_report(strong=True)
    weak = _bench_report(strong=False)
    pool = _pool(_BANK, _ACCOUNT)
    decide_ms, enforced_ms, recorded_ms, direct_ms = [], [], [], []
    with Node.open(str(folder / "net.db"), create=True, settings=NodeSettings(linger_us=0)) as node:
        setup = node.submit(
            [
                RegisterParticipant(1, _CENTRAL, "Jade Reserve Bank", Role.CENTRAL_BANK, "CNY"),
                RegisterParticipant(2, _BANK, "Yellow River Commercial Bank", Role.DIRECT),
                RegisterParticipant(3, _OTHER, "Pearl Delta Bank", Role.DIRECT),
                OpenAccount(4, _ISSUANCE, _CENTRAL, "CNY", AccountKind.ISSUANCE),
                OpenAccount(5, _ACCOUNT, _BANK, "CNY"),
                OpenAccount(6, _OTHER_ACCOUNT, _OTHER, "CNY"),
                Issue(7, _ACCOUNT, 10**9),
            ]
        )
        assert all(r.ok for r in setup)
        for n in range(decisions):
            year = 2000 + n
            report = strong if n % 2 == 0 else weak
            agency.add_financials(analyst, [_dated(report, year)])
            proposal = agency.propose(analyst, _BANK)
            for key in members:
                agency.vote(key, proposal.seq, approve=True)
            started = time.perf_counter()
            decision = agency.decide(members[0], proposal.seq, dt.date(year, 12, 31))
            decided = time.perf_counter()
            targets = targets_for(agency, decision, [pool])
            outcome = enforce(node, targets, decision.hash, 1)
            account = node.engine.account(_ACCOUNT)
            assert account is not None and account.credit_line_minor == targets[0].credit_line_minor
            enforced = time.perf_counter()
            agency.record_enforcement(admin, enforcement_body(decision, [pool], targets, outcome))
            recorded = time.perf_counter()
            decide_ms.append((decided - started) * 1e3)
            enforced_ms.append((enforced - decided) * 1e3)
            recorded_ms.append((recorded - decided) * 1e3)
            # Baseline: the same kind of change, straight into the node.
            start = time.perf_counter()
            (result,) = node.submit(
                [SetCreditLine(10_000 + n, _OTHER_ACCOUNT, 1_000 * (n % 2 + 1))]
            )
            direct_ms.append((time.perf_counter() - start) * 1e3)
            assert result.ok
    agency.close()
    enforced_sorted = sorted(enforced_ms)
    return {
        "decide_ms": statistics.median(decide_ms),
        "decision_to_enforced_ms": statistics.median(enforced_ms),
        "decision_to_enforced_ms_p90": enforced_sorted[int(0.9 * (len(enforced_sorted) - 1))],
        "decision_to_recorded_ms": statistics.median(recorded_ms),
        "direct_set_credit_line_ms": statistics.median(direct_ms),
    }


def _bench_report(strong: bool) -> BankFinancials:
    # AAA (score 97) and BB (51): the same figures as the downgrade test in tests/rating.
    return BankFinancials(
        bic=_BANK,
        reporting_date=dt.date(2000, 12, 31),
        currency="CNY",
        tangible_common_equity_minor=100_000,
        risk_weighted_assets_minor=625_000 if strong else 1_250_000,
        problem_loans_minor=5_000 if strong else 20_000,
        gross_loans_minor=500_000,
        net_income_minor=15_000 if strong else 5_000,
        tangible_assets_minor=1_000_000,
        market_funds_minor=100_000 if strong else 300_000,
        liquid_assets_minor=400_000 if strong else 200_000,
    )


def _dated(report: BankFinancials, year: int) -> BankFinancials:
    from dataclasses import replace

    return replace(report, reporting_date=dt.date(year, 12, 31))


def render_table(report: RatingBenchReport) -> Any:
    from rich.table import Table

    figures = report.figures()
    table = Table(
        title=f"interbank bench rating{' (quick)' if report.quick else ''}", title_justify="left"
    )
    table.add_column("figure")
    table.add_column("median", justify="right")
    table.add_column("baseline", justify="right")
    table.add_column("ratio", justify="right")
    table.add_row(
        f"banks scored per s ({report.banks} banks, exact)",
        f"{figures['scorecards_per_s']:,.0f}",
        f"{figures['float_scorecards_per_s']:,.0f} (floats)",
        f"{figures['exact_vs_float']}",
    )
    table.add_row(
        f"banks rated per s through the committee ({report.committee_banks})",
        f"{figures['committee_ratings_per_s']:,.1f}", "", "",
    )  # fmt: skip
    table.add_row("decision record, ms", f"{figures['decide_ms']:.2f}", "", "")
    table.add_row(
        f"decision to limits enforced, ms ({report.decisions})",
        f"{figures['decision_to_enforced_ms']:.2f} "
        f"(p90 {figures['decision_to_enforced_ms_p90']:.2f})",
        f"{figures['direct_set_credit_line_ms']:.2f} (direct)",
        f"{figures['enforced_vs_direct']}",
    )
    table.add_row(
        "decision to enforcement recorded, ms", f"{figures['decision_to_recorded_ms']:.2f}", "", ""
    )
    return table
