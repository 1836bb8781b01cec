"""``interbank fx ...``: reference rates, FX quotes and the price of a cross-currency payment.

Hooked into ``cli.py`` at its end. The helpers of ``cli.py`` (one-line errors with exit
codes, opening the node) are imported inside the commands, never at module level, so
that this module can be imported on its own and ``--help`` stays fast.

Exit codes as everywhere: 0 success; 1 the network answered no (a rejected quote, no
price: the reason code says why); 2 bad input (a file, an option); 3 the network
could not be opened.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from interbank.engine import Engine
    from interbank.fx import QuoteView, ReferenceRates

P = ParamSpec("P")

EXIT_REJECTED = 1
EXIT_USAGE = 2
RATES_ENV = "INTERBANK_FX_RATES"
EXPIRES_IN_S_DEFAULT = 3_600
PIPE_COLUMNS = 160

fx_app = typer.Typer(
    name="fx",
    help="Cross-currency payments: reference rates, FX quotes, and prices before you pay.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="INTERBANK_DB",
        metavar="PATH_OR_URL",
        help="The network: a SQLite file or a postgresql:// URL (env INTERBANK_DB).",
    ),
]
RatesOption = Annotated[
    Path | None,
    typer.Option(
        "--rates",
        envvar=RATES_ENV,
        metavar="FILE",
        help=f"Reference rates (.csv or .json) to measure quotes against (env {RATES_ENV}).",
    ),
]
DateOption = Annotated[
    str | None,
    typer.Option(
        "--date",
        metavar="YYYY-MM-DD",
        help="Use the reference rates of this date (or the latest before it). Default: "
        "the date of the network's last entry.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _guarded(command: Callable[P, None]) -> Callable[P, None]:
    """Run a subcommand inside ``cli._user_errors``: one line and an exit code, no traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        from interbank.cli import _user_errors

        db = kwargs.get("db")
        with _user_errors(db if isinstance(db, str) else None):
            command(*args, **kwargs)

    return run


def _user_error(text: str, exit_code: int, reason_code: str | None = None) -> Exception:
    from interbank.cli import UserError

    return UserError(text, exit_code, reason_code)


def _out() -> Console:
    width = None if sys.stdout.isatty() else PIPE_COLUMNS
    return Console(highlight=False, soft_wrap=True, width=width)


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


def _load_rates(path: Path | None) -> ReferenceRates | None:
    from interbank.fx import ReferenceRatesError, load_reference_rates

    if path is None:
        return None
    try:
        return load_reference_rates(path)
    except ReferenceRatesError as error:
        raise _user_error(f"{path}: {error}", EXIT_USAGE, error.reason_code) from None
    except OSError as error:
        raise _user_error(f"cannot read {path}: {error.strerror or error}", EXIT_USAGE) from None


