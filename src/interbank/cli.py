"""The ``interbank`` command: create a network, run the demo day, apply commands, check.

Every subcommand that opens a network takes ``--db PATH_OR_URL`` (default: the
environment variable ``INTERBANK_DB``, else ``./interbank.db``). Figures are printed
as rich tables, or as JSON with ``--json``. Errors reach the user as one clear line
with its ISO 20022 reason code where there is one, never as a traceback (set
``INTERBANK_DEBUG=1`` to see the traceback of an internal error).

Exit codes (also in docs/commands.md):
  0  success
  1  ``apply``: some lines were refused before reaching the network (see their results)
  2  usage: a bad option or argument, an unreadable input file, a demo folder in use
  3  the network could not be opened: missing, not a journal, locked, backend missing
  4  ``verify``: the journal's chain or its replayed state does not hold
  70 internal error (a bug: please report it with INTERBANK_DEBUG=1 output)

The heavy parts (engine, journal, numba) are imported inside the subcommands, so that
``--help`` answers at once.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from interbank.command_json import LineOutcome
    from interbank.engine import Engine
    from interbank.sim import DaySummary

P = ParamSpec("P")

EXIT_OK = 0
EXIT_LINES_REFUSED = 1
EXIT_USAGE = 2
EXIT_NETWORK = 3
EXIT_VERIFY_FAILED = 4
EXIT_INTERNAL = 70

DB_DEFAULT = "./interbank.db"
DB_ENV = "INTERBANK_DB"
DEBUG_ENV = "INTERBANK_DEBUG"
DEMO_DB_NAME = "interbank.db"

# Commands per submission when applying a file: large enough to amortise the
# journal's commit, small enough to fit one journal entry (the node's batch_size_max).
APPLY_SUBMIT_COMMANDS = 4_096
# Lines of one file (each at most command_json.LINE_CHARS_MAX characters).
APPLY_LINES_MAX = 1_000_000

app = typer.Typer(
    name="interbank",
    help=(
        "An open multi-currency interbank RTGS settlement network: a deterministic "
        "engine behind a durable, hash-chained journal."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar=DB_ENV,
        metavar="PATH_OR_URL",
        help=f"The network: a SQLite file or a postgresql:// URL (env {DB_ENV}).",
        show_default=True,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the figures as JSON instead of tables.")
]


class UserError(Exception):
    """An error the user can fix: printed as one line, exits with ``exit_code``."""

    def __init__(self, text: str, exit_code: int, reason_code: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.exit_code = exit_code
        self.reason_code = reason_code


# Width of tables written to a pipe or file: wide enough that no figure is cut.
PIPE_COLUMNS = 160


def _stdout() -> Console:
    width = None if sys.stdout.isatty() else PIPE_COLUMNS
    return Console(highlight=False, soft_wrap=True, width=width)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(error: UserError) -> NoReturn:
    prefix = f"{error.reason_code}: " if error.reason_code else ""
    _stderr().print(f"[bold red]error:[/] {prefix}{error.text}", markup=True)
    raise typer.Exit(error.exit_code)


@contextmanager
def _user_errors(db: str | None = None) -> Iterator[None]:
    """Turn the errors a user can meet into one-line messages with exit codes."""
    from interbank.journal import (
        BackendNotAvailableError,
        ChainError,
        JournalError,
        JournalFormatError,
        JournalLockedError,
        JournalNotFoundError,
    )
    from interbank.node import NodeError

    db = _shown(db) if db else db
    where = f" at {db}" if db else ""
    try:
        yield
    except typer.Exit:
        raise
    except UserError as error:
        _fail(error)
    except JournalNotFoundError:
        _fail(UserError(f"no network{where}; create one with: interbank init --db {db}", 3))
    except JournalLockedError:
        _fail(UserError(f"the network{where} is in use by another interbank process", 3))
    except JournalFormatError as error:
        _fail(UserError(f"{db} is not an interbank network this version reads: {error}", 3))
    except BackendNotAvailableError as error:
        _fail(UserError(str(error), EXIT_NETWORK))
    except ChainError as error:
        _fail(UserError(f"the journal{where} is damaged: {error}", EXIT_VERIFY_FAILED))
    except (JournalError, NodeError) as error:
        _fail(UserError(f"the network{where} could not be used: {error}", EXIT_NETWORK))
    except OSError as error:
        _fail(UserError(f"{error.strerror or error}: {error.filename or db}", EXIT_NETWORK))
    except KeyboardInterrupt:
        _stderr().print("interrupted")
        raise typer.Exit(130) from None
    except Exception as error:  # a bug: say so in one line, not a traceback
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        first_line = (str(error).splitlines() or [""])[0]
        _stderr().print(
            f"internal error: {type(error).__name__}: {first_line} "
            f"(run with {DEBUG_ENV}=1 for the traceback, and please report it)"
        )
        raise typer.Exit(EXIT_INTERNAL) from None


def _guarded(command: Callable[P, None]) -> Callable[P, None]:
    """Run a subcommand inside ``_user_errors``, so no path out shows a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        db = kwargs.get("db")
        with _user_errors(db if isinstance(db, str) else None):
            command(*args, **kwargs)

    return run


def _open_node(db: str, *, create: bool = False) -> Any:
    from interbank.node import Node

    return Node.open(db, create=create)


def _shown(db: str) -> str:
    """``db`` for messages: a password in a postgresql:// URL is masked."""
    if "://" not in db or "@" not in db:
        return db
    scheme, rest = db.split("://", 1)
    credentials, at, place = rest.rpartition("@")
    user, colon, _ = credentials.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}{at}{place}"


