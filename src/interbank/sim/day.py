"""A synthetic business day: N payments between the demo network's banks, as batches.

Most payments are ordinary transfers between two settlement accounts of one currency,
sent and received in proportion to the banks' sizes, with heavy-tailed amounts (many
small, a few very large; drawn as integers, decade by decade). Because balances wander
during the day, some payments naturally meet an empty account (AM04). A small share of
rows is deliberately bad, the way real traffic is: a payment to the payer's own
account, to an account that does not exist, across two currencies, of zero; a
resend of an earlier payment (answered from the idempotency window) and an old id
reused for a different payment (DUPL).

With ``cross_payments_per_10k`` > 0, that share of rows are cross-currency payments
(``CrossPayment``, settled payment-versus-payment through the FX providers' quotes):
from a bank's account in one currency to another bank's account in another, smaller
than the domestic tail (at most 10**6 reference units), the route left to the network.
At 0 (the default) no draw is made for them, so a seed's day is the same as before.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from interbank.engine.batch import Batch
from interbank.engine.commands import Kind
from interbank.money import currency
from interbank.sim.network import CURRENCIES, Network, SimAccount, to_minor, uuid4_int

# Decades of a payment's size in reference units (10**2 .. 10**9) and their weights:
# the mass sits around 10**4-10**5, the tail reaches a billion.
_DECADES: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
_DECADE_WEIGHTS: tuple[int, ...] = (12, 22, 26, 20, 12, 6, 2)
# The largest decade a bank of this weight sends (small banks send no billion).
_DECADE_MAX_BY_WEIGHT: dict[int, int] = {1: 6, 2: 7, 3: 7}
_DECADE_MAX_LARGE = 8

# Deliberately bad rows, per 10,000 payments, by kind.
ANOMALIES_PER_10K: dict[str, int] = {
    "same_account": 4,
    "unknown_account": 4,
    "currency_pair": 4,
    "zero_amount": 4,
    "resend": 6,
    "id_reuse": 3,
}
# Account ids that the demo network never opens (see network.py's numbering).
_UNKNOWN_ACCOUNT_FIRST = 9_900
_RECENT_PAYMENTS_KEPT = 512
# The largest decade of a cross-currency payment: correspondent-sized, not wholesale.
_DECADE_MAX_CROSS = 5

PAYMENTS_DEFAULT = 200_000
BATCH_ROWS_DEFAULT = 2_000


@dataclass(frozen=True, slots=True)
class DayPlan:
    """The day's batches in submission order, and how many rows of each kind they hold."""

    seed: int
    batches: tuple[Batch, ...]
    payments: int
    anomalies: dict[str, int]
    cross_payments: int = 0


@dataclass(slots=True)
class _Row:
    id: int
    debit: int
    credit: int
    amount_minor: int
    currency: str
    cross: bool = False  # a CrossPayment to an account in another currency


def plan_day(
    network: Network,
    payments: int = PAYMENTS_DEFAULT,
    seed: int = 1,
    batch_rows: int = BATCH_ROWS_DEFAULT,
    cross_payments_per_10k: int = 0,
) -> DayPlan:
    """Generate the whole day at once (about 60 bytes a payment)."""
    anomalies = dict.fromkeys(ANOMALIES_PER_10K, 0)
    batches = tuple(
        day_batches(network, payments, seed, batch_rows, anomalies, cross_payments_per_10k)
    )
    assert sum(len(b) for b in batches) == payments
    cross = sum(int(np.count_nonzero(b.kind == Kind.CROSS_PAYMENT)) for b in batches)
    return DayPlan(seed, batches, payments, anomalies, cross)


def day_batches(
    network: Network,
    payments: int,
    seed: int,
    batch_rows: int = BATCH_ROWS_DEFAULT,
    anomalies: dict[str, int] | None = None,
    cross_payments_per_10k: int = 0,
) -> Iterator[Batch]:
    """Yield the day's payments as batches of ``batch_rows`` rows (the last shorter)."""
    assert payments >= 0 and batch_rows >= 1 and 0 <= cross_payments_per_10k <= 10_000
    rng = random.Random(f"interbank-day-{network.seed}-{seed}")
    counts = anomalies if anomalies is not None else dict.fromkeys(ANOMALIES_PER_10K, 0)
    generator = _DayGenerator(network, rng, cross_payments_per_10k)
    done = 0
    while done < payments:
        rows = [generator.next_row(counts) for _ in range(min(batch_rows, payments - done))]
        done += len(rows)
        yield _batch(rows)


