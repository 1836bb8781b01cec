"""``interbank rating ...``: the credit agency's commands (hooked into ``cli.py``).

Every command that reads or writes the agency store takes ``--agency PATH`` (default:
the environment variable ``INTERBANK_AGENCY``, else ``./agency.db``); commands that act
on the network take ``--db`` as the other subcommands do. A signed step takes
``--key FILE``: the rater's Ed25519 private key, which also says who they are.

Exit codes: 0 success; 1 the workflow refused the step (the message says why);
2 bad input (a file, a field, an option); 3 the agency store or the network could not
be opened or is damaged; 4 ``verify`` found a problem.
Only typer and rich are imported at module level, so ``--help`` answers at once.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from interbank.rating.committee import Agency
    from interbank.rating.scorecard import Scorecard

AGENCY_DEFAULT = "./agency.db"
AGENCY_ENV = "INTERBANK_AGENCY"
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_STORE = 3
EXIT_VERIFY_FAILED = 4

rating_app = typer.Typer(
    name="rating",
    help="The joint credit agency: financials, scorecards, committee votes, ratings, "
    "the risk controls they set in the network, and reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

AgencyOption = Annotated[
    str,
    typer.Option(
        "--agency", envvar=AGENCY_ENV, metavar="PATH", help=f"The agency store (env {AGENCY_ENV})."
    ),
]
KeyOption = Annotated[
    Path,
    typer.Option(
        "--key", metavar="FILE", help="Your Ed25519 private key (PEM), made by `rating keygen`."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="INTERBANK_DB", metavar="PATH_OR_URL", help="The network (env INTERBANK_DB)."
    ),
]
CollateralOption = Annotated[
    Path | None,
    typer.Option(
        "--collateral",
        metavar="FILE",
        help="Collateral pools (JSON) of the banks' settlement accounts.",
    ),
]


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def _fail(text: str, code: int) -> NoReturn:
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {text}", markup=True
    )
    raise typer.Exit(code)


@contextmanager
def _agency_errors() -> Iterator[None]:
    """The agency's own errors as one line and an exit code; the network's through
    ``cli._user_errors`` (opened inside, so its messages stay the same everywhere)."""
    from interbank.money import MoneyError
    from interbank.rating.committee import DamagedStoreError, WorkflowError
    from interbank.rating.controls import CollateralError
    from interbank.rating.financials import FinancialsError
    from interbank.rating.method import MethodError
    from interbank.rating.scale import GradeError
    from interbank.rating.scorecard import AdjustmentError
    from interbank.rating.signing import KeyFileError
    from interbank.rating.store import StoreError

    try:
        yield
    except typer.Exit:
        raise
    except FinancialsError as error:
        for problem in error.problems:
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                f"{error.source}: {problem}", markup=False
            )
        _fail(f"{len(error.problems)} problem(s) in {error.source}; nothing was loaded", EXIT_USAGE)
    except (WorkflowError, AdjustmentError) as error:
        _fail(str(error), EXIT_REFUSED)
    except (DamagedStoreError, StoreError) as error:
        _fail(str(error), EXIT_STORE)
    except (
        MethodError,
        CollateralError,
        KeyFileError,
        GradeError,
        MoneyError,
        ValueError,
    ) as error:
        _fail(str(error), EXIT_USAGE)
    except FileNotFoundError as error:
        _fail(f"no such file: {error.filename}", EXIT_USAGE)


def _key(path: Path) -> Ed25519PrivateKey:
    from interbank.rating.signing import load_private_key

    return load_private_key(path)


def _open(agency: str) -> Agency:
    from interbank.rating.committee import Agency

    return Agency.open(agency)


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


# --- keys and the store ---------------------------------------------------------------------


@rating_app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Argument(help="Where to write the new private key.")],
) -> None:
    """Make an Ed25519 key pair: the private key goes to OUT (mode 0600), the public key
    is printed, for the administrator to register."""
    from interbank.rating.signing import generate_key, public_key_hex, save_private_key

    with _agency_errors():
        key = generate_key()
        try:
            save_private_key(key, out)
        except FileExistsError:
            _fail(f"{out} exists; a key file is never overwritten", EXIT_USAGE)
        print(public_key_hex(key))


@rating_app.command("init")
def init(
    admin_key: Annotated[
        Path, typer.Option("--admin-key", metavar="FILE", help="The administrator's private key.")
    ],
    agency: AgencyOption = AGENCY_DEFAULT,
    votes_min: Annotated[int, typer.Option(help="Votes a decision needs (3 or more).")] = 3,
    quorum: Annotated[
        int, typer.Option(help="Approvals among them (a majority of votes_min).")
    ] = 2,
    name: Annotated[
        str, typer.Option(help="The agency's name, shown on reports.")
    ] = "interbank joint credit agency",
) -> None:
    """Create the agency store; its first record names the administrator's key and the
    committee's quorum."""
    from interbank.rating.committee import Agency

    with _agency_errors():
        Agency.create(
            agency, _key(admin_key), agency_name=name, votes_min=votes_min, approvals_quorum=quorum
        ).close()
        print(f"created {agency}: decisions need {votes_min} votes, {quorum} of them approvals")


