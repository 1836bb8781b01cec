"""A small network behind the HTTP service, in development-token mode, in process.

Identities come from tokens here so that every test runs without TLS; the mutual TLS
path has its own tests (test_tls.py) against a real `interbank serve`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from interbank.api.app import create_app
from interbank.api.server import open_service
from interbank.api.service import Service
from interbank.api.settings import DevTokens, ServiceSettings
from interbank.engine.commands import (
    AccountKind,
    Command,
    Issue,
    OpenAccount,
    RegisterParticipant,
    Role,
)

CB, BANK_A, BANK_B, OPERATOR_BIC, AUDITOR_BIC = (
    "JDRBCNBJ", "YRCBCNSH", "PDBKCNGZ", "IBNKCHZZ", "AUDTCHZZ",
)  # fmt: skip
ISSUANCE, ACCOUNT_CB, ACCOUNT_A, ACCOUNT_B = 100, 101, 601, 701
ACCOUNT_A_USD = 602
FUNDS_A_MINOR = 1_000_000  # 10,000.00 CNY

TOKENS = {
    "token-bank-a": {"bic": BANK_A, "role": "participant"},
    "token-bank-b": {"bic": BANK_B, "role": "participant"},
    "token-central": {"bic": CB, "role": "central_bank", "currency": "CNY"},
    "token-op-alice": {"bic": OPERATOR_BIC, "role": "operator", "holder": "Alice Ops"},
    "token-op-bob": {"bic": OPERATOR_BIC, "role": "operator", "holder": "Bob Ops"},
    "token-auditor": {"bic": AUDITOR_BIC, "role": "auditor"},
}
AS = {name.removeprefix("token-"): {"Authorization": f"Bearer {name}"} for name in TOKENS}


def seed_commands() -> list[list[Command]]:
    """The network of these tests, in two groups (accounts first, then money)."""
    return [
        [
            RegisterParticipant(1, CB, "Jade Reserve Bank", Role.CENTRAL_BANK, "CNY"),
            RegisterParticipant(2, BANK_A, "Yellow River Bank", Role.DIRECT),
            RegisterParticipant(3, BANK_B, "Pearl Delta Bank", Role.DIRECT),
            RegisterParticipant(4, OPERATOR_BIC, "Network Operator", Role.DIRECT),
            OpenAccount(5, ISSUANCE, CB, "CNY", AccountKind.ISSUANCE),
            OpenAccount(6, ACCOUNT_CB, CB, "CNY"),
            OpenAccount(7, ACCOUNT_A, BANK_A, "CNY"),
            OpenAccount(8, ACCOUNT_B, BANK_B, "CNY"),
        ],
        [Issue(9, ACCOUNT_A, FUNDS_A_MINOR)],
    ]


def seed(service: Service) -> None:
    for group in seed_commands():
        service.node.submit(group)


def make_service(tmp_path: Path, settings: ServiceSettings | None = None) -> Service:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps(TOKENS))
    db = str(tmp_path / "net.db")
    from interbank.node import Node

    Node.open(db, create=True).close()
    service = open_service(db, settings or ServiceSettings(), None, DevTokens(tokens))
    assert isinstance(service, Service)
    seed(service)
    return service


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    opened = make_service(tmp_path)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service), raise_server_exceptions=False) as test_client:
        yield test_client
