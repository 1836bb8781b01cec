"""The institutions beside the test network's journal: a reserve pool, a development bank
and a credit agency, with records the API tests read and change.

The pool and the bank are bound on a private copy of the demo network (their records
are files beside the journal; the money they would move is not under test here). The
demo's Chinese central bank is the test network's central bank (JDRBCNBJ), so it is the
pool's member CN; loans go to bank A (L-A), the central bank (L-C) and India's central
bank (L-O); bank A and bank B are rated.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from interbank.engine import Engine
from interbank.lending.bank import DevelopmentBank
from interbank.lending.store import DecisionStore as LendingStore
from interbank.lending.terms import load_bank_binding, load_lending_rulebook, parse_loan_terms
from interbank.network_port import ScratchNetwork
from interbank.rating.committee import Agency
from interbank.rating.financials import parse_financials_json
from interbank.rating.signing import generate_key, public_key_hex
from interbank.reserve.pool import ReservePool
from interbank.reserve.rulebook import load_binding, load_rulebook
from interbank.reserve.store import DecisionStore as ReserveStore
from interbank.sim import demo_network

POOL_START = dt.date(2025, 1, 2)
BANK_START = dt.date(2018, 1, 2)
LOAN_SIGNED = dt.date(2024, 1, 1)
LOANS = {"L-A": ("YRCBCNSH", "CNY"), "L-C": ("JDRBCNBJ", "CNY"), "L-O": ("GGRBINBB", "INR")}
RATED = ("YRCBCNSH", "PDBKCNGZ")

_snapshot: bytes | None = None


def _network() -> ScratchNetwork:
    global _snapshot
    if _snapshot is None:
        engine = Engine()
        assert all(r.ok for r in engine.execute_many(demo_network(1).setup_commands(), 1))
        _snapshot = engine.snapshot()
    return ScratchNetwork(Engine.restore(_snapshot))


def build_institutions(db: str) -> None:
    """Write the three stores beside ``db`` (the journal of the test network)."""
    base = Path(db)
    records = ReserveStore.open(str(base) + ".reserve")
    try:
        pool = ReservePool.create(records, load_rulebook(), POOL_START, _network())
        pool.bind(load_binding(), POOL_START)
        pool.request("CN", "liquidity", "de_linked", 1_000_000_000 * 100, POOL_START)  # R-0001
        pool.request("BR", "liquidity", "de_linked", 1_000_000_000 * 100, POOL_START)  # R-0002
    finally:
        records.close()
    lending = LendingStore.open(str(base) + ".lending")
    try:
        rulebook = load_lending_rulebook()
        bank = DevelopmentBank.create(lending, rulebook, BANK_START, _network())
        bank.bind(load_bank_binding(), BANK_START)
        bank.subscribe_initial(BANK_START)
        for loan_id, (bic, code) in LOANS.items():
            text = (
                f'loan_id = "{loan_id}"\nborrower_bic = "{bic}"\ncurrency = "{code}"\n'
                f"amount = 100000000\nsigned_on = {LOAN_SIGNED}\nreference_rate_percent = 5.00\n"
                'shape = "equal_principal"\ngrace_months = 12\nmaturity_months = 36\n'
                f"[[tranche]]\non = {LOAN_SIGNED}\namount = 100000000\n"
            )
            bank.sign(parse_loan_terms(text, rulebook), LOAN_SIGNED)
    finally:
        lending.close()
    admin, analyst = generate_key(), generate_key()
    with Agency.create(base.parent / "agency.db", admin, approvals_quorum=2) as agency:
        agency.add_rater(admin, "ana", "Ana Analyst", ["analyst"], public_key_hex(analyst))
        members = [generate_key() for _ in range(3)]
        for i, key in enumerate(members, start=1):
            agency.add_rater(admin, f"m{i}", f"Member {i}", ["committee"], public_key_hex(key))
        for bic in RATED:
            reports = parse_financials_json(json.dumps({
                "bic": bic, "name": f"Bank {bic}", "reporting_date": "2025-12-31",
                "currency": "CNY", "tangible_common_equity": "1200.00",
                "risk_weighted_assets": "10000.00", "problem_loans": "100.00",
                "gross_loans": "5000.00", "net_income": "100.00",
                "tangible_assets": "10000.00", "market_funds": "2000.00",
                "liquid_assets": "2000.00",
            }))  # fmt: skip
            agency.add_financials(analyst, reports)
            proposal = agency.propose(analyst, bic)
            for key in members:
                agency.vote(key, proposal.seq, approve=True)
            agency.decide(members[0], proposal.seq, dt.date(2026, 1, 5))
