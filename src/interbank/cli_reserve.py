"""``interbank reserve ...``: the reserve pool from the command line.

Hooked into ``cli.py`` at its end. Like ``cli_fx.py``, the helpers of ``cli.py`` (one-line
errors with exit codes) and the heavy parts (engine, node) are imported inside the
commands, so that ``--help`` answers at once.

The pool's records live beside the network's journal, in ``<db>.reserve`` (``--store``
picks another file). Commands that only decide (request, vote, IMF status, review,
status) open the records alone; commands that move money (init, settle, renew, repay,
drill) open the network too, and first finish any step a crash left without an outcome.
Dates (``--on``) default to today's date: the pool's calendar only moves forward.

Exit codes: 0 success; 1 the pool refused (the reason code says why: AM02 over access,
AG01 not allowed, DUPL twice, ...) or the network refused a step (recorded); 2 bad input
(a file, an option, a rulebook); 3 the network or the records could not be opened.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, ParamSpec

import typer
from rich.table import Table

if TYPE_CHECKING:
    from interbank.reserve.pool import ReservePool, StepOutcome

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


reserve_app = typer.Typer(
    name="reserve",
    help="The reserve pool: rulebook, drawing requests, weighted votes, swaps, repayments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

StoreOption = Annotated[
    str | None,
    typer.Option("--store", metavar="FILE", help="The pool's records (default: <db>.reserve)."),
]
OnOption = Annotated[
    str | None,
    typer.Option("--on", metavar="YYYY-MM-DD", help="The date of the decision (default today)."),
]


def _reserve_errors() -> tuple[dict[type[Exception], int], tuple[type[Exception], ...]]:
    from interbank.reserve.rulebook import RulebookError
    from interbank.reserve.rules import ReserveError
    from interbank.reserve.store import StoreError

    return {ReserveError: EXIT_REFUSED, RulebookError: EXIT_USAGE}, (StoreError,)


def _guarded(command: Callable[P, None]) -> Callable[P, None]:
    return guarded(command, _reserve_errors)


def _store_path(db: str, store: str | None) -> str:
    return store_path(db, store, suffix="reserve", owner="the pool's")


def _pool(db: str, store: str | None, *, network: bool) -> ContextManager[ReservePool]:
    """The pool's records, with the network open when ``network`` (and resumed)."""
    from interbank.reserve.pool import ReservePool

    return opened(
        db, store, suffix="reserve", owner="the pool's",
        missing="no reserve pool at {path}; start one with: interbank reserve init",
        build=ReservePool, network=network,
        on_resumed=lambda outcome: _say_step(outcome, "resumed "),
    )  # fmt: skip


def _units(amount_minor: int, code: str) -> str:
    from interbank.money import format_amount

    return format_amount(amount_minor, code)


def _say_step(outcome: StepOutcome, prefix: str = "") -> None:
    from interbank.cli import UserError

    out = _out()
    if outcome.settled:
        out.print(
            f"{prefix}{outcome.purpose} of {outcome.request_id} settled on the network "
            f"({len(outcome.flows)} linked transfers)"
        )
        return
    for decision in outcome.decisions:
        if decision.kind == "arrears":
            out.print(f"{outcome.request_id} is in arrears since {decision.payload['since']}")
    raise UserError(
        f"the network refused the {outcome.purpose} of {outcome.request_id} (recorded): "
        f"{outcome.reason}",
        EXIT_REFUSED,
    )


def _amount(text: str, code: str) -> int:
    from interbank.cli import UserError
    from interbank.money import MoneyError, parse_amount

    try:
        return parse_amount(text.replace("_", ""), code)
    except MoneyError as error:
        raise UserError(error.text, EXIT_USAGE, error.reason_code) from None


# --- commands ------------------------------------------------------------------------------


@reserve_app.command("init")
@_guarded
def reserve_init(
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    rulebook: Annotated[str | None, typer.Option(help="Rulebook file (default: cra-2014).")] = None,
    binding: Annotated[
        str | None, typer.Option(help="Who the members are on the network (default: demo).")
    ] = None,
    on: OnOption = None,
) -> None:
    """Start the pool's records under a rulebook and bind the members to the network.

    Registers a USD settlement agent when the network has no USD issuer, opens each
    member central bank's accounts in USD and the members' currencies, and (demo
    binding) issues each member's commitment into its USD account: its reserves.
    """
    from pathlib import Path

    from interbank.cli import UserError
    from interbank.network_port import open_network
    from interbank.reserve.pool import ReservePool
    from interbank.reserve.rulebook import load_binding, load_rulebook
    from interbank.reserve.store import DecisionStore

    day = _day(on)
    book, bound = load_rulebook(rulebook), load_binding(binding)
    path = _store_path(db, store)
    if Path(path).exists():
        raise UserError(f"{path} already exists: the pool has records", EXIT_USAGE)
    with open_network(db) as network:
        records = DecisionStore.open(path)
        try:
            pool = ReservePool.create(records, book, day, network)
            decisions = pool.bind(bound, day)
        finally:
            records.close()
    _out().print(
        f"reserve pool {book.name} {book.version} started at {path}; "
        f"{len(decisions)} members bound to the network"
    )