@rating_app.command("add-rater")
def add_rater(
    rater_id: Annotated[str, typer.Argument(help="A short id, e.g. m.silva.")],
    public_key: Annotated[
        str, typer.Option("--public-key", metavar="HEX", help="From `rating keygen`.")
    ],
    role: Annotated[list[str], typer.Option("--role", help="analyst and/or committee (repeat).")],
    name: Annotated[str, typer.Option(help="The rater's full name.")],
    admin_key: Annotated[Path, typer.Option("--admin-key", metavar="FILE")],
    agency: AgencyOption = AGENCY_DEFAULT,
) -> None:
    """Register a rater (signed by the administrator)."""
    with _agency_errors(), _open(agency) as store:
        record = store.add_rater(_key(admin_key), rater_id, name, role, public_key)
        print(f"registered {rater_id} ({', '.join(sorted(set(role)))}) at seq {record.seq}")


# --- financials and scorecards --------------------------------------------------------------


@rating_app.command("load")
def load(
    files: Annotated[list[Path], typer.Argument(help="Financials, .json or .csv.")],
    key: KeyOption | None = None,
    agency: AgencyOption = AGENCY_DEFAULT,
    check: Annotated[bool, typer.Option("--check", help="Only validate; record nothing.")] = False,
) -> None:
    """Validate bank financials and record them (signed by you, an analyst). Every
    problem is listed with its bank, reporting date and field; a file with any problem
    records nothing."""
    from interbank.rating.financials import load_financials

    with _agency_errors():
        reports = [(path, load_financials(path)) for path in files]
        count = sum(len(r) for _, r in reports)
        if check:
            print(f"{count} report(s) in {len(files)} file(s): all fields check")
            return
        if key is None:
            _fail("--key is needed to record financials (or give --check)", EXIT_USAGE)
        with _open(agency) as store:
            signer = _key(key)
            for path, found in reports:
                store.add_financials(signer, found, source=path.name)
        print(f"recorded {count} report(s) from {len(files)} file(s)")


@rating_app.command("score")
def score(
    files: Annotated[list[Path], typer.Argument(help="Financials, .json or .csv.")],
    method: Annotated[str, typer.Option("--method", help="Method version.")] = "1",
    as_json: JsonOption = False,
) -> None:
    """Score banks from files, without recording anything (an analyst's preview)."""
    from interbank.rating.financials import load_financials
    from interbank.rating.method import load_method
    from interbank.rating.scorecard import score_bank

    with _agency_errors():
        chosen = load_method(method)
        by_bank: dict[str, list[Any]] = {}
        for path in files:
            for report in load_financials(path):
                by_bank.setdefault(report.bic, []).append(report)
        cards = [score_bank(chosen, reports) for _, reports in sorted(by_bank.items())]
    if as_json:
        _print_json([_card_json(c) for c in cards])
        return
    for card in cards:
        _print_card(card)


