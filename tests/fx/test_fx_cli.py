"""``interbank fx ...`` and cross-currency payments through ``apply`` and the demo.

One demo network (``init --demo-network``: three FX providers and their quotes) is
built once for the module; tests that change it work on a copy of its file.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from interbank.cli import app
from interbank.node import replay, verify

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "reference-rates.csv"
runner = CliRunner()

# Accounts of the demo network (seed 1): Volga Trade Bank in RUB and INR, Yellow River
# Commercial Bank in CNY, Banco Amazonia Sul in BRL.
VOLGA_RUB, VOLGA_INR, YELLOW_CNY, AMAZONIA_BRL = 1102, 1103, 601, 2104


def run(*args: str, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fx") / "demo.db"
    result = run("init", "--demo-network", "--db", str(path))
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def demo_db(demo_db_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "demo.db"
    shutil.copy(demo_db_template, target)
    for suffix in ("-wal", "-shm"):
        extra = Path(str(demo_db_template) + suffix)
        if extra.exists():
            shutil.copy(extra, str(target) + suffix)
    return str(target)


def balances(db: str) -> dict[int, int]:
    engine, _ = replay(db)
    return {a.account_id: a.balance_minor for a in engine.accounts()}


def price_json(db: str, *args: str) -> dict[str, Any]:
    result = run("fx", "price", "--db", db, "--rates", str(SAMPLE), "--json", *args)
    assert result.exit_code == 0, result.output
    value: dict[str, Any] = json.loads(result.stdout)
    return value


# --- rates ------------------------------------------------------------------------------------


def test_rates_prints_the_sample_and_refuses_a_bad_file_with_every_problem(tmp_path: Path) -> None:
    result = run("fx", "rates", str(SAMPLE), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["dates"] == ["2026-11-25", "2026-11-26", "2026-11-27"]
    assert {"date": "2026-11-27", "pair": "USD/CNY", "rate": "7.1875"} in figures["rates"]
    one_day = json.loads(run("fx", "rates", str(SAMPLE), "--date", "2026-11-26", "--json").stdout)
    assert {r["date"] for r in one_day["rates"]} == {"2026-11-26"}
    text = run("fx", "rates", str(SAMPLE))
    assert "25 rates on 3 dates" in text.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("date,pair,rate\n2026-01-02,USD/CNY,0\n2026-02-30,USD/RUB,99\n")
    refused = run("fx", "rates", str(bad))
    assert refused.exit_code == 2
    assert "FF01" in refused.stderr and "line 2 field rate" in refused.stderr
    assert "and 1 more" in refused.stderr
    assert "Traceback" not in refused.output


# --- quotes: list, publish, withdraw ----------------------------------------------------------


def test_the_demo_networks_quotes_are_listed_against_the_reference(demo_db: str) -> None:
    result = run("fx", "quotes", "--db", demo_db, "--rates", str(SAMPLE), "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 18 and all(r["valid"] for r in rows)
    steppe = [r for r in rows if r["provider_bic"] == "STPXRUMM" and r["pair"] == "RUB/CNY"]
    # Steppe quotes the reference less its 20 bp spread, rounded down in its favour.
    assert [r["markup_bp"] for r in steppe] == ["20.00"]
    assert all(isinstance(r["quote_id"], str) for r in rows)  # large ids as UUIDs


def test_publish_price_and_withdraw_a_quote(demo_db: str) -> None:
    published = run(
        "fx", "quote", "--db", demo_db, "--provider", "MRDNCNSH", "--from", "RUB", "--to", "INR",
        "--rate", "0.85", "--min", "100.00", "--max", "1000000.00", "--fee", "5.00", "--id", "77",
        "--json",
    )  # fmt: skip
    assert published.exit_code == 0, published.output
    assert json.loads(published.stdout)["status"] == "ACSC"
    price = price_json(
        demo_db, "--from", str(VOLGA_RUB), "--to", str(VOLGA_INR), "--amount", "1000.00",
        "--currency", "RUB", "--quote", "77",
    )  # fmt: skip
    # (1000.00 - 5.00) RUB * 0.85 = 845.75 INR
    assert (price["amount_out"], price["currency_out"]) == ("845.75", "INR")
    assert price["fees"] == [{"quote_id": 77, "fee": "5.00", "currency": "RUB", "fee_minor": 500}]
    assert price["conversions"][0]["rate"] == "0.85"
    assert price["quote_ids"] == [77]
    refused = run("fx", "withdraw", "77", "--by", "STPXRUMM", "--db", demo_db)
    assert refused.exit_code == 1
    assert run("fx", "withdraw", "77", "--by", "MRDNCNSH", "--db", demo_db).exit_code == 0
    gone = run("fx", "price", "--db", demo_db, "--from", str(VOLGA_RUB), "--to", str(VOLGA_INR),
               "--amount", "1000.00", "--currency", "RUB", "--quote", "77")  # fmt: skip
    assert gone.exit_code == 1 and "NARR" in gone.stderr


@pytest.mark.parametrize(
    ("changes", "exit_code", "reason"),
    [
        ({"--rate": "0"}, 2, "FF01"),
        ({"--rate": "-1"}, 2, "FF01"),
        ({"--min": "1.001"}, 2, "CH20"),
        ({"--to": "EUR"}, 1, "AM03"),  # a currency the network does not hold
        ({"--provider": "YRCBCNSH"}, 1, "AC01"),  # no accounts in both currencies
        ({"--min": "10.00", "--max": "5.00"}, 1, "FF01"),
    ],
)
def test_bad_quotes_from_the_command_line(
    demo_db: str, changes: dict[str, str], exit_code: int, reason: str
) -> None:
    options = {"--provider": "MRDNCNSH", "--from": "RUB", "--to": "INR", "--rate": "0.85",
               "--min": "100.00", "--max": "1000.00"}  # fmt: skip
    options.update(changes)
    args = [item for pair in options.items() for item in pair]
    before = balances(demo_db)
    result = run("fx", "quote", "--db", demo_db, *args)
    assert result.exit_code == exit_code, result.output
    assert reason in result.stderr
    assert balances(demo_db) == before


# --- price --------------------------------------------------------------------------------------


def test_price_picks_the_best_route_and_shows_every_fee_and_the_deviation(demo_db: str) -> None:
    direct = price_json(demo_db, "--from", str(VOLGA_RUB), "--to", str(YELLOW_CNY),
                        "--amount", "100000.00", "--currency", "RUB")  # fmt: skip
    # Steppe (0.072161966, no fee) beats Meridian (0.07208966, fee 90 RUB) on RUB/CNY:
    # 100000.00 RUB * 0.072161966 = 7216.1966 -> 7216.19 CNY
    assert direct["amount_out"] == "7216.19"
    assert [c["provider_bic"] for c in direct["conversions"]] == ["STPXRUMM"]
    assert direct["conversions"][0]["markup_bp"] == "20.00"
    assert direct["reference"]["how"] == "inverse" and direct["reference"]["pairs"] == ["CNY/RUB"]
    assert direct["cost"] == "14.46"  # 100000 / 13.83 = 7230.65 CNY at the reference
    via = price_json(demo_db, "--from", str(VOLGA_RUB), "--to", str(AMAZONIA_BRL),
                     "--amount", "250000.00", "--currency", "RUB")  # fmt: skip
    # No RUB/BRL quote: through CNY, Steppe then Meridian (three legs).
    assert [c["provider_bic"] for c in via["conversions"]] == ["STPXRUMM", "MRDNCNSH"]
    assert len(via["legs"]) == 3
    assert [f["fee"] for f in via["fees"]] == ["0.00", "7.00"]
    first, second = via["conversions"]
    assert second["amount_from"] == first["amount_to"]
    assert via["legs"][-1]["amount"] == via["amount_out"]
    text = run("fx", "price", "--db", demo_db, "--from", str(VOLGA_RUB), "--to",
               str(AMAZONIA_BRL), "--amount", "250000.00", "--currency", "RUB",
               "--rates", str(SAMPLE))  # fmt: skip
    assert text.exit_code == 0
    for words in ("you send", "receiver gets", "all-in rate", "reference rate", "cost", "legs"):
        assert words in text.stdout


@pytest.mark.parametrize(
    ("args", "exit_code", "reason"),
    [
        (("--amount", "1.00", "--currency", "CNY"), 2, "AM03"),  # not the account's currency
        (("--amount", "1.001", "--currency", "RUB"), 2, "CH20"),
        (("--amount", "1.00", "--currency", "RUB", "--quote", "12345"), 1, "NARR"),
        (("--amount", "1.00", "--currency", "RUB", "--quote", "x"), 2, "FF01"),
        (("--amount", "0.00", "--currency", "RUB"), 1, "AM01"),
    ],
)
def test_price_refusals(demo_db: str, args: tuple[str, ...], exit_code: int, reason: str) -> None:
    result = run("fx", "price", "--db", demo_db, "--from", str(VOLGA_RUB), "--to",
                 str(YELLOW_CNY), *args)  # fmt: skip
    assert result.exit_code == exit_code, result.output
    assert reason in result.stderr
    assert "Traceback" not in result.output


# --- apply and the demo ---------------------------------------------------------------------------


def test_a_cross_payment_through_apply_settles_and_a_resend_is_replayed(demo_db: str) -> None:
    before = balances(demo_db)
    line = json.dumps({"type": "cross_payment", "id": 501, "debit_account_id": VOLGA_RUB,
                       "credit_account_id": YELLOW_CNY, "amount": "100000.00",
                       "currency": "RUB"})  # fmt: skip
    first = run("apply", "-", "--db", demo_db, input=line + "\n")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["status"] == "ACSC"
    after = balances(demo_db)
    assert after[VOLGA_RUB] == before[VOLGA_RUB] - 100_000_00
    assert after[YELLOW_CNY] == before[YELLOW_CNY] + 7216_19
    again = run("apply", "-", "--db", demo_db, input=line + "\n")
    assert json.loads(again.stdout)["replayed"] is True
    assert balances(demo_db) == after
    assert verify(demo_db).ok


def test_the_demo_day_includes_cross_currency_payments_and_verifies(tmp_path: Path) -> None:
    result = run("demo", "--dir", str(tmp_path / "d"), "--payments", "4000", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    cross = figures["cross_currency"]
    assert cross["payments"] > 50
    assert (
        cross["settled"] + cross["waiting"] + sum(cross["rejected_later"].values())
        <= cross["payments"]
    )
    pairs = cross["by_pair"]
    assert len(pairs) >= 8 and sum(p["count"] for p in pairs.values()) == cross["settled"]
    assert any(p["via_reference"] for p in pairs.values())
    for name, pair in pairs.items():
        code_in, code_out = name.split("/")
        assert code_in != code_out and pair["value_in_minor"] > 0 and pair["value_out_minor"] > 0
    assert figures["verify"]["ok"] is True
    assert (
        figures["settled"] + figures["rejected"] + figures["replayed"] + cross["waiting"]
        == (figures["payments"])
    )
    text = run("demo", "--dir", str(tmp_path / "e"), "--payments", "4000")
    assert "Cross-currency payments (PvP) by pair" in text.stdout
