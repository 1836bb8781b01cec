"""Bad input: every rejection carries its ISO 20022 reason and leaves no trace.

Each case prepares a small state on the fixed network (scenario.py: EUR accounts 10-13
funded with 5,000, JPY 14-15 with 100,000, BHD 16-17 empty and without an issuer, the
ECB's own EUR account 18 empty), sends one bad command, and checks its result code,
its ISO reason, and that balances, holds and participants are exactly as before. (The
idempotency window does record the rejected id, so the full digest is not compared.)
Commands that cannot even be represented fail earlier, in ``Batch.of``, and batches or
bytes that are malformed as a whole are refused with an exception, applying nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
import pytest

from interbank.engine import (
    AccountKind,
    Batch,
    CloseAccount,
    Command,
    CommandFormatError,
    Engine,
    EngineSettings,
    Hold,
    Issue,
    OpenAccount,
    PostHold,
    ReactivateParticipant,
    Redeem,
    RegisterParticipant,
    ResultCode,
    Role,
    SetCreditLine,
    SuspendParticipant,
    Transfer,
    VoidHold,
)
from interbank.money import MoneyError, parse_amount

from .observe import balances, engine_holds, engine_participants
from .scenario import SETUP_TIMESTAMP_NS, setup_commands, stream_settings

NOW_NS = 1_000
HOLD_IDS = (500, 501, 502)
SETTINGS = stream_settings(tight_limits=False)  # amounts up to 1,000,000; balances 1,200,000
AMOUNT_MAX = SETTINGS.amount_minor_max
INT64_MAX = 2**63 - 1


def network(settings: EngineSettings = SETTINGS) -> Engine:
    engine = Engine(settings)
    results = engine.execute_many(setup_commands(), SETUP_TIMESTAMP_NS)
    assert all(result.ok for result in results), results
    return engine


def observable(engine: Engine) -> tuple[object, ...]:
    return balances(engine), engine_holds(engine, HOLD_IDS), engine_participants(engine)


@dataclass(frozen=True)
class BadCase:
    name: str
    command: Command
    code: ResultCode
    reason: str
    before: tuple[Command, ...] = ()  # each must be accepted: it builds the state
    at_ns: int = NOW_NS  # when the bad command arrives (later: holds may have expired)


def _case(
    name: str,
    command: Command,
    code: ResultCode,
    reason: str,
    *before: Command,
    at_ns: int = NOW_NS,
) -> BadCase:
    return BadCase(name, command, code, reason, before, at_ns)


R = ResultCode
EUR_HOLD = Hold(500, 10, 11, 100)
CASES: list[BadCase] = [
    # amounts
    _case("transfer zero", Transfer(900, 10, 11, 0), R.AMOUNT_ZERO, "AM01"),
    _case("hold zero", Hold(900, 10, 11, 0), R.AMOUNT_ZERO, "AM01"),
    _case("issue zero", Issue(900, 10, 0), R.AMOUNT_ZERO, "AM01"),
    _case("redeem zero", Redeem(900, 10, 0), R.AMOUNT_ZERO, "AM01"),
    _case("post zero", PostHold(900, 500, 0), R.AMOUNT_ZERO, "AM01", EUR_HOLD),
    _case("transfer negative", Transfer(900, 10, 11, -1), R.AMOUNT_NEGATIVE, "AM12"),
    _case("hold negative", Hold(900, 10, 11, -5), R.AMOUNT_NEGATIVE, "AM12"),
    _case("issue negative", Issue(900, 10, -1), R.AMOUNT_NEGATIVE, "AM12"),
    _case("redeem negative", Redeem(900, 10, -1), R.AMOUNT_NEGATIVE, "AM12"),
    _case("post negative", PostHold(900, 500, -1), R.AMOUNT_NEGATIVE, "AM12", EUR_HOLD),
    _case(
        "transfer over limit", Transfer(900, 10, 11, AMOUNT_MAX + 1), R.AMOUNT_OVER_LIMIT, "AM02"
    ),
    _case("hold over limit", Hold(900, 10, 11, AMOUNT_MAX + 1), R.AMOUNT_OVER_LIMIT, "AM02"),
    _case("issue over limit", Issue(900, 10, AMOUNT_MAX + 1), R.AMOUNT_OVER_LIMIT, "AM02"),
    _case("redeem int64 max", Redeem(900, 10, INT64_MAX), R.AMOUNT_OVER_LIMIT, "AM02"),
    _case(
        "post more than the hold", PostHold(900, 500, 101), R.POST_EXCEEDS_HOLD, "AM09", EUR_HOLD
    ),
    _case(
        "credit over the balance limit",
        Issue(902, 10, AMOUNT_MAX),
        R.BALANCE_LIMIT,
        "AM02",
        Issue(901, 10, 200_000),
    ),
    _case("funds short", Transfer(900, 11, 10, 5_001), R.INSUFFICIENT_FUNDS, "AM04"),
    _case(
        "funds short after a hold",
        Transfer(900, 10, 11, 5_401),
        R.INSUFFICIENT_FUNDS,
        "AM04",
        EUR_HOLD,
    ),
    _case("hold over the funds", Hold(900, 11, 10, 5_001), R.INSUFFICIENT_FUNDS, "AM04"),
    _case("redeem over the funds", Redeem(900, 11, 5_001), R.INSUFFICIENT_FUNDS, "AM04"),
    # accounts that do not exist
    _case("unknown debit", Transfer(900, 99, 11, 5), R.DEBIT_ACCOUNT_NOT_FOUND, "AC01"),
    _case("unknown credit", Transfer(900, 10, 99, 5), R.CREDIT_ACCOUNT_NOT_FOUND, "AC01"),
    _case("hold on unknown", Hold(900, 99, 11, 5), R.DEBIT_ACCOUNT_NOT_FOUND, "AC01"),
    _case("issue to unknown", Issue(900, 99, 5), R.CREDIT_ACCOUNT_NOT_FOUND, "AC01"),
    _case("redeem from unknown", Redeem(900, 99, 5), R.DEBIT_ACCOUNT_NOT_FOUND, "AC01"),
    _case("close unknown", CloseAccount(900, 99), R.ACCOUNT_NOT_FOUND, "AC01"),
    _case("credit line on unknown", SetCreditLine(900, 99, 10), R.ACCOUNT_NOT_FOUND, "AC01"),
    # closed accounts
    _case(
        "credit a closed account",
        Transfer(900, 10, 18, 5),
        R.CREDIT_ACCOUNT_CLOSED,
        "AC04",
        CloseAccount(800, 18),
    ),
    _case(
        "debit a closed account",
        Transfer(900, 18, 10, 5),
        R.DEBIT_ACCOUNT_CLOSED,
        "AC04",
        CloseAccount(800, 18),
    ),
    _case(
        "issue to a closed account",
        Issue(900, 18, 5),
        R.CREDIT_ACCOUNT_CLOSED,
        "AC04",
        CloseAccount(800, 18),
    ),
    _case(
        "redeem from a closed account",
        Redeem(900, 18, 5),
        R.DEBIT_ACCOUNT_CLOSED,
        "AC04",
        CloseAccount(800, 18),
    ),
    _case(
        "post to a closed account",
        PostHold(900, 500),
        R.CREDIT_ACCOUNT_CLOSED,
        "AC04",
        Hold(500, 10, 18, 100),
        CloseAccount(800, 18),
    ),
    _case(
        "close twice",
        CloseAccount(900, 18),
        R.ACCOUNT_ALREADY_CLOSED,
        "AC04",
        CloseAccount(800, 18),
    ),
    _case(
        "credit line on a closed account",
        SetCreditLine(900, 18, 10),
        R.ACCOUNT_ALREADY_CLOSED,
        "AC04",
        CloseAccount(800, 18),
    ),
    _case("close with money", CloseAccount(900, 10), R.ACCOUNT_NOT_EMPTY, "AG01"),
    _case(
        "close with a pending hold",
        CloseAccount(900, 16),
        R.ACCOUNT_NOT_EMPTY,
        "AG01",
        Hold(500, 16, 17, 100),
    ),
    # suspended participants (CHASUS33 owns 11 and 15; ECBFDEFF issues EUR)
    _case(
        "pay a suspended bank",
        Transfer(900, 10, 11, 5),
        R.CREDIT_PARTICIPANT_SUSPENDED,
        "AC06",
        SuspendParticipant(800, "CHASUS33"),
    ),
    _case(
        "suspended bank pays",
        Transfer(900, 11, 10, 5),
        R.DEBIT_PARTICIPANT_SUSPENDED,
        "AC06",
        SuspendParticipant(800, "CHASUS33"),
    ),
    _case(
        "suspended bank holds",
        Hold(900, 11, 10, 5),
        R.DEBIT_PARTICIPANT_SUSPENDED,
        "AC06",
        SuspendParticipant(800, "CHASUS33"),
    ),
    _case(
        "post to a suspended bank",
        PostHold(900, 500),
        R.CREDIT_PARTICIPANT_SUSPENDED,
        "AC06",
        EUR_HOLD,
        SuspendParticipant(800, "CHASUS33"),
    ),
    _case(
        "issue to a suspended bank",
        Issue(900, 11, 5),
        R.CREDIT_PARTICIPANT_SUSPENDED,
        "AC06",
        SuspendParticipant(800, "CHASUS33"),
    ),
    _case(
        "suspended central bank issues",
        Issue(900, 11, 5),
        R.DEBIT_PARTICIPANT_SUSPENDED,
        "AC06",
        SuspendParticipant(800, "ECBFDEFF"),
    ),
    _case(
        "redeem by a suspended bank",
        Redeem(900, 11, 5),
        R.DEBIT_PARTICIPANT_SUSPENDED,
        "AC06",
        SuspendParticipant(800, "CHASUS33"),
    ),
    _case(
        "open for a suspended bank",
        OpenAccount(900, 30, "CHASUS33", "BHD"),
        R.ACCOUNT_PARTICIPANT_SUSPENDED,
        "AC06",
        SuspendParticipant(800, "CHASUS33"),
    ),
    _case(
        "suspend twice",
        SuspendParticipant(900, "CHASUS33"),
        R.PARTICIPANT_ALREADY_SUSPENDED,
        "AC06",
        SuspendParticipant(800, "CHASUS33"),
    ),
    _case(
        "reactivate an active bank",
        ReactivateParticipant(900, "CHASUS33"),
        R.PARTICIPANT_NOT_SUSPENDED,
        "NARR",
    ),
    # same account, currencies, issuance accounts
    _case("transfer to itself", Transfer(900, 10, 10, 5), R.ACCOUNTS_MUST_DIFFER, "AG01"),
    _case("hold to itself", Hold(900, 10, 10, 5), R.ACCOUNTS_MUST_DIFFER, "AG01"),
    _case("EUR to a JPY account", Transfer(900, 10, 14, 5), R.CURRENCY_MISMATCH, "AM03"),
    _case("JPY hold to an EUR account", Hold(900, 14, 10, 5), R.CURRENCY_MISMATCH, "AM03"),
    _case(
        "transfer out of issuance", Transfer(900, 1, 10, 5), R.ISSUANCE_ACCOUNT_FORBIDDEN, "AG01"
    ),
    _case("transfer into issuance", Transfer(900, 10, 1, 5), R.ISSUANCE_ACCOUNT_FORBIDDEN, "AG01"),
    _case("hold on issuance", Hold(900, 1, 10, 5), R.ISSUANCE_ACCOUNT_FORBIDDEN, "AG01"),
    _case("issue to issuance", Issue(900, 1, 5), R.ISSUANCE_ACCOUNT_FORBIDDEN, "AG01"),
    _case("redeem from issuance", Redeem(900, 2, 5), R.ISSUANCE_ACCOUNT_FORBIDDEN, "AG01"),
    _case("issue without an issuer", Issue(900, 16, 5), R.NO_ISSUER, "AM03"),
    _case("redeem without an issuer", Redeem(900, 16, 5), R.NO_ISSUER, "AM03"),
    _case(
        "direct bank opens issuance",
        OpenAccount(900, 30, "BNPAFRPP", "EUR", AccountKind.ISSUANCE),
        R.ISSUANCE_NOT_ALLOWED,
        "AG01",
    ),
    _case(
        "issuance in another currency",
        OpenAccount(900, 30, "ECBFDEFF", "JPY", AccountKind.ISSUANCE),
        R.ISSUANCE_NOT_ALLOWED,
        "AG01",
    ),
    _case(
        "issuance with a credit line",
        OpenAccount(900, 3, "CBBHBHBM", "BHD", AccountKind.ISSUANCE, 5),
        R.CREDIT_LINE_INVALID,
        "AM12",
    ),
    _case("credit line on issuance", SetCreditLine(900, 1, 10), R.CREDIT_LINE_INVALID, "AM12"),
    # holds: two-phase order and expiry
    _case("post unknown hold", PostHold(900, 777), R.HOLD_NOT_FOUND, "NARR"),
    _case("void unknown hold", VoidHold(900, 777), R.HOLD_NOT_FOUND, "NARR"),
    _case(
        "post after void",
        PostHold(900, 500),
        R.HOLD_ALREADY_VOIDED,
        "NARR",
        EUR_HOLD,
        VoidHold(501, 500),
    ),
    _case(
        "void after post",
        VoidHold(900, 500),
        R.HOLD_ALREADY_POSTED,
        "NARR",
        EUR_HOLD,
        PostHold(501, 500),
    ),
    _case(
        "post twice",
        PostHold(900, 500, 10),
        R.HOLD_ALREADY_POSTED,
        "NARR",
        EUR_HOLD,
        PostHold(501, 500, 10),
    ),
    _case(
        "post after expiry",
        PostHold(900, 500),
        R.HOLD_EXPIRED,
        "AB01",
        Hold(500, 10, 11, 100, timeout_ns=50),
        at_ns=NOW_NS + 50,
    ),
    _case(
        "void after expiry",
        VoidHold(900, 500),
        R.HOLD_EXPIRED,
        "AB01",
        Hold(500, 10, 11, 100, timeout_ns=50),
        at_ns=NOW_NS + 51,
    ),
    _case("negative timeout", Hold(900, 10, 11, 5, timeout_ns=-1), R.TIMEOUT_INVALID, "FF01"),
    _case(
        "expiry past int64", Hold(900, 10, 11, 5, timeout_ns=INT64_MAX), R.TIMEOUT_INVALID, "FF01"
    ),
    # administrative commands
    _case("unknown currency", OpenAccount(900, 30, "BNPAFRPP", "ABC"), R.CURRENCY_UNKNOWN, "AM03"),
    _case(
        "currency without minor unit",
        OpenAccount(900, 30, "BNPAFRPP", "XAU"),
        R.CURRENCY_UNKNOWN,
        "AM03",
    ),
    _case(
        "lower-case currency", OpenAccount(900, 30, "BNPAFRPP", "eur"), R.CURRENCY_UNKNOWN, "AM03"
    ),
    _case(
        "central bank of no currency",
        RegisterParticipant(900, "PBOCCNBJ", "PBOC", Role.CENTRAL_BANK, "ABC"),
        R.CURRENCY_UNKNOWN,
        "AM03",
    ),
    _case(
        "open for unknown bank",
        OpenAccount(900, 30, "BARCGB22", "EUR"),
        R.PARTICIPANT_NOT_FOUND,
        "RC01",
    ),
    _case(
        "suspend unknown bank", SuspendParticipant(900, "BARCGB22"), R.PARTICIPANT_NOT_FOUND, "RC01"
    ),
    _case(
        "reactivate unknown bank",
        ReactivateParticipant(900, "BARCGB22"),
        R.PARTICIPANT_NOT_FOUND,
        "RC01",
    ),
    _case(
        "BIC with unknown country",
        RegisterParticipant(900, "DEUTXXFF", "X", Role.DIRECT),
        R.BIC_INVALID,
        "RC01",
    ),
    _case(
        "BIC of 10 characters",
        RegisterParticipant(900, "DEUTDEFF50", "X", Role.DIRECT),
        R.BIC_INVALID,
        "RC01",
    ),
    _case(
        "lower-case BIC",
        RegisterParticipant(900, "barcgb22", "X", Role.DIRECT),
        R.BIC_INVALID,
        "RC01",
    ),
    _case("empty BIC", RegisterParticipant(900, "", "X", Role.DIRECT), R.BIC_INVALID, "RC01"),
    _case(
        "BIC registered twice",
        RegisterParticipant(900, "BNPAFRPP", "X", Role.DIRECT),
        R.PARTICIPANT_EXISTS,
        "DUPL",
    ),
    _case(
        "second central bank for EUR",
        RegisterParticipant(900, "BARCGB22", "X", Role.CENTRAL_BANK, "EUR"),
        R.CENTRAL_BANK_EXISTS,
        "AG01",
    ),
    _case(
        "empty name", RegisterParticipant(900, "BARCGB22", "", Role.DIRECT), R.NAME_INVALID, "FF01"
    ),
    _case(
        "name too long",
        RegisterParticipant(900, "BARCGB22", "x" * 141, Role.DIRECT),
        R.NAME_INVALID,
        "FF01",
    ),
    _case(
        "name with a newline",
        RegisterParticipant(900, "BARCGB22", "Bad\nname", Role.DIRECT),
        R.NAME_INVALID,
        "FF01",
    ),
    _case(
        "direct bank names a currency",
        RegisterParticipant(900, "BARCGB22", "X", Role.DIRECT, "GBP"),
        R.ROLE_INVALID,
        "FF01",
    ),
    _case(
        "central bank without currency",
        RegisterParticipant(900, "BARCGB22", "X", Role.CENTRAL_BANK),
        R.ROLE_INVALID,
        "FF01",
    ),
    _case("account id zero", OpenAccount(900, 0, "BNPAFRPP", "BHD"), R.ACCOUNT_ID_INVALID, "AC01"),
    _case(
        "account id past int64",
        OpenAccount(900, 2**63, "BNPAFRPP", "BHD"),
        R.ACCOUNT_ID_INVALID,
        "AC01",
    ),
    _case("account id taken", OpenAccount(900, 10, "BNPAFRPP", "BHD"), R.ACCOUNT_EXISTS, "DUPL"),
    _case(
        "second EUR account",
        OpenAccount(900, 30, "BNPAFRPP", "EUR"),
        R.ACCOUNT_EXISTS_FOR_CURRENCY,
        "DUPL",
    ),
    _case("negative credit line", SetCreditLine(900, 11, -1), R.CREDIT_LINE_INVALID, "AM12"),
    _case(
        "credit line over the limit",
        SetCreditLine(900, 11, SETTINGS.balance_minor_abs_max + 1),
        R.CREDIT_LINE_INVALID,
        "AM12",
    ),
    _case(
        "credit line below its use",
        SetCreditLine(900, 16, 199),
        R.CREDIT_LINE_BELOW_USAGE,
        "AM04",
        Transfer(800, 16, 17, 200),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_command_is_refused_with_its_reason_and_changes_nothing(case: BadCase) -> None:
    engine = network()
    for command in case.before:
        result = engine.execute(command, NOW_NS)
        assert result.ok, (command, result)
    engine.apply(Batch.empty(), case.at_ns)  # let what expires by then expire first
    before = observable(engine)
    result = engine.execute(case.command, case.at_ns)
    assert (result.code, result.reason, result.replayed) == (case.code, case.reason, False)
    assert observable(engine) == before
    # The refusal is remembered like any answer: the same command again replays it.
    again = engine.execute(case.command, case.at_ns)
    assert (again.code, again.replayed) == (case.code, True)
    assert observable(engine) == before


def test_hold_is_still_pending_one_nanosecond_before_its_expiry() -> None:
    engine = network()
    assert engine.execute(Hold(500, 10, 11, 100, timeout_ns=50), NOW_NS).ok
    assert engine.execute(PostHold(501, 500, 60), NOW_NS + 49).ok
    account = engine.account(10)
    assert account is not None and (account.balance_minor, account.held_minor) == (4_940, 0)


def test_a_suspended_bank_s_hold_can_still_be_voided() -> None:
    # docs/engine.md: suspension stops debits and credits, "holds can still be voided".
    engine = network()
    assert engine.execute(EUR_HOLD, NOW_NS).ok
    assert engine.execute(SuspendParticipant(800, "BNPAFRPP"), NOW_NS).ok
    assert engine.execute(VoidHold(501, 500), NOW_NS).ok
    account = engine.account(10)
    assert account is not None and account.held_minor == 0


# --- linked chains ----------------------------------------------------------------------------


def test_chain_left_open_at_the_end_of_the_batch_fails_ff01_and_changes_nothing() -> None:
    engine = network()
    before = observable(engine)
    results = engine.execute_many(
        [Transfer(900, 10, 11, 5, linked=True), Hold(500, 11, 10, 5, linked=True)], NOW_NS
    )
    assert [(r.code, r.reason) for r in results] == [
        (R.LINKED_EVENT_FAILED, "NARR"),
        (R.LINKED_CHAIN_OPEN, "FF01"),
    ]
    assert observable(engine) == before


def test_chain_cannot_continue_across_an_administrative_command() -> None:
    # An administrative command cannot be linked, so it ends the money run before it:
    # the chain up to it is left open; the administrative command itself still applies.
    engine = network()
    before_balances = balances(engine)
    results = engine.execute_many(
        [
            Transfer(900, 10, 11, 5, linked=True),
            SuspendParticipant(901, "BOJPJPJT"),
            Transfer(902, 12, 13, 5),
        ],
        NOW_NS,
    )
    assert [r.code for r in results] == [R.LINKED_CHAIN_OPEN, R.OK, R.OK]
    moved = {row[0]: row[1] for row in balances(engine)}
    assert moved[10] == 5_000 and moved[11] == 5_000  # the open chain moved nothing
    assert balances(engine) != before_balances  # the last transfer did


def test_failing_member_keeps_its_reason_and_rolls_back_the_members_before_it() -> None:
    engine = network()
    before = observable(engine)
    results = engine.execute_many(
        [
            Hold(500, 10, 11, 100, linked=True),
            PostHold(501, 500, linked=True),
            Transfer(900, 11, 12, 6_000, linked=True),  # 5,100 available: AM04
            Transfer(901, 12, 13, 5),
        ],
        NOW_NS,
    )
    assert [(r.code, r.reason) for r in results] == [
        (R.LINKED_EVENT_FAILED, "NARR"),
        (R.LINKED_EVENT_FAILED, "NARR"),
        (R.INSUFFICIENT_FUNDS, "AM04"),
        (R.LINKED_EVENT_FAILED, "NARR"),
    ]
    assert observable(engine) == before
    assert engine.hold(500) is None  # a hold placed inside a failed chain never existed


# --- commands that cannot be represented ---------------------------------------------------


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (Transfer(0, 10, 11, 5), "FF01"),
        (Transfer(-1, 10, 11, 5), "FF01"),
        (Transfer(2**128, 10, 11, 5), "FF01"),
        (Transfer(True, 10, 11, 5), "FF01"),  # a bool is not an id
        (PostHold(1, 0), "FF01"),
        (PostHold(1, 2**128), "FF01"),
        (VoidHold(1, -5), "FF01"),
        (RegisterParticipant(0, "BARCGB22", "Barclays", Role.DIRECT), "FF01"),
        (Hold(1, 10, 11, 5, timeout_ns=2**63), "FF01"),
        (Transfer(1, 0, 11, 5), "AC01"),
        (Transfer(1, 10, 2**63, 5), "AC01"),
        (Issue(1, -3, 5), "AC01"),
        (Transfer(1, 10, 11, 2**63), "AM02"),
        (Transfer(1, 10, 11, -(2**63)), "AM02"),
        (Transfer(1, 10, 11, 1.5), "AM12"),  # type: ignore[arg-type]
        (Transfer(1, 10, 11, Decimal("1")), "AM12"),  # type: ignore[arg-type]
        (Issue(1, 10, "5"), "AM12"),  # type: ignore[arg-type]
        (object(), "FF01"),
    ],
    ids=[
        "id 0",
        "id -1",
        "id 2**128",
        "id True",
        "hold id 0",
        "hold id 2**128",
        "hold id -5",
        "admin id 0",
        "timeout 2**63",
        "account 0",
        "account 2**63",
        "account -3",
        "amount 2**63",
        "amount -2**63",
        "amount float",
        "amount Decimal",
        "amount str",
        "not a command",
    ],
)
def test_unrepresentable_command_is_refused_by_batch_of_before_anything_applies(
    command: Command, reason: str
) -> None:
    engine = network()
    digest = engine.digest()
    with pytest.raises(CommandFormatError) as refused:
        Batch.of([Transfer(950, 10, 11, 5), command])
    assert refused.value.reason_code == reason
    assert refused.value.index == 1  # the error names the offending row
    # Nothing reached the engine, not even the valid first row.
    assert engine.digest() == digest


def test_unknown_kind_in_a_columnar_batch_is_refused_ff01_and_changes_nothing() -> None:
    engine = network()
    before = observable(engine)
    valid = Batch.of([Transfer(950, 10, 11, 5), Transfer(951, 10, 11, 5)])
    # Kind 9 is unassigned; 16 is an administrative kind without its admin record.
    forged = replace(valid, kind=np.array([9, 16], dtype=np.uint8))
    result = engine.apply(forged, NOW_NS)
    assert [r.code for r in result.results()] == [R.KIND_UNKNOWN, R.KIND_UNKNOWN]
    assert all(r.reason == "FF01" for r in result.results())
    assert observable(engine) == before


def test_batch_over_batch_commands_max_is_refused_whole_and_applies_nothing() -> None:
    engine = network()
    assert engine.execute(Hold(500, 10, 11, 100, timeout_ns=50), NOW_NS).ok
    digest, commands_applied = engine.digest(), engine.commands_applied
    oversized = Batch.of(
        [Transfer(2_000 + i, 10, 11, 1) for i in range(SETTINGS.batch_commands_max + 1)]
    )
    with pytest.raises(ValueError, match="batch_commands_max"):
        engine.apply(oversized, NOW_NS + 100)
    # Not even time moved on: the hold due to expire at that stamp is still pending.
    assert engine.digest() == digest
    assert engine.commands_applied == commands_applied
    assert engine.timestamp_ns == NOW_NS
    hold = engine.hold(500)
    assert hold is not None and hold.state == "pending"
    # One row fewer fits.
    fitting = oversized.slice(0, SETTINGS.batch_commands_max)
    assert len(engine.apply(fitting, NOW_NS + 100)) == SETTINGS.batch_commands_max


@pytest.mark.parametrize(
    "admin",
    [
        SuspendParticipant(901, ["BNPAFRPP"]),  # type: ignore[arg-type]
        OpenAccount(901, 30, "BNPAFRPP", ["EUR"]),  # type: ignore[arg-type]
        OpenAccount(901, 30, {"bic": "BNPAFRPP"}, "EUR"),  # type: ignore[arg-type]
    ],
    ids=["list as BIC", "list as currency", "dict as BIC"],
)
def test_admin_command_with_a_field_of_the_wrong_type_never_half_applies_a_batch(
    admin: Command,
) -> None:
    engine = network()
    before = observable(engine)
    try:
        batch = Batch.of([Transfer(900, 10, 11, 5), admin])
    except CommandFormatError:
        assert observable(engine) == before  # refused at the boundary: a good fix
        return
    try:
        result = engine.apply(batch, NOW_NS)
    except Exception:
        # Refusing the whole batch is fine too, but only if none of it took effect.
        assert observable(engine) == before
        assert engine.timestamp_ns == SETUP_TIMESTAMP_NS
        return
    assert result.result(1).code != R.OK  # or answered with a reason, like any bad field


def test_stamp_beyond_int64_is_refused_without_moving_the_clock() -> None:
    engine = network()
    digest = engine.digest()
    with pytest.raises((ValueError, AssertionError, OverflowError)):
        engine.execute(Transfer(900, 10, 11, 5), 2**63)
    assert engine.timestamp_ns == SETUP_TIMESTAMP_NS
    assert engine.digest() == digest


def test_limits_on_participants_accounts_and_holds_answer_limit_reached() -> None:
    engine = network(stream_settings(tight_limits=True))  # 9 participants, 13 accounts, 6 holds
    before_limit: list[Command] = [
        RegisterParticipant(800, "BARCGB22", "Barclays", Role.DIRECT),
        RegisterParticipant(801, "CITIUS33", "Citibank", Role.DIRECT),
        OpenAccount(802, 20, "BARCGB22", "EUR"),
        OpenAccount(803, 21, "CITIUS33", "EUR"),
        *[Hold(500 + i, 10, 11, 1) for i in range(6)],
    ]
    assert all(r.ok for r in engine.execute_many(before_limit, NOW_NS))
    before = observable(engine)
    over = engine.execute_many(
        [
            RegisterParticipant(
                900, "PBOCCNBJ", "People's Bank of China", Role.CENTRAL_BANK, "CNY"
            ),
            OpenAccount(901, 22, "BNPAFRPP", "BHD"),
            Hold(902, 10, 11, 1),
        ],
        NOW_NS,
    )
    assert [(r.code, r.reason) for r in over] == [(R.LIMIT_REACHED, "NARR")] * 3
    assert observable(engine) == before


# --- amounts in text: too many decimals, unknown currency ------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [("1.5", "JPY"), ("100.01", "JPY"), ("1.005", "CNY"), ("0.001", "EUR"), ("1.0005", "BHD")],
)
def test_more_decimals_than_the_currency_has_is_refused_ch20_before_any_command_exists(
    text: str, code: str
) -> None:
    engine = network()
    digest = engine.digest()
    with pytest.raises(MoneyError) as refused:
        Transfer(900, 14, 15, parse_amount(text, code))
    assert refused.value.reason_code == "CH20"
    assert engine.digest() == digest


def test_amounts_in_the_currency_s_own_precision_settle_to_the_exact_minor_unit() -> None:
    engine = network()
    jpy = engine.execute(Transfer(900, 14, 15, parse_amount("1500", "JPY")), NOW_NS)
    bhd = engine.execute(Transfer(901, 16, 17, parse_amount("0.250", "BHD")), NOW_NS)
    assert jpy.ok and bhd.ok
    moved = {row[0]: row[1] for row in balances(engine)}
    assert (moved[14], moved[15], moved[16], moved[17]) == (98_500, 101_500, -250, 250)


def test_amount_in_an_unknown_currency_is_refused_am03() -> None:
    with pytest.raises(MoneyError) as refused:
        parse_amount("10.00", "ABC")
    assert refused.value.reason_code == "AM03"


# --- known bugs -----------------------------------------------------------------------------


@pytest.mark.parametrize("bic", ["BNPAFRPP   ", "BNPAFRPP\t\t\t"], ids=["spaces", "tabs"])
def test_bic_padded_with_whitespace_is_refused_rc01(bic: str) -> None:
    engine = network()
    before = observable(engine)
    result = engine.execute(RegisterParticipant(900, bic, "Look-alike", Role.DIRECT), NOW_NS)
    assert (result.code, result.reason) == (R.BIC_INVALID, "RC01")
    assert observable(engine) == before


# --- malformed bytes: packed batches and snapshots --------------------------------------------


def _packed_admin_batch() -> bytes:
    return Batch.of([Transfer(1, 10, 11, 5), SuspendParticipant(2, "BNPAFRPP")]).pack()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda data: data[:10],
        lambda data: b"XXXX" + data[4:],
        lambda data: data + b"\x00",
        lambda data: data[:-1],
        lambda data: data.replace(b'"bic"', b'"bic'),  # JSON no longer parses
    ],
    ids=["truncated header", "bad magic", "trailing byte", "truncated admin", "broken json"],
)
def test_malformed_packed_batch_is_refused_with_value_error(mangle: object) -> None:
    with pytest.raises(ValueError):
        Batch.unpack(mangle(_packed_admin_batch()))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("find", "put"),
    [(b'"bic"', b'"bix"'), (b"[[1,20,", b"[[0,20,"), (b"[[1,20,", b"[[1, 1,")],
    ids=["renamed field", "admin record on a money row", "money kind in an admin record"],
)
def test_well_formed_json_with_wrong_admin_content_is_refused_with_value_error(
    find: bytes, put: bytes
) -> None:
    data = _packed_admin_batch()
    assert find in data
    with pytest.raises(ValueError):
        Batch.unpack(data.replace(find, put))


def _snapshot() -> bytes:
    engine = network()
    engine.execute(EUR_HOLD, NOW_NS)
    return engine.snapshot()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda data: data[:7],
        lambda data: data[:-1],
        lambda data: data + b"\x00",
        lambda data: b"XXXX" + data[4:],
        lambda data: data[:-9] + bytes([data[-9] ^ 1]) + data[-8:],  # a state byte flipped
        lambda data: data.replace(b'"BNPAFRPP"', b'"BNPAFRPQ"', 1),  # the header edited
    ],
    ids=[
        "truncated header",
        "truncated arrays",
        "trailing byte",
        "bad magic",
        "flipped byte",
        "edited participant",
    ],
)
def test_corrupt_snapshot_is_refused_with_value_error(mangle: object) -> None:
    with pytest.raises(ValueError):
        Engine.restore(mangle(_snapshot()))  # type: ignore[operator]


def test_snapshot_with_a_corrupted_dtype_is_refused_with_value_error() -> None:
    data = _snapshot()
    assert b'"<u8"' in data
    with pytest.raises(ValueError):
        Engine.restore(data.replace(b'"<u8"', b'"<,8"', 1))


def test_snapshot_with_altered_settings_is_refused() -> None:
    data = _snapshot()
    field = f'"amount_minor_max": {SETTINGS.amount_minor_max}'.encode()
    assert field in data
    # Same length, so only the value differs, not the header's size.
    altered = data.replace(field, f'"amount_minor_max": {SETTINGS.amount_minor_max + 1}'.encode())
    with pytest.raises(ValueError):
        Engine.restore(altered)
