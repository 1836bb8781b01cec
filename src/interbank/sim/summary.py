"""The summary of a simulated day: what settled, per currency, and why the rest did not.

Counts come straight from the columnar results (no per-row Python objects), and values
are summed exactly as ints: numpy's int64 sum only where it cannot overflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from interbank.engine.batch import Batch
from interbank.engine.codes import ResultCode
from interbank.sim.network import CURRENCIES, Network

_INT64_MAX = 2**63 - 1


@dataclass(slots=True)
class DaySummary:
    """Accumulates results batch by batch; read the totals when the day is over."""

    network: Network
    settled_count: dict[str, int] = field(default_factory=dict)
    settled_minor: dict[str, int] = field(default_factory=dict)
    rejected_by_code: dict[ResultCode, int] = field(default_factory=dict)
    replayed_count: int = 0
    rows: int = 0
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
        self, batch: Batch, codes: npt.NDArray[np.uint8], replayed: npt.NDArray[np.uint8]
    ) -> None:
        """Count one applied batch of transfers (codes and replayed from its BatchResult)."""
        assert len(batch) == len(codes) == len(replayed)
        self.rows += len(batch)
        fresh = replayed == 0
        self.replayed_count += int(np.count_nonzero(~fresh))
        settled = (codes == ResultCode.OK) & fresh
        debit = batch.debit
        known = (debit >= 0) & (debit < len(self._currency_of_account))
        currency_index = np.full(len(batch), -1, dtype=np.int8)
        currency_index[known] = self._currency_of_account[debit[known]]
        for index, code in enumerate(CURRENCIES):
            rows = settled & (currency_index == index)
            amounts = batch.amount[rows]
            self.settled_count[code] += len(amounts)
            self.settled_minor[code] += _exact_sum(amounts)
        rejected = codes[(codes != ResultCode.OK) & fresh]
        values, counts = np.unique(rejected, return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            result_code = ResultCode(value)
            self.rejected_by_code[result_code] = self.rejected_by_code.get(result_code, 0) + count

    @property
    def settled_total(self) -> int:
        return sum(self.settled_count.values())

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
