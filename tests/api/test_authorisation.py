# The table of cases reads best with each request on one line, however long.
# ruff: noqa: E501
"""Every endpoint x every role x own/other data: what is not meant to work is refused
with 403 and logged; what is meant to work is not refused.

"Own" data is the caller's (its account, its payment, its currency; for an operator
deciding a proposal, one it made itself); "other" data is another participant's. For
operators and auditors, who own no accounts, both variants read bank A's data.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from interbank.api.service import Service
from interbank.engine.commands import Issue, OpenAccount, Payment
from interbank.iso20022 import build

from .conftest import ACCOUNT_A, ACCOUNT_B, ACCOUNT_CB, AS, BANK_A, BANK_B, CB
from .institutions_world import build_institutions

ROLES = ("bank-a", "central", "op-alice", "auditor")
ACCOUNT_A_USD = 602
# The data each paying role calls its own, and someone else's.
OWN_ACCOUNT = {"bank-a": ACCOUNT_A, "central": ACCOUNT_CB}
OTHER_ACCOUNT = {"bank-a": ACCOUNT_CB, "central": ACCOUNT_A}
OWNER_BIC = {"bank-a": BANK_A, "central": CB}
OTHER_BIC = {"bank-a": CB, "central": BANK_A}


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class World:
    """Payments and proposals the cases point at, made before the walk."""

    settled: dict[str, str]  # owner role -> UETR of a settled payment it sent
    waiting: dict[tuple[str, str], str]  # (action, owner role) -> UETR of a waiting one
    proposals: dict[tuple[str, str], str]  # (decision, maker holder) -> proposal id


def build_world(service: Service, client: TestClient) -> World:
    service.node.submit([
        OpenAccount(20, ACCOUNT_A_USD, BANK_A, "USD"),
        Issue(21, ACCOUNT_CB, 10_000_000),
    ])  # fmt: skip
    settled = {}
    for role, debit in (("bank-a", ACCOUNT_A), ("central", ACCOUNT_CB)):
        uetr = new_id()
        results = service.node.submit([Payment(uuid.UUID(uetr).int, debit, ACCOUNT_B, 100)])
        assert results[0].ok
        service.views.archive([], payments=[service.payment_record(
            uuid.UUID(uetr).int, service.read_now(lambda e, d=debit: _info(service, e, d)),
            None, 100, "0" * 64)])  # fmt: skip
        settled[role] = uetr
    waiting = {}
    for action in ("cancel", "priority", "move"):
        for role in ("bank-a", "central"):
            body = {"id": new_id(), "debit_account_id": OWN_ACCOUNT[role],
                    "credit_account_id": ACCOUNT_B, "amount_minor": 10**15}  # fmt: skip
            answer = client.post("/v1/payments", json=body, headers=AS[role])
            assert answer.json()["status"] == "PDNG", answer.text
            waiting[(action, role)] = body["id"]
    build_institutions(service.gateway.db)
    proposals = {}
    for decision in ("approve", "reject"):
        for holder in ("op-alice", "op-bob"):
            body = {"type": "suspend_participant", "id": new_id(), "bic": BANK_B}
            answer = client.post("/v1/operator/proposals", json=body, headers=AS[holder])
            assert answer.status_code == 202, answer.text
            proposals[(decision, holder)] = answer.json()["proposal_id"]
    return World(settled, waiting, proposals)


def _info(service: Service, engine: Any, account_id: int) -> Any:
    info = service.remember_account(engine, account_id)
    assert info is not None
    return info


def iso_message(sender: str, debit_bic: str) -> bytes:
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payment = build.Payment(new_id(), "E2E-1", "1.00", "CNY", debit_bic, BANK_B)
    return build.credit_transfer(
        sender=sender, message_id=f"M{uuid.uuid4().hex[:16]}", created=created,
        payments=[payment],
    )  # fmt: skip


# A case: (role, own) -> (method, url, json body or bytes); and who may.
Request = tuple[str, str, Any]
PAY = frozenset({("bank-a", True), ("central", True)})
READ = PAY | {(r, o) for r in ("op-alice", "auditor") for o in (True, False)}
CENTRAL_ONLY = frozenset({("central", True)})
OPERATOR = frozenset({("op-alice", True), ("op-alice", False)})
OVERSIGHT = OPERATOR | {("auditor", True), ("auditor", False)}
EVERYONE = frozenset((r, o) for r in ROLES for o in (True, False))
OTHERS_PROPOSAL = frozenset({("op-alice", False)})
RESERVE = OVERSIGHT | {("central", True), ("central", False)}
RESERVE_OWN = OVERSIGHT | {("central", True)}
# The loans of the institutions' world: bank A's, the central bank's.
OWN_LOAN = {"bank-a": "L-A", "central": "L-C"}
OTHER_LOAN = {"bank-a": "L-C", "central": "L-A"}


def _account(role: str, own: bool) -> int:
    if role not in OWN_ACCOUNT:
        return ACCOUNT_A
    return OWN_ACCOUNT[role] if own else OTHER_ACCOUNT[role]


def _payer(role: str) -> int:
    return OWN_ACCOUNT.get(role, ACCOUNT_A)


def _settled(world: World, role: str, own: bool) -> str:
    if role not in OWN_ACCOUNT:
        return world.settled["bank-a"]
    return (
        world.settled[role] if own else world.settled["central" if role == "bank-a" else "bank-a"]
    )


def _waiting(world: World, action: str, role: str, own: bool) -> str:
    if role not in OWN_ACCOUNT:
        return world.waiting[(action, "bank-a")]
    owner = role if own else ("central" if role == "bank-a" else "bank-a")
    return world.waiting[(action, owner)]


def _loan(role: str, own: bool) -> str:
    return (OWN_LOAN if own else OTHER_LOAN).get(role, "L-A")


def _bic(role: str, own: bool) -> str:
    return (OWNER_BIC if own else OTHER_BIC).get(role, BANK_A)


def _transfer(role: str, own: bool) -> dict[str, Any]:
    return {"id": new_id(), "debit_account_id": _account(role, own),
            "credit_account_id": ACCOUNT_B, "amount_minor": 1}  # fmt: skip


CASES: dict[str, tuple[Callable[[World, str, bool], Request], frozenset[tuple[str, bool]]]] = {
    "post transfer": (lambda w, r, o: ("POST", "/v1/transfers", _transfer(r, o)), PAY),
    "post payment": (lambda w, r, o: ("POST", "/v1/payments", _transfer(r, o)), PAY),
    "post batch": (
        lambda w, r, o: ("POST", "/v1/batches", {"commands": [{"type": "transfer", **_transfer(r, o)}]}),
        PAY,
    ),
    "post liquidity transfer": (
        lambda w, r, o: ("POST", "/v1/liquidity-transfers", {
            "id": new_id(), "debit_account_id": _payer(r),
            "credit_account_id": (ACCOUNT_A_USD if r == "bank-a" else 100) if o else ACCOUNT_B,
            "amount_minor": 1}),
        PAY,
    ),
    "post issue": (
        lambda w, r, o: ("POST", "/v1/central-bank/issue", {
            "id": new_id(), "account_id": ACCOUNT_A if o else ACCOUNT_A_USD, "amount_minor": 1}),
        CENTRAL_ONLY,
    ),
    "post redeem": (
        lambda w, r, o: ("POST", "/v1/central-bank/redeem", {
            "id": new_id(), "account_id": ACCOUNT_B if o else ACCOUNT_A_USD, "amount_minor": 1}),
        CENTRAL_ONLY,
    ),
    "post iso message": (
        lambda w, r, o: ("POST", "/v1/iso20022/messages", iso_message(
            OWNER_BIC.get(r, BANK_A) if o else OTHER_BIC.get(r, BANK_A),
            OWNER_BIC.get(r, BANK_A) if o else OTHER_BIC.get(r, BANK_A))),
        PAY,
    ),
    "get accounts": (
        lambda w, r, o: ("GET", "/v1/accounts" if o else f"/v1/accounts?bic={OTHER_BIC.get(r, BANK_A)}", None),
        READ,
    ),
    "get account": (lambda w, r, o: ("GET", f"/v1/accounts/{_account(r, o)}", None), READ),
    "get history": (lambda w, r, o: ("GET", f"/v1/accounts/{_account(r, o)}/history", None), READ),
    "get queue": (lambda w, r, o: ("GET", f"/v1/accounts/{_account(r, o)}/queue", None), READ),
    "get camt053": (
        lambda w, r, o: ("GET", f"/v1/accounts/{_account(r, o)}/camt053?date={dt.datetime.now(dt.UTC).date()}", None),
        READ,
    ),
    "get payment": (lambda w, r, o: ("GET", f"/v1/payments/{_settled(w, r, o)}", None), READ),
    "get camt054": (
        lambda w, r, o: ("GET", f"/v1/payments/{_settled(w, r, o)}/camt054"
                         + ("" if r in OWN_ACCOUNT else f"?bic={BANK_A}"), None),
        READ,
    ),
    "post cancel": (
        lambda w, r, o: ("POST", f"/v1/payments/{_waiting(w, 'cancel', r, o)}/cancel", {"id": new_id()}),
        PAY,
    ),
    "post priority": (
        lambda w, r, o: ("POST", f"/v1/payments/{_waiting(w, 'priority', r, o)}/priority",
                         {"id": new_id(), "priority": "high"}),
        PAY,
    ),
    "post move": (
        lambda w, r, o: ("POST", f"/v1/payments/{_waiting(w, 'move', r, o)}/move",
                         {"id": new_id(), "to": "front"}),
        PAY,
    ),
    "get participants": (lambda w, r, o: ("GET", "/v1/participants", None), EVERYONE),
    "post proposal": (
        lambda w, r, o: ("POST", "/v1/operator/proposals",
                         {"type": "reactivate_participant", "id": new_id(), "bic": BANK_B}),
        OPERATOR,
    ),
    "get proposals": (lambda w, r, o: ("GET", "/v1/operator/proposals", None), OVERSIGHT),
    "get proposal": (
        lambda w, r, o: ("GET", f"/v1/operator/proposals/{w.proposals[('approve', 'op-bob')]}", None),
        OVERSIGHT,
    ),
    "post approve": (
        lambda w, r, o: ("POST", "/v1/operator/proposals/"
                         f"{w.proposals[('approve', 'op-alice' if o else 'op-bob')]}/approve", None),
        OTHERS_PROPOSAL,
    ),
    "post reject": (
        lambda w, r, o: ("POST", "/v1/operator/proposals/"
                         f"{w.proposals[('reject', 'op-alice' if o else 'op-bob')]}/reject", None),
        OTHERS_PROPOSAL,
    ),
    "post end of day": (
        lambda w, r, o: ("POST", "/v1/operator/end-of-day", {"id": new_id(), "currency": "USD"}),
        OPERATOR,
    ),
    "post start of day": (
        lambda w, r, o: ("POST", "/v1/operator/start-of-day", {"id": new_id(), "currency": "USD"}),
        OPERATOR,
    ),
    "get metrics": (lambda w, r, o: ("GET", "/metrics", None), OVERSIGHT),
    "get reserve rulebook": (lambda w, r, o: ("GET", "/v1/reserve/rulebook", None), RESERVE),
    "get reserve member": (
        lambda w, r, o: ("GET", f"/v1/reserve/members/{'CN' if o or r != 'central' else 'BR'}", None),
        RESERVE_OWN,
    ),
    "get reserve drawing": (
        lambda w, r, o: ("GET", f"/v1/reserve/drawings/{'R-0001' if o else 'R-0002'}", None), RESERVE,
    ),
    "post reserve drawing": (
        lambda w, r, o: ("POST", "/v1/reserve/drawings",
                         {"member": "CN" if o else "BR", "amount": "1000.00", "on": "2025-01-03"}),
        CENTRAL_ONLY,
    ),
    "post reserve vote": (
        lambda w, r, o: ("POST", "/v1/reserve/drawings/R-0002/votes",
                         {"member": "CN" if o else "BR", "approve": True, "on": "2025-01-03"}),
        CENTRAL_ONLY,
    ),
    "get loan schedule": (lambda w, r, o: ("GET", f"/v1/lending/loans/{_loan(r, o)}/schedule", None), READ),
    "get loan statement": (lambda w, r, o: ("GET", f"/v1/lending/loans/{_loan(r, o)}/statement", None), READ),
    "get portfolio": (
        lambda w, r, o: ("GET", "/v1/lending/portfolio" if o else f"/v1/lending/portfolio?borrower={_bic(r, o)}", None),
        READ,
    ),
    "post loan cancel": (
        lambda w, r, o: ("POST", f"/v1/lending/loans/{_loan(r, o)}/cancel", {"amount": "1.00", "on": "2024-01-02"}),
        OPERATOR,
    ),
    "get rating": (lambda w, r, o: ("GET", f"/v1/ratings/{_bic(r, o)}", None), READ),
    "get rating history": (lambda w, r, o: ("GET", f"/v1/ratings/{_bic(r, o)}/history", None), READ),
}  # fmt: skip


def send(client: TestClient, request: Request, role: str | None) -> Any:
    method, url, body = request
    headers = dict(AS[role]) if role is not None else {}
    if isinstance(body, bytes):
        headers["Content-Type"] = "application/xml"
        return client.request(method, url, content=body, headers=headers)
    return client.request(method, url, json=body, headers=headers)


def test_every_route_is_in_the_walk(client: TestClient) -> None:
    """A new route must be added to CASES: the walk covers the whole OpenAPI document."""
    paths = client.get("/openapi.json").json()["paths"]
    operations = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    public = {("GET", "/health"), ("GET", "/ready")}
    assert len(operations - public) == len(CASES), sorted(operations)


def test_every_endpoint_role_and_owner(
    service: Service, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    world = build_world(service, client)
    walked = 0
    for name, (make, allowed) in CASES.items():
        for role in ROLES:
            for own in (True, False):
                request = make(world, role, own)
                caplog.clear()
                with caplog.at_level(logging.WARNING, logger="interbank.api.access"):
                    answer = send(client, request, role)
                where = f"{name} as {role} on {'own' if own else 'other'} data: {answer.text}"
                assert answer.status_code < 500, where
                refused = [r for r in caplog.records if "refused 403" in r.getMessage()]
                if (role, own) in allowed:
                    assert answer.status_code not in (401, 403), where
                    assert not refused, where
                else:
                    assert answer.status_code == 403, where
                    assert answer.json()["error"]["code"] == "AG01", where
                    assert len(refused) == 1, where
                    assert role.split("-")[0] in refused[0].getMessage().lower() or \
                        refused[0].getMessage().count("/") >= 1, where  # fmt: skip
                walked += 1
    assert walked == len(CASES) * len(ROLES) * 2


def test_no_credentials_is_401_everywhere(
    service: Service, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    world = World({"bank-a": new_id(), "central": new_id()},
                  {(a, r): new_id() for a in ("cancel", "priority", "move")
                   for r in ("bank-a", "central")},
                  {(d, h): uuid.uuid4().hex for d in ("approve", "reject")
                   for h in ("op-alice", "op-bob")})  # fmt: skip
    for name, (make, _) in CASES.items():
        with caplog.at_level(logging.WARNING, logger="interbank.api.access"):
            answer = send(client, make(world, "bank-a", True), None)
        assert answer.status_code in (401, 422), (name, answer.text)
        if answer.status_code == 401:
            assert answer.json()["error"]["code"] == "AG01"
    bad = client.get("/v1/accounts", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
