"""What the institutions' command groups (`interbank reserve`, `interbank lending`) share.

Both keep their records in a decision log beside the network's journal, open it (and,
for steps that move money, the network) the same way, and print and parse the same way.
Only the edge may read the clock: a missing ``--on`` date means today here, never
inside the pool or the bank.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from interbank.decision_log import DecisionStore
    from interbank.network_port import Network

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_NETWORK = 3
PIPE_COLUMNS = 160
DB_DEFAULT = "./interbank.db"

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="INTERBANK_DB",
        metavar="PATH",
        help="The network (a SQLite file; env INTERBANK_DB).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]

T = TypeVar("T")
P = ParamSpec("P")


def console() -> Console:
    return Console(
        highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else PIPE_COLUMNS
    )


def print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")


def day(text: str | None, option: str = "--on") -> dt.date:
    from interbank.cli import UserError

    if text is None:
        return dt.date.today()  # the edge may read the clock; the institutions never do
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{option} {text!r} is not YYYY-MM-DD", EXIT_USAGE, "FF01") from None


def store_path(db: str, store: str | None, *, suffix: str, owner: str) -> str:
    """The records' file: ``--store``, else ``<db>.<suffix>`` beside a SQLite journal."""
    from interbank.cli import UserError

    if store is not None:
        return store
    if "://" in db and not db.startswith("sqlite://"):
        raise UserError(f"give --store FILE for {owner} records of a server network", EXIT_USAGE)
    return db.removeprefix("sqlite://") + "." + suffix


@contextmanager
def opened(
    db: str,
    store: str | None,
    *,
    suffix: str,
    owner: str,
    missing: str,
    build: Callable[[DecisionStore, Network | None], T],
    network: bool,
    on_resumed: Callable[[Any], None],
) -> Iterator[T]:
    """An institution over its records, with the network open (and its interrupted steps
    resumed through ``on_resumed``) when ``network``."""
    from interbank.cli import UserError
    from interbank.decision_log import DecisionStore

    path = store_path(db, store, suffix=suffix, owner=owner)
    if not Path(path).exists():
        raise UserError(missing.format(path=path), EXIT_NETWORK)
    records = DecisionStore.open(path)
    try:
        if not network:
            yield build(records, None)
            return
        from interbank.network_port import open_network

        with open_network(db) as net:
            institution = build(records, net)
            for outcome in institution.resume():  # type: ignore[attr-defined]
                on_resumed(outcome)
            yield institution
    finally:
        records.close()


def guarded(
    command: Callable[P, None],
    errors: Callable[[], tuple[dict[type[Exception], int], tuple[type[Exception], ...]]],
) -> Callable[P, None]:
    """One line and an exit code for every error a user can meet; no traceback.

    ``errors`` (called lazily, so heavy parts load only when a command runs) gives the
    part's refusals, each with its exit code (they carry ``text`` and ``reason_code``),
    and the errors that mean its records cannot be used (exit 3, their own message).
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        from interbank.cli import UserError, _user_errors

        coded, unusable = errors()
        db = kwargs.get("db")
        with _user_errors(db if isinstance(db, str) else None):
            try:
                command(*args, **kwargs)
            except tuple(coded) as error:
                exit_code = next(code for kind, code in coded.items() if isinstance(error, kind))
                text, reason = error.text, error.reason_code  # type: ignore[attr-defined]
                raise UserError(text, exit_code, reason) from None
            except unusable as error:
                raise UserError(str(error), EXIT_NETWORK) from None

    return run
