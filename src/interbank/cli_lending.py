"""``interbank lending ...``: the development bank from the command line.

Hooked into ``cli.py`` at its end, as ``cli_reserve.py`` is; heavy parts are imported
inside the commands so that ``--help`` answers at once.

The bank's records live beside the network's journal, in ``<db>.lending`` (``--store``
picks another file). Commands that move money (init, pay-capital, disburse, repay,
prepay) and those that read the network (sign, reconcile) open it, and first finish any
step a crash left without an outcome. Dates (``--on``) default to today's date.

Exit codes: 0 success; 1 the bank refused (AM02 beyond the undisbursed amount, AM03
wrong currency, AG01 not allowed, ...) or the network refused a step (recorded); 2 bad
input (a file, an option); 3 the network or the records could not be opened; 4
``reconcile`` found a difference between the records and the journal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager as ContextManager
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer
from rich.table import Table

if TYPE_CHECKING:
    from interbank.lending.bank import DevelopmentBank, StepOutcome

from interbank.cli_records import (
    DB_DEFAULT,
    EXIT_REFUSED,
    EXIT_USAGE,
    DbOption,
    JsonOption,
    guarded,
    opened,
    store_path,
)
from interbank.cli_records import console as _out
from interbank.cli_records import day as _day
from interbank.cli_records import print_json as _print_json

P = ParamSpec("P")

EXIT_UNRECONCILED = 4

lending_app = typer.Typer(
    name="lending",
    help="The development bank: capital, loans, disbursements, repayments, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

StoreOption = Annotated[
    str | None,
    typer.Option("--store", metavar="FILE", help="The bank's records (default: <db>.lending)."),
]
OnOption = Annotated[
    str | None,
    typer.Option("--on", metavar="YYYY-MM-DD", help="The date of the step (default today)."),
]
CsvOption = Annotated[
    Path | None, typer.Option("--csv", metavar="FILE", help="Also write the rows as CSV here.")
]
HtmlOption = Annotated[
    Path | None,
    typer.Option("--html", metavar="FILE", help="Also write an HTML page (with its chart) here."),
]


def _lending_errors() -> tuple[dict[type[Exception], int], tuple[type[Exception], ...]]:
    from interbank.lending.store import StoreError
    from interbank.lending.terms import LendingError

    return {LendingError: EXIT_REFUSED}, (StoreError,)


def _guarded(command: Callable[P, None]) -> Callable[P, None]:
    return guarded(command, _lending_errors)


T = TypeVar("T")


def _usage(read: Callable[[], T], source: object) -> T:
    """Read a file the user gave; what is wrong with it is bad input (exit 2)."""
    from interbank.cli import UserError
    from interbank.lending.terms import LendingError

    try:
        return read()
    except LendingError as error:
        where = f"{source}: " if source else ""
        raise UserError(f"{where}{error.text}", EXIT_USAGE, error.reason_code) from None


def _store_path(db: str, store: str | None) -> str:
    return store_path(db, store, suffix="lending", owner="the bank's")


def _bank(db: str, store: str | None, *, network: bool) -> ContextManager[DevelopmentBank]:
    from interbank.lending.bank import DevelopmentBank

    return opened(
        db, store, suffix="lending", owner="the bank's",
        missing="no development bank at {path}; start one with: interbank lending init",
        build=DevelopmentBank, network=network,
        on_resumed=lambda outcome: _say_step(outcome, "resumed "),
    )  # fmt: skip


def _amount(text: str, code: str) -> int:
    from interbank.cli import UserError
    from interbank.money import MoneyError, parse_amount

    try:
        return parse_amount(text.replace("_", ""), code)
    except MoneyError as error:
        raise UserError(error.text, EXIT_USAGE, error.reason_code) from None


def _say_step(outcome: StepOutcome, prefix: str = "") -> None:
    from interbank.cli import UserError
    from interbank.money import format_amount

    if outcome.settled:
        paid = (
            ", ".join(
                f"{f.label} {format_amount(f.amount_minor, f.currency)} {f.currency}"
                for f in outcome.flows
            )
            or "nothing due"
        )
        _out().print(f"{prefix}{outcome.purpose} of {outcome.subject} settled: {paid}")
        return
    for decision in outcome.decisions:
        if decision.kind == "arrears":
            _out().print(f"{outcome.subject} is in arrears since {decision.payload['since']}")
    raise UserError(
        f"the network refused the {outcome.purpose} of {outcome.subject} (recorded): "
        f"{outcome.reason}",
        EXIT_REFUSED,
    )


def _write(path: Path | None, text: str) -> None:
    from interbank.cli import UserError

    if path is None:
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror or error}", EXIT_USAGE) from None
    _out().print(f"wrote {path}")


def _rows_table(rows: Sequence[object]) -> Table:
    first = asdict(rows[0])  # type: ignore[call-overload]
    table = Table(*(name.replace("_", " ") for name in first))
    for row in rows:
        table.add_row(*(str(v) for v in asdict(row).values()))  # type: ignore[call-overload]
    return table


def _loan_currency(bank: DevelopmentBank, loan_id: str) -> str:
    from interbank.lending.terms import LendingError

    loan = bank.state.loans.get(loan_id)
    if loan is None:
        raise LendingError("NARR", f"no loan {loan_id!r}")
    return loan.terms.currency


# --- the bank and its capital ------------------------------------------------------------


@lending_app.command("init")
@_guarded
def lending_init(
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    rulebook: Annotated[str | None, typer.Option(help="Rulebook file (default: ndb-2016).")] = None,
    binding: Annotated[
        str | None, typer.Option(help="The bank on the network (default: demo).")
    ] = None,
    initial: Annotated[
        bool, typer.Option(help="Record the rulebook's initial subscriptions.")
    ] = True,
    on: OnOption = None,
) -> None:
    """Start the bank's records under a rulebook; register the bank on the network and
    open its accounts; record the founders' initial subscriptions."""
    from interbank.cli import UserError
    from interbank.lending.bank import DevelopmentBank
    from interbank.lending.store import DecisionStore
    from interbank.lending.terms import load_bank_binding, load_lending_rulebook
    from interbank.network_port import open_network

    day = _day(on)
    book = _usage(lambda: load_lending_rulebook(rulebook), rulebook)
    bound = _usage(lambda: load_bank_binding(binding), binding)
    path = _store_path(db, store)
    if Path(path).exists():
        raise UserError(f"{path} already exists: the bank has records", EXIT_USAGE)
    with open_network(db) as network:
        records = DecisionStore.open(path)
        try:
            bank = DevelopmentBank.create(records, book, day, network)
            bank.bind(bound, day)
            if initial:
                bank.subscribe_initial(day)
        finally:
            records.close()
    _out().print(
        f"development bank {bound.bank_bic} ({book.name} {book.version}) started at {path}"
    )


