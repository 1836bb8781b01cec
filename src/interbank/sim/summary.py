"""The summary of a simulated day: what settled, per currency, and why the rest did not.

Counts come straight from the columnar results (no per-row Python objects), and values
are summed exactly as ints: numpy's int64 sum only where it cannot overflow.

Cross-currency payments are counted apart, per pair (currency in, currency out), from
the batch's events: a pair's amount out is decided by the engine (rate, fee, rounding)
and may settle in a later batch than its row, so only its ``PvpSettled`` event knows
it. Every row ends in exactly one of settled, rejected, replayed or still waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from interbank.engine.batch import Batch
from interbank.engine.codes import ResultCode
from interbank.engine.commands import Event, Kind, PaymentRejected, PvpSettled
from interbank.sim.network import CURRENCIES, Network

_INT64_MAX = 2**63 - 1


@dataclass(slots=True)
class PairFigures:
    """Cross-currency payments of one pair that settled: how many, value in and out."""

    count: int = 0
    in_minor: int = 0  # of the sending currency
    out_minor: int = 0  # of the receiving currency
    via_reference: int = 0  # routed through a reference currency (two quotes)
    three_legs: int = 0  # of those, with two providers (a hand-over leg between them)


@dataclass(slots=True)
class DaySummary:
    """Accumulates results batch by batch; read the totals when the day is over."""

    network: Network
    settled_count: dict[str, int] = field(default_factory=dict)
    settled_minor: dict[str, int] = field(default_factory=dict)
    rejected_by_code: dict[ResultCode, int] = field(default_factory=dict)
    replayed_count: int = 0
    rows: int = 0
    cross_rows: int = 0  # fresh cross-currency rows (not re-sends)
    cross_queued: int = 0  # of those, answered QUEUED: waited for cover at entry
    cross_by_pair: dict[tuple[str, str], PairFigures] = field(default_factory=dict)
    cross_rejected_later: dict[ResultCode, int] = field(default_factory=dict)
    _cross_waiting: set[int] = field(default_factory=set, repr=False)
    _currency_of_account: npt.NDArray[np.int8] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        size = max(a.account_id for a in self.network.accounts) + 1
        lookup = np.full(size, -1, dtype=np.int8)
        for account in self.network.accounts:
            lookup[account.account_id] = CURRENCIES.index(account.currency)
        self._currency_of_account = lookup
        self.settled_count = dict.fromkeys(CURRENCIES, 0)
        self.settled_minor = dict.fromkeys(CURRENCIES, 0)

    def add(
        self,
        batch: Batch,
        codes: npt.NDArray[np.uint8],
        replayed: npt.NDArray[np.uint8],
        events: Sequence[Event] = (),
    ) -> None:
        """Count one applied batch (codes, replayed and queue_events of its BatchResult).

        ``events`` must hold the batch's cross-currency events (``queue_events``) when
        the day has cross-currency payments; a day of transfers needs none.
        """
        assert len(batch) == len(codes) == len(replayed)
        self.rows += len(batch)
        fresh = replayed == 0
        self.replayed_count += int(np.count_nonzero(~fresh))
        cross = batch.kind == Kind.CROSS_PAYMENT
        if np.any(cross):
            self._add_cross(batch, codes, fresh & cross)
        self._add_events(events)
        settled = (codes == ResultCode.OK) & fresh & ~cross
        debit = batch.debit
        known = (debit >= 0) & (debit < len(self._currency_of_account))
        currency_index = np.full(len(batch), -1, dtype=np.int8)
        currency_index[known] = self._currency_of_account[debit[known]]
        for index, code in enumerate(CURRENCIES):
            rows = settled & (currency_index == index)
            amounts = batch.amount[rows]
            self.settled_count[code] += len(amounts)
            self.settled_minor[code] += _exact_sum(amounts)
        rejected = codes[(codes != ResultCode.OK) & (codes != ResultCode.QUEUED) & fresh]
        values, counts = np.unique(rejected, return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            result_code = ResultCode(value)
            self.rejected_by_code[result_code] = self.rejected_by_code.get(result_code, 0) + count

    def _add_cross(
        self, batch: Batch, codes: npt.NDArray[np.uint8], rows: npt.NDArray[np.bool_]
    ) -> None:
        self.cross_rows += int(np.count_nonzero(rows))
        queued = np.flatnonzero(rows & (codes == ResultCode.QUEUED))
        self.cross_queued += len(queued)
        self._cross_waiting.update(batch.command_id(int(row)) for row in queued)

    def _add_events(self, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, PvpSettled):
                key = (event.currency_in, event.currency_out)
                figures = self.cross_by_pair.setdefault(key, PairFigures())
                figures.count += 1
                figures.in_minor += event.amount_in_minor
                figures.out_minor += event.amount_out_minor
                figures.via_reference += len(event.quote_ids) == 2
                figures.three_legs += len(event.legs) == 3
                self._cross_waiting.discard(event.payment_id)
            elif isinstance(event, PaymentRejected) and event.payment_id in self._cross_waiting:
                self._cross_waiting.discard(event.payment_id)
                later = self.cross_rejected_later
                later[event.code] = later.get(event.code, 0) + 1
                self.rejected_by_code[event.code] = self.rejected_by_code.get(event.code, 0) + 1

    @property
    def cross_settled_total(self) -> int:
        return sum(f.count for f in self.cross_by_pair.values())

    @property
    def cross_waiting_total(self) -> int:
        """Cross-currency payments still waiting for cover at the end of what was added."""
        return len(self._cross_waiting)

    @property
    def settled_total(self) -> int:
        """Rows that settled: same-currency transfers and cross-currency pairs."""
        return sum(self.settled_count.values()) + self.cross_settled_total

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected_by_code.values())

    def rejected_by_reason(self) -> dict[str, int]:
        """Rejections by ISO 20022 reason code (several engine codes may share one)."""
        by_reason: dict[str, int] = {}
        for result_code, count in self.rejected_by_code.items():
            by_reason[result_code.reason] = by_reason.get(result_code.reason, 0) + count
        return dict(sorted(by_reason.items(), key=lambda item: (-item[1], item[0])))


def _exact_sum(amounts: npt.NDArray[np.int64]) -> int:
    if len(amounts) == 0:
        return 0
    if int(np.abs(amounts).max()) <= _INT64_MAX // len(amounts):
        return int(amounts.sum(dtype=np.int64))
    return sum(int(a) for a in amounts.tolist())
