"""The ``interbank`` command: each subcommand, its errors and its exit codes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from interbank import cli
from interbank.cli import app
from interbank.node import replay, verify

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "demo-commands.jsonl"
SUBCOMMANDS = ("init", "demo", "apply", "verify", "replay", "balances", "bench")

runner = CliRunner()


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "net.db")
    result = run("init", "--db", path)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def example_db(db: str) -> str:
    result = run("apply", str(EXAMPLE), "--db", db)
    assert result.exit_code == 0, result.output
    return db


def balances_of(db: str) -> dict[int, int]:
    engine, _ = replay(db)
    return {a.account_id: a.balance_minor for a in engine.accounts()}


# --- help -------------------------------------------------------------------------------------


def test_top_level_help_lists_every_subcommand() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for name in SUBCOMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_help(name: str) -> None:
    result = run(name, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    if name not in ("demo", "bench"):
        assert "--db" in result.output


def test_unknown_option_is_a_usage_error() -> None:
    assert run("verify", "--frobnicate").exit_code == 2


# --- init -------------------------------------------------------------------------------------


def test_init_creates_an_empty_network_once(tmp_path: Path) -> None:
    path = str(tmp_path / "a.db")
    result = run("init", "--db", path, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] is True
    again = run("init", "--db", path)
    assert again.exit_code == cli.EXIT_USAGE
    assert "already exists" in again.output
    assert verify(path).ok


def test_init_with_the_demo_network(tmp_path: Path) -> None:
    path = str(tmp_path / "a.db")
    result = run("init", "--db", path, "--demo-network", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accounts"] > 25
    assert len(balances_of(path)) == json.loads(result.stdout)["accounts"]


def test_db_defaults_to_the_environment(tmp_path: Path) -> None:
    path = str(tmp_path / "env.db")
    result = run("init", env={"INTERBANK_DB": path})
    assert result.exit_code == 0, result.output
    assert Path(path).exists()
    assert run("verify", env={"INTERBANK_DB": path}).exit_code == 0


# --- apply ------------------------------------------------------------------------------------


def test_apply_the_example_file(db: str) -> None:
    result = run("apply", str(EXAMPLE), "--db", db)
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    assert len(lines) == len(EXAMPLE.read_text().splitlines())
    assert [r["line"] for r in lines] == list(range(1, len(lines) + 1))
    assert all(r["status"] == "ACSC" and r["code"] is None for r in lines), lines
    assert lines[9]["id"] == "3f2b8c1e-6a4d-4e8f-9b0a-1c2d3e4f5a6b"
    balances = balances_of(db)
    assert balances[601] - balances[701] != 0
    assert verify(db).ok


def test_apply_again_replays_with_no_second_effect(example_db: str) -> None:
    before = balances_of(example_db)
    result = run("apply", str(EXAMPLE), "--db", example_db)
    assert result.exit_code == 0
    assert all(r["replayed"] for r in json_lines(result.stdout))
    assert balances_of(example_db) == before


def test_apply_reads_stdin(example_db: str) -> None:
    line = (
        '{"type": "transfer", "id": 500, "debit_account_id": 601, "credit_account_id": 701, '
        '"amount": "1.00", "currency": "CNY"}'
    )
    result = run("apply", "-", "--db", example_db, input=line + "\n")
    assert result.exit_code == 0, result.output
    assert json_lines(result.stdout)[0]["status"] == "ACSC"


def _transfer(command_id: int, amount: str = "1.00", **extra: object) -> str:
    fields: dict[str, object] = {
        "type": "transfer",
        "id": command_id,
        "debit_account_id": 601,
        "credit_account_id": 701,
        "amount": amount,
        "currency": "CNY",
    }
    fields.update(extra)
    return json.dumps(fields)


BAD_LINES: list[tuple[str, str]] = [
    (_transfer(101, "0.00"), "AM01"),
    (_transfer(102, "-1.00"), "AM12"),
    (_transfer(103, "1000000000000000.01"), "AM02"),
    (_transfer(104, "1.001"), "CH20"),
    (_transfer(105, currency="QQQ"), "AM03"),
    (_transfer(106, currency="ZAR"), "AM03"),
    ('{"type": "transfer", "id": 107,', "FF01"),
    (_transfer(108, memo="hi"), "FF01"),
    (_transfer(0), "FF01"),
    (_transfer(109, debit_account_id="601"), "FF01"),
]


@pytest.mark.parametrize(("line", "code"), BAD_LINES)
def test_each_bad_line_gets_its_code_and_no_effect(example_db: str, line: str, code: str) -> None:
    before = balances_of(example_db)
    head_before = verify(example_db).head_seq
    result = run("apply", "-", "--db", example_db, input=line + "\n")
    assert result.exit_code == cli.EXIT_LINES_REFUSED
    (answer,) = json_lines(result.stdout)
    assert answer["status"] == "RJCT" and answer["code"] == code, answer
    assert answer["line"] == 1 and answer["result"] == "refused"
    assert balances_of(example_db) == before
    assert verify(example_db).head_seq == head_before  # nothing reached the journal
    assert "Traceback" not in result.output


def test_default_mode_applies_the_good_lines_and_reports_the_bad(example_db: str) -> None:
    before = balances_of(example_db)
    text = "\n".join(
        [
            _transfer(201, "10.00"),
            "this is not json",
            _transfer(202, "20.00", linked=True),
            _transfer(203, "0.001"),  # spoils its chain: 202 is not applied either
            "",
            _transfer(204, "30.00"),
        ]
    )
    result = run("apply", "-", "--db", example_db, input=text)
    assert result.exit_code == cli.EXIT_LINES_REFUSED
    answers = {r["line"]: r for r in json_lines(result.stdout)}
    assert sorted(answers) == [1, 2, 3, 4, 6]
    assert answers[1]["status"] == "ACSC" and answers[6]["status"] == "ACSC"
    assert answers[2]["code"] == "FF01" and answers[2]["id"] is None
    assert answers[3]["result"] == "not_applied" and answers[3]["id"] == 202
    assert answers[4]["code"] == "CH20" and answers[4]["field"] == "amount"
    after = balances_of(example_db)
    assert before[601] - after[601] == 4_000  # 10.00 + 30.00, in fen
    assert "2 refused before reaching it" in result.stderr


def test_all_or_nothing_applies_nothing_when_a_line_is_bad(example_db: str) -> None:
    before = balances_of(example_db)
    head_before = verify(example_db).head_seq
    text = "\n".join([_transfer(301, "10.00"), _transfer(302, "1.001"), _transfer(303)])
    result = run("apply", "-", "--db", example_db, "--all-or-nothing", input=text)
    assert result.exit_code == cli.EXIT_LINES_REFUSED
    answers = json_lines(result.stdout)
    assert [a["result"] for a in answers] == ["not_applied", "refused", "not_applied"]
    assert balances_of(example_db) == before
    assert verify(example_db).head_seq == head_before


def test_all_or_nothing_goes_to_the_journal_as_one_entry(db: str) -> None:
    head_before = verify(db).head_seq
    result = run("apply", str(EXAMPLE), "--db", db, "--all-or-nothing")
    assert result.exit_code == 0, result.output
    assert all(r["status"] == "ACSC" for r in json_lines(result.stdout))
    assert verify(db).head_seq == head_before + 1


def test_network_rejections_are_results_not_errors(example_db: str) -> None:
    result = run("apply", "-", "--db", example_db, input=_transfer(401, "99999999.00"))
    assert result.exit_code == 0
    (answer,) = json_lines(result.stdout)
    assert answer["status"] == "RJCT" and answer["code"] == "AM04"
    assert answer["result"] == "insufficient_funds" and "field" not in answer


def test_apply_errors_have_exit_codes(tmp_path: Path, db: str) -> None:
    missing_file = run("apply", str(tmp_path / "nope.jsonl"), "--db", db)
    assert missing_file.exit_code == cli.EXIT_USAGE
    assert "no such file" in missing_file.stderr
    missing_db = run("apply", str(EXAMPLE), "--db", str(tmp_path / "nope.db"))
    assert missing_db.exit_code == cli.EXIT_NETWORK
    assert "interbank init" in missing_db.stderr
    not_a_journal = tmp_path / "text.db"
    not_a_journal.write_text("hello")
    wrong = run("apply", str(EXAMPLE), "--db", str(not_a_journal))
    assert wrong.exit_code == cli.EXIT_NETWORK
    assert "Traceback" not in wrong.output


# --- verify, replay, balances -----------------------------------------------------------------


def test_verify_replay_and_balances_agree(example_db: str) -> None:
    verified = run("verify", "--db", example_db, "--json")
    assert verified.exit_code == 0
    report = json.loads(verified.stdout)
    assert report["ok"] is True and report["problems"] == []
    replayed = json.loads(run("replay", "--db", example_db, "--json").stdout)
    assert replayed["digest"] == report["digest"]
    assert replayed["commands"] == report["commands"]
    from_snapshot = run("replay", "--db", example_db, "--from-snapshot", "--json")
    assert json.loads(from_snapshot.stdout)["digest"] == report["digest"]
    rows = json.loads(run("balances", "--db", example_db, "--json").stdout)
    by_currency: dict[str, int] = {}
    for row in rows:
        by_currency[row["currency"]] = by_currency.get(row["currency"], 0) + row["balance_minor"]
    assert set(by_currency.values()) == {0}  # double entry
    cny = json.loads(run("balances", "--db", example_db, "--json", "--currency", "cny").stdout)
    assert cny and {r["currency"] for r in cny} == {"CNY"}
    account_601 = next(r for r in rows if r["account_id"] == 601)
    assert account_601["credit_line"] == "50000.00"


def test_tables_are_printed_without_json(example_db: str) -> None:
    for name in ("verify", "replay", "balances"):
        result = run(name, "--db", example_db)
        assert result.exit_code == 0, result.output
    assert "YRCBCNSH" in run("balances", "--db", example_db).stdout
    assert "ok" in run("verify", "--db", example_db).stdout


def test_verify_finds_a_tampered_journal(example_db: str) -> None:
    with sqlite3.connect(example_db) as connection:
        seq, payload = connection.execute(
            "SELECT seq, payload FROM entries ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        tampered = bytes(payload[:-1]) + bytes([payload[-1] ^ 1])
        connection.execute("UPDATE entries SET payload = ? WHERE seq = ?", (tampered, seq))
    result = run("verify", "--db", example_db)
    assert result.exit_code == cli.EXIT_VERIFY_FAILED
    assert "FAILED" in result.stdout
    assert "Traceback" not in result.output


# --- demo -------------------------------------------------------------------------------------


def test_small_demo_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = run("demo", "--dir", str(folder), "--payments", "5000", "--seed", "3", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["payments"] == 5000
    assert figures["settled"] + figures["rejected"] + figures["replayed"] == 5000
    assert figures["settled"] > 4000
    assert len(figures["rejected_by_reason"]) >= 3
    assert set(figures["settled_by_currency"]) == {"CNY", "RUB", "INR", "BRL", "ZAR"}
    for currency in figures["settled_by_currency"].values():
        assert isinstance(currency["value"], str) and "." in currency["value"]
    assert figures["payments_per_s"] > 0
    assert figures["verify"]["ok"] is True
    db = str(folder / "interbank.db")
    assert verify(db).ok
    engine, _ = replay(db)
    assert set(engine.totals_by_currency().values()) == {0}
    # The demo folder is not overwritten.
    again = run("demo", "--dir", str(folder), "--payments", "10")
    assert again.exit_code == cli.EXIT_USAGE


def test_demo_prints_its_summary_tables(tmp_path: Path) -> None:
    result = run("demo", "--dir", str(tmp_path / "d"), "--payments", "3000")
    assert result.exit_code == 0, result.output
    for text in ("Settled by currency", "Rejected by reason code", "payments/s", "verify: ok"):
        assert text in result.stdout


def test_internal_errors_are_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import interbank.sim

    def broken(seed: int) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(interbank.sim, "demo_network", broken)
    result = run("demo", "--dir", str(tmp_path / "d"), "--payments", "10")
    assert result.exit_code == cli.EXIT_INTERNAL
    assert "internal error: RuntimeError: boom" in result.stderr
    assert "Traceback" not in result.output


# --- bench ------------------------------------------------------------------------------------


def test_bench_runs_the_benchmark_module(monkeypatch: pytest.MonkeyPatch) -> None:
    from interbank import benchmark

    measure = benchmark.measure

    def tiny(quick: bool = False, pg_url: str | None = None, progress: Any = None) -> Any:
        return measure(quick, pg_url, progress, config=benchmark.TINY)

    monkeypatch.setattr(benchmark, "measure", tiny)
    monkeypatch.setenv("INTERBANK_BENCH_PG", "postgresql://nobody@127.0.0.1:1/none")
    result = run("bench", "--quick", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert tuple(figures) == benchmark.FIGURE_KEYS


# --- the installed script ---------------------------------------------------------------------


def test_the_console_script_runs_apply_end_to_end(tmp_path: Path) -> None:
    db = str(tmp_path / "script.db")
    env = {**os.environ, "INTERBANK_DB": db}
    command = [sys.executable, "-c", "from interbank.cli import main; main()"]
    init = subprocess.run([*command, "init"], env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    applied = subprocess.run(
        [*command, "apply", str(EXAMPLE)], env=env, capture_output=True, text=True
    )
    assert applied.returncode == 0, applied.stderr
    assert all(r["status"] == "ACSC" for r in json_lines(applied.stdout))
    refused = subprocess.run(
        [*command, "apply", "-"], env=env, input="{oops\n", capture_output=True, text=True
    )
    assert refused.returncode == cli.EXIT_LINES_REFUSED
    assert "Traceback" not in refused.stderr