class _DayGenerator:
    """Draws one payment row at a time from the network's shape."""

    def __init__(self, network: Network, rng: random.Random, cross_per_10k: int = 0) -> None:
        self.rng = rng
        self.cross_per_10k = cross_per_10k
        self.accounts: dict[str, list[SimAccount]] = {
            code: network.settlement_accounts(code) for code in CURRENCIES
        }
        self.cum_weights: dict[str, list[int]] = {
            code: list(accumulate(a.weight for a in accounts))
            for code, accounts in self.accounts.items()
        }
        self.currency_cum_weights = list(
            accumulate(self.cum_weights[code][-1] for code in CURRENCIES)
        )
        # Thresholds on a draw from 0..9999 that select an anomaly kind.
        self.anomaly_cum = list(accumulate(ANOMALIES_PER_10K.values()))
        self.anomaly_kinds = list(ANOMALIES_PER_10K)
        self.recent: list[_Row] = []

    def _pick(self, code: str) -> SimAccount:
        return self.rng.choices(self.accounts[code], cum_weights=self.cum_weights[code])[0]

    def _amount_minor(
        self, code: str, debtor_weight: int, decade_max: int = _DECADE_MAX_LARGE
    ) -> int:
        rng = self.rng
        decade = rng.choices(_DECADES, weights=_DECADE_WEIGHTS)[0]
        decade = min(
            decade, _DECADE_MAX_BY_WEIGHT.get(debtor_weight, _DECADE_MAX_LARGE), decade_max
        )
        reference = rng.randint(10**decade, 10 ** (decade + 1) - 1)
        exponent = currency(code).exponent
        if rng.randrange(10) < 4:
            # Round amounts are common: keep three significant digits, no minor units.
            step = 10 ** max(0, len(str(reference)) - 3)
            return to_minor(reference // step * step, code)
        return to_minor(reference, code) + rng.randrange(10**exponent)

    def _ordinary(self) -> _Row:
        rng = self.rng
        code = rng.choices(CURRENCIES, cum_weights=self.currency_cum_weights)[0]
        debit = self._pick(code)
        credit = self._pick(code)
        while credit.account_id == debit.account_id:
            credit = self._pick(code)
        amount = self._amount_minor(code, debit.weight)
        return _Row(uuid4_int(rng), debit.account_id, credit.account_id, amount, code)

    def _cross(self) -> _Row:
        """A cross-currency payment: currencies by weight, the second unlike the first."""
        rng = self.rng
        code = rng.choices(CURRENCIES, cum_weights=self.currency_cum_weights)[0]
        others = [c for c in CURRENCIES if c != code]
        to_code = rng.choices(others, weights=[self.cum_weights[c][-1] for c in others])[0]
        debit, credit = self._pick(code), self._pick(to_code)
        amount = self._amount_minor(code, debit.weight, _DECADE_MAX_CROSS)
        return _Row(uuid4_int(rng), debit.account_id, credit.account_id, amount, code, True)

    def next_row(self, counts: dict[str, int]) -> _Row:
        rng = self.rng
        if self.cross_per_10k and rng.randrange(10_000) < self.cross_per_10k:
            return self._cross()
        draw = rng.randrange(10_000)
        kind = next(
            (
                k
                for k, limit in zip(self.anomaly_kinds, self.anomaly_cum, strict=True)
                if draw < limit
            ),
            None,
        )
        if kind in ("resend", "id_reuse") and not self.recent:
            kind = None
        row = self._ordinary()
        if kind is None:
            self.recent.append(row)
            if len(self.recent) > _RECENT_PAYMENTS_KEPT:
                del self.recent[: _RECENT_PAYMENTS_KEPT // 2]
            return row
        counts[kind] += 1
        if kind == "same_account":
            row.credit = row.debit
        elif kind == "unknown_account":
            row.credit = _UNKNOWN_ACCOUNT_FIRST + rng.randrange(100)
        elif kind == "currency_pair":
            other = rng.choice([c for c in CURRENCIES if c != row.currency])
            row.credit = self._pick(other).account_id
        elif kind == "zero_amount":
            row.amount_minor = 0
        elif kind == "resend":
            earlier = rng.choice(self.recent)
            row = _Row(
                earlier.id, earlier.debit, earlier.credit, earlier.amount_minor, earlier.currency
            )
        elif kind == "id_reuse":
            earlier = rng.choice(self.recent)
            row.id = earlier.id
        return row


def _batch(rows: list[_Row]) -> Batch:
    mask = (1 << 64) - 1
    if any(r.cross for r in rows):
        # Transfers and cross-currency payments in one columnar batch: a CrossPayment
        # row asks for the best quote (ref 0), normal priority (flags 0) and no TILL.
        count = len(rows)
        zeros_u64 = np.zeros(count, dtype=np.uint64)
        kinds = [Kind.CROSS_PAYMENT if r.cross else Kind.TRANSFER for r in rows]
        return Batch(
            kind=np.array(kinds, dtype=np.uint8),
            flags=np.zeros(count, dtype=np.uint8),
            id_hi=np.array([r.id >> 64 for r in rows], dtype=np.uint64),
            id_lo=np.array([r.id & mask for r in rows], dtype=np.uint64),
            debit=np.array([r.debit for r in rows], dtype=np.int64),
            credit=np.array([r.credit for r in rows], dtype=np.int64),
            amount=np.array([r.amount_minor for r in rows], dtype=np.int64),
            ref_hi=zeros_u64,
            ref_lo=zeros_u64.copy(),
            timeout_ns=np.zeros(count, dtype=np.int64),
        )
    return Batch.of_transfers(
        id_hi=np.array([r.id >> 64 for r in rows], dtype=np.uint64),
        id_lo=np.array([r.id & mask for r in rows], dtype=np.uint64),
        debit=np.array([r.debit for r in rows], dtype=np.int64),
        credit=np.array([r.credit for r in rows], dtype=np.int64),
        amount=np.array([r.amount_minor for r in rows], dtype=np.int64),
    )
