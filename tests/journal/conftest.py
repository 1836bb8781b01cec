"""Fixtures for the journal and node tests: a tiny funded network and transfer batches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from interbank.engine import (
    AccountKind,
    Batch,
    Command,
    EngineSettings,
    Issue,
    OpenAccount,
    RegisterParticipant,
    Role,
)

# Small limits keep each Engine cheap to create (verify and replay build several).
SMALL_ENGINE = EngineSettings(
    idempotency_window_commands=1 << 17,
    accounts_max=1024,
    participants_max=64,
    holds_max=1 << 16,
    batch_commands_max=1 << 16,
)
BANKS = 4
ACCOUNT_FIRST = 100  # settlement accounts are ACCOUNT_FIRST .. ACCOUNT_FIRST + BANKS - 1
FUNDING_MINOR = 10**12
TRANSFER_ID_FIRST = 1_000_000  # ids below are used by the network's setup


def network_commands() -> list[Command]:
    """A central bank for EUR and BANKS funded banks, each with one settlement account."""
    commands: list[Command] = [
        RegisterParticipant(1, "CBEUDEFF", "Central bank", Role.CENTRAL_BANK, "EUR"),
        OpenAccount(2, 1, "CBEUDEFF", "EUR", AccountKind.ISSUANCE),
    ]
    for bank in range(BANKS):
        bic = f"BNK{chr(ord('A') + bank)}DEFF"
        account_id = ACCOUNT_FIRST + bank
        commands += [
            RegisterParticipant(10 + bank, bic, f"Bank {bank}", Role.DIRECT),
            OpenAccount(100 + bank, account_id, bic, "EUR"),
            Issue(200 + bank, account_id, FUNDING_MINOR),
        ]
    return commands


def transfer_batch(id_first: int, rows: int, seed: int) -> Batch:
    """``rows`` transfers with ids ``id_first``.. between the network's accounts."""
    rng = np.random.default_rng(seed)
    debit = rng.integers(0, BANKS, rows)
    credit = (debit + rng.integers(1, BANKS, rows)) % BANKS
    return Batch.of_transfers(
        np.zeros(rows, dtype=np.uint64),
        np.arange(id_first, id_first + rows, dtype=np.uint64),
        (debit + ACCOUNT_FIRST).astype(np.int64),
        (credit + ACCOUNT_FIRST).astype(np.int64),
        rng.integers(1, 10_000, rows).astype(np.int64),
    )


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "network.db")


@pytest.fixture
def make_transfers() -> Callable[[int, int, int], Batch]:
    return transfer_batch


@pytest.fixture
def setup_commands() -> list[Command]:
    return network_commands()


@pytest.fixture
def engine_settings() -> EngineSettings:
    return SMALL_ENGINE


WriteJournal = Callable[..., list[str]]


@pytest.fixture
def write_journal(db: str) -> WriteJournal:
    """Write the network plus ``entries`` transfer batches to ``db``; the digests after each.

    ``digests[seq]`` is the engine digest after entry ``seq`` (``digests[0]``: empty).
    """
    from interbank.node import Node, NodeSettings

    def write(entries: int = 6, rows: int = 300, settings: NodeSettings | None = None) -> list[str]:
        node_settings = settings or NodeSettings(snapshot_on_close=False)
        with Node.open(
            db, create=True, settings=node_settings, engine_settings=SMALL_ENGINE
        ) as node:
            digests = [node.engine.digest()]
            node.submit(network_commands())
            digests.append(node.engine.digest())
            for entry in range(1, entries):
                node.submit_batch(transfer_batch(TRANSFER_ID_FIRST + entry * rows, rows, entry))
                digests.append(node.engine.digest())
            assert node.head.seq == entries
        return digests

    return write