def _card_json(card: Scorecard) -> dict[str, Any]:
    from interbank.rating.scorecard import decimal_text

    return {
        "bic": card.bic,
        "reporting_date": card.reporting_date,
        "method_version": card.method_version,
        "score": decimal_text(card.score, 4),
        "anchor_grade": card.anchor_grade.letters,
        "grade": card.grade.letters,
        "pd_pct": decimal_text(card.pd_pct, 4),
        "cqs": card.cqs,
        "outlook": card.outlook,
        "watch": card.watch,
        "watch_reasons": list(card.watch_reasons),
        "factors": [
            {
                "key": f.key,
                "ratio_used_pct": decimal_text(f.ratio_used_pct, 4),
                "points": decimal_text(f.points, 4),
                "weight_pct": f.weight_pct,
                "contribution": decimal_text(f.contribution, 4),
            }
            for f in card.factors
        ],
        "steps": [
            {"label": s.label, "notches": s.notches, "grade": s.grade.letters} for s in card.steps
        ],
        "notes": list(card.notes),
    }


def _print_card(card: Scorecard) -> None:
    from interbank.rating.scorecard import decimal_text

    table = Table(
        title=f"{card.bic} {card.name} — {card.reporting_date}, method {card.method_version}",
        title_justify="left",
    )
    for column, justify in (
        ("factor", "left"),
        ("ratio %", "right"),
        ("points", "right"),
        ("weight", "right"),
        ("contribution", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for f in card.factors:
        table.add_row(
            f.key,
            decimal_text(f.ratio_used_pct),
            decimal_text(f.points),
            f"{f.weight_pct}%",
            decimal_text(f.contribution),
        )
    table.add_row("score", "", "", "", decimal_text(card.score))
    out = _out()
    out.print(table)
    steps = " → ".join([card.anchor_grade.letters, *(f"{s.grade} ({s.label})" for s in card.steps)])
    out.print(
        f"grade [bold]{card.grade}[/]  ({steps})  PD {decimal_text(card.pd_pct)}%  "
        f"outlook {card.outlook}"
        + ("  [bold red]watch[/]: " + "; ".join(card.watch_reasons) if card.watch else "")
    )
    for note in card.notes:
        out.print(f"  note: {note}", markup=False)


# --- the committee --------------------------------------------------------------------------


def _adjustments(values: list[str]) -> dict[str, int]:
    result: dict[str, int] = {}
    for value in values:
        key, sep, notches = value.partition("=")
        try:
            result[key.strip()] = int(notches)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"--adjust {value!r}: write KEY=NOTCHES, e.g. external_support=+1")
    return result


@rating_app.command("propose")
def propose(
    bic: Annotated[str, typer.Argument(help="The bank's BIC.")],
    key: KeyOption,
    agency: AgencyOption = AGENCY_DEFAULT,
    adjust: Annotated[
        list[str],
        typer.Option("--adjust", metavar="KEY=NOTCHES", help="A qualitative adjustment (repeat)."),
    ] = [],  # noqa: B006
    outlook: Annotated[
        str | None, typer.Option(help="positive, stable or negative (default: the method's).")
    ] = None,
    watch: Annotated[
        bool | None, typer.Option("--watch/--no-watch", help="Default: the method's.")
    ] = None,
    rationale: Annotated[
        str, typer.Option(help="Why; needed when you override outlook or watch.")
    ] = "",
    method: Annotated[str, typer.Option("--method", help="Method version.")] = "1",
    as_json: JsonOption = False,
) -> None:
    """Propose a rating: the scorecard is computed from the recorded financials."""
    from interbank.rating.scorecard import Adjustments

    with _agency_errors(), _open(agency) as store:
        proposal = store.propose(
            _key(key), bic, adjustments=Adjustments.of(_adjustments(adjust)), outlook=outlook,
            watch=watch, rationale=rationale, method_version=method,
        )  # fmt: skip
    if as_json:
        _print_json({"proposal_seq": proposal.seq, **proposal.body})
        return
    print(
        f"proposal {proposal.seq}: {proposal.bic} {proposal.grade} "
        f"(score {proposal.body['score']}), "
        f"outlook {proposal.outlook}{', on watch' if proposal.watch else ''}; awaiting votes"
    )


@rating_app.command("vote")
def vote(
    proposal_seq: Annotated[int, typer.Argument(help="The proposal's record number.")],
    key: KeyOption,
    approve: Annotated[bool, typer.Option("--approve/--reject", help="Your vote.")],
    comment: Annotated[str, typer.Option(help="Said with the vote.")] = "",
    agency: AgencyOption = AGENCY_DEFAULT,
) -> None:
    """Vote on a proposal (committee members; once each; never on your own)."""
    with _agency_errors(), _open(agency) as store:
        record = store.vote(_key(key), proposal_seq, approve, comment)
        proposal = store.state.proposals[proposal_seq]
    print(
        f"vote recorded at seq {record.seq}: {proposal.approvals()} for, "
        f"{proposal.rejections()} against; proposal is {proposal.status}"
    )


@rating_app.command("decide")
def decide(
    proposal_seq: Annotated[int, typer.Argument(help="The proposal's record number.")],
    key: KeyOption,
    agency: AgencyOption = AGENCY_DEFAULT,
    effective_on: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD (default: today, UTC).")
    ] = None,
    db: DbOption = None,
    collateral: CollateralOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record the decision on a proposal that reached its quorum. With --db and
    --collateral the new limits are enforced in the network at once."""
    with _agency_errors(), _open(agency) as store:
        date = dt.date.fromisoformat(effective_on) if effective_on else None
        signer = _key(key)
        pools = _pools(collateral) if collateral else None
        decision = store.decide(signer, proposal_seq, date)
        result: dict[str, Any] = {
            "decision_seq": decision.seq,
            "bic": decision.bic,
            "grade": decision.grade.letters,
            "outlook": decision.outlook,
            "watch": decision.watch,
            "effective_on": decision.effective_on,
            "method_version": decision.method_version,
            "pd_pct": decision.pd_pct,
        }
        if db is not None and pools is not None:
            result["enforcement"] = _enforce(store, signer, db, decision, pools)
    if as_json:
        _print_json(result)
        return
    print(
        f"decision {decision.seq}: {decision.bic} rated {decision.grade}, "
        f"outlook {decision.outlook}{', on watch' if decision.watch else ''}, "
        f"effective {decision.effective_on} (method {decision.method_version})"
    )
    if "enforcement" in result:
        _say_enforcement(result["enforcement"])


@rating_app.command("enforce")
def enforce(
    bic: Annotated[str, typer.Argument(help="The bank's BIC.")],
    key: KeyOption,
    db: DbOption,
    collateral: CollateralOption,
    agency: AgencyOption = AGENCY_DEFAULT,
    as_json: JsonOption = False,
) -> None:
    """Apply the bank's current rating in the network again: a new round lowers a line
    held at usage, or follows newly pledged collateral."""
    with _agency_errors(), _open(agency) as store:
        if db is None or collateral is None:
            _fail("--db and --collateral are needed", EXIT_USAGE)
        decision = store.state.current(bic.strip().upper())
        if decision is None:
            _fail(f"{bic} has no rating", EXIT_REFUSED)
        result = _enforce(store, _key(key), db, decision, _pools(collateral))
    if as_json:
        _print_json(result)
    else:
        _say_enforcement(result)


def _pools(path: Path) -> list[Any]:
    from interbank.rating.controls import CollateralError, parse_pools

    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=str)
    except ValueError as error:
        raise CollateralError(f"{path}: not JSON: {error}") from None
    return parse_pools(data, path.name)


def _enforce(
    store: Agency, signer: Ed25519PrivateKey, db: str, decision: Any, pools: list[Any]
) -> dict[str, Any]:
    from interbank.cli import _user_errors
    from interbank.node import Node
    from interbank.rating.enforce import act_on_decision, enforcement_body, targets_for

    with _user_errors(db), Node.open(db) as node:
        outcome = act_on_decision(store, signer, node, decision, pools)
    mine = [p for p in pools if p.bic == decision.bic]
    return enforcement_body(decision, mine, targets_for(store, decision, mine), outcome)


def _say_enforcement(body: dict[str, Any]) -> None:
    from interbank.money import format_amount

    out = _out()
    if not body["accounts"]:
        out.print("no collateral pool names this bank's accounts: nothing enforced")
    for target, account in zip(body["targets"], body["accounts"], strict=True):
        code = target["currency"]
        line = account["line_set_minor"]
        shown = "—" if line is None else format_amount(line, code)
        out.print(
            f"account {account['account_id']}: credit line {shown} {code} "
            f"(target {format_amount(target['credit_line_target_minor'], code)}): "
            f"{account['note']}",
            markup=False,
        )
    if body["participant_action"]:
        out.print(
            f"participant {body['bic']}: {body['participant_action']} "
            f"({body['participant_reason']})"
        )


@rating_app.command("withdraw")
def withdraw(
    proposal_seq: Annotated[int, typer.Argument()],
    key: KeyOption,
    reason: Annotated[str, typer.Option(help="Why it is withdrawn.")],
    agency: AgencyOption = AGENCY_DEFAULT,
) -> None:
    """Withdraw an open proposal (its analyst or the administrator)."""
    with _agency_errors(), _open(agency) as store:
        record = store.withdraw(_key(key), proposal_seq, reason)
    print(f"proposal {proposal_seq} withdrawn at seq {record.seq}")


# --- reading --------------------------------------------------------------------------------


@rating_app.command("show")
def show(
    bic: Annotated[
        str | None, typer.Argument(help="One bank's history; all current ratings without it.")
    ] = None,
    agency: AgencyOption = AGENCY_DEFAULT,
    as_json: JsonOption = False,
) -> None:
    """Current ratings, or one bank's every rating with its effective date and method."""
    with _agency_errors(), _open(agency) as store:
        state = store.state
        if bic is None:
            banks = sorted({d.bic for d in state.decisions})
            decisions = [d for b in banks if (d := state.current(b)) is not None]
        else:
            decisions = state.history(bic.strip().upper())
        proposals = [
            p
            for p in state.proposals.values()
            if p.status == "open" and (bic is None or p.bic == bic.upper())
        ]
    rows: list[dict[str, Any]] = [
        {
            "bic": d.bic,
            "grade": d.grade.letters,
            "outlook": d.outlook,
            "watch": d.watch,
            "effective_on": d.effective_on,
            "method_version": d.method_version,
            "pd_pct": d.pd_pct,
            "score": d.score,
            "approvals": d.approvals,
            "rejections": d.rejections,
            "decision_seq": d.seq,
        }
        for d in decisions
    ]
    if as_json:
        _print_json(
            {
                "ratings": rows,
                "open_proposals": [
                    {"seq": p.seq, "bic": p.bic, "grade": p.grade.letters, "votes": len(p.votes)}
                    for p in proposals
                ],
            }
        )
        return
    table = Table(title="rating history" if bic else "current ratings", title_justify="left")
    for column in (
        "BIC",
        "grade",
        "outlook",
        "watch",
        "effective",
        "method",
        "PD %",
        "score",
        "votes",
        "record",
    ):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["bic"], r["grade"], r["outlook"], "yes" if r["watch"] else "", r["effective_on"],
            r["method_version"], r["pd_pct"], r["score"], f"{r['approvals']}–{r['rejections']}",
            str(r["decision_seq"]),
        )  # fmt: skip
    out = _out()
    out.print(table)
    for p in proposals:
        out.print(f"open proposal {p.seq}: {p.bic} {p.grade}, {len(p.votes)} vote(s)")


