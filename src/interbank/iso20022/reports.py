"""Statements (camt.053) and notifications (camt.054) from the view store's entries.

Both are built on demand from the projections, which are derived from the journal: a
statement for a past date is the same whenever it is asked for (its creation time
aside), and nothing needs storing when a payment settles.
"""

from __future__ import annotations

import datetime as dt
import time

from interbank.engine import Engine
from interbank.iso20022 import build
from interbank.iso20022.reasons import Rejection
from interbank.views import Entry, ViewStore, uetr_of

_NS_PER_DAY = 86_400 * 1_000_000_000


def _statement_entries(views: ViewStore, entries: list[Entry]) -> list[build.StatementEntry]:
    result: list[build.StatementEntry] = []
    for entry in entries:
        record = views.payment(entry.command_id) if entry.kind == "payment" else None
        uetr = record.uetr if record is not None else None
        kind = record.kind if record is not None else entry.kind
        reference = uetr_of(entry.command_id) if record is not None else f"{entry.command_id:x}"
        result.append(
            build.StatementEntry(
                entry.amount_minor,
                build.iso_datetime(entry.at_ns),
                reference[:35],
                uetr,
                record.end_to_end_id if record is not None else None,
                kind,
            )
        )
    return result


def statement(
    views: ViewStore, engine: Engine, bic: str, currency: str, date: dt.date, network_bic: str
) -> bytes | Rejection:
    """The camt.053 of ``bic``'s settlement account in ``currency`` for one UTC date."""
    account_id = engine.settlement_account(bic, currency)
    if account_id is None:
        return Rejection("AC01", f"{bic} has no {currency} settlement account")
    start_ns = int(dt.datetime.combine(date, dt.time(0), dt.UTC).timestamp()) * 1_000_000_000
    stop_ns = start_ns + _NS_PER_DAY
    opening = views.balance_before(account_id, start_ns)
    entries = views.entries(account_id, start_ns, stop_ns)
    closing = opening + sum(e.amount_minor for e in entries)
    now_ns = time.time_ns()
    message_id = f"STMT{account_id}-{date.strftime('%Y%m%d')}"[:35]
    return build.camt053(
        network_bic=network_bic,
        to_bic=bic,
        message_id=message_id,
        created=build.iso_datetime(now_ns),
        account_id=account_id,
        currency=currency,
        date=date.isoformat(),
        opening_minor=opening,
        closing_minor=closing,
        entries=_statement_entries(views, entries),
    )


def notification(
    views: ViewStore, engine: Engine, uetr: str, bic: str, network_bic: str
) -> bytes | Rejection:
    """The camt.054 telling ``bic`` of the debit or credit a payment made on its account."""
    records = [r for r in views.payments_of_uetr(uetr) if bic in (r.debit_bic, r.credit_bic)]
    if not records:
        return Rejection("NARR", f"no payment with UETR {uetr} touches {bic}")
    record = records[0]
    assert record.currency is not None
    account_id = engine.settlement_account(bic, record.currency)
    if account_id is None:
        return Rejection("AC01", f"{bic} has no {record.currency} settlement account")
    settled = [o for o in views.outcomes(record.payment_id) if o.event == "settled"]
    if not settled:
        return Rejection("NARR", "the payment has not settled: nothing was booked")
    at_ns = settled[0].at_ns
    entries = [
        e for e in views.entries(account_id, at_ns, at_ns + 1) if e.command_id == record.payment_id
    ]
    kind = "CRDT" if record.credit_bic == bic else "DBIT"
    return build.camt054(
        network_bic=network_bic,
        to_bic=bic,
        message_id=f"N{kind}{record.payment_id:x}"[:35],
        created=build.iso_datetime(at_ns),
        account_id=account_id,
        currency=record.currency,
        entries=_statement_entries(views, entries),
    )
