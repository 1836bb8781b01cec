"""``interbank lsm ...``: the liquidity-saving mechanism's optimiser from the command line.

Hooked into ``cli.py`` at its end. Like ``cli_fx.py``, the helpers of ``cli.py`` (one-line
errors with exit codes) and the heavy parts (engine, node, HiGHS) are imported inside the
command, so that ``--help`` answers at once.

``interbank lsm optimise`` opens the network, and for each currency with waiting payments
asks ``interbank.lsm_optimiser`` for the most valuable set that can settle together now
(a MILP bounded by ``--time-limit-s``), then submits it as one ``SettleSet`` through the
node: journaled, checked again by the engine and applied or refused whole. Replay
re-applies the journaled set; it never re-runs the optimiser.

Exit codes: 0 success (also when nothing could settle); 1 the engine refused a proposed
set (its reason code says why; nothing of it settled); 2 bad input (an unknown currency,
a time limit out of range); 3 the network could not be opened, or HiGHS is missing.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
PIPE_COLUMNS = 160
TIME_LIMIT_MAX_S = 600.0

lsm_app = typer.Typer(
    name="lsm",
    help="The liquidity-saving mechanism: an optimiser beyond FIFO, journaled as SettleSets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@lsm_app.command("optimise")
def optimise(
    db: Annotated[
        str,
        typer.Option("--db", envvar="INTERBANK_DB", metavar="PATH",
                     help="The network (a SQLite file or postgresql:// URL; env INTERBANK_DB)."),
    ] = "./interbank.db",
    currencies: Annotated[
        list[str] | None,
        typer.Option("--currency", metavar="CCY",
                     help="Only this currency (repeatable; default: every one with waiting "
                          "payments)."),
    ] = None,
    time_limit_s: Annotated[
        float, typer.Option("--time-limit-s", help="The solver's time limit per currency.")
    ] = 2.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the proposals; submit nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per run.")] = False,
) -> None:  # fmt: skip
    """Settle, per currency, the most valuable set of waiting payments that fits together
    (normal payments may pass one another), as one journaled SettleSet each."""
    from interbank.cli import UserError, _user_errors

    with _user_errors(db):
        if not 0 < time_limit_s <= TIME_LIMIT_MAX_S:
            raise UserError(
                f"--time-limit-s must be in (0, {TIME_LIMIT_MAX_S:g}]", EXIT_USAGE, "FF01"
            )
        from interbank.lsm_optimiser import OptimiserUnavailableError

        try:
            runs = _optimise(db, currencies or [], time_limit_s, dry_run=dry_run)
        except OptimiserUnavailableError as error:
            raise UserError(str(error), EXIT_UNAVAILABLE) from None
        _print(runs, dry_run=dry_run, as_json=as_json)
        if any(run["outcome"] == "refused" for run in runs):
            raise typer.Exit(EXIT_REFUSED)


def _optimise(
    db: str, wanted: list[str], time_limit_s: float, *, dry_run: bool
) -> list[dict[str, object]]:
    """One record per currency: the proposal and, unless a dry run, the engine's answer."""
    import uuid

    from interbank.cli import UserError, _open_node
    from interbank.lsm_optimiser import currencies_waiting, propose
    from interbank.money import format_amount

    runs: list[dict[str, object]] = []
    with _open_node(db) as node:
        known = {a.currency for a in node.engine.accounts()}
        for code in wanted:
            if code.upper() not in known:
                raise UserError(f"no account of the network is in {code!r}", EXIT_USAGE, "AM03")
        codes = sorted({c.upper() for c in wanted}) or currencies_waiting(node.engine)
        for code in codes:
            # A stable read: nothing is applied while the queues are read and solved.
            with node.quiesced() as engine:
                found = propose(engine, code, time_limit_s, command_id=uuid.uuid4().int)
            run: dict[str, object] = {"currency": code}
            if found is None:
                run.update(outcome="nothing", payments=0, value=format_amount(0, code),
                           why="no set of waiting payments can settle together now")  # fmt: skip
                runs.append(run)
                continue
            command = found.settle_set
            run.update(
                command_id=str(command.id),
                payments=len(command.payment_ids),
                value=format_amount(found.value_minor, code),
                candidates=found.candidates,
                proven_optimal=found.proven_optimal,
                payment_ids=[str(p) for p in command.payment_ids],
            )
            if dry_run:
                run["outcome"] = "proposed"
            else:
                (result,) = node.submit([command])
                if result.ok:
                    run["outcome"] = "settled"
                else:  # the state moved, or the model and the engine disagree
                    run.update(outcome="refused", reason=result.reason, why=result.text)
            runs.append(run)
    return runs


def _print(runs: list[dict[str, object]], *, dry_run: bool, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"dry_run": dry_run, "runs": runs}) + "\n")
        return
    out = Console(
        highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else PIPE_COLUMNS
    )
    if not runs:
        out.print("no payment is waiting: nothing to optimise")
    for run in runs:
        code, outcome = run["currency"], run["outcome"]
        if outcome == "nothing":
            out.print(f"{code}: nothing settled: {run['why']}")
            continue
        what = f"{run['payments']} payments, {run['value']} {code}"
        proof = "proven optimal" if run["proven_optimal"] else "best found in the time limit"
        if outcome == "proposed":
            out.print(f"{code}: would settle {what} ({proof}; of {run['candidates']} candidates)")
            out.print(f"  SettleSet {run['command_id']}: {', '.join(run['payment_ids'])}")  # type: ignore[arg-type]
        elif outcome == "settled":
            out.print(f"{code}: settled {what} as SettleSet {run['command_id']} ({proof})")
        else:
            out.print(f"{code}: refused whole, {run['reason']}: {run['why']} (nothing settled)")
