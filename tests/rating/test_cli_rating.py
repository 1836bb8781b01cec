"""``interbank rating ...`` end to end: keys, store, load, propose, vote, decide with
enforcement in a real network, show, report, verify; errors as one line and a code."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from interbank.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rating"
runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, ["rating", *args], catch_exceptions=False)


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    found = {}
    for who in ("admin", "ana", "m1", "m2", "m3"):
        path = tmp_path / f"{who}.pem"
        result = run("keygen", str(path))
        assert result.exit_code == 0, result.output
        found[who] = (path, result.output.strip())
    return found


def _network(tmp_path: Path) -> str:
    from interbank.engine import AccountKind, Issue, OpenAccount, RegisterParticipant, Role
    from interbank.node import Node

    db = str(tmp_path / "net.db")
    with Node.open(db, create=True) as node:
        results = node.submit(
            [
                RegisterParticipant(1, "JDRBCNBJ", "Jade Reserve Bank", Role.CENTRAL_BANK, "CNY"),
                RegisterParticipant(2, "YRCBCNSH", "Yellow River Commercial Bank", Role.DIRECT),
                OpenAccount(3, 1, "JDRBCNBJ", "CNY", AccountKind.ISSUANCE),
                OpenAccount(4, 10, "YRCBCNSH", "CNY"),
                Issue(5, 10, 10_000),
            ]
        )
        assert all(r.ok for r in results)
    return db


def test_the_whole_workflow(tmp_path: Path, keys: dict[str, tuple[Path, str]]) -> None:
    agency = str(tmp_path / "agency.db")
    a = ["--agency", agency]
    assert run("init", "--admin-key", str(keys["admin"][0]), *a).exit_code == 0
    for who, role in (
        ("ana", "analyst"),
        ("m1", "committee"),
        ("m2", "committee"),
        ("m3", "committee"),
    ):
        result = run(
            "add-rater", who, "--public-key", keys[who][1], "--role", role, "--name", who.upper(),
            "--admin-key", str(keys["admin"][0]), *a,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    assert run("load", str(EXAMPLES / "financials.csv"), "--check").exit_code == 0
    result = run("load", str(EXAMPLES / "financials.json"), "--key", str(keys["ana"][0]), *a)
    assert result.exit_code == 0 and "recorded 2 report(s)" in result.output
    result = run("propose", "YRCBCNSH", "--key", str(keys["ana"][0]), "--json", *a)
    assert result.exit_code == 0, result.output
    proposal = json.loads(result.output)
    assert proposal["grade"] == "BB" and proposal["outlook"] == "negative"
    seq = str(proposal["proposal_seq"])
    for who in ("m1", "m2", "m3"):
        assert run("vote", seq, "--approve", "--key", str(keys[who][0]), *a).exit_code == 0
    db = _network(tmp_path)
    result = run(
        "decide", seq, "--key", str(keys["m1"][0]), "--effective-on", "2026-01-05", "--db", db,
        "--collateral", str(EXAMPLES / "collateral.json"), "--json", *a,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    (account,) = decision["enforcement"]["accounts"]
    # BB: cap 0.40 x 1,000.00 = 400.00 < 995.00 of collateral after haircuts.
    assert account["line_set_minor"] == 40_000 and account["reason"] == "OK"

    shown = json.loads(run("show", "YRCBCNSH", "--json", *a).output)
    assert [r["grade"] for r in shown["ratings"]] == ["BB"]
    page = tmp_path / "report.html"
    assert run("report", "YRCBCNSH", "--out", str(page), *a).exit_code == 0
    assert "<svg" in page.read_text()
    result = run("verify", "--db", db, *a)
    assert result.exit_code == 0 and "check" in result.output

    # A vote changed behind the agency's back is found, with its record number.
    store = sqlite3.connect(agency)
    store.execute("UPDATE records SET body = replace(body, 'true', 'false') WHERE kind = 'vote'")
    store.commit()
    store.close()
    result = run("verify", *a)
    assert result.exit_code == 4 and "signature does not verify" in result.output


def test_workflow_refusal_and_bad_files(tmp_path: Path, keys: dict[str, tuple[Path, str]]) -> None:
    agency = str(tmp_path / "agency.db")
    assert run("init", "--admin-key", str(keys["admin"][0]), "--agency", agency).exit_code == 0
    result = run("propose", "YRCBCNSH", "--key", str(keys["admin"][0]), "--agency", agency)
    assert result.exit_code == 1 and "no financials" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"bic": "YRCBCNSH", "reporting_date": "2025-12-31", "currency": "CNY"})
    )
    result = run("load", str(bad), "--check")
    assert result.exit_code == 2
    assert "bank YRCBCNSH, 2025-12-31, field tangible_common_equity: missing" in result.output
    assert run("show", "--agency", str(tmp_path / "none.db")).exit_code == 3


def test_score_and_method_need_no_store() -> None:
    result = run("score", str(EXAMPLES / "financials.csv"), "--json")
    assert result.exit_code == 0, result.output
    (card,) = json.loads(result.output)
    assert card["grade"] == "A-" and card["score"] == "73.7500"
    method = json.loads(run("method", "--json").output)
    assert method["version"] == "1" and len(method["grades"]) == 22
