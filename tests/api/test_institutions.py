"""The reserve pool, development bank and credit agency through the API: what each
route answers to the roles that use it (the refusals are in test_authorisation.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from interbank.api.service import Service

from .conftest import AS, BANK_A
from .institutions_world import build_institutions


@pytest.fixture
def world(service: Service, client: TestClient) -> Iterator[TestClient]:
    assert service.gateway.db is not None
    build_institutions(service.gateway.db)
    yield client


def test_reserve_reads(world: TestClient) -> None:
    book = world.get("/v1/reserve/rulebook", headers=AS["auditor"]).json()
    assert book["reserve_currency"] == "USD"
    assert {m["member"] for m in book["members"]} == {"CN", "BR", "RU", "IN", "ZA"}
    member = world.get("/v1/reserve/members/CN", headers=AS["central"]).json()
    assert member["bic"] == "JDRBCNBJ"
    assert [d["request_id"] for d in member["drawings"]] == ["R-0001"]
    assert member["in_use"] == "1000000000.00"
    drawing = world.get("/v1/reserve/drawings/R-0002", headers=AS["central"]).json()
    assert (drawing["member"], drawing["status"]) == ("BR", "pending")
    assert world.get("/v1/reserve/drawings/R-0099", headers=AS["op-alice"]).status_code == 404


def test_reserve_request_and_vote(world: TestClient) -> None:
    made = world.post("/v1/reserve/drawings", headers=AS["central"],
                      json={"amount": "500000000.00", "on": "2025-01-03"})  # fmt: skip
    assert made.status_code == 201, made.text
    assert (made.json()["request_id"], made.json()["member"]) == ("R-0003", "CN")
    voted = world.post("/v1/reserve/drawings/R-0002/votes", headers=AS["central"],
                       json={"approve": True, "on": "2025-01-03"})  # fmt: skip
    assert voted.status_code == 200, voted.text
    assert voted.json()["votes"][0]["member"] == "CN"
    again = world.post("/v1/reserve/drawings/R-0002/votes", headers=AS["central"],
                       json={"approve": False, "on": "2025-01-03"})  # fmt: skip
    assert again.status_code == 422 and again.json()["error"]["code"] == "DUPL"
    over = world.post("/v1/reserve/drawings", headers=AS["central"],
                      json={"amount": "99000000000.00", "on": "2025-01-03"})  # fmt: skip
    assert over.status_code == 422 and over.json()["error"]["code"] == "AM02"


def test_lending_reads_and_cancel(world: TestClient) -> None:
    schedule = world.get("/v1/lending/loans/L-A/schedule?on=2024-06-01", headers=AS["bank-a"])
    assert schedule.status_code == 200, schedule.text
    assert schedule.json()["currency"] == "CNY" and schedule.json()["rows"]
    csv = world.get("/v1/lending/loans/L-A/schedule?format=csv", headers=AS["bank-a"])
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("period,due_on,status")
    statement = world.get("/v1/lending/loans/L-A/statement", headers=AS["auditor"])
    assert statement.json() == {"loan_id": "L-A", "currency": "CNY", "rows": []}
    own = world.get("/v1/lending/portfolio", headers=AS["bank-a"]).json()["loans"]
    assert [row["loan_id"] for row in own] == ["L-A"]
    every = world.get("/v1/lending/portfolio", headers=AS["auditor"]).json()["loans"]
    assert {row["loan_id"] for row in every} == {"L-A", "L-C", "L-O"}
    cancelled = world.post("/v1/lending/loans/L-O/cancel", headers=AS["op-alice"],
                           json={"amount": "400000.00", "on": "2024-01-02"})  # fmt: skip
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["undisbursed"] == "99600000.00"
    too_much = world.post("/v1/lending/loans/L-O/cancel", headers=AS["op-alice"],
                          json={"amount": "99600000.01", "on": "2024-01-02"})  # fmt: skip
    assert too_much.status_code == 422 and too_much.json()["error"]["code"] == "AM02"


def test_ratings(world: TestClient) -> None:
    current = world.get(f"/v1/ratings/{BANK_A}", headers=AS["bank-a"])
    assert current.status_code == 200, current.text
    assert current.json()["grade"] and current.json()["bic"] == BANK_A
    history = world.get(f"/v1/ratings/{BANK_A}/history", headers=AS["op-alice"]).json()
    assert [r["decision_seq"] for r in history["ratings"]] == [current.json()["decision_seq"]]
    assert world.get("/v1/ratings/JDRBCNBJ", headers=AS["central"]).status_code == 404


def test_no_stores_is_404(client: TestClient) -> None:
    for url in ("/v1/reserve/rulebook", "/v1/lending/portfolio", f"/v1/ratings/{BANK_A}"):
        assert client.get(url, headers=AS["auditor"]).status_code == 404
