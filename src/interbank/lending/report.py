"""Loan schedules, statements and the portfolio summary, as rows, CSV and HTML.

The HTML pages are self-contained: styles inline, the chart an inline SVG (a step line
of the amount disbursed to date and of the amount outstanding), no script, no font, no
external request of any kind, so they can be mailed, archived or opened offline.
Amounts are printed from int minor units with ``money.format_amount``; the chart's
coordinates are computed with integer arithmetic.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields, replace
from datetime import date
from html import escape

from interbank.lending.schedule import LoanEvents, outstanding_minor, period_dues
from interbank.lending.state import BankState, Loan
from interbank.money import format_amount

CHART_WIDTH_PX = 720
CHART_HEIGHT_PX = 260
CHART_MARGIN_PX = 56


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    period: int
    due_on: str
    status: str  # "paid", "due" (date passed, unpaid) or "scheduled"
    principal: str
    interest: str
    commitment_fee: str
    penalty: str
    total: str
    outstanding_after: str


@dataclass(frozen=True, slots=True)
class StatementRow:
    on: str
    what: str
    amount: str
    direction: str  # "to borrower" or "to bank"
    outstanding_after: str
    command_id: str


@dataclass(frozen=True, slots=True)
class PortfolioRow:
    loan_id: str
    borrower: str
    currency: str
    signed_on: str
    amount: str
    disbursed: str
    cancelled: str
    outstanding: str
    undisbursed: str
    spread_bp: int
    average_maturity_years: str
    status: str


def _projected_events(loan: Loan) -> LoanEvents:
    """The loan's events plus the tranches not yet drawn, on their dates, as if drawn in
    full (less what was cancelled): the schedule a borrower plans with."""
    left = loan.undisbursed_minor()
    drawn = loan.events.disbursed_minor()
    extra: list[tuple[date, int]] = []
    released = 0
    last = max((d for d, _ in loan.events.disbursements), default=loan.terms.signed_on)
    for tranche in loan.terms.tranches:
        released += tranche.amount_minor
        take = min(max(released - drawn - sum(a for _, a in extra), 0), left)
        if take > 0:
            extra.append((max(tranche.on, last), take))
            left -= take
    return replace(loan.events, disbursements=(*loan.events.disbursements, *extra))


def schedule_rows(loan: Loan, today: date) -> list[ScheduleRow]:
    """Every payment date: what was paid, or what is due on the current projection."""
    code = loan.terms.currency
    paid = {p.period: p for p in loan.paid}
    projected = _projected_events(loan)
    rows = []
    for period, due_on in enumerate(loan.plan.payment_dates):
        if period in paid:
            p = paid[period]
            parts = (p.principal_minor, p.interest_minor, p.commitment_fee_minor, p.penalty_minor)
            status = "paid"
            events = loan.events
        else:
            events = projected
            dues = period_dues(loan.terms, loan.plan, events, period)
            parts = (dues.principal_minor, dues.interest_minor, dues.commitment_fee_minor, 0)
            status = "due" if due_on < today else "scheduled"
        rows.append(
            ScheduleRow(
                period + 1,
                due_on.isoformat(),
                status,
                format_amount(parts[0], code),
                format_amount(parts[1], code),
                format_amount(parts[2], code),
                format_amount(parts[3], code),
                format_amount(sum(parts), code),
                format_amount(outstanding_minor(loan.plan, events, due_on), code),
            )
        )
    return rows


def statement_rows(state: BankState, loan_id: str) -> list[StatementRow]:
    """Every transfer of the loan that settled on the network, in order."""
    loan = state.loans[loan_id]
    code = loan.terms.currency
    outstanding = 0
    rows = []
    for step in state.steps.get(loan_id, ()):
        if step.outcome != "settled":
            continue
        for flow in step.flows:
            to_borrower = flow.label == "disbursement"
            if to_borrower:
                outstanding += flow.amount_minor
            elif flow.label in ("principal", "prepayment"):
                outstanding -= flow.amount_minor
            rows.append(
                StatementRow(
                    step.on.isoformat(),
                    flow.label,
                    format_amount(flow.amount_minor, code),
                    "to borrower" if to_borrower else "to bank",
                    format_amount(outstanding, code),
                    f"{flow.command_id:032x}",
                )
            )
    return rows


def _status(loan: Loan) -> str:
    if loan.closed():
        return "repaid"
    if loan.arrears_since is not None:
        return f"arrears since {loan.arrears_since}"
    return "active"


def portfolio_rows(state: BankState, today: date) -> list[PortfolioRow]:
    rows = []
    for loan in state.loans.values():
        code = loan.terms.currency
        years = loan.plan.average_maturity_years
        hundredths = years.numerator * 100 // years.denominator
        rows.append(
            PortfolioRow(
                loan.terms.loan_id,
                loan.terms.borrower_bic,
                code,
                loan.terms.signed_on.isoformat(),
                format_amount(loan.terms.amount_minor, code),
                format_amount(loan.events.disbursed_minor(), code),
                format_amount(loan.events.cancelled_minor(), code),
                format_amount(
                    outstanding_minor(loan.plan, loan.events, today) if not loan.closed() else 0,
                    code,
                ),
                format_amount(loan.undisbursed_minor(), code),
                loan.plan.spread_bp,
                f"{hundredths // 100}.{hundredths % 100:02d}",
                _status(loan),
            )
        )
    return rows


def to_csv(rows: Sequence[object], row_type: type) -> str:
    """Rows of one of the dataclasses above as CSV (header from the field names)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([f.name for f in fields(row_type)])
    for row in rows:
        writer.writerow(astuple(row))  # type: ignore[call-overload]
    return buffer.getvalue()


# --- the chart ---------------------------------------------------------------------------