def _date(text: str | None, engine: Engine | None) -> dt.date | None:
    if text is not None:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise _user_error(f"--date {text!r} is not YYYY-MM-DD", EXIT_USAGE, "DT01") from None
    if engine is None or engine.timestamp_ns == 0:
        return None
    return dt.datetime.fromtimestamp(engine.timestamp_ns // 10**9, dt.UTC).date()


def _id_option(text: str, name: str) -> int:
    """An id given on the command line: an integer or a UUID, as in command files."""
    from interbank.command_json import CommandJsonError, parse_id

    try:
        return parse_id(int(text) if text.isdigit() else text, name)
    except CommandJsonError as error:
        raise _user_error(error.text, EXIT_USAGE, error.reason_code) from None


def _when(timestamp_ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp_ns // 10**9))


def _network_state(db: str) -> Engine:
    from interbank.node import replay

    # The newest snapshot plus the entries after it: the state as of the last entry.
    engine, _ = replay(db, from_snapshot=True)
    return engine


def _quote_row(
    quote: QuoteView, rates: ReferenceRates | None, on: dt.date | None, now_ns: int
) -> dict[str, Any]:
    from decimal import Decimal

    from interbank.fx import markup_bp, rate_text_shown
    from interbank.fx.price import id_text
    from interbank.money import format_amount

    code = quote.from_currency
    reference = None if rates is None else rates.lookup(code, quote.to_currency, on)
    return {
        "quote_id": id_text(quote.quote_id),
        "provider_bic": quote.provider_bic,
        "pair": f"{code}/{quote.to_currency}",
        "rate": quote.rate_text,
        "amount_min": format_amount(quote.amount_min_minor, code),
        "amount_max": format_amount(quote.amount_max_minor, code),
        "fee": format_amount(quote.fee_minor, code),
        "currency": code,
        "expires_at": _when(quote.expires_at_ns),
        "expires_at_ns": quote.expires_at_ns,
        "valid": quote.valid_at(now_ns),
        "reference": None if reference is None else rate_text_shown(reference.rate),
        "reference_date": None if reference is None else reference.date.isoformat(),
        "markup_bp": (
            None if reference is None else str(markup_bp(Decimal(quote.rate_text), reference.rate))
        ),
    }


# --- rates ----------------------------------------------------------------------------------


@fx_app.command("rates")
@_guarded
def rates_command(
    file: Annotated[Path, typer.Argument(help="Reference rates: .csv (date,pair,rate) or .json.")],
    date: DateOption = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            metavar="PATH_OR_URL",
            help="Also list this network's quotes, each against its reference rate.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a reference-rate file and print its rates (of one date, or all).

    Every problem is reported with its line, field and reason code (exit 2).
    """
    from interbank.fx import quote_book, rate_text_shown

    rates = _load_rates(file)
    assert rates is not None
    engine = _network_state(db) if db is not None else None
    on = _date(date, engine)
    chosen = rates.date_for(on) if date is not None else None
    shown = rates.on(chosen) if chosen is not None else list(rates.rates)
    quotes = []
    if engine is not None:
        quotes = [_quote_row(q, rates, on, engine.timestamp_ns) for q in quote_book(engine)]
    if as_json:
        _print_json(
            {
                "file": str(file),
                "dates": [d.isoformat() for d in rates.dates],
                "rates": [
                    {"date": r.date.isoformat(), "pair": r.pair, "rate": r.rate_text} for r in shown
                ],
                "quotes": quotes if engine is not None else None,
            }
        )
        return
    table = Table(title=f"reference rates in {file}", title_justify="left")
    for column in ("date", "pair", "rate", "inverse"):
        table.add_column(column, justify="right" if column in ("rate", "inverse") else "left")
    for r in shown:
        inverse = rates.lookup(r.quote, r.base, r.date)
        table.add_row(
            r.date.isoformat(),
            r.pair,
            r.rate_text,
            rate_text_shown(inverse.rate) if inverse else "",
        )
    out = _out()
    out.print(table)
    out.print(f"{len(rates.rates)} rates on {len(rates.dates)} dates; all valid")
    if engine is not None:
        _print_quotes(quotes, out)


def _print_quotes(rows: list[dict[str, Any]], out: Console) -> None:
    table = Table(title="quotes on the network", title_justify="left")
    for column in (
        "id",
        "provider",
        "pair",
        "rate",
        "min",
        "max",
        "fee",
        "expires (UTC)",
        "vs reference",
    ):
        table.add_column(column)
    for row in rows:
        markup = row["markup_bp"]
        if markup is None:
            versus = ""
        elif markup.startswith("-"):
            versus = f"{markup[1:]} bp above"
        else:
            versus = f"{markup} bp below"
        table.add_row(
            str(row["quote_id"]),
            row["provider_bic"],
            row["pair"],
            row["rate"],
            row["amount_min"],
            row["amount_max"],
            row["fee"],
            row["expires_at"] + ("" if row["valid"] else " (expired)"),
            versus,
        )
    out.print(table)
    if not rows:
        out.print("no quotes")


# --- quotes ---------------------------------------------------------------------------------


@fx_app.command("quotes")
@_guarded
def quotes_command(
    db: DbOption = "./interbank.db",
    rates: RatesOption = None,
    date: DateOption = None,
    show_all: Annotated[bool, typer.Option("--all", help="Expired quotes too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The network's quote book, each quote against its reference rate (with --rates)."""
    from interbank.fx import quote_book

    reference = _load_rates(rates)
    engine = _network_state(db)
    on = _date(date, engine)
    now_ns = engine.timestamp_ns
    rows = [
        _quote_row(q, reference, on, now_ns)
        for q in quote_book(engine)
        if show_all or q.valid_at(now_ns)
    ]
    if as_json:
        _print_json(rows)
        return
    _print_quotes(rows, _out())


# --- quote: publish -------------------------------------------------------------------------


@fx_app.command("quote")
@_guarded
def quote_command(
    provider: Annotated[str, typer.Option("--provider", metavar="BIC", help="The FX provider.")],
    from_currency: Annotated[str, typer.Option("--from", metavar="CUR", help="It takes this.")],
    to_currency: Annotated[str, typer.Option("--to", metavar="CUR", help="It pays this.")],
    rate: Annotated[
        str, typer.Option("--rate", help="Units of --to per unit of --from, exact: 13.7954.")
    ],
    amount_min: Annotated[str, typer.Option("--min", help="Smallest amount, in --from.")],
    amount_max: Annotated[str, typer.Option("--max", help="Largest amount, in --from.")],
    fee: Annotated[str, typer.Option("--fee", help="Fee in --from, taken first.")] = "0",
    expires_in_s: Annotated[
        int, typer.Option("--expires-in-s", min=1, help="Valid for this many seconds from now.")
    ] = EXPIRES_IN_S_DEFAULT,
    quote_id: Annotated[
        str | None, typer.Option("--id", help="The quote's id (UUID or integer); default new.")
    ] = None,
    db: DbOption = "./interbank.db",
    as_json: JsonOption = False,
) -> None:
    """Publish a firm quote (a journaled command). Exit 1 if the network rejects it."""
    from interbank.command_json import id_to_json
    from interbank.engine.commands import PublishQuote
    from interbank.engine.pvp import parse_rate
    from interbank.money import MoneyError, parse_amount

    code_from, code_to = from_currency.upper(), to_currency.upper()
    if parse_rate(rate) is None:
        raise _user_error(
            f"--rate {rate!r}: a positive decimal, at most 18 digits and 12 after the point",
            EXIT_USAGE,
            "FF01",
        )
    try:
        low, high, fee_minor = (parse_amount(t, code_from) for t in (amount_min, amount_max, fee))
    except MoneyError as error:
        raise _user_error(error.text, EXIT_USAGE, error.reason_code) from None
    number = uuid.uuid4().int if quote_id is None else _id_option(quote_id, "--id")
    # The node stamps the command; the expiry is counted from this machine's clock.
    expires_at_ns = time.time_ns() + expires_in_s * 10**9
    command = PublishQuote(
        number, provider, code_from, code_to, rate, low, high, expires_at_ns, fee_minor
    )
    result = _submit(db, command)
    answer = {
        "quote_id": id_to_json(number),
        "status": "ACSC" if result.ok else "RJCT",
        "code": None if result.ok else result.reason,
        "reason": result.text,
        "result": result.code.name.lower(),
        "expires_at": _when(expires_at_ns),
        "expires_at_ns": expires_at_ns,
    }
    if as_json:
        _print_json(answer)
    elif result.ok:
        _out().print(
            f"quote {answer['quote_id']} published: {provider} takes {code_from}, pays {code_to} "
            f"at {rate} for {amount_min} to {amount_max} {code_from}, fee {fee} {code_from}, "
            f"until {answer['expires_at']}"
        )
    if not result.ok:
        raise _user_error(result.text, EXIT_REJECTED, result.reason)


def _submit(db: str, command: Any) -> Any:
    from interbank.cli import _open_node

    with _open_node(db) as node:
        [result] = node.submit([command])
    return result


@fx_app.command("withdraw")
@_guarded
def withdraw_command(
    quote_id: Annotated[str, typer.Argument(help="The quote's id (UUID or integer).")],
    by: Annotated[
        str | None, typer.Option("--by", metavar="BIC", help="The provider (default: operator).")
    ] = None,
    db: DbOption = "./interbank.db",
) -> None:
    """Withdraw a quote. Exit 1 if the network rejects it."""
    from interbank.engine.commands import WithdrawQuote

    number = _id_option(quote_id, "quote_id")
    result = _submit(db, WithdrawQuote(uuid.uuid4().int, number, by))
    if not result.ok:
        raise _user_error(result.text, EXIT_REJECTED, result.reason)
    _out().print(f"quote {quote_id} withdrawn")


# --- price ----------------------------------------------------------------------------------


@fx_app.command("price")
@_guarded
def price_command(
    debit_account_id: Annotated[int, typer.Option("--from", metavar="ACCOUNT", help="Yours.")],
    credit_account_id: Annotated[
        int, typer.Option("--to", metavar="ACCOUNT", help="The receiver's, in another currency.")
    ],
    amount: Annotated[str, typer.Option("--amount", help="What you send: 100.00")],
    currency_code: Annotated[
        str, typer.Option("--currency", metavar="CUR", help="Your account's currency.")
    ],
    quote_id: Annotated[
        str | None, typer.Option("--quote", metavar="ID", help="Price with this quote only.")
    ] = None,
    rates: RatesOption = None,
    date: DateOption = None,
    db: DbOption = "./interbank.db",
    as_json: JsonOption = False,
) -> None:
    """What a cross-currency payment would deliver now: the amount the receiver gets,
    every rate and fee, and the deviation from the reference rate. Nothing is sent.

    Priced as of the network's last entry; a quote that expires before you send is
    rejected then (TM01). Exit 1 when no price can be given (the reason code says why).
    """
    from interbank.engine import ResultCode
    from interbank.fx import present, quote_book
    from interbank.fx.price import id_text
    from interbank.money import MoneyError, parse_amount

    code = currency_code.upper()
    reference = _load_rates(rates)
    try:
        amount_minor = parse_amount(amount, code)
    except MoneyError as error:
        raise _user_error(error.text, EXIT_USAGE, error.reason_code) from None
    number = None if quote_id is None else _id_option(quote_id, "--quote")
    engine = _network_state(db)
    account = engine.account(debit_account_id)
    if account is not None and account.currency != code:
        raise _user_error(
            f"account {debit_account_id} holds {account.currency}, not {code}", EXIT_USAGE, "AM03"
        )
    view = engine.price(debit_account_id, credit_account_id, amount_minor, number)
    if isinstance(view, ResultCode):
        raise _user_error(view.text, EXIT_REJECTED, view.reason)
    presentation = present(
        view, {q.quote_id: q for q in quote_book(engine)}, reference, _date(date, engine)
    )
    if as_json:
        _print_json(
            {
                **presentation.to_json(),
                "priced_at": _when(engine.timestamp_ns),
                "quote_ids": [id_text(q) for q in view.quote_ids],
            }
        )
        return
    names = {p.bic: p.name for p in engine.participants()}
    out = _out()
    out.print(f"price as of {_when(engine.timestamp_ns)} (the network's last entry)", markup=False)
    for line in presentation.lines(names):
        out.print(line, markup=False)
    if reference is None and not os.environ.get(RATES_ENV):
        out.print("(give --rates FILE to see the deviation from a reference rate)")