@reserve_app.command("rulebook")
@_guarded
def reserve_rulebook(
    file: Annotated[str | None, typer.Argument(help="A rulebook file to check and show.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a rulebook (default: the shipped one) with every derived figure and source."""
    from interbank.reserve.rulebook import load_rulebook
    from interbank.reserve.rules import percent_text

    book = load_rulebook(file)
    code = book.reserve_currency
    members = [
        {
            "member": m.code,
            "name": m.name,
            "commitment": _units(m.commitment_minor, code),
            "access_multiplier": str(m.access_multiplier),
            "max_access": _units(book.max_access_minor(m.code), code),
            "de_linked_cap": _units(book.de_linked_cap_minor(m.code), code),
            "voting_percent": percent_text(book.weight_percent(m.code)),
        }
        for m in book.members
    ]
    if as_json:
        _print_json(
            {
                "name": book.name,
                "version": book.version,
                "sha256": book.sha256,
                "members": members,
                "instruments": [asdict(t) for t in book.instruments],
                "provenance": dict(book.provenance),
            }
        )
        return
    out = _out()
    out.print(
        f"{book.title}\nrulebook {book.name} {book.version} (sha256 {book.sha256[:16]}...), "
        f"reserve currency {code}"
    )
    table = Table(
        "member",
        "name",
        f"commitment {code}",
        "multiplier",
        f"max access {code}",
        f"without IMF {code}",
        "votes %",
    )
    for m in members:
        table.add_row(*(str(v) for v in m.values()))
    out.print(table)
    out.print(
        f"without an IMF programme: {book.de_linked_share_percent}% of access; voters: "
        f"{book.voters}; approval: yes > {book.approval_share_percent}% of eligible votes; "
        f"vote window {book.vote_window_days} days; split {book.provider_split}; "
        f"interest {book.day_count}, arrears +{book.arrears_spread_bp} bp"
    )
    terms = Table(
        "instrument", "portion", "maturity days", "renewals", "spread bp", "availability days"
    )
    for t in book.instruments:
        terms.add_row(
            t.instrument,
            t.portion,
            str(t.maturity_days),
            str(t.renewals_max),
            str(t.spread_bp),
            str(t.availability_days),
        )
    out.print(terms)
    sources = Table("rule", "source (V verbatim, S secondary, D derived, U unverified)")
    for rule, source in book.provenance:
        sources.add_row(rule, source)
    out.print(sources)


@reserve_app.command("imf")
@_guarded
def reserve_imf(
    member: Annotated[str, typer.Argument(help="Member code (CN, BR, ...).")],
    on_track: Annotated[
        bool, typer.Option("--on-track/--off-track", help="Whether its IMF programme is on track.")
    ],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """Record whether a member has an IMF programme on track (the IMF-linked portion)."""
    with _pool(db, store, network=False) as pool:
        pool.set_imf_programme(member, on_track, _day(on))
    _out().print(f"{member}: IMF programme {'on track' if on_track else 'not on track'}")


@reserve_app.command("request")
@_guarded
def reserve_request(
    member: Annotated[str, typer.Argument(help="The requesting member (CN, BR, ...).")],
    amount: Annotated[
        str, typer.Argument(help="Amount in the reserve currency, e.g. 3000000000.00")
    ],
    instrument: Annotated[str, typer.Option(help="liquidity or precautionary.")] = "liquidity",
    portion: Annotated[str, typer.Option(help="de_linked or imf_linked.")] = "de_linked",
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """A member's central bank requests a drawing; checked against its access now."""
    with _pool(db, store, network=False) as pool:
        minor = _amount(amount, pool.rulebook.reserve_currency)
        drawing = pool.request(member, instrument, portion, minor, _day(on))
    if as_json:
        _print_json({"request_id": drawing.request_id, "status": drawing.status})
    else:
        _out().print(
            f"{drawing.request_id}: {member} requests {amount} "
            f"({instrument}, {portion}); now voting"
        )


@reserve_app.command("vote")
@_guarded
def reserve_vote(
    request_id: Annotated[str, typer.Argument(help="The request (R-0001, ...).")],
    member: Annotated[str, typer.Argument(help="The voting member.")],
    approve: Annotated[bool, typer.Option("--yes/--no", help="The vote.")],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """A provider's weighted vote; the request is decided once the outcome is certain."""
    from interbank.reserve.rules import percent_text, tally

    with _pool(db, store, network=False) as pool:
        drawing = pool.vote(request_id, member, approve, _day(on))
        result = tally(pool.rulebook, drawing.member, [(v[0], v[1]) for v in drawing.votes])
    _out().print(
        f"{request_id}: yes {percent_text(result.yes_percent)}%, "
        f"no {percent_text(result.no_percent)}% "
        f"of {percent_text(result.eligible_percent)}% (needs more than "
        f"{percent_text(result.needed_percent)}%): {drawing.status}"
        + (f" ({drawing.reason})" if drawing.reason else "")
    )


@reserve_app.command("settle")
@_guarded
def reserve_settle(
    request_id: Annotated[str, typer.Argument(help="An approved request.")],
    spot_rate: Annotated[str, typer.Option(help="Requester's currency per reserve-currency unit.")],
    reference_rate: Annotated[str, typer.Option(help="USD benchmark rate, percent a year.")],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """Settle an approved drawing as a currency swap on the network (both legs or none)."""
    with _pool(db, store, network=True) as pool:
        _say_step(pool.settle(request_id, spot_rate, reference_rate, _day(on)))


@reserve_app.command("renew")
@_guarded
def reserve_renew(
    request_id: Annotated[str, typer.Argument(help="An active drawing.")],
    reference_rate: Annotated[str, typer.Option(help="USD benchmark for the next period, %.")],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """Renew a drawing for another maturity (within the rulebook's renewals); the
    period's interest is paid now."""
    with _pool(db, store, network=True) as pool:
        _say_step(pool.renew(request_id, reference_rate, _day(on)))


@reserve_app.command("repay")
@_guarded
def reserve_repay(
    request_id: Annotated[str, typer.Argument(help="An active (or late) drawing.")],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """Settle the reverse leg: the same spot rate, plus interest to the repayment date."""
    with _pool(db, store, network=True) as pool:
        _say_step(pool.repay(request_id, _day(on)))


@reserve_app.command("review")
@_guarded
def reserve_review(
    db: DbOption = DB_DEFAULT, store: StoreOption = None, on: OnOption = None
) -> None:
    """Let a date pass: expire undecided votes, lapse undrawn approvals, raise arrears."""
    with _pool(db, store, network=False) as pool:
        decisions = pool.review(_day(on))
    out = _out()
    for decision in decisions:
        out.print(f"{decision.subject}: {decision.kind} ({decision.payload.get('reason', '')})")
    if not decisions:
        out.print("nothing to decide")


@reserve_app.command("status")
@_guarded
def reserve_status(
    db: DbOption = DB_DEFAULT, store: StoreOption = None, as_json: JsonOption = False
) -> None:
    """Each member's access in use, and every request and drawing."""
    with _pool(db, store, network=False) as pool:
        book, state = pool.rulebook, pool.state
        code = book.reserve_currency
        members = [
            {
                "member": m,
                "max_access": _units(book.max_access_minor(m), code),
                "in_use": _units(
                    state.open_amount_minor(m, None, book.count_pending_requests), code
                ),
                "imf_on_track": state.imf_on_track.get(m, False),
                "in_arrears": [d.request_id for d in state.in_arrears(m)],
            }
            for m in book.codes()
        ]
        drawings = [
            {
                "request_id": d.request_id,
                "member": d.member,
                "instrument": d.instrument,
                "portion": d.portion,
                "amount": _units(d.amount_minor, code),
                "status": d.status,
                "requested_on": d.requested_on,
                "maturity_on": d.swap.maturity_on if d.swap else None,
                "renewals": d.swap.renewals if d.swap else 0,
                "interest_paid": _units(d.interest_paid_minor, code),
            }
            for d in state.drawings.values()
        ]
    if as_json:
        _print_json(
            {
                "rulebook": f"{book.name} {book.version}",
                "members": members,
                "drawings": drawings,
                "drills": state.drills,
            }
        )
        return
    out = _out()
    table = Table("member", f"max access {code}", f"in use {code}", "IMF on track", "arrears")
    for m in members:
        table.add_row(
            str(m["member"]),
            str(m["max_access"]),
            str(m["in_use"]),
            "yes" if m["imf_on_track"] else "no",
            ", ".join(str(r) for r in m["in_arrears"]),  # type: ignore[attr-defined]
        )
    out.print(table)
    if drawings:
        table = Table(*drawings[0].keys())
        for d in drawings:
            table.add_row(*(str(v) if v is not None else "" for v in d.values()))
        out.print(table)


@reserve_app.command("schedule")
@_guarded
def reserve_schedule(
    request_id: Annotated[str, typer.Argument(help="A settled drawing.")],
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """A drawing's legs, its maturity, and the interest due at maturity."""
    from fractions import Fraction

    from interbank.cli import UserError
    from interbank.reserve.rules import interest_minor

    with _pool(db, store, network=False) as pool:
        drawing = pool.state.drawings.get(request_id)
        if drawing is None or drawing.swap is None:
            raise UserError(f"{request_id} is not a settled drawing", EXIT_REFUSED, "NARR")
        swap, code = drawing.swap, pool.rulebook.reserve_currency
        rate = Fraction(swap.reference_rate_percent) + Fraction(swap.spread_bp, 100)
        rows = [
            {
                "provider": leg.provider,
                f"{code}": _units(leg.usd_minor, code),
                swap.local_currency: _units(leg.local_minor, swap.local_currency),
                "interest_at_maturity": _units(
                    interest_minor(
                        leg.usd_minor,
                        rate,
                        swap.period_start,
                        swap.maturity_on,
                        pool.rulebook.day_basis(),
                    ),
                    code,
                ),
            }
            for leg in swap.legs
        ]
    head = {
        "request_id": request_id,
        "status": drawing.status,
        "spot_rate": swap.spot_rate,
        "period_start": swap.period_start,
        "maturity_on": swap.maturity_on,
        "rate_percent": f"{swap.reference_rate_percent} + {swap.spread_bp} bp",
        "renewals": swap.renewals,
    }
    if as_json:
        _print_json({**head, "legs": rows})
        return
    out = _out()
    out.print(", ".join(f"{k} {v}" for k, v in head.items()))
    table = Table(*rows[0].keys())
    for row in rows:
        table.add_row(*row.values())
    out.print(table)


@reserve_app.command("drill")
@_guarded
def reserve_drill(
    member: Annotated[str, typer.Argument(help="The member whose drawing is rehearsed.")],
    amount: Annotated[str, typer.Argument(help="Amount in the reserve currency.")],
    spot_rate: Annotated[str, typer.Option(help="Requester's currency per reserve unit.")],
    reference_rate: Annotated[str, typer.Option(help="USD benchmark rate, percent.")],
    instrument: Annotated[str, typer.Option(help="liquidity or precautionary.")] = "liquidity",
    portion: Annotated[str, typer.Option(help="de_linked or imf_linked.")] = "de_linked",
    assume_imf: Annotated[bool, typer.Option(help="Assume an IMF programme on track.")] = False,
    db: DbOption = DB_DEFAULT,
    store: StoreOption = None,
    on: OnOption = None,
) -> None:
    """Rehearse a whole drawing (request, votes, swap, interest, repayment at maturity)
    on a copy of the network: no real balance moves; the drill is recorded."""
    with _pool(db, store, network=True) as pool:
        minor = _amount(amount, pool.rulebook.reserve_currency)
        report = pool.drill(
            member,
            instrument,
            portion,
            minor,
            spot_rate,
            reference_rate,
            _day(on),
            assume_imf_on_track=assume_imf,
        )
    out = _out()
    for line in report.log:
        out.print(line)
    out.print(
        f"drill {report.outcome}; every currency conserved: {'yes' if report.conserved else 'NO'}"
    )


@reserve_app.command("decisions")
@_guarded
def reserve_decisions(
    db: DbOption = DB_DEFAULT, store: StoreOption = None, as_json: JsonOption = False
) -> None:
    """The pool's record: every decision, in order."""
    with _pool(db, store, network=False) as pool:
        decisions = pool.store.decisions()
    if as_json:
        for d in decisions:
            payload = {k: v for k, v in d.payload.items() if k != "text"}
            _print_json(
                {"seq": d.seq, "on": d.on, "kind": d.kind, "subject": d.subject, "payload": payload}
            )
        return
    table = Table("seq", "on", "kind", "subject", "detail")
    for d in decisions:
        detail = {k: v for k, v in d.payload.items() if k not in ("text", "flows", "log")}
        table.add_row(
            str(d.seq), d.on.isoformat(), d.kind, d.subject, json.dumps(detail, default=str)[:120]
        )
    _out().print(table)