@lending_app.command("rulebook")
@_guarded
def lending_rulebook(
    file: Annotated[str | None, typer.Argument(help="A rulebook file to check and show.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a rulebook (default: the shipped one): capital, fees, terms, spread tables."""
    from interbank.lending.terms import load_lending_rulebook
    from interbank.money import format_amount

    book = _usage(lambda: load_lending_rulebook(file), file)
    if as_json:
        data = asdict(book)
        data.pop("text")
        _print_json(data)
        return
    out = _out()
    code = book.capital_currency
    out.print(f"{book.title}\nrulebook {book.name} {book.version} (sha256 {book.sha256[:16]}...)")
    out.print(
        f"share par {format_amount(book.share_par_minor, code)} {code}; founders "
        f"{', '.join(book.founders)} keep at least {book.founders_vote_floor_percent}% of "
        f"the votes (voting power: paid-in shares)"
    )
    out.print(
        f"front-end fee {book.front_end_fee_bp} bp once; commitment fee "
        f"{book.commitment_fee_bp} bp a year from day {book.commitment_fee_start_days}; "
        f"{book.day_count}, every {book.interval_months} months; penalty "
        f"+{book.penalty_spread_bp} bp; prepayment premium {book.prepayment_premium_bp} bp; "
        f"default spread table {book.spread_table}"
    )
    tables = Table("average maturity up to (years)", *(t.name for t in book.spread_tables))
    bounds = sorted({b.up_to_years for t in book.spread_tables for b in t.buckets})
    for bound in bounds:
        cells = [
            next((f"{b.spread_bp} bp" for b in t.buckets if b.up_to_years == bound), "")
            for t in book.spread_tables
        ]
        tables.add_row(str(bound), *cells)
    out.print(tables)
    sources = Table("rule", "source (V verbatim, S secondary, D derived, U unverified)")
    for rule, source in book.provenance:
        sources.add_row(rule, source)
    out.print(sources)


@lending_app.command("subscribe")
@_guarded
def lending_subscribe(
    member: Annotated[str, typer.Argument(help="Member code (BR, RU, IN, CN, ZA, ...).")],
    paid_in: Annotated[int, typer.Option(help="Paid-in shares.")],
    callable_shares: Annotated[int, typer.Option("--callable", help="Callable shares.")] = 0,
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """Subscribe shares (refused if the founders' vote would fall below the floor)."""
    with _bank(db, store, network=False) as bank:
        bank.subscribe(member, paid_in, callable_shares, _day(on))
    _out().print(f"{member} subscribed {paid_in} paid-in and {callable_shares} callable shares")


@lending_app.command("pay-capital")
@_guarded
def lending_pay_capital(
    member: Annotated[str, typer.Argument(help="The paying member.")],
    amount: Annotated[str, typer.Argument(help="Amount in the capital currency.")],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """Pay paid-in capital: a transfer from the member's central bank to the bank."""
    with _bank(db, store, network=True) as bank:
        minor = _amount(amount, bank.rulebook.capital_currency)
        _say_step(bank.pay_capital(member, minor, _day(on)))


@lending_app.command("capital")
@_guarded
def lending_capital(
    db: DbOption = DB_DEFAULT, store: StoreOption = None, as_json: JsonOption = False
) -> None:
    """Subscriptions, voting power (paid-in shares) and capital paid in."""
    from interbank.money import format_amount

    with _bank(db, store, network=False) as bank:
        rows = bank.voting()
        code = bank.rulebook.capital_currency
    data = [
        {
            "member": r.member,
            "founder": r.founder,
            "paid_in_shares": r.paid_in_shares,
            "callable_shares": r.callable_shares,
            "voting_percent": _percent(r.voting_percent),
            "paid": format_amount(r.paid_minor, code),
            "exercisable_votes": r.exercisable_votes,
        }
        for r in rows
    ]
    if as_json:
        _print_json(data)
        return
    table = Table(*data[0].keys()) if data else Table("member")
    for row in data:
        table.add_row(*(str(v) for v in row.values()))
    _out().print(table)


def _hundredths(value: Fraction) -> str:
    """A fraction to two decimals, rounded half up (no float on the way)."""
    scaled = value * 100 + Fraction(1, 2)
    hundredths = scaled.numerator // scaled.denominator
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def _percent(value: Fraction) -> str:
    return _hundredths(value)


# --- loans -------------------------------------------------------------------------------


@lending_app.command("sign")
@_guarded
def lending_sign(
    file: Annotated[Path, typer.Argument(help="The loan's terms (TOML; see docs/lending.md).")],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
) -> None:
    """Sign a loan: its terms are checked and its plan frozen (dates, spread, fee)."""
    from interbank.cli import UserError
    from interbank.lending.terms import parse_loan_terms
    from interbank.money import format_amount

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {file}: {error}", EXIT_USAGE) from None
    with _bank(db, store, network=True) as bank:
        terms = _usage(lambda: parse_loan_terms(text, bank.rulebook), file)
        loan = bank.sign(terms, terms.signed_on)
    plan = loan.plan
    years = _hundredths(plan.average_maturity_years)
    _out().print(
        f"{terms.loan_id} signed: {terms.currency} "
        f"{format_amount(terms.amount_minor, terms.currency)} to {terms.borrower_bic}; "
        f"average maturity {years} "
        f"years -> spread {plan.spread_bp} bp ({terms.spread_table}); front-end fee "
        f"{format_amount(plan.front_end_fee_minor, terms.currency)}; "
        f"{len(plan.payment_dates)} payment dates to {plan.payment_dates[-1]}"
    )


@lending_app.command("disburse")
@_guarded
def lending_disburse(
    loan_id: Annotated[str, typer.Argument(help="The loan.")],
    amount: Annotated[str, typer.Argument(help="Amount in the loan's currency.")],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """Pay out part of a loan (the first disbursement carries the front-end fee)."""
    with _bank(db, store, network=True) as bank:
        minor = _amount(amount, _loan_currency(bank, loan_id))
        _say_step(bank.disburse(loan_id, minor, _day(on)))


@lending_app.command("repay")
@_guarded
def lending_repay(
    loan_id: Annotated[str, typer.Argument(help="The loan.")],
    from_account: Annotated[
        int | None, typer.Option(help="Pay from this account of the borrower's.")
    ] = None,
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """Pay everything due on or before the date, oldest first (penalty if late)."""
    with _bank(db, store, network=True) as bank:
        outcomes = bank.repay(loan_id, _day(on), from_account)
    for outcome in outcomes:
        _say_step(outcome)


@lending_app.command("prepay")
@_guarded
def lending_prepay(
    loan_id: Annotated[str, typer.Argument(help="The loan.")],
    amount: Annotated[str, typer.Argument(help="Principal to prepay.")],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """Prepay principal on a payment date (taken off the last instalments first)."""
    with _bank(db, store, network=True) as bank:
        minor = _amount(amount, _loan_currency(bank, loan_id))
        _say_step(bank.prepay(loan_id, minor, _day(on)))


@lending_app.command("cancel")
@_guarded
def lending_cancel(
    loan_id: Annotated[str, typer.Argument(help="The loan.")],
    amount: Annotated[str, typer.Argument(help="Undisbursed amount to cancel.")],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """Cancel part of the undisbursed amount (the commitment fee stops on it)."""
    with _bank(db, store, network=False) as bank:
        minor = _amount(amount, _loan_currency(bank, loan_id))
        bank.cancel(loan_id, minor, _day(on))
    _out().print(f"{loan_id}: {amount} cancelled")


@lending_app.command("fix-rate")
@_guarded
def lending_fix_rate(
    loan_id: Annotated[str, typer.Argument(help="The loan.")],
    period_start: Annotated[str, typer.Argument(help="Start of the period (YYYY-MM-DD).")],
    rate: Annotated[str, typer.Argument(help="Reference rate, percent a year.")],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """Fix the reference rate from a period on (floating-rate loans)."""
    with _bank(db, store, network=False) as bank:
        bank.fix_rate(loan_id, _day(period_start, "PERIOD_START"), rate, _day(on))
    _out().print(f"{loan_id}: reference rate {rate}% from the period starting {period_start}")


@lending_app.command("review")
@_guarded
def lending_review(
    db: DbOption = DB_DEFAULT, store: StoreOption = None, on: OnOption = None
) -> None:
    """Let a date pass: arrears on unpaid dues, cancellation at the end of availability."""
    with _bank(db, store, network=False) as bank:
        decisions = bank.review(_day(on))
    for decision in decisions:
        _out().print(f"{decision.subject}: {decision.kind} {json.dumps(decision.payload)}")
    if not decisions:
        _out().print("nothing to decide")


# --- reports -------------------------------------------------------------------------------


@lending_app.command("schedule")
@_guarded
def lending_schedule(
    loan_id: Annotated[str, typer.Argument(help="The loan.")],
    csv_file: CsvOption = None,
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every payment date: paid, due or scheduled, with what it comes to."""
    from interbank.lending.report import ScheduleRow, schedule_rows, to_csv

    with _bank(db, store, network=False) as bank:
        _loan_currency(bank, loan_id)
        rows = schedule_rows(bank.state.loans[loan_id], _day(on))
    if as_json:
        _print_json([asdict(r) for r in rows])
    else:
        _out().print(_rows_table(rows))
    _write(csv_file, to_csv(rows, ScheduleRow))


@lending_app.command("statement")
@_guarded
def lending_statement(
    loan_id: Annotated[str, typer.Argument(help="The loan.")],
    csv_file: CsvOption = None,
    html_file: HtmlOption = None,
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """The loan's transfers settled on the network, with the balance after each."""
    from interbank.lending.report import StatementRow, statement_html, statement_rows, to_csv

    with _bank(db, store, network=False) as bank:
        _loan_currency(bank, loan_id)
        rows = statement_rows(bank.state, loan_id)
        page = statement_html(bank.state, loan_id, _day(on))
    if as_json:
        _print_json([asdict(r) for r in rows])
    elif rows:
        _out().print(_rows_table(rows))
    else:
        _out().print(f"{loan_id}: nothing settled yet")
    _write(csv_file, to_csv(rows, StatementRow))
    _write(html_file, page)


@lending_app.command("portfolio")
@_guarded
def lending_portfolio(
    csv_file: CsvOption = None,
    html_file: HtmlOption = None,
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every loan: signed, disbursed, cancelled, outstanding, spread, status."""
    from interbank.lending.report import PortfolioRow, portfolio_html, portfolio_rows, to_csv

    with _bank(db, store, network=False) as bank:
        day = _day(on)
        rows = portfolio_rows(bank.state, day)
        page = portfolio_html(bank.state, day)
    if as_json:
        _print_json([asdict(r) for r in rows])
    elif rows:
        _out().print(_rows_table(rows))
    else:
        _out().print("no loans")
    _write(csv_file, to_csv(rows, PortfolioRow))
    _write(html_file, page)


@lending_app.command("reconcile")
@_guarded
def lending_reconcile(
    loan_id: Annotated[str, typer.Argument(help="The loan.")],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the loan's records against the network's journal (replayed), to the cent."""
    from interbank.cli import UserError
    from interbank.money import format_amount

    with _bank(db, store, network=True) as bank:
        result = bank.reconcile(loan_id)
    code = result.currency
    if as_json:
        _print_json(
            {"loan_id": loan_id, "ok": result.ok, "lines": [asdict(line) for line in result.lines]}
        )
    else:
        table = Table("item", f"records {code}", f"journal {code}", "ok", "note")
        for line in result.lines:
            table.add_row(
                line.item,
                format_amount(line.records_minor, code),
                format_amount(line.journal_minor, code),
                "yes" if line.ok else "NO",
                line.note,
            )
        _out().print(table)
    if not result.ok:
        raise UserError(f"{loan_id} does not reconcile with the journal", EXIT_UNRECONCILED)
