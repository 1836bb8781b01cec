"""The gridlock optimiser outside the engine (``interbank.lsm_optimiser``) and
``interbank lsm optimise``: on a gridlock the engine's own run cannot resolve (a cycle of
normal payments behind heads that cannot settle), the proposal is a SettleSet the engine
accepts, and the CLI settles it through a durable node whose journal verifies."""

from __future__ import annotations

import builtins
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from interbank.cli import app
from interbank.engine import (
    AccountKind,
    Command,
    Engine,
    EngineSettings,
    OpenAccount,
    RegisterParticipant,
    Role,
)
from interbank.engine.commands import Payment, Priority
from interbank.lsm_optimiser import OptimiserUnavailableError, propose, propose_settle_set
from interbank.node import Node, verify

needs_highspy = pytest.mark.skipif(
    importlib.util.find_spec("highspy") is None, reason="highspy is not installed"
)

runner = CliRunner()
EUR = "EUR"
BANKS = ("AAAADEFF", "BBBBDEFF", "CCCCDEFF", "DDDDDEFF")  # A, B, C in the cycle; D a sink
HEAD_MINOR = 1_000
CYCLE_MINOR = 100


def _account(k: int) -> int:
    return 100 + k


def _setup() -> list[Command]:
    commands: list[Command] = [
        RegisterParticipant(1, "CBNKDEFF", "Central bank", Role.CENTRAL_BANK, EUR),
        OpenAccount(2, 1, "CBNKDEFF", EUR, AccountKind.ISSUANCE),
    ]
    for k, bic in enumerate(BANKS):
        commands.append(RegisterParticipant(10 + k, bic, f"Bank {k}", Role.DIRECT))
        commands.append(OpenAccount(20 + k, _account(k), bic, EUR))
    return commands


def _gridlock() -> list[Command]:
    """Every bank at zero. A, B and C each first owe D more than they will ever have (the
    heads), then pay one another round a cycle: A -> B -> C -> A, 100 each. One by one
    nothing fits, and the engine's bypass step adds one payment at a time, so it cannot
    find the cycle, which fits only all together."""
    heads = [Payment(30 + k, _account(k), _account(3), HEAD_MINOR) for k in range(3)]
    cycle = [
        Payment(40 + k, _account(k), _account((k + 1) % 3), CYCLE_MINOR, Priority.NORMAL)
        for k in range(3)
    ]
    return [*heads, *cycle]


@needs_highspy
def test_the_proposal_is_a_settle_set_the_engine_accepts() -> None:
    engine = Engine(EngineSettings())
    assert all(r.ok for r in engine.execute_many(_setup(), 1))
    engine.execute_many(_gridlock(), 2)
    assert engine.waiting_count() == 6  # the engine's own runs settled nothing

    found = propose(engine, EUR, 5.0, command_id=99)
    assert found is not None and found.proven_optimal
    assert sorted(found.settle_set.payment_ids) == [40, 41, 42]
    assert found.value_minor == 3 * CYCLE_MINOR and found.candidates == 6
    assert engine.waiting_count() == 6  # proposing changed nothing

    result = engine.execute(found.settle_set, 3)
    assert result.ok, result
    assert engine.waiting_count() == 3
    assert propose_settle_set(engine, EUR, 5.0) is None  # only the heads are left
    assert propose_settle_set(engine, "USD", 5.0) is None  # no such currency


def _network(tmp_path: Path) -> str:
    db = str(tmp_path / "lsm.db")
    with Node.open(db, create=True) as node:
        assert all(r.ok for r in node.submit(_setup()))
        node.submit(_gridlock())
        assert node.engine.waiting_count() == 6
    return db


@needs_highspy
def test_the_cli_settles_the_cycle_through_a_node(tmp_path: Path) -> None:
    db = _network(tmp_path)

    dry = runner.invoke(app, ["lsm", "optimise", "--db", db, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    (run,) = json.loads(dry.stdout)["runs"]
    assert run["outcome"] == "proposed" and run["payments"] == 3 and run["value"] == "3.00"

    done = runner.invoke(app, ["lsm", "optimise", "--db", db, "--currency", "eur"])
    assert done.exit_code == 0, done.output
    assert "EUR: settled 3 payments, 3.00 EUR" in done.stdout

    again = runner.invoke(app, ["lsm", "optimise", "--db", db, "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["runs"][0]["outcome"] == "nothing"

    report = verify(db)
    assert report.ok, report.problems
    with Node.open(db) as node:  # replay re-applied the journaled set
        assert node.engine.waiting_count() == 3
        assert {a.account_id: a.balance_minor for a in node.engine.accounts()}[_account(0)] == 0


@needs_highspy
def test_the_cli_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    db = _network(tmp_path)
    unknown = runner.invoke(app, ["lsm", "optimise", "--db", db, "--currency", "JPY"])
    assert unknown.exit_code == 2 and "AM03" in unknown.output
    assert "Traceback" not in unknown.output
    limit = runner.invoke(app, ["lsm", "optimise", "--db", db, "--time-limit-s", "0"])
    assert limit.exit_code == 2 and "FF01" in limit.output
    missing = runner.invoke(app, ["lsm", "optimise", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 3 and "Traceback" not in missing.output


def _without_highspy(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def refuse(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "highspy" or name.startswith("highspy."):
            raise ImportError("No module named 'highspy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)


def test_without_highspy_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _network(tmp_path)
    engine = Engine(EngineSettings())
    _without_highspy(monkeypatch)
    with pytest.raises(OptimiserUnavailableError, match="pip install highspy"):
        propose_settle_set(engine, EUR, 1.0)
    result = runner.invoke(app, ["lsm", "optimise", "--db", db])
    assert result.exit_code == 3, result.output
    assert "pip install highspy" in result.output and "Traceback" not in result.output
