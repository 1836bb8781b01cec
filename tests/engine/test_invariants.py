"""The design's engine invariants as properties, each checked on random streams.

(1) double entry, (2) floors, (3) determinism (two engines, snapshots, batch boundaries,
packed batches), (4) idempotency (re-sends and reuses, and the bounded window), (6)
atomicity of linked chains. These read the engine only through its public views; the
reference model is not involved, so they hold even if model and engine were wrong in the
same way. The engine's own invariant check is switched off where a property is about
an invariant, so this test, not the engine's assertion, is what would notice a break.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from interbank.engine import (
    AccountKind,
    Batch,
    Command,
    CommandFormatError,
    Engine,
    EngineSettings,
    Hold,
    Issue,
    OpenAccount,
    PostHold,
    RegisterParticipant,
    ResultCode,
    Role,
    Transfer,
)
from interbank.engine.batch import COLUMNS

from .observe import (
    Answer,
    answers,
    assert_invariants,
    balances,
    engine_holds,
    engine_participants,
    hold_ids_named,
)
from .scenario import SETUP_TIMESTAMP_NS, DrawChoices, Stream, random_streams, setup_commands

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _unchecked(stream: Stream) -> EngineSettings:
    return replace(stream.settings, check_invariants=False)


def _observable(engine: Engine, hold_ids: set[int]) -> tuple[object, ...]:
    """Everything a command could change except the idempotency window and counters."""
    return balances(engine), engine_holds(engine, sorted(hold_ids)), engine_participants(engine)


def _apply_all(engine: Engine, batches: list[tuple[int, list[Command]]]) -> list[list[Answer]]:
    return [answers(engine.apply(Batch.of(commands), ts)) for ts, commands in batches]


# --- (1) double entry -----------------------------------------------------------------------


@PROPERTY
@given(stream=random_streams())
def test_double_entry_every_currency_sums_to_zero_after_every_batch(stream: Stream) -> None:
    engine = Engine(_unchecked(stream))
    for timestamp_ns, commands in stream.batches:
        engine.apply(Batch.of(commands), timestamp_ns)
        totals = engine.totals_by_currency()
        assert totals, "the setup opens accounts in EUR, JPY and BHD"
        assert all(total == 0 for total in totals.values()), totals
        # The engine's own totals must agree with the accounts it shows.
        recomputed: dict[str, int] = {}
        for account in engine.accounts():
            recomputed[account.currency] = (
                recomputed.get(account.currency, 0) + account.balance_minor
            )
        assert recomputed == totals


# --- (2) floors -----------------------------------------------------------------------------


@PROPERTY
@given(stream=random_streams())
def test_floors_no_account_available_balance_goes_below_its_floor(stream: Stream) -> None:
    engine = Engine(_unchecked(stream))
    hold_ids: set[int] = set()
    for timestamp_ns, commands in stream.batches:
        engine.apply(Batch.of(commands), timestamp_ns)
        hold_ids |= hold_ids_named(commands)
        for account in engine.accounts():
            assert account.available_minor >= account.floor_minor, account
            if account.kind == AccountKind.SETTLEMENT:
                assert account.floor_minor == -account.credit_line_minor <= 0
            else:
                assert account.floor_minor == -engine.settings.balance_minor_abs_max
        # Held amounts are the pending holds, so "available" is what it claims to be.
        assert_invariants(engine, hold_ids)


def test_floor_is_reached_exactly_and_never_passed() -> None:
    engine = Engine(EngineSettings())
    engine.execute_many(setup_commands(), SETUP_TIMESTAMP_NS)
    # Account 10 holds 5,000 with a credit line of 500: 5,500 can leave, not 5,501.
    first = engine.execute(Hold(9_001, 10, 11, 5_000), 2)
    too_much = engine.execute(Transfer(9_002, 10, 11, 501), 2)
    exactly = engine.execute(Transfer(9_003, 10, 11, 500), 2)
    assert (first.code, too_much.code, exactly.code) == (
        ResultCode.OK,
        ResultCode.INSUFFICIENT_FUNDS,
        ResultCode.OK,
    )
    account = engine.account(10)
    assert account is not None
    assert (account.balance_minor, account.held_minor, account.available_minor) == (
        4_500,
        5_000,
        -500,
    )
    assert engine.execute(Transfer(9_004, 10, 11, 1), 2).code == ResultCode.INSUFFICIENT_FUNDS


# --- (3) determinism ------------------------------------------------------------------------


@PROPERTY
@given(stream=random_streams())
def test_same_batches_on_two_fresh_engines_give_the_same_answers_and_digests(
    stream: Stream,
) -> None:
    first, second = Engine(stream.settings), Engine(stream.settings)
    for timestamp_ns, commands in stream.batches:
        batch = Batch.of(commands)
        assert answers(first.apply(batch, timestamp_ns)) == answers(
            second.apply(batch, timestamp_ns)
        )
        assert first.digest() == second.digest()


@PROPERTY
@given(
    # Also through a 64-id window that is full and evicting when the snapshot is taken:
    # restore must rebuild the window so the same ids are evicted next.
    stream=st.one_of(
        random_streams(),
        random_streams(commands_max=120, window=64, batch_commands_max=32, hold_resend_horizon=24),
    ),
    data=st.data(),
)
def test_snapshot_restore_then_continue_gives_the_same_digest_as_never_snapshotting(
    stream: Stream, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(1, len(stream.batches)), label="batches before the snapshot")
    straight = Engine(stream.settings)
    straight_answers = _apply_all(straight, stream.batches)

    before = Engine(stream.settings)
    _apply_all(before, stream.batches[:cut])
    snapshot = before.snapshot()
    restored = Engine.restore(snapshot)
    assert restored.digest() == before.digest()
    # Restoring rebuilds hash tables and the expiry heap; writing it out again must give
    # the very same bytes, or the snapshot is not a canonical form of the state.
    assert restored.snapshot() == snapshot
    assert _apply_all(restored, stream.batches[cut:]) == straight_answers[cut:]
    assert restored.digest() == straight.digest()
    assert restored.accounts() == straight.accounts()


@PROPERTY
@given(stream=random_streams(keep_chains_whole=True), data=st.data())
def test_batch_boundaries_do_not_change_answers_or_digest(
    stream: Stream, data: st.DataObject
) -> None:
    # One timestamp for every batch: expiry then happens identically however the
    # commands are cut, and only the cut itself differs.
    setup_batch, rest = stream.batches[0][1], stream.commands()[len(stream.batches[0][1]) :]
    # A cut may fall only where no chain is open: after a command without the flag.
    cuttable = [i for i in range(1, len(rest)) if not getattr(rest[i - 1], "linked", False)]

    def cut(points: list[int]) -> list[tuple[int, list[Command]]]:
        edges = [0, *sorted(set(points)), len(rest)]
        batches = [(SETUP_TIMESTAMP_NS, setup_batch)]
        batches += [(SETUP_TIMESTAMP_NS, rest[a:b]) for a, b in pairwise(edges)]
        return batches

    cuts = st.lists(st.sampled_from(cuttable), max_size=8) if cuttable else st.just([])
    one_way, other_way = Engine(stream.settings), Engine(stream.settings)
    answers_one = [a for batch in _apply_all(one_way, cut(data.draw(cuts))) for a in batch]
    answers_other = [a for batch in _apply_all(other_way, cut(data.draw(cuts))) for a in batch]
    assert answers_one == answers_other
    assert one_way.digest() == other_way.digest()


def _same_batch(left: Batch, right: Batch) -> None:
    for name, dtype in COLUMNS:
        assert getattr(right, name).dtype == np.dtype(dtype), name
        assert np.array_equal(getattr(left, name), getattr(right, name)), name
    assert dict(left.admin) == dict(right.admin)


@PROPERTY
@given(stream=random_streams())
def test_pack_unpack_round_trips_every_batch_exactly(stream: Stream) -> None:
    original, replayed = Engine(stream.settings), Engine(stream.settings)
    batches = []
    for timestamp_ns, commands in stream.batches:
        batch = Batch.of(commands)
        packed = batch.pack()
        unpacked = Batch.unpack(packed)
        _same_batch(batch, unpacked)
        assert unpacked.commands() == commands
        assert unpacked.pack() == packed
        # What the journal replays must answer exactly as what the writer applied.
        assert answers(replayed.apply(unpacked, timestamp_ns)) == answers(
            original.apply(batch, timestamp_ns)
        )
        batches.append(batch)
    assert replayed.digest() == original.digest()
    # Group commit joins batches and the node cuts them apart again.
    joined = Batch.concat(batches)
    start = 0
    for batch in batches:
        _same_batch(batch, joined.slice(start, start + len(batch)))
        start += len(batch)
    _same_batch(Batch.unpack(joined.pack()), joined)


def test_pack_unpack_round_trips_a_register_command_with_an_unknown_role() -> None:
    commands: list[Command] = [RegisterParticipant(1, "BARCGB22", "Barclays", "banana")]  # type: ignore[arg-type]
    try:
        batch = Batch.of(commands)
    except CommandFormatError:
        return  # refusing it at the boundary would be a fix as good as round-tripping it
    assert Batch.unpack(batch.pack()).commands() == commands


# --- (4) idempotency ------------------------------------------------------------------------


@PROPERTY
@given(stream=random_streams(), data=st.data())
def test_resending_any_prefix_returns_the_first_answers_replayed_and_changes_nothing(
    stream: Stream, data: st.DataObject
) -> None:
    engine = Engine(stream.settings)
    first = [a for batch in _apply_all(engine, stream.batches) for a in batch]
    commands = stream.commands()
    hold_ids = hold_ids_named(commands)
    before = _observable(engine, hold_ids)
    prefix = data.draw(st.integers(1, len(commands)), label="commands re-sent")
    size = data.draw(st.integers(1, engine.settings.batch_commands_max), label="re-send batch size")
    resent: list[Answer] = []
    for start in range(0, prefix, size):
        # The same stamp as the last batch: no hold expires while re-sending.
        batch = Batch.of(commands[start : min(prefix, start + size)])
        resent += answers(engine.apply(batch, engine.timestamp_ns))
    # A command first refused as a reuse of another command's id was never remembered,
    # so it is refused again; every other command answers its first result, replayed.
    expected = [
        (code, False) if code == ResultCode.ID_REUSED and not replayed else (code, True)
        for code, replayed in first[:prefix]
    ]
    assert resent == expected
    assert _observable(engine, hold_ids) == before


@PROPERTY
@given(stream=random_streams(), data=st.data())
def test_same_id_with_other_content_is_refused_dupl_and_changes_nothing(
    stream: Stream, data: st.DataObject
) -> None:
    engine = Engine(stream.settings)
    first = [a for batch in _apply_all(engine, stream.batches) for a in batch]
    commands = stream.commands()
    remembered = [
        command
        for command, (code, replayed) in zip(commands, first, strict=True)
        if code != ResultCode.ID_REUSED or replayed
    ]
    old = data.draw(st.sampled_from(remembered), label="command whose id is reused")
    assert stream.writer is not None
    stream.writer.choices = DrawChoices(data.draw)
    if data.draw(st.booleans(), label="reuse as an administrative command"):
        other = stream.writer.admin_command(old.id)
    else:
        other = stream.writer.money_command(old.id, linked=False)
    if other == old:
        return
    hold_ids = hold_ids_named([*commands, other])
    before = _observable(engine, hold_ids)
    for _ in range(2):  # a refused reuse is not remembered: the second answer is the same
        result = engine.execute(other, engine.timestamp_ns)
        assert (result.code, result.replayed, result.reason) == (
            ResultCode.ID_REUSED,
            False,
            "DUPL",
        )
    assert _observable(engine, hold_ids) == before


def _two_banks(settings: EngineSettings) -> Engine:
    engine = Engine(settings)
    results = engine.execute_many(
        [
            RegisterParticipant(1, "ECBFDEFF", "European Central Bank", Role.CENTRAL_BANK, "EUR"),
            RegisterParticipant(2, "BNPAFRPP", "BNP Paribas", Role.DIRECT),
            RegisterParticipant(3, "CHASUS33", "JPMorgan Chase", Role.DIRECT),
            OpenAccount(4, 1, "ECBFDEFF", "EUR", AccountKind.ISSUANCE),
            OpenAccount(5, 10, "BNPAFRPP", "EUR"),
            OpenAccount(6, 11, "CHASUS33", "EUR"),
            Issue(7, 10, 1_000_000),
        ],
        1,
    )
    assert all(result.ok for result in results)
    return engine


@settings(max_examples=40, deadline=None)
@given(window=st.integers(8, 40), data=st.data())
def test_idempotency_window_forgets_an_id_after_window_newer_ids_and_a_resend_then_settles_again(
    window: int, data: st.DataObject
) -> None:
    # The window is bounded: it remembers the last ``window`` ids. An older id is
    # forgotten, and the same command sent again is a new command that moves money
    # again. This test documents that behaviour; docs/engine.md tells operators to size
    # the window above any sender's retry horizon.
    newer = data.draw(st.integers(window - 2, window + 2), label="newer ids")
    engine = _two_banks(
        EngineSettings(idempotency_window_commands=window, batch_commands_max=window)
    )
    payment = Transfer(100, 10, 11, 7)
    assert engine.execute(payment, 2).ok
    for start in range(0, newer, window):
        stop = min(newer, start + window)
        engine.execute_many([Transfer(1_000 + i, 10, 11, 1) for i in range(start, stop)], 2)
    balance_before = balances(engine)
    again = engine.execute(payment, 2)
    if newer < window:
        assert (again.code, again.replayed) == (ResultCode.OK, True)
        assert balances(engine) == balance_before
    else:
        assert (again.code, again.replayed) == (ResultCode.OK, False)
        credit = engine.account(11)
        assert credit is not None and credit.balance_minor == 7 + newer + 7


def test_refused_reuses_of_an_id_do_not_push_other_ids_out_of_the_window() -> None:
    window = 16
    engine = _two_banks(
        EngineSettings(idempotency_window_commands=window, batch_commands_max=window)
    )
    payment = Transfer(100, 10, 11, 7)
    assert engine.execute(payment, 2).ok
    remembered = engine.idempotency_ids_remembered
    conflicting = [Transfer(100, 10, 11, 8 + i) for i in range(window)]
    assert all(r.code == ResultCode.ID_REUSED for r in engine.execute_many(conflicting, 2))
    assert engine.idempotency_ids_remembered == remembered
    assert engine.execute(payment, 2).replayed


def test_hold_id_placed_again_after_the_window_forgot_it_is_refused_dupl() -> None:
    window = 8
    engine = _two_banks(
        EngineSettings(idempotency_window_commands=window, batch_commands_max=window)
    )
    assert engine.execute(Hold(100, 10, 11, 50), 2).ok
    assert engine.execute(PostHold(101, 100), 3).ok
    engine.execute_many([Transfer(200 + i, 10, 11, 1) for i in range(window)], 4)  # forget id 100
    second = engine.execute(Hold(100, 10, 11, 70), 5)
    # Hold ids outlive the idempotency window: the id is still taken.
    assert second.code == ResultCode.ID_REUSED and second.reason == "DUPL"
    account = engine.account(10)
    assert account is not None and account.held_minor == 0


# --- (6) atomicity --------------------------------------------------------------------------


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=random_streams(commands_max=30), data=st.data())
def test_a_linked_chain_settles_all_or_nothing(stream: Stream, data: st.DataObject) -> None:
    engine = Engine(stream.settings)
    _apply_all(engine, stream.batches)
    assert stream.writer is not None
    stream.writer.choices = DrawChoices(data.draw)
    length = data.draw(st.integers(1, 5), label="chain length")
    chain = stream.writer.chain(length, admin_may_cut=False)
    hold_ids = hold_ids_named(stream.commands() + chain)
    before = _observable(engine, hold_ids)
    chain_answers = answers(engine.apply(Batch.of(chain), engine.timestamp_ns))
    if all(code == ResultCode.OK for code, _ in chain_answers):
        event(f"chain of {length} settled")
        return
    event(f"chain of {length} failed")
    # Failed: no member took effect now, and nothing changed.
    assert not any(code == ResultCode.OK and not replayed for code, replayed in chain_answers)
    assert _observable(engine, hold_ids) == before
