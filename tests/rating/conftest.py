"""Shared builders for the agency's tests: reports, keys and a staffed agency."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from interbank.rating.committee import Agency
from interbank.rating.financials import BankFinancials, parse_financials_json
from interbank.rating.signing import generate_key, public_key_hex

BIC = "YRCBCNSH"

# A bank whose every ratio sits on a corner of method v1: capital 12% (70 points),
# problem loans 2% (85), net income 1% (75), market funds 20% (75), liquid assets 20%
# (60). Score = 0.30*70 + 0.25*85 + 0.15*75 + 0.15*75 + 0.15*60 = 73.75: grade A-.
CORNER_BANK: dict[str, Any] = {
    "bic": BIC,
    "name": "Yellow River Commercial Bank",
    "reporting_date": "2025-12-31",
    "currency": "CNY",
    "tangible_common_equity": "1200.00",
    "risk_weighted_assets": "10000.00",
    "problem_loans": "100.00",
    "gross_loans": "5000.00",
    "net_income": "100.00",
    "tangible_assets": "10000.00",
    "market_funds": "2000.00",
    "liquid_assets": "2000.00",
}


def report(**changes: Any) -> BankFinancials:
    """CORNER_BANK with some fields changed (None removes a field)."""
    record = {**CORNER_BANK, **changes}
    (parsed,) = parse_financials_json_record({k: v for k, v in record.items() if v is not None})
    return parsed


def parse_financials_json_record(record: dict[str, Any]) -> list[BankFinancials]:
    import json

    return parse_financials_json(json.dumps(record))


@dataclass
class Staff:
    agency: Agency
    admin: Ed25519PrivateKey
    analyst: Ed25519PrivateKey
    members: list[Ed25519PrivateKey]


class FixedClock:
    """A clock that moves one second per reading: records get distinct, known times."""

    def __init__(self) -> None:
        self._ticks = itertools.count()

    def __call__(self) -> dt.datetime:
        return dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC) + dt.timedelta(
            seconds=next(self._ticks)
        )


@pytest.fixture
def staff(tmp_path: Path) -> Iterator[Staff]:
    yield make_staff(tmp_path / "agency.db")


def make_staff(path: Path, members: int = 3, approvals_quorum: int = 2) -> Staff:
    admin = generate_key()
    agency = Agency.create(path, admin, approvals_quorum=approvals_quorum, clock=FixedClock())
    analyst = generate_key()
    agency.add_rater(admin, "ana", "Ana Analyst", ["analyst"], public_key_hex(analyst))
    keys = [generate_key() for _ in range(members)]
    for i, key in enumerate(keys, start=1):
        agency.add_rater(admin, f"m{i}", f"Member {i}", ["committee"], public_key_hex(key))
    return Staff(agency, admin, analyst, keys)


def rate(staff: Staff, reports: list[BankFinancials], approvals: int = 3, **propose: Any) -> Any:
    """Load, propose, vote (``approvals`` of the members approve) and decide."""
    staff.agency.add_financials(staff.analyst, reports)
    proposal = staff.agency.propose(staff.analyst, reports[0].bic, **propose)
    for i, key in enumerate(staff.members):
        staff.agency.vote(key, proposal.seq, approve=i < approvals)
    return staff.agency.decide(staff.members[0], proposal.seq, dt.date(2026, 1, 5))


Builder = Callable[..., BankFinancials]
