"""The network port: the one thin module through which the reserve pool (``reserve/``)
and the development bank (``lending/``) touch the settlement network.

It owns nothing of its own. It submits typed engine commands through
``interbank.node`` (durable, journaled), reads the few facts those parts need (an
account's currency, owner and balance; a participant's settlement account; who issues
a currency), and reads back from the journal which commands settled, so that a loan or
a drawing can be reconciled against the network itself rather than against its own
records. ``ScratchNetwork`` runs the same interface on a private copy of an engine, for
the reserve pool's dry-run drills and for fast property tests: nothing it does reaches
a journal. It may import ``interbank.node``, ``interbank.journal`` and
``interbank.engine``; the parts that use it import only this module, engine command
types and ``interbank.money``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from interbank.engine import Batch, Engine, EngineSettings, TransferSettled
from interbank.engine.commands import (
    AccountKind,
    Command,
    PaymentSettled,
    Result,
    Role,
)
from interbank.node import Node

COMMAND_ID_MAX = 2**128 - 1


def derive_command_id(namespace: str, *parts: object) -> int:
    """A 128-bit command id derived from a namespace and the parts naming one network step.

    Deriving ids (instead of drawing random ones) is what makes a step safe to resubmit
    after a crash: the engine's idempotency window answers the first result of the same
    id and content, so a drawing's swap or a loan's repayment can never settle twice.
    """
    text = "\x1f".join([namespace, *(str(part) for part in parts)])
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")
    return value or 1  # 0 is not a valid id; the chance of reaching here is 2^-128


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What the reserve pool and the bank need to know about one account."""

    account_id: int
    bic: str
    currency: str
    settlement: bool  # False: a central bank's issuance account
    balance_minor: int
    available_minor: int
    closed: bool


@dataclass(frozen=True, slots=True)
class SettledMove:
    """One command's money movement as the network settled it (from its events)."""

    command_id: int
    debit_account_id: int
    credit_account_id: int
    amount_minor: int
    currency: str
    timestamp_ns: int


class Network(Protocol):
    """What ``reserve/`` and ``lending/`` may do with the network."""

    def submit(self, commands: Sequence[Command]) -> list[Result]: ...

    def account(self, account_id: int) -> AccountFacts | None: ...

    def settlement_account(self, bic: str, currency: str) -> int | None: ...

    def participant(self, bic: str) -> tuple[Role, str | None] | None: ...

    def issuer(self, currency: str) -> str | None: ...

    def totals_by_currency(self) -> dict[str, int]: ...

    def settled_moves(self, command_ids: Collection[int]) -> dict[int, SettledMove]: ...

    def scratch_copy(self) -> ScratchNetwork: ...


def _facts(engine: Engine, account_id: int) -> AccountFacts | None:
    view = engine.account(account_id)
    if view is None:
        return None
    return AccountFacts(
        view.account_id,
        view.bic,
        view.currency,
        view.kind == AccountKind.SETTLEMENT,
        view.balance_minor,
        view.available_minor,
        view.closed,
    )


def _participant(engine: Engine, bic: str) -> tuple[Role, str | None] | None:
    for participant in engine.participants():
        if participant.bic == bic:
            return participant.role, participant.currency
    return None


def _issuer(engine: Engine, currency: str) -> str | None:
    for participant in engine.participants():
        if participant.role == Role.CENTRAL_BANK and participant.currency == currency:
            return participant.bic
    return None


def _apply(
    engine: Engine, batch: Batch, timestamp_ns: int, wanted: Collection[int] | None
) -> tuple[list[Result], list[SettledMove]]:
    """Apply one batch; its results and the moves of the wanted commands (None: all)."""
    result = engine.apply(batch, timestamp_ns)
    moves: list[SettledMove] = []
    for event in engine.events(batch, result):
        if isinstance(event, TransferSettled):
            command_id = event.command_id
        elif isinstance(event, PaymentSettled):
            command_id = event.payment_id
        else:
            continue
        if wanted is None or command_id in wanted:
            moves.append(
                SettledMove(
                    command_id,
                    event.debit_account_id,
                    event.credit_account_id,
                    event.amount_minor,
                    event.currency,
                    event.timestamp_ns,
                )
            )
    return result.results(), moves