def balance_points(loan: Loan) -> list[tuple[date, int, int]]:
    """(date, disbursed to date, outstanding) wherever the balance moved: as it happened
    up to the loan's last recorded payment, then as the contract schedules it."""
    events = loan.events
    principal_paid = [(p.paid_on, p.principal_minor) for p in loan.paid if p.principal_minor]
    happened = (
        {loan.terms.signed_on}
        | {d for d, _ in events.disbursements}
        | {d for d, _ in events.prepayments}
        | {d for d, _ in principal_paid}
    )
    known_until = max(happened | {p.paid_on for p in loan.paid})
    scheduled = {d for d in loan.plan.principal_dates if d > known_until}
    points = []
    for day in sorted(happened | scheduled):
        disbursed = events.disbursed_minor(day)
        if day <= known_until:
            repaid = sum(a for d, a in principal_paid if d <= day) + events.prepaid_minor(day)
            outstanding = disbursed - repaid
        else:
            outstanding = outstanding_minor(loan.plan, events, day)
        points.append((day, disbursed, outstanding))
    return points


def svg_chart(points: Sequence[tuple[date, int, int]], code: str, title: str) -> str:
    """A step chart of disbursed and outstanding amounts over time, as inline SVG."""
    if not points:
        return ""
    width, height, margin = CHART_WIDTH_PX, CHART_HEIGHT_PX, CHART_MARGIN_PX
    first, last = points[0][0].toordinal(), points[-1][0].toordinal()
    span_days = max(last - first, 1)
    top = max(max(p[1], p[2]) for p in points) or 1
    plot_w, plot_h = width - 2 * margin, height - 2 * margin

    def x(day: date) -> int:
        return margin + (day.toordinal() - first) * plot_w // span_days

    def y(amount: int) -> int:
        return height - margin - amount * plot_h // top

    def steps(index: int) -> str:
        coords: list[str] = []
        previous: int | None = None
        for point in points:
            px = x(point[0])
            if previous is not None:
                coords.append(f"{px},{previous}")
            previous = y(point[1] if index == 1 else point[2])
            coords.append(f"{px},{previous}")
        coords.append(f"{width - margin},{previous}")
        return " ".join(coords)

    label_top = escape(format_amount(top, code))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>'
        f'<line x1="{margin}" y1="{height - margin}" x2="{width - margin}" '
        f'y2="{height - margin}" stroke="#444"/>'
        f'<line x1="{margin}" y1="{margin}" x2="{margin}" y2="{height - margin}" stroke="#444"/>'
        f'<polyline fill="none" stroke="#d62728" stroke-width="2" points="{steps(2)}"/>'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" stroke-dasharray="6 4" '
        f'points="{steps(1)}"/>'
        f'<text x="{margin}" y="{margin - 8}" font-size="12">{label_top} {escape(code)}</text>'
        f'<text x="{margin}" y="{height - margin + 18}" font-size="12">'
        f"{points[0][0].isoformat()}</text>"
        f'<text x="{width - margin}" y="{height - margin + 18}" font-size="12" '
        f'text-anchor="end">{points[-1][0].isoformat()}</text>'
        f'<text x="{width - margin}" y="{margin - 8}" font-size="12" text-anchor="end">'
        f'<tspan fill="#1f77b4">disbursed</tspan> / <tspan fill="#d62728">outstanding</tspan>'
        "</text></svg>"
    )


def _table(rows: Sequence[object], row_type: type) -> str:
    names = [f.name for f in fields(row_type)]
    head = "".join(f"<th>{escape(n.replace('_', ' '))}</th>" for n in names)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in astuple(row)) + "</tr>"  # type: ignore[call-overload]
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}"
    "th{background:#f3f3f3}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>\n"
    )


def statement_html(state: BankState, loan_id: str, today: date) -> str:
    loan = state.loans[loan_id]
    terms = loan.terms
    facts = (
        f"<p>Borrower {escape(terms.borrower_bic)}, {escape(terms.currency)} "
        f"{escape(format_amount(terms.amount_minor, terms.currency))}, signed "
        f"{terms.signed_on}, {escape(terms.shape.replace('_', ' '))}, {terms.day_count}, "
        f"reference {terms.reference_rate_percent}% + {loan.plan.spread_bp} bp. "
        f"Status: {escape(_status(loan))}.</p>"
    )
    chart = svg_chart(balance_points(loan), terms.currency, f"{loan_id}: disbursed, outstanding")
    return _page(
        f"Loan statement {loan_id} ({today})",
        facts
        + chart
        + "<h2>Transfers settled on the network</h2>"
        + _table(statement_rows(state, loan_id), StatementRow)
        + "<h2>Schedule</h2>"
        + _table(schedule_rows(loan, today), ScheduleRow),
    )


def portfolio_html(state: BankState, today: date) -> str:
    rows = portfolio_rows(state, today)
    charts = []
    for code in sorted({loan.terms.currency for loan in state.loans.values()}):
        merged: dict[date, tuple[int, int]] = {}
        loans = [loan for loan in state.loans.values() if loan.terms.currency == code]
        dates = sorted({p[0] for loan in loans for p in balance_points(loan)})
        for day in dates:
            disbursed = outstanding = 0
            for loan in loans:
                before = [p for p in balance_points(loan) if p[0] <= day]
                if before:
                    disbursed += before[-1][1]
                    outstanding += before[-1][2]
            merged[day] = (disbursed, outstanding)
        points = [(d, a, b) for d, (a, b) in sorted(merged.items())]
        charts.append(f"<h2>{escape(code)}</h2>" + svg_chart(points, code, f"portfolio {code}"))
    return _page(f"Loan portfolio ({today})", _table(rows, PortfolioRow) + "".join(charts))