@rating_app.command("report")
def report(
    bic: Annotated[str, typer.Argument(help="The bank's BIC.")],
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="Where to write the HTML.")],
    agency: AgencyOption = AGENCY_DEFAULT,
) -> None:
    """Write the bank's rating report: one self-contained HTML file."""
    from interbank.rating.report import render_report

    with _agency_errors(), _open(agency) as store:
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        out.write_text(render_report(store.state, bic, stamp), encoding="utf-8")
    print(f"wrote {out}")


@rating_app.command("verify")
def verify(
    agency: AgencyOption = AGENCY_DEFAULT,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check the agency store from its first record: the hash chain, every signature,
    every author's role, the workflow's rules, and each proposal's grade against its
    method. With --db, also that every agency command in the network's journal comes
    from an enforcement the store records (a removed record would leave one orphaned)."""
    with _agency_errors(), _open(agency) as store:
        problems = [str(p) for p in store.verify()]
        records = len(store.records())
        if db is not None:
            problems += _journal_orphans(store, db)
    if as_json:
        _print_json({"records": records, "ok": not problems, "problems": problems})
    elif problems:
        for text in problems:
            print(text)
    else:
        print(f"{records} records: chain, signatures, roles, rules and scorecards check")
    if problems:
        raise typer.Exit(EXIT_VERIFY_FAILED)


def _journal_orphans(store: Agency, db: str) -> list[str]:
    from interbank.cli import _user_errors
    from interbank.engine import Batch
    from interbank.journal import open_journal
    from interbank.rating.enforce import is_agency_command_id

    known = {int(c, 16) for e in store.state.enforcements for c in e.body.get("command_ids", [])}
    orphans: list[str] = []
    with _user_errors(db):
        journal = open_journal(db)
        try:
            for entry in journal.read():
                batch = Batch.unpack(entry.payload)
                for row in range(len(batch)):
                    command_id = batch.command_id(row)
                    if is_agency_command_id(command_id) and command_id not in known:
                        orphans.append(
                            f"journal seq {entry.seq}: agency command {command_id:032x} is in no "
                            "enforcement record of the store (records removed, or another store)"
                        )
        finally:
            journal.close()
    return orphans


@rating_app.command("method")
def method(
    version: Annotated[str, typer.Option("--version", help="Method version.")] = "1",
    as_json: JsonOption = False,
) -> None:
    """The published method: factors and weights, grade bounds, PD per grade, controls."""
    from interbank.rating.method import load_method, method_versions
    from interbank.rating.scale import GRADES, Grade
    from interbank.rating.scorecard import decimal_text

    with _agency_errors():
        chosen = load_method(version)
    grades = [
        {
            "grade": g,
            "score_from": decimal_text(chosen.score_lower_bounds[i])
            if i < len(chosen.score_lower_bounds)
            else None,
            "pd_pct": decimal_text(chosen.pd_pct(Grade(i + 1))),
            "cqs": chosen.cqs(Grade(i + 1)),
            "net_debit_cap_multiple": str(chosen.cap_band(Grade(i + 1)).multiple),
        }
        for i, g in enumerate(GRADES)
    ]
    factors = [
        {"key": f.key, "title": f.title, "weight_pct": f.weight_pct, "averaging": f.averaging}
        for f in chosen.factors
    ]
    if as_json:
        _print_json(
            {
                "version": chosen.version,
                "versions": method_versions(),
                "factors": factors,
                "grades": grades,
                "pd_source": chosen.pd_source,
            }
        )
        return
    out = _out()
    out.print(
        f"method {chosen.version} ({chosen.title}, published {chosen.published_on}); "
        f"shipped: {', '.join(method_versions())}"
    )
    table = Table(title="factors", title_justify="left")
    for column in ("factor", "weight", "averaging"):
        table.add_column(column)
    for f in factors:
        table.add_row(str(f["title"]), f"{f['weight_pct']}%", str(f["averaging"]))
    out.print(table)
    table = Table(title="grades", title_justify="left")
    for column in ("grade", "score from", "PD % (1 year)", "CQS", "net debit cap ×"):
        table.add_column(column)
    for g in grades:
        table.add_row(
            str(g["grade"]),
            str(g["score_from"] or "—"),
            str(g["pd_pct"]),
            str(g["cqs"] or "—"),
            str(g["net_debit_cap_multiple"]),
        )
    out.print(table)
    out.print(f"PD source: {chosen.pd_source}", markup=False)