class NodeNetwork:
    """The real network: a node over a journal. Reads are taken quiesced, so a figure
    is never read half-way through a batch."""

    def __init__(self, node: Node, db: str) -> None:
        self._node = node
        self.db = db

    def submit(self, commands: Sequence[Command]) -> list[Result]:
        return self._node.submit(commands)

    def account(self, account_id: int) -> AccountFacts | None:
        with self._node.quiesced() as engine:
            return _facts(engine, account_id)

    def settlement_account(self, bic: str, currency: str) -> int | None:
        with self._node.quiesced() as engine:
            return engine.settlement_account(bic, currency)

    def participant(self, bic: str) -> tuple[Role, str | None] | None:
        with self._node.quiesced() as engine:
            return _participant(engine, bic)

    def issuer(self, currency: str) -> str | None:
        with self._node.quiesced() as engine:
            return _issuer(engine, currency)

    def totals_by_currency(self) -> dict[str, int]:
        with self._node.quiesced() as engine:
            return engine.totals_by_currency()

    def settled_moves(self, command_ids: Collection[int]) -> dict[int, SettledMove]:
        """Replay the journal from its first entry and keep the moves of these commands.

        The journal stores commands, not outcomes, so the only way to know from the
        journal alone what settled is to replay it; this is what reconciliation trusts.
        """
        from interbank.journal import engine_settings_of, open_journal

        wanted = frozenset(command_ids)
        backend = open_journal(self.db)
        try:
            engine = Engine(engine_settings_of(backend.metadata(), backend.location))
            moves: dict[int, SettledMove] = {}
            for entry in backend.read(1):
                batch = Batch.unpack(entry.payload)
                for move in _apply(engine, batch, entry.timestamp_ns, wanted)[1]:
                    moves[move.command_id] = move
            return moves
        finally:
            backend.close()

    def scratch_copy(self) -> ScratchNetwork:
        with self._node.quiesced() as engine:
            return ScratchNetwork(Engine.restore(engine.snapshot()))


class ScratchNetwork:
    """The same interface on a private engine: nothing reaches a journal.

    Each submit is one batch stamped one nanosecond after the previous one (the engine
    only needs stamps that do not go back). Settled moves are remembered as they happen.
    """

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine if engine is not None else Engine(EngineSettings())
        self._moves: dict[int, SettledMove] = {}

    @property
    def engine(self) -> Engine:
        return self._engine

    def submit(self, commands: Sequence[Command]) -> list[Result]:
        if not commands:
            return []
        batch = Batch.of(commands)
        results, moves = _apply(self._engine, batch, self._engine.timestamp_ns + 1, None)
        for move in moves:
            self._moves[move.command_id] = move
        return results

    def account(self, account_id: int) -> AccountFacts | None:
        return _facts(self._engine, account_id)

    def settlement_account(self, bic: str, currency: str) -> int | None:
        return self._engine.settlement_account(bic, currency)

    def participant(self, bic: str) -> tuple[Role, str | None] | None:
        return _participant(self._engine, bic)

    def issuer(self, currency: str) -> str | None:
        return _issuer(self._engine, currency)

    def totals_by_currency(self) -> dict[str, int]:
        return self._engine.totals_by_currency()

    def settled_moves(self, command_ids: Collection[int]) -> dict[int, SettledMove]:
        return {i: self._moves[i] for i in command_ids if i in self._moves}

    def scratch_copy(self) -> ScratchNetwork:
        return ScratchNetwork(Engine.restore(self._engine.snapshot()))


@contextmanager
def open_network(db: str, *, create: bool = False) -> Iterator[NodeNetwork]:
    """Open the node at ``db`` for the length of the block."""
    node = Node.open(db, create=create)
    try:
        yield NodeNetwork(node, db)
    finally:
        node.close()
