"""Shared fixtures: the public ISO 20022 material (read in place, never copied) and a
small network behind a gateway."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interbank.engine.commands import AccountKind, Issue, OpenAccount, RegisterParticipant, Role
from interbank.iso20022 import IsoSettings
from interbank.iso20022.gateway import Gateway


def shared_iso20022() -> Path | None:
    configured = os.environ.get("INTERBANK_SHARED")
    base = Path(configured) if configured else Path(__file__).resolve().parents[2] / ".." / "shared"
    folder = base / "iso20022"
    return folder if (folder / "index.json").is_file() else None


@pytest.fixture(scope="session")
def shared() -> Path:
    folder = shared_iso20022()
    if folder is None:
        pytest.skip("../shared/iso20022 is not here")
    return folder


@pytest.fixture(scope="session")
def schemas_dir(shared: Path) -> Path:
    return shared / "xsd" / "iso"


@pytest.fixture(scope="session")
def sample_index(shared: Path) -> list[dict[str, Any]]:
    return list(json.loads((shared / "index.json").read_text()))


CB, BANK_A, BANK_B, BANK_C = "JDRBCNBJ", "YRCBCNSH", "PDBKCNGZ", "SLKRCNBJ"
ACCOUNT_A, ACCOUNT_B, ACCOUNT_C = 601, 701, 801
FUNDS_MINOR = 100_000  # 1,000.00 CNY for bank A


def new_uetr() -> str:
    return str(uuid.uuid4())


def schema_settings() -> IsoSettings:
    """Settings with the public XSDs when they are here, else the structural check only."""
    folder = shared_iso20022()
    return IsoSettings(schemas_dir=None if folder is None else folder / "xsd" / "iso")


def open_network(db: str) -> Gateway:
    """A new network at ``db`` behind a gateway: a central bank and three banks with CNY
    accounts, bank A funded with FUNDS_MINOR."""
    opened = Gateway.open(db, schema_settings(), create=True)
    opened.node.submit(
        [
            RegisterParticipant(1, CB, "Jade Reserve Bank", Role.CENTRAL_BANK, "CNY"),
            RegisterParticipant(2, BANK_A, "Yellow River Bank", Role.DIRECT),
            RegisterParticipant(3, BANK_B, "Pearl Delta Bank", Role.DIRECT),
            RegisterParticipant(4, BANK_C, "Silk Road Bank", Role.DIRECT),
            OpenAccount(5, 151, CB, "CNY", AccountKind.ISSUANCE),
            OpenAccount(6, ACCOUNT_A, BANK_A, "CNY"),
            OpenAccount(7, ACCOUNT_B, BANK_B, "CNY"),
            OpenAccount(8, ACCOUNT_C, BANK_C, "CNY"),
        ]
    )
    opened.node.submit([Issue(9, ACCOUNT_A, FUNDS_MINOR)])
    return opened


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    opened = open_network(str(tmp_path / "net.db"))
    try:
        yield opened
    finally:
        opened.close()
