"""``interbank iso validate|submit|statement|track``: answers, --json, exit codes, and
bad input as reason codes on one line, never a traceback."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from interbank import cli
from interbank.cli import app
from interbank.iso20022 import build

from .conftest import BANK_A, BANK_B, new_uetr, shared_iso20022

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "demo-commands.jsonl"
runner = CliRunner()


def run(*args: str, input: str | bytes | None = None) -> Any:
    result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
    assert "Traceback" not in result.output, result.output
    return result


def pacs008(path: Path, uetr: str, amount: str = "12.34", msg_id: str = "CLI-1") -> Path:
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payment = build.Payment(uetr, "E2E-CLI", amount, "CNY", BANK_A, BANK_B)
    path.write_bytes(
        build.credit_transfer(sender=BANK_A, message_id=msg_id, created=created, payments=[payment])
    )
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    """The example network (YRCBCNSH and PDBKCNGZ with funded CNY accounts)."""
    path = str(tmp_path / "net.db")
    assert run("init", "--db", path).exit_code == 0
    applied = run("apply", str(EXAMPLE), "--db", path)
    assert applied.exit_code == 0, applied.output
    return path


def test_iso_help_lists_its_subcommands() -> None:
    result = run("iso", "--help")
    assert result.exit_code == 0
    for name in ("validate", "submit", "statement", "track"):
        assert name in result.output
        assert run("iso", name, "--help").exit_code == 0


# --- validate ---------------------------------------------------------------------------


def test_validate_a_good_message(tmp_path: Path) -> None:
    good = pacs008(tmp_path / "good.xml", new_uetr())
    result = run("iso", "validate", str(good))
    assert result.exit_code == 0
    assert "VALID" in result.stdout and "pacs.008.001.08" in result.stdout
    report = json.loads(run("iso", "validate", str(good), "--rules", "--json").stdout)
    assert report["valid"] is True and report["reasons"] == []
    assert report["message"] == "pacs.008.001.08" and report["header"] == "head.001.001.02"
    assert report["checks"][-1] == "rules"


def test_validate_with_the_schemas(tmp_path: Path) -> None:
    folder = shared_iso20022()
    if folder is None:
        pytest.skip("../shared/iso20022 is not here")
    good = pacs008(tmp_path / "good.xml", new_uetr())
    report = json.loads(
        run("iso", "validate", str(good), "--schemas", str(folder / "xsd/iso"), "--json").stdout
    )
    assert report["valid"] and "schema" in report["checks"]
    missing = run("iso", "validate", str(good), "--schemas", str(folder / "nope"))
    assert missing.exit_code == cli.EXIT_USAGE and "schema folder" in missing.stderr


def test_validate_bad_files_answer_reason_codes(tmp_path: Path) -> None:
    good = pacs008(tmp_path / "good.xml", new_uetr())
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<Document><unclosed></Document>")
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><Document>&x;</Document>')
    decimals = pacs008(tmp_path / "decimals.xml", new_uetr(), amount="1.001")
    result = run(
        "iso", "validate", str(good), str(broken), str(bomb), str(decimals), "--rules", "--json"
    )
    assert result.exit_code == cli.EXIT_LINES_REFUSED
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["valid"] for r in reports] == [True, False, False, False]
    assert [r["reasons"][0]["code"] for r in reports[1:]] == ["FF02", "FF01", "CH20"]
    text = run("iso", "validate", str(broken))
    assert text.exit_code == cli.EXIT_LINES_REFUSED and "FF02" in text.stdout


def test_validate_reads_stdin_and_refuses_a_missing_file(tmp_path: Path) -> None:
    good = pacs008(tmp_path / "good.xml", new_uetr())
    assert run("iso", "validate", "-", input=good.read_bytes()).exit_code == 0
    missing = run("iso", "validate", str(tmp_path / "nope.xml"))
    assert missing.exit_code == cli.EXIT_USAGE and "cannot read" in missing.stderr


# --- submit -----------------------------------------------------------------------------


def test_submit_settles_and_prints_the_pacs002(db: str, tmp_path: Path) -> None:
    uetr = new_uetr()
    result = run("iso", "submit", str(pacs008(tmp_path / "p.xml", uetr)), "--db", db)
    assert result.exit_code == 0, result.output
    assert "<TxSts>ACSC</TxSts>" in result.stdout and uetr in result.stdout
    assert "pacs.002 ACSC" in result.stderr
    again = run("iso", "submit", str(tmp_path / "p.xml"), "--db", db, "--json")
    answer = json.loads(again.stdout)
    assert again.exit_code == 0
    assert (answer["kind"], answer["status"], answer["reasons"]) == ("pacs.002", "ACSC", [])
    assert "<TxSts>ACSC</TxSts>" in answer["xml"]


def test_submit_refusals_have_codes_and_exit_codes(db: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"\x00 not xml")
    refused = run("iso", "submit", str(broken), "--db", db, "--json")
    assert refused.exit_code == cli.EXIT_LINES_REFUSED
    answer = json.loads(refused.stdout)
    assert (answer["kind"], answer["status"]) == ("admi.002", "FF02")
    # Transactions refused inside a readable message: exit 0, the reasons in the answer.
    poor = pacs008(tmp_path / "poor.xml", new_uetr(), amount="99999999.00", msg_id="CLI-2")
    pending = json.loads(run("iso", "submit", str(poor), "--db", db, "--json").stdout)
    assert pending["status"] == "PDNG"  # more than the payer holds: it waits
    missing_file = run("iso", "submit", str(tmp_path / "nope.xml"), "--db", db)
    assert missing_file.exit_code == cli.EXIT_USAGE
    no_network = tmp_path / "none.db"
    missing_db = run("iso", "submit", str(poor), "--db", str(no_network))
    assert missing_db.exit_code == cli.EXIT_NETWORK and "interbank init" in missing_db.stderr
    assert not Path(str(no_network) + ".views").exists()  # nothing left behind


# --- statement and track ----------------------------------------------------------------


def test_statement_lists_the_day_s_entries(db: str, tmp_path: Path) -> None:
    uetr = new_uetr()
    assert run("iso", "submit", str(pacs008(tmp_path / "p.xml", uetr)), "--db", db).exit_code == 0
    today = dt.datetime.now(dt.UTC).date().isoformat()
    result = run("iso", "statement", BANK_B, "CNY", "--date", today, "--db", db)
    assert result.exit_code == 0, result.output
    assert "camt.053.001.08" in result.stdout and f"<UETR>{uetr}</UETR>" in result.stdout
    bad_date = run("iso", "statement", BANK_B, "CNY", "--date", "28/11/2026", "--db", db)
    assert bad_date.exit_code == cli.EXIT_USAGE and "DT01" in bad_date.stderr
    no_account = run("iso", "statement", BANK_B, "JPY", "--date", today, "--db", db)
    assert no_account.exit_code == cli.EXIT_LINES_REFUSED and "AC01" in no_account.stderr


def test_track_shows_the_journaled_hash_and_catches_tampering(db: str, tmp_path: Path) -> None:
    uetr = new_uetr()
    message = pacs008(tmp_path / "p.xml", uetr)
    submitted = json.loads(run("iso", "submit", str(message), "--db", db, "--json").stdout)
    result = run("iso", "track", uetr.upper(), "--db", db)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[2] for line in lines] == ["received", "journaled", "settled"]
    assert "bytes match the SHA-256 in journal entry" in lines[1]
    steps = json.loads(run("iso", "track", uetr, "--db", db, "--json").stdout)
    journaled = next(s for s in steps if s["event"] == "journaled")
    assert journaled["sha256"] == submitted["sha256"] and journaled["evidence"]["intact"]
    unknown = run("iso", "track", new_uetr(), "--db", db)
    assert unknown.exit_code == cli.EXIT_LINES_REFUSED and "NARR" in unknown.stderr
    with sqlite3.connect(db + ".views") as connection:
        connection.execute(
            "UPDATE messages SET bytes = ? WHERE sha256 = ?",
            (message.read_bytes().replace(b"12.34", b"92.34"), submitted["sha256"]),
        )
    tampered = run("iso", "track", uetr, "--db", db)
    assert tampered.exit_code == cli.EXIT_VERIFY_FAILED
    assert "altered" in tampered.stderr and "altered" in tampered.stdout