def _sqlite_path(db: str) -> Path | None:
    """The file of a SQLite network (a path or sqlite:// + path), or None for a server URL."""
    if db.startswith("sqlite://"):
        return Path(db.removeprefix("sqlite://"))
    return None if "://" in db else Path(db)


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


def _as_dict(value: object) -> dict[str, Any]:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return {k: v for k, v in vars(value).items() if not k.startswith("_")}


def _jsonable(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


# --- init -------------------------------------------------------------------------------------


@app.command()
@_guarded
def init(
    db: DbOption = DB_DEFAULT,
    demo_network: Annotated[
        bool,
        typer.Option(
            "--demo-network",
            help="Also register the demo network (5 central banks, 24 banks, funded).",
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the demo network.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Create an empty network (a new journal) at --db."""
    with _user_errors(db):
        path = _sqlite_path(db)
        if path is not None and path.exists():
            raise UserError(f"{db} already exists; choose another --db", EXIT_USAGE)
        if path is None and _server_journal_exists(db):
            raise UserError(
                f"{_shown(db)} already holds a network; choose another --db or ?schema=",
                EXIT_USAGE,
            )
        with _open_node(db, create=True) as node:
            accounts = 0
            if demo_network:
                accounts = _build_demo_network(node, seed)
            digest = node.engine.digest()
        if as_json:
            _print_json({"db": db, "created": True, "accounts": accounts, "digest": digest})
        else:
            _stdout().print(f"created an empty network at {db}")
            if demo_network:
                _stdout().print(f"registered the demo network: {accounts} accounts")


def _server_journal_exists(db: str) -> bool:
    from interbank.journal import JournalNotFoundError, open_journal

    try:
        open_journal(db).close()
    except JournalNotFoundError:
        return False
    return True


def _build_demo_network(node: Any, seed: int) -> int:
    from interbank.sim import demo_network

    network = demo_network(seed)
    results = node.submit(network.setup_commands())
    refused = [r for r in results if not r.ok]
    if refused:
        first = refused[0]
        raise UserError(f"the demo network was refused: {first.text}", EXIT_INTERNAL, first.reason)
    return len(network.accounts)


# --- demo -------------------------------------------------------------------------------------


@app.command()
@_guarded
def demo(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Folder for the demo's network file (created if missing). Default: a new "
            "temporary folder.",
            file_okay=False,
        ),
    ] = None,
    payments: Annotated[
        int, typer.Option(min=0, max=10_000_000, help="Payments in the business day.")
    ] = 200_000,
    seed: Annotated[int, typer.Option(help="Seed of the network and the day.")] = 1,
    batch_rows: Annotated[
        int, typer.Option(min=1, max=1 << 16, help="Payments per submitted batch.")
    ] = 2_000,
    as_json: JsonOption = False,
) -> None:
    """Build the demo network in one SQLite file and run a synthetic business day.

    Five central banks (CNY, RUB, INR, BRL, ZAR), 24 commercial banks and three FX
    providers; 3% of the day's payments are cross-currency (settled PvP). The day's
    payments go through the node (journal first, then engine) in batches. Ends with
    what settled per currency, rejections by reason code, throughput, and a verify.
    """
    from interbank.money import format_amount
    from interbank.node import verify
    from interbank.sim import (
        CROSS_PAYMENTS_PER_10K_DEMO,
        CURRENCIES,
        DaySummary,
        demo_network,
        plan_day,
    )

    err = _stderr()
    with _user_errors(str(directory or "the demo folder")):
        folder = directory if directory is not None else Path(tempfile.mkdtemp(prefix="interbank-"))
        db = str(folder / DEMO_DB_NAME)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / DEMO_DB_NAME).exists():
            raise UserError(
                f"{db} already exists; give another --dir or remove the file", EXIT_USAGE
            )
        network = demo_network(seed)
        with err.status("drawing the business day"):
            plan = plan_day(
                network, payments, seed=seed, batch_rows=batch_rows,
                cross_payments_per_10k=CROSS_PAYMENTS_PER_10K_DEMO,
            )  # fmt: skip
        summary = DaySummary(network)
        with _open_node(db, create=True) as node:
            accounts = _build_demo_network(node, seed)
            duration_s = _run_day(node, plan.batches, payments, summary, err)
        with err.status("verifying the journal"):
            report = verify(db)
        payments_per_s = payments / duration_s if duration_s > 0 else 0.0
        figures = _demo_figures(db, network, summary, payments, duration_s, payments_per_s, report)
        figures["accounts"] = accounts
        if as_json:
            _print_json(figures)
        else:
            _print_demo(figures, summary, CURRENCIES, format_amount)
        if not report.ok:
            raise typer.Exit(EXIT_VERIFY_FAILED)


def _run_day(
    node: Any, batches: Sequence[Any], payments: int, summary: DaySummary, err: Console
) -> float:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    duration_ns = 0
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("settling payments", total=payments, rate="")
        for batch in batches:
            start_ns = time.perf_counter_ns()
            result = node.submit_batch(batch)
            duration_ns += time.perf_counter_ns() - start_ns
            summary.add(batch, result.codes, result.replayed, result.queue_events)
            rate = summary.rows / (duration_ns / 1e9) if duration_ns else 0.0
            progress.update(task, advance=len(batch), rate=f"{rate:,.0f} payments/s")
    return duration_ns / 1e9


def _demo_figures(
    db: str,
    network: Any,
    summary: DaySummary,
    payments: int,
    duration_s: float,
    payments_per_s: float,
    report: Any,
) -> dict[str, Any]:
    from interbank.money import format_amount

    settled = {
        code: {
            "count": summary.settled_count[code],
            "value": format_amount(summary.settled_minor[code], code),
            "value_minor": summary.settled_minor[code],
        }
        for code in summary.settled_count
    }
    return {
        "db": db,
        "seed": network.seed,
        "payments": payments,
        "settled": summary.settled_total,
        "settled_by_currency": settled,
        "rejected": summary.rejected_total,
        "rejected_by_reason": summary.rejected_by_reason(),
        "rejected_by_result": {
            code.name.lower(): count for code, count in sorted(summary.rejected_by_code.items())
        },
        "replayed": summary.replayed_count,
        "duration_s": round(duration_s, 3),
        "payments_per_s": round(payments_per_s, 1),
        "verify": _verify_figures(report),
        "cross_currency": _cross_currency_figures(summary),
    }


def _cross_currency_figures(summary: DaySummary) -> dict[str, Any]:
    """Cross-currency payments (PvP) per pair: count, value in and value out."""
    from interbank.money import format_amount

    return {
        "payments": summary.cross_rows,
        "settled": summary.cross_settled_total,
        "queued_at_entry": summary.cross_queued,
        "rejected_later": {c.name.lower(): n for c, n in summary.cross_rejected_later.items()},
        "waiting": summary.cross_waiting_total,
        "by_pair": {
            f"{a}/{b}": {
                "count": f.count,
                "value_in": format_amount(f.in_minor, a),
                "value_out": format_amount(f.out_minor, b),
                "value_in_minor": f.in_minor,
                "value_out_minor": f.out_minor,
                "via_reference": f.via_reference,
                "three_legs": f.three_legs,
            }
            for (a, b), f in sorted(summary.cross_by_pair.items())
        },
    }


def _verify_figures(report: Any) -> dict[str, Any]:
    figures = {k: _jsonable(v) for k, v in _as_dict(report).items()}
    figures["ok"] = bool(report.ok)
    return figures


def _print_demo(
    figures: dict[str, Any],
    summary: DaySummary,
    currencies: Sequence[str],
    format_amount: Callable[[int, str], str],
) -> None:
    from interbank.engine import ResultCode

    out = _stdout()
    network = summary.network
    central = sum(1 for b in network.banks if b.role.value == "central_bank")
    out.print(
        f"demo network (seed {network.seed}): {central} central banks, "
        f"{len(network.banks) - central} commercial banks, {len(network.accounts)} accounts; "
        f"a business day of {figures['payments']:,} payments"
    )
    settled = Table(title="Settled by currency", title_justify="left")
    settled.add_column("currency")
    settled.add_column("payments", justify="right")
    settled.add_column("value", justify="right")
    for code in currencies:
        settled.add_row(
            code,
            f"{summary.settled_count[code]:,}",
            _group_digits(format_amount(summary.settled_minor[code], code)),
        )
    settled.add_row("all", f"{summary.settled_total:,}", "", style="bold")
    out.print(settled)

    rejected = Table(title="Rejected by reason code", title_justify="left")
    rejected.add_column("code")
    rejected.add_column("payments", justify="right")
    rejected.add_column("why")
    for reason, count in summary.rejected_by_reason().items():
        whys = sorted(
            {c.text for c in summary.rejected_by_code if c.reason == reason and c != ResultCode.OK}
        )
        rejected.add_row(reason, f"{count:,}", "; ".join(whys))
    rejected.add_row("all", f"{summary.rejected_total:,}", "", style="bold")
    out.print(rejected)

    cross = Table(title="Cross-currency payments (PvP) by pair", title_justify="left")
    for column in ("pair", "payments", "value in", "value out", "via reference", "3 legs"):
        cross.add_column(column, justify="left" if column == "pair" else "right")
    for (code_in, code_out), pair in sorted(summary.cross_by_pair.items()):
        cross.add_row(
            f"{code_in}/{code_out}", f"{pair.count:,}",
            f"{_group_digits(format_amount(pair.in_minor, code_in))} {code_in}",
            f"{_group_digits(format_amount(pair.out_minor, code_out))} {code_out}",
            f"{pair.via_reference:,}", f"{pair.three_legs:,}",
        )  # fmt: skip
    cross.add_row("all", f"{summary.cross_settled_total:,}", "", "", "", "", style="bold")
    out.print(cross)
    later = ", ".join(f"{c.reason} {n:,}" for c, n in summary.cross_rejected_later.items())
    out.print(
        f"cross-currency: {summary.cross_rows:,} sent, {summary.cross_queued:,} waited for "
        f"cover at entry (both legs or neither), {summary.cross_waiting_total:,} still waiting"
        + (f", rejected while waiting: {later}" if later else "")
    )

    out.print(
        f"resent payments answered from the idempotency window (no second effect): "
        f"{summary.replayed_count:,}"
    )
    out.print(
        f"throughput: [bold]{figures['payments_per_s']:,.0f} payments/s[/] "
        f"({figures['payments']:,} payments in {figures['duration_s']:.2f} s, "
        f"journal first, then engine)"
    )
    _print_verify(figures["verify"], out)
    out.print(f"network file: {figures['db']}")
    out.print(f"try: interbank balances --db {figures['db']}")


def _figure_text(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}"
    return str(value)


def _group_digits(decimal_text: str) -> str:
    whole, dot, fraction = decimal_text.partition(".")
    return f"{int(whole):,}{dot}{fraction}"


def _print_verify(figures: dict[str, Any], out: Console) -> None:
    verdict = "[bold green]ok[/]" if figures["ok"] else "[bold red]FAILED[/]"
    out.print(
        f"verify: {verdict}: {figures.get('entries', 0):,} journal entries chain correctly, "
        f"{figures.get('commands', 0):,} commands replayed"
    )
    out.print(f"  head hash {figures.get('head_hash', '')}")
    out.print(f"  state digest {figures.get('digest', '')}")
    for problem in figures.get("problems") or []:
        out.print(f"  [red]problem:[/] {problem}")


# --- apply ------------------------------------------------------------------------------------


@app.command()
@_guarded
def apply(
    file: Annotated[
        str,
        typer.Argument(metavar="FILE.jsonl", help="JSON lines, one command each; - reads stdin."),
    ],
    db: DbOption = DB_DEFAULT,
    all_or_nothing: Annotated[
        bool,
        typer.Option(
            "--all-or-nothing",
            help="If any line is refused, apply none (and exit 1). The file then goes to "
            "the journal as one batch.",
        ),
    ] = False,
) -> None:
    """Apply commands from a JSON-lines file; print one JSON result per line.

    Each result says ACSC (settled, took effect) or RJCT with an ISO 20022 reason code.
    Lines refused before reaching the network (malformed, wrong currency) are reported
    with their line number and field; by default the other lines are still applied,
    except the rest of a linked chain a refused line belongs to.
    """
    from interbank.command_json import check_file_currencies, read_lines, refuse_long_chains

    with _user_errors(db):
        lines = _read_text_lines(file)
        if len(lines) > APPLY_LINES_MAX:
            raise UserError(
                f"{file} has {len(lines)} lines; apply takes at most {APPLY_LINES_MAX}", EXIT_USAGE
            )
        outcomes = read_lines(lines)
        with _open_node(db) as node:
            # One journal entry is the unit of atomicity: a linked chain must fit one,
            # and so must the whole file under --all-or-nothing.
            entry_commands_max: int = node.settings.batch_size_max
            if all_or_nothing and len(outcomes) > entry_commands_max:
                raise UserError(
                    f"--all-or-nothing takes at most {entry_commands_max} commands (one "
                    f"journal entry); {file} has {len(outcomes)}: split it",
                    EXIT_USAGE,
                )
            engine: Engine = node.engine
            outcomes = check_file_currencies(
                outcomes, _account_currency(engine), _hold_debit_account(engine)
            )
            outcomes = refuse_long_chains(outcomes, entry_commands_max)
            refused = sum(1 for o in outcomes if o.error is not None)
            chunk_commands_max = (
                entry_commands_max
                if all_or_nothing
                else min(APPLY_SUBMIT_COMMANDS, entry_commands_max)
            )
            results = _apply_outcomes(
                node, outcomes, chunk_commands_max, apply_nothing=all_or_nothing and refused > 0
            )
        for result in results:
            _print_json(result)
        _say_apply_summary(results, all_or_nothing)
        if refused:
            raise typer.Exit(EXIT_LINES_REFUSED)


def _read_text_lines(file: str) -> list[str]:
    if file == "-":
        return sys.stdin.read().splitlines()
    path = Path(file)
    if not path.is_file():
        raise UserError(f"no such file: {file}", EXIT_USAGE)
    try:
        # utf-8-sig: a byte-order mark some editors write is not part of line 1.
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as error:
        raise UserError(f"{file} is not UTF-8 text: {error}", EXIT_USAGE, "FF01") from None


def _account_currency(engine: Engine) -> Callable[[int], str | None]:
    def lookup(account_id: int) -> str | None:
        account = engine.account(account_id)
        return None if account is None else account.currency

    return lookup


def _hold_debit_account(engine: Engine) -> Callable[[int], int | None]:
    def lookup(hold_id: int) -> int | None:
        hold = engine.hold(hold_id)
        return None if hold is None else hold.debit_account_id

    return lookup


def _apply_outcomes(
    node: Any, outcomes: Sequence[LineOutcome], chunk_commands_max: int, *, apply_nothing: bool
) -> list[dict[str, Any]]:
    """Submit the good lines (whole chains only) and return every line's result, in order."""
    from interbank.command_json import (
        chain_units,
        error_to_json,
        not_applied_to_json,
        result_to_json,
    )

    by_line: dict[int, dict[str, Any]] = {}
    to_submit: list[list[LineOutcome]] = []
    for unit in chain_units(outcomes):
        spoiled = any(o.error is not None for o in unit)
        for outcome in unit:
            if outcome.error is not None:
                by_line[outcome.line] = error_to_json(outcome.line, outcome.error)
            elif apply_nothing:
                by_line[outcome.line] = not_applied_to_json(
                    outcome.line, outcome.id_json, "not applied: another line of the file was "
                    "refused and --all-or-nothing was given",
                )  # fmt: skip
            elif spoiled:
                by_line[outcome.line] = not_applied_to_json(
                    outcome.line, outcome.id_json, "not applied: another line of its linked "
                    "chain was refused, and a chain settles all or none",
                )  # fmt: skip
        if not spoiled and not apply_nothing:
            to_submit.append(unit)

    for chunk in _chunks(to_submit, chunk_commands_max):
        commands = [o.parsed.command for o in chunk if o.parsed is not None]
        results = node.submit(commands)
        assert len(results) == len(chunk)
        for outcome, result in zip(chunk, results, strict=True):
            by_line[outcome.line] = result_to_json(outcome.line, outcome.id_json, result)
    return [by_line[o.line] for o in outcomes]


def _chunks(units: Sequence[list[LineOutcome]], commands_max: int) -> Iterator[list[LineOutcome]]:
    """Join whole units into chunks of up to ``commands_max`` lines (a longer unit alone)."""
    chunk: list[LineOutcome] = []
    for unit in units:
        if chunk and len(chunk) + len(unit) > commands_max:
            yield chunk
            chunk = []
        chunk.extend(unit)
    if chunk:
        yield chunk


def _say_apply_summary(results: Sequence[dict[str, Any]], atomic: bool) -> None:
    counts = {"ok": 0, "pending": 0, "rejected": 0, "refused": 0, "not_applied": 0}
    for r in results:
        if r["status"] == "ACSC":
            counts["ok"] += 1
        elif r["status"] == "PDNG":  # accepted, waiting to settle (a queued payment or pair)
            counts["pending"] += 1
        elif r["result"] in ("refused", "not_applied"):
            counts[r["result"]] += 1
        else:
            counts["rejected"] += 1
    text = (
        f"{len(results)} lines: {counts['ok']} ACSC, "
        + (f"{counts['pending']} PDNG (waiting), " if counts["pending"] else "")
        + f"{counts['rejected']} RJCT by the network, "
        f"{counts['refused']} refused before reaching it, {counts['not_applied']} not applied"
    )
    if atomic and counts["refused"]:
        text += " (--all-or-nothing)"
    _stderr().print(text)


# --- verify and replay ------------------------------------------------------------------------


@app.command("verify")
@_guarded
def verify_command(db: DbOption = DB_DEFAULT, as_json: JsonOption = False) -> None:
    """Check the journal's hash chain and that replaying it gives the recorded state.

    Exit code 0 when everything holds, 4 when it does not.
    """
    from interbank.node import verify

    with _user_errors(db):
        report = verify(db)
    figures = _verify_figures(report)
    if as_json:
        _print_json(figures)
    else:
        _print_verify(figures, _stdout())
    if not report.ok:
        raise typer.Exit(EXIT_VERIFY_FAILED)


@app.command("replay")
@_guarded
def replay_command(
    db: DbOption = DB_DEFAULT,
    from_snapshot: Annotated[
        bool,
        typer.Option(
            "--from-snapshot", help="Start from the newest good snapshot, not the first entry."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Rebuild the state from the journal and print the replay figures and state digest."""
    from interbank.node import replay

    with _user_errors(db):
        engine, stats = replay(db, from_snapshot=from_snapshot)
        figures = {k: _jsonable(v) for k, v in _as_dict(stats).items()}
        figures["commands_per_s"] = round(stats.commands_per_s, 1)
        figures["digest"] = engine.digest()
        figures["accounts"] = len(engine.accounts())
        figures["participants"] = len(engine.participants())
    if as_json:
        _print_json(figures)
        return
    table = Table(title=f"replay of {db}", title_justify="left", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        table.add_row(key.replace("_", " "), _figure_text(value))
    _stdout().print(table)


# --- balances ---------------------------------------------------------------------------------


@app.command()
@_guarded
def balances(
    db: DbOption = DB_DEFAULT,
    currency: Annotated[
        str | None, typer.Option(help="Only accounts in this currency (ISO 4217).")
    ] = None,
    bic: Annotated[str | None, typer.Option(help="Only accounts of this participant.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Balances per account per currency, with holds, credit lines and what is available."""
    from interbank.money import format_amount
    from interbank.node import replay

    with _user_errors(db):
        # The newest snapshot plus the entries after it: the same state, read faster.
        engine, _ = replay(db, from_snapshot=True)
        names = {p.bic: p.name for p in engine.participants()}
        accounts = [
            a
            for a in engine.accounts()
            if (currency is None or a.currency == currency.upper())
            and (bic is None or a.bic == bic.upper())
        ]
        accounts.sort(key=lambda a: (a.currency, a.account_id))
    rows: list[dict[str, Any]] = [
        {
            "account_id": a.account_id,
            "bic": a.bic,
            "name": names.get(a.bic, ""),
            "currency": a.currency,
            "kind": a.kind.value,
            "balance": format_amount(a.balance_minor, a.currency),
            "held": format_amount(a.held_minor, a.currency),
            "available": format_amount(a.available_minor, a.currency),
            "credit_line": format_amount(a.credit_line_minor, a.currency),
            "balance_minor": a.balance_minor,
            "held_minor": a.held_minor,
            "available_minor": a.available_minor,
            "credit_line_minor": a.credit_line_minor,
            "closed": a.closed,
        }
        for a in accounts
    ]
    if as_json:
        _print_json(rows)
        return
    table = Table(title=f"balances in {db}", title_justify="left")
    table.add_column("account", justify="right", no_wrap=True)
    table.add_column("BIC", no_wrap=True)
    table.add_column("participant")
    table.add_column("currency", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    for column in ("balance", "held", "available", "credit line"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(
            str(row["account_id"]),
            row["bic"],
            row["name"],
            row["currency"],
            row["kind"] + (" (closed)" if row["closed"] else ""),
            _group_digits(row["balance"]),
            _group_digits(row["held"]),
            _group_digits(row["available"]),
            _group_digits(row["credit_line"]),
        )
    _stdout().print(table)
    if not rows:
        _stdout().print("no accounts match")



# --- iso: ISO 20022 messages --------------------------------------------------------------

iso_app = typer.Typer(
    name="iso",
    help="ISO 20022 messages: validate, submit, statements, tracking.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(iso_app, name="iso")

SchemasOption = Annotated[
    str | None,
    typer.Option(
        "--schemas",
        metavar="DIR",
        envvar="INTERBANK_ISO20022_SCHEMAS",
        help="Folder of ISO 20022 XSDs (pacs.008.001.08.xsd, ...); without it only the "
        "built-in structural check runs (env INTERBANK_ISO20022_SCHEMAS).",
    ),
]


def _iso_settings(schemas: str | None) -> Any:
    from interbank.iso20022 import IsoSettings

    if schemas is not None and not Path(schemas).is_dir():
        raise UserError(f"schema folder {schemas} does not exist", EXIT_USAGE)
    return IsoSettings.from_environment(schemas)


def _read_message(file: str) -> bytes:
    from interbank.iso20022 import IsoSettings

    limit = IsoSettings().message_bytes_max
    try:
        if file == "-":
            return sys.stdin.buffer.read(limit + 1)
        with open(file, "rb") as handle:
            return handle.read(limit + 1)  # one byte over: the reader says it is too large
    except OSError as error:
        raise UserError(f"cannot read {file}: {error.strerror or error}", EXIT_USAGE) from None


@iso_app.command("validate")
@_guarded
def iso_validate(
    files: Annotated[list[str], typer.Argument(help="Message files ('-' reads stdin).")],
    schemas: SchemasOption = None,
    usage_rules: Annotated[
        bool,
        typer.Option("--rules", help="Also check the network's usage rules (BICs, decimals, "
                     "UETR, dates, sender = instructing agent)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file.")] = False,
) -> None:
    """Validate messages: limits, well-formed, header, schema, structure (and rules).

    Exit 0 when every file is valid, 1 otherwise.
    """
    from interbank.iso20022 import Validator

    validator = Validator(_iso_settings(schemas))
    all_valid = True
    out = _stdout()
    for file in files:
        verdict = validator.check(_read_message(file), usage_rules=usage_rules)
        reasons = [*verdict.rejections, *verdict.transaction_rejections.values()]
        all_valid = all_valid and verdict.valid
        if as_json:
            _print_json({
                "file": file, "valid": verdict.valid,
                "message": str(verdict.document_def) if verdict.document_def else None,
                "header": str(verdict.header_def) if verdict.header_def else None,
                "checks": list(verdict.checks),
                "reasons": [{"code": r.code, "text": r.text, "location": r.location}
                            for r in reasons],
            })  # fmt: skip
            continue
        kind = verdict.document_def or verdict.header_def or "?"
        word = "[green]VALID[/]" if verdict.valid else "[red]INVALID[/]"
        out.print(f"{file}: {word} {kind} (checked: {', '.join(verdict.checks)})", markup=True)
        for r in reasons:
            where = f" at {r.location}" if r.location else ""
            out.print(f"  {r.code}{where}: {r.text}", markup=False)
    if not all_valid:
        raise typer.Exit(EXIT_LINES_REFUSED)


@iso_app.command("submit")
@_guarded
def iso_submit(
    file: Annotated[str, typer.Argument(help="The message file ('-' reads stdin).")],
    db: DbOption = DB_DEFAULT,
    schemas: SchemasOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object: the answer, its reasons, its XML.")
    ] = False,
) -> None:
    """Submit one message to the network; print the answer (pacs.002, admi.002, camt.029).

    Exit 0 when the message was read (even if transactions were rejected: see the
    answer), 1 when it was refused whole (admi.002).
    """
    from interbank.iso20022.gateway import Gateway

    data = _read_message(file)
    settings = _iso_settings(schemas)
    with Gateway.open(db, settings) as gateway:
        reply = gateway.receive(data)
    if as_json:
        _print_json({
            "kind": reply.kind, "status": reply.status, "sha256": reply.sha256,
            "reasons": [{"code": r.code, "text": r.text, "location": r.location}
                        for r in reply.reasons],
            "xml": reply.xml.decode(),
        })  # fmt: skip
    else:
        if reply.xml:
            sys.stdout.write(reply.xml.decode() + "\n")
        _stderr().print(f"{reply.kind} {reply.status}")
    if reply.kind == "admi.002":
        raise typer.Exit(EXIT_LINES_REFUSED)


@iso_app.command("statement")
@_guarded
def iso_statement(
    bic: Annotated[str, typer.Argument(help="The participant's BIC.")],
    currency: Annotated[str, typer.Argument(help="ISO 4217 currency code.")],
    date: Annotated[str, typer.Option("--date", help="The UTC date, YYYY-MM-DD.")],
    db: DbOption = DB_DEFAULT,
) -> None:
    """Print the camt.053 end-of-day statement of a participant's account."""
    import datetime as dt

    from interbank.iso20022 import IsoSettings, Rejection
    from interbank.iso20022.gateway import Gateway
    from interbank.iso20022.reports import statement

    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise UserError(f"--date {date!r} is not YYYY-MM-DD", EXIT_USAGE, "DT01") from None
    settings = IsoSettings()
    with Gateway.open(db, settings) as gateway, gateway.node.quiesced() as engine:
        result = statement(gateway.views, engine, bic, currency, day, settings.network_bic)
    if isinstance(result, Rejection):
        raise UserError(result.text, EXIT_LINES_REFUSED, result.code)
    sys.stdout.write(result.decode() + "\n")


@iso_app.command("track")
@_guarded
def iso_track(
    uetr: Annotated[str, typer.Argument(help="The payment's UETR.")],
    db: DbOption = DB_DEFAULT,
    as_json: JsonOption = False,
) -> None:
    """A payment's life by UETR: received, journaled, queued (and why), settled (when,
    which LSM run), returned or cancelled, and the messages exchanged.

    Each journaled message's archived bytes are checked against the SHA-256 its journal
    entry holds: exit 4 when they differ (the archive was altered), 1 when the UETR is
    unknown.
    """
    from interbank.iso20022.gateway import Gateway
    from interbank.view_feed import message_evidence
    from interbank.views import track

    key = uetr.strip().lower()
    with Gateway.open(db, _iso_settings(None)) as gateway:
        steps = track(gateway.views, key)
        evidence = {
            step.sha256: message_evidence(gateway.views, db, step.sha256)
            for step in steps
            if step.event == "journaled" and step.sha256
        }
    if not steps:
        raise UserError(f"no payment with UETR {key}", EXIT_LINES_REFUSED, "NARR")
    altered = [e for e in evidence.values() if not e.intact]
    if as_json:
        _print_json([
            {**_as_dict(step), "evidence": (
                {"intact": evidence[step.sha256].intact, "seq": evidence[step.sha256].seq,
                 "text": evidence[step.sha256].text}
                if step.sha256 in evidence and step.event == "journaled" else None)}
            for step in steps
        ])  # fmt: skip
    else:
        out = _stdout()
        for step in steps:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(step.at_ns // 1_000_000_000))
            message = f" [{step.sha256[:12]}]" if step.sha256 else ""
            detail = step.detail
            if step.event == "journaled" and step.sha256 in evidence:
                detail = f"{detail}: {evidence[step.sha256].text}"
            out.print(f"{when}Z {step.event:<10} {detail}{message}", markup=False)
    if altered:
        raise UserError(altered[0].text, EXIT_VERIFY_FAILED)


# --- rating: the credit agency (its commands are in cli_rating.py) ---------------------------

# cli_rating imports only typer and rich at module level, so --help stays fast.
from interbank.cli_rating import rating_app  # noqa: E402

app.add_typer(rating_app, name="rating")


# --- fx: reference rates, quotes, prices (its commands are in cli_fx.py) ---------------------

# cli_fx imports only typer and rich at module level, so --help stays fast.
from interbank.cli_fx import fx_app  # noqa: E402

app.add_typer(fx_app, name="fx")


# --- pki: the certificate authority for mutual TLS (its commands are in cli_pki.py) ----------

# cli_pki imports only typer and rich at module level, so --help stays fast.
from interbank.cli_pki import pki_app  # noqa: E402

app.add_typer(pki_app, name="pki")


# --- reserve, lending: the reserve pool and the development bank (cli_reserve, cli_lending) ---

# Both modules import only typer and rich at module level, so --help stays fast.
from interbank.cli_lending import lending_app  # noqa: E402
from interbank.cli_reserve import reserve_app  # noqa: E402

app.add_typer(reserve_app, name="reserve")
app.add_typer(lending_app, name="lending")


# --- lsm: the optimiser beyond FIFO, journaled as SettleSets (its command is in cli_lsm.py) --

# cli_lsm imports only typer and rich at module level, so --help stays fast.
from interbank.cli_lsm import lsm_app  # noqa: E402

app.add_typer(lsm_app, name="lsm")


# --- simulate: a scenario's business day through the engine (its command is in cli_sim.py) --

# cli_sim imports only typer and rich at module level, so --help stays fast.
from interbank.cli_sim import simulate_command  # noqa: E402

app.command("simulate")(simulate_command)


# --- bench ------------------------------------------------------------------------------------


@app.command()
@_guarded
def bench(
    suite: Annotated[
        str,
        typer.Argument(
            help="'core' (engine, node, replay), 'iso' (ISO 20022 gateway), 'pg' (the "
            "node on the PostgreSQL journal: pg_durable_tps), 'pvp' (cross-currency pairs "
            "settled payment-versus-payment beside plain transfers), 'lsm' (RTGS queues "
            "and liquidity saving beside exact optima) or 'http' (interbank serve with "
            "mutual TLS under load from another process)."
        ),
    ] = "core",
    quick: Annotated[
        bool, typer.Option("--quick", help="A short run (seconds), fewer repetitions.")
    ] = False,
    pg: Annotated[
        str | None,
        typer.Option(
            "--pg",
            metavar="URL",
            help="PostgreSQL for the PostgreSQL baseline (env INTERBANK_BENCH_PG); "
            "skipped when unreachable.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Benchmark the engine, the durable node and replay beside plain-database baselines.

    Prints a table of medians and ratios, then the figures as one JSON line (only the
    JSON with --json). Progress goes to stderr.
    """
    err = Console(stderr=True, highlight=False, log_path=False)
    if suite == "rating":
        from interbank import benchmark_rating

        with _user_errors():
            rating_report = benchmark_rating.measure(quick=quick, progress=lambda m: err.log(m))
        if not as_json:
            _stdout().print(benchmark_rating.render_table(rating_report))
        _print_json(rating_report.figures())
        return
    if suite == "iso":
        from interbank import benchmark_iso

        with _user_errors():
            iso_report = benchmark_iso.measure(quick=quick, progress=lambda m: err.log(m))
        if not as_json:
            _stdout().print(benchmark_iso.render_table(iso_report))
        _print_json(iso_report)
        return
    if suite == "pg":
        from interbank import benchmark_pg

        with _user_errors():
            pg_report = benchmark_pg.measure(quick=quick, pg_url=pg, progress=lambda m: err.log(m))
        if not as_json:
            _stdout().print(benchmark_pg.render_table(pg_report))
        _print_json(pg_report.figures())
        return
    if suite == "pvp":
        from interbank import benchmark_pvp

        with _user_errors():
            pvp_figures = benchmark_pvp.measure(quick=quick, progress=lambda m: err.log(m))
        if not as_json:
            _stdout().print(benchmark_pvp.render_table(pvp_figures))
        _print_json(pvp_figures)
        return
    if suite == "lsm":  # queues and liquidity saving beside exact optima (HiGHS)
        from interbank import benchmark_lsm

        with _user_errors():
            lsm_report = benchmark_lsm.measure(quick=quick, progress=lambda m: err.log(m))
        if not as_json:
            _stdout().print(benchmark_lsm.render_table(lsm_report))
        _print_json(lsm_report.figures())
        return
    if suite == "http":
        from interbank import benchmark_http

        with _user_errors():
            http_figures = benchmark_http.measure(quick=quick, progress=lambda m: err.log(m))
        if not as_json:
            _stdout().print(benchmark_http.render_table(http_figures))
        _print_json(http_figures)
        return
    if suite != "core":
        raise UserError(
            f"unknown benchmark suite {suite!r}: core, iso, pg, pvp, lsm or http", EXIT_USAGE
        )
    from interbank import benchmark

    with _user_errors():
        report = benchmark.measure(quick=quick, pg_url=pg, progress=lambda m: err.log(m))
    if not as_json:
        _stdout().print(benchmark.render_table(report))
    _print_json(report.figures())


# --- follow -----------------------------------------------------------------------------------

# Sent to a running `interbank follow` to promote it (documented in docs/commands.md).
FOLLOW_PROMOTE_SIGNAL = "SIGUSR1"


@app.command()
@_guarded
def follow(
    db: DbOption = DB_DEFAULT,
    promote: Annotated[
        bool,
        typer.Option(
            "--promote",
            help="Become the writer now: take the writer lock (refused while the primary "
            "holds it), apply what is left, continue the chain as the node.",
        ),
    ] = False,
    once: Annotated[
        bool,
        typer.Option("--once", help="Catch up, report, exit (with --promote: after promoting)."),
    ] = False,
    poll_interval_ms: Annotated[
        int, typer.Option(min=1, max=60_000, help="Longest wait between reads of the journal.")
    ] = 200,
    as_json: JsonOption = False,
) -> None:
    """Follow the journal at --db: a read-only engine that applies every new entry.

    Recovers from the newest snapshot, then applies each entry the writer commits,
    checking its hash-chain link, and prints its head seq and state digest (one JSON
    object per line with --json). PostgreSQL wakes it by LISTEN/NOTIFY (polling as
    fallback); on SQLite it polls. `kill -USR1 PID` (or --promote) promotes it: it
    becomes the writer and holds the network until SIGTERM or Ctrl-C, then closes
    cleanly with a snapshot. SIGTERM or Ctrl-C stop a follower (exit 0).
    """
    import signal

    from interbank.follower import Follower, FollowerSettings, FollowerStatus
    from interbank.journal import JournalLockedError

    requested = {"stop": False, "promote": promote}

    promote_signal = signal.Signals[FOLLOW_PROMOTE_SIGNAL]

    def on_signal(signum: int, frame: object) -> None:
        requested["promote" if signum == promote_signal else "stop"] = True

    def say(event: str, status: FollowerStatus) -> None:
        if as_json:
            sys.stdout.write(json.dumps({"event": event, **asdict(status)}) + "\n")
        else:
            how = "NOTIFY" if status.listening else "polling"
            sys.stdout.write(
                f"{event}: seq {status.head_seq} digest {status.digest} "
                f"({status.entries_applied} entries applied, {how})\n"
            )
        sys.stdout.flush()  # a pipe reader sees each line as it happens

    handled = (promote_signal, signal.SIGTERM, signal.SIGINT)
    previous = {number: signal.signal(number, on_signal) for number in handled}
    try:
        with _user_errors(db):
            follower = Follower.open(
                db, settings=FollowerSettings(poll_interval_ms=poll_interval_ms)
            )
            node = None
            try:
                say("recovered", follower.status())
                while node is None and not requested["stop"]:
                    follower.run(say, stop=lambda: requested["stop"] or requested["promote"],
                                 once=once and not promote)  # fmt: skip
                    if not requested["promote"] or requested["stop"]:
                        break
                    try:
                        node = follower.promote()
                    except JournalLockedError:
                        if promote:
                            raise
                        # Asked by signal while the primary still writes: keep following.
                        requested["promote"] = False
                        say("promote_refused", follower.status())
                if node is None:
                    say("stopped", follower.status())
                    return
            finally:
                follower.close()
            with node:
                status = follower.status()
                say("promoted", status)
                while not once and not requested["stop"]:
                    time.sleep(poll_interval_ms / 1000)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


# --- serve: the HTTP service (its code is in api/) ------------------------------------------


@app.command()
@_guarded
def serve(
    db: DbOption = DB_DEFAULT,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8443,
    pki: Annotated[
        str | None,
        typer.Option("--pki", metavar="DIR", help="PKI directory (interbank pki init): "
                     "mutual TLS, the production mode."),
    ] = None,
    dev_tokens: Annotated[
        str | None,
        typer.Option("--dev-tokens", metavar="FILE", help="Development only: bearer tokens "
                     "(JSON token -> identity), plain HTTP on loopback; refused with --pki, "
                     "a PostgreSQL journal, another address or INTERBANK_ENV=production."),
    ] = None,
    schemas: SchemasOption = None,
    limit: Annotated[
        list[str] | None,
        typer.Option("--limit", metavar="NAME=VALUE", help="A service limit, e.g. "
                     "batch_commands_max=4096, participant_requests_per_s=500 (docs/api.md)."),
    ] = None,
) -> None:
    """Run the HTTPS API (OpenAPI at /openapi.json, interactive docs at /docs)."""
    from interbank.api import server
    from interbank.api.settings import SettingsError

    values: dict[str, int] = {}
    for item in limit or []:
        name, _, text = item.partition("=")
        if not text.strip().isdigit():
            raise UserError(f"--limit {item!r}: NAME=INTEGER", EXIT_USAGE)
        values[name.strip()] = int(text)
    try:
        settings = server.settings_from(values)
        tls, dev = server.tls_or_dev(pki, dev_tokens)
        server.serve(db, host, port, settings, tls, dev, schemas,
                     on_ready=lambda url: _stderr().print(f"interbank serving on {url}"))
    except (SettingsError, ValueError) as error:
        raise UserError(str(error), EXIT_USAGE) from None


# --- entry point ------------------------------------------------------------------------------


def main() -> None:
    """The ``interbank`` console script."""
    app()


if __name__ == "__main__":
    main()
