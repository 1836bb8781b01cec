"""Reading the engine and the reference model into the same plain shapes, and comparing.

Everything is turned into tuples of ints and strings, so a mismatch prints as a short
diff instead of two object dumps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from interbank.engine import (
    AccountKind,
    Batch,
    BatchResult,
    Command,
    Engine,
    Hold,
    PostHold,
    ResultCode,
    VoidHold,
)

from .model import ReferenceModel
from .scenario import Stream

AccountRow = tuple[int, str, str, str, int, int, int, bool]
ParticipantRow = tuple[str, str, str, str | None, bool]
HoldRow = tuple[int, int, int, int, str, int] | None
Answer = tuple[ResultCode, bool]


def engine_accounts(engine: Engine) -> list[AccountRow]:
    return sorted(
        (
            a.account_id,
            a.bic,
            a.currency,
            str(a.kind),
            a.balance_minor,
            a.held_minor,
            a.floor_minor,
            a.closed,
        )
        for a in engine.accounts()
    )


def model_accounts(model: ReferenceModel) -> list[AccountRow]:
    return sorted(
        (
            a.account_id,
            a.bic,
            a.currency,
            "issuance" if a.issuance else "settlement",
            a.balance_minor,
            a.held_minor,
            a.floor_minor,
            a.closed,
        )
        for a in model.accounts.values()
    )


def engine_participants(engine: Engine) -> list[ParticipantRow]:
    return [(p.bic, p.name, str(p.role), p.currency, p.suspended) for p in engine.participants()]


def model_participants(model: ReferenceModel) -> list[ParticipantRow]:
    return [
        (p.bic, p.name, str(p.role), p.currency, p.suspended) for p in model.participants.values()
    ]


def engine_holds(engine: Engine, hold_ids: Iterable[int]) -> dict[int, HoldRow]:
    rows: dict[int, HoldRow] = {}
    for hold_id in hold_ids:
        view = engine.hold(hold_id)
        rows[hold_id] = (
            None
            if view is None
            else (
                view.debit_account_id,
                view.credit_account_id,
                view.amount_minor,
                view.expires_at_ns,
                view.state,
                view.posted_minor,
            )
        )
    return rows


def model_holds(model: ReferenceModel, hold_ids: Iterable[int]) -> dict[int, HoldRow]:
    rows: dict[int, HoldRow] = {}
    for hold_id in hold_ids:
        hold = model.holds.get(hold_id)
        rows[hold_id] = (
            None
            if hold is None
            else (
                hold.debit_account_id,
                hold.credit_account_id,
                hold.amount_minor,
                hold.expires_at_ns,
                hold.state,
                hold.posted_minor,
            )
        )
    return rows


def hold_ids_named(commands: Iterable[Command]) -> set[int]:
    """Every id a command names as a hold (placed, posted or voided)."""
    ids: set[int] = set()
    for command in commands:
        if isinstance(command, Hold):
            ids.add(command.id)
        elif isinstance(command, PostHold | VoidHold):
            ids.add(command.hold_id)
    return ids


def balances(engine: Engine) -> list[tuple[int, int, int, int, bool]]:
    """What money-relevant state an account has: balance, held, floor, closed."""
    return sorted(
        (a.account_id, a.balance_minor, a.held_minor, a.floor_minor, a.closed)
        for a in engine.accounts()
    )


def answers(result: BatchResult) -> list[Answer]:
    return [
        (ResultCode(int(code)), bool(replayed))
        for code, replayed in zip(result.codes, result.replayed, strict=True)
    ]


def assert_same_state(engine: Engine, model: ReferenceModel, hold_ids: Iterable[int]) -> None:
    assert engine_accounts(engine) == model_accounts(model)
    assert engine_participants(engine) == model_participants(model)
    ids = sorted(set(hold_ids) | model.holds.keys())
    assert engine_holds(engine, ids) == model_holds(model, ids)
    assert engine.timestamp_ns == model.timestamp_ns
    assert engine.commands_applied == model.commands_applied


def _describe_mismatch(
    batch_number: int, commands: list[Command], got: list[Answer], expected: list[Answer]
) -> str:
    lines = [f"batch {batch_number}: engine and model answer differently"]
    for row, command in enumerate(commands):
        marker = "  " if got[row] == expected[row] else "!!"
        lines.append(
            f"{marker} {row}: {command!r}\n     engine {got[row][0].name}"
            f"{' (replayed)' if got[row][1] else ''}, model {expected[row][0].name}"
            f"{' (replayed)' if expected[row][1] else ''}"
        )
    return "\n".join(lines)


def run_side_by_side(
    stream: Stream,
    after_batch: Callable[[Engine, ReferenceModel], None] | None = None,
) -> tuple[Engine, ReferenceModel]:
    """Apply every batch to a fresh engine and a fresh model; compare after each batch."""
    engine = Engine(stream.settings)
    model = ReferenceModel(stream.settings)
    hold_ids: set[int] = set()
    for batch_number, (timestamp_ns, commands) in enumerate(stream.batches):
        result = engine.apply(Batch.of(commands), timestamp_ns)
        expected = model.apply(commands, timestamp_ns)
        got = answers(result)
        assert got == expected, _describe_mismatch(batch_number, commands, got, expected)
        # The settled count is exactly the rows that took effect now.
        assert result.settled == sum(
            code == ResultCode.OK and not replayed for code, replayed in got
        )
        hold_ids |= hold_ids_named(commands)
        assert_same_state(engine, model, hold_ids)
        if after_batch is not None:
            after_batch(engine, model)
    return engine, model


def assert_invariants(engine: Engine, hold_ids: Iterable[int]) -> None:
    """Double entry and floors, computed from the public views, not the engine's check.

    Also: an account's held amount is exactly the sum of its pending holds, so no hold
    money is lost or invented by posts, voids, expiry or rollback.
    """
    accounts = engine.accounts()
    totals: dict[str, int] = {}
    for account in accounts:
        totals[account.currency] = totals.get(account.currency, 0) + account.balance_minor
    assert all(total == 0 for total in totals.values()), totals
    assert engine.totals_by_currency() == totals
    limit = engine.settings.balance_minor_abs_max
    for account in accounts:
        assert account.held_minor >= 0, account
        assert -limit <= account.balance_minor <= limit, account
        if account.kind == AccountKind.SETTLEMENT:
            assert account.available_minor >= account.floor_minor, account
    pending: dict[int, int] = {}
    for hold_id in hold_ids:
        view = engine.hold(hold_id)
        if view is not None and view.state == "pending":
            pending[view.debit_account_id] = (
                pending.get(view.debit_account_id, 0) + view.amount_minor
            )
    held = {account.account_id: account.held_minor for account in accounts if account.held_minor}
    assert held == pending
