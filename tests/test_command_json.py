"""The JSON form of commands: every type round-trips; every bad input gets its code."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interbank.command_json import (
    FIELDS,
    LINE_CHARS_MAX,
    TYPE_OF,
    CommandJsonError,
    chain_units,
    check_currencies,
    check_file_currencies,
    command_to_json,
    dumps,
    error_to_json,
    id_to_json,
    not_applied_to_json,
    parse_command,
    parse_line,
    read_lines,
    refuse_long_chains,
    result_to_json,
)
from interbank.engine import (
    AccountKind,
    CloseAccount,
    Command,
    Hold,
    Issue,
    OpenAccount,
    PostHold,
    ReactivateParticipant,
    Redeem,
    RegisterParticipant,
    Result,
    ResultCode,
    Role,
    SetCreditLine,
    SuspendParticipant,
    Transfer,
    VoidHold,
)
from interbank.engine.commands import (
    CancelPayment,
    ChangePriority,
    CrossPayment,
    EndOfDay,
    MovePayment,
    Payment,
    Priority,
    PublishQuote,
    ResolveGridlock,
    SetBilateralLimit,
    SetMultilateralLimit,
    SetReservation,
    SettleSet,
    StartOfDay,
    WithdrawQuote,
)

UUID_TEXT = "3f2b8c1e-6a4d-4e8f-9b0a-1c2d3e4f5a6b"
UUID_INT = uuid.UUID(UUID_TEXT).int

# One example of every command type, with the currency its amounts are written in.
EXAMPLES: list[tuple[Command, str | None]] = [
    (Transfer(1, 601, 701, 10050), "CNY"),
    (Transfer(UUID_INT, 601, 701, 10050, linked=True), None),
    (Hold(2, 601, 701, 30000, timeout_ns=3_600_000_000_000), "CNY"),
    (Hold(3, 601, 701, 1, linked=True), None),
    (PostHold(4, 2, 25000), "CNY"),
    (PostHold(5, UUID_INT), None),
    (VoidHold(6, 3, linked=True), None),
    (Issue(7, 601, 100_000_000), "CNY"),
    (Issue(8, 601, 1), "JPY"),
    (Redeem(9, 701, 500_000), "INR"),
    (RegisterParticipant(10, "JDRBCNBJ", "Jade Reserve Bank", Role.CENTRAL_BANK, "CNY"), None),
    (RegisterParticipant(11, "YRCBCNSH", "Yellow River Bank", Role.DIRECT), None),
    (OpenAccount(12, 151, "JDRBCNBJ", "CNY", AccountKind.ISSUANCE), None),
    (OpenAccount(13, 601, "YRCBCNSH", "CNY", credit_line_minor=5_000_000), None),
    (CloseAccount(14, 602), None),
    (SetCreditLine(15, 701, 2_000_000), "CNY"),
    (SetCreditLine(16, 701, 0), None),
    (SuspendParticipant(17, "PDBKCNGZ"), None),
    (ReactivateParticipant(18, "PDBKCNGZ"), None),
    # FX; the rest of their cases are in tests/fx/test_fx_command_json.py
    (CrossPayment(19, 601, 702, 10050), "CNY"),
    (CrossPayment(20, 601, 702, 10050, UUID_INT, Priority.HIGH, 5_000), None),
    (PublishQuote(21, "PDBKCNGZ", "CNY", "RUB", "12.6543", 100, 10**9, 2**62, 50), None),
    (WithdrawQuote(22, 21, "PDBKCNGZ"), None),
    # RTGS queues and liquidity saving (docs/rtgs.md)
    (Payment(23, 601, 701, 10050), "CNY"),
    (Payment(UUID_INT, 601, 701, 1, Priority.URGENT, 5_000, 9_000), None),
    (Payment(24, 601, 701, 7, Priority.HIGH, till_ns=2**63 - 1), None),
    (CancelPayment(25, 23), None),
    (CancelPayment(26, UUID_INT, "YRCBCNSH"), None),
    (ChangePriority(27, 23, Priority.HIGH, "YRCBCNSH"), None),
    (ChangePriority(28, 23, Priority.NORMAL), None),
    (MovePayment(29, 23, True), None),
    (MovePayment(30, 23, False, "YRCBCNSH"), None),
    (SetBilateralLimit(31, "YRCBCNSH", "PDBKCNGZ", "CNY", 100_000_000), None),
    (SetBilateralLimit(32, "YRCBCNSH", "PDBKCNGZ", "JPY", 0), None),
    (SetMultilateralLimit(33, "YRCBCNSH", "CNY", 250_000), None),
    (SetReservation(34, 601, Priority.URGENT, 500_000), "CNY"),
    (SetReservation(35, 601, Priority.HIGH, 0), None),
    (ResolveGridlock(36, "CNY"), None),
    (SettleSet(37, "CNY", (23, UUID_INT, 24)), None),
    (EndOfDay(38, "CNY"), None),
    (StartOfDay(39, "CNY"), None),
]


def _error(text: str) -> CommandJsonError:
    with pytest.raises(CommandJsonError) as caught:
        parse_line(text)
    return caught.value


def _transfer(**fields: object) -> str:
    base: dict[str, object] = {
        "type": "transfer",
        "id": 7,
        "debit_account_id": 601,
        "credit_account_id": 701,
        "amount": "100.50",
        "currency": "CNY",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


# --- round trips ------------------------------------------------------------------------------


def test_every_command_type_has_an_example() -> None:
    assert {TYPE_OF[type(c)] for c, _ in EXAMPLES} == set(FIELDS)


@pytest.mark.parametrize(("command", "code"), EXAMPLES, ids=lambda v: type(v).__name__)
def test_round_trip_through_a_json_line(command: Command, code: str | None) -> None:
    line = dumps(command_to_json(command, code))
    assert "\n" not in line
    parsed = parse_line(line)
    assert parsed.command == command
    assert parsed.id_json == id_to_json(command.id)


@pytest.mark.parametrize(("command", "code"), EXAMPLES, ids=lambda v: type(v).__name__)
def test_round_trip_with_minor_units(command: Command, code: str | None) -> None:
    assert parse_command(command_to_json(command)).command == command


def test_decimal_amount_is_exact_per_currency_exponent() -> None:
    assert parse_line(_transfer(amount="100.50")).command == Transfer(7, 601, 701, 10050)
    jpy = parse_line(_transfer(amount="100", currency="JPY")).command
    assert isinstance(jpy, Transfer) and jpy.amount_minor == 100
    kwd = parse_line(_transfer(amount="1.005", currency="KWD")).command
    assert isinstance(kwd, Transfer) and kwd.amount_minor == 1005


def test_uuid_id_is_accepted_in_any_case_and_echoed_as_written() -> None:
    parsed = parse_line(_transfer(id=UUID_TEXT.upper()))
    assert parsed.command.id == UUID_INT
    assert parsed.id_json == UUID_TEXT.upper()


def test_large_ids_are_written_as_uuid_strings() -> None:
    assert id_to_json(2**53 - 1) == 2**53 - 1
    assert id_to_json(2**53) == str(uuid.UUID(int=2**53))
    assert parse_command({"type": "void_hold", "id": 2**128 - 1, "hold_id": 1}).command.id == (
        2**128 - 1
    )


@given(
    command_id=st.integers(1, 2**128 - 1),
    debit=st.integers(1, 2**63 - 1),
    credit=st.integers(1, 2**63 - 1),
    amount_minor=st.integers(1, 10**17),
    linked=st.booleans(),
    code=st.sampled_from(["CNY", "RUB", "INR", "BRL", "ZAR", "JPY", "KWD", None]),
)
def test_transfer_round_trip_property(
    command_id: int, debit: int, credit: int, amount_minor: int, linked: bool, code: str | None
) -> None:
    command = Transfer(command_id, debit, credit, amount_minor, linked)
    assert parse_line(dumps(command_to_json(command, code))).command == command


# --- refusals, each with its reason code and field --------------------------------------------


@pytest.mark.parametrize(
    ("line", "code", "field"),
    [
        (_transfer(amount="0.00"), "AM01", "amount"),
        (_transfer(amount=..., currency=..., amount_minor=0), "AM01", "amount_minor"),
        (_transfer(amount=..., amount_minor=-5), "AM12", "amount_minor"),
        (_transfer(amount="-5.00"), "AM12", "amount"),
        (_transfer(amount="1e3"), "AM12", "amount"),
        (_transfer(amount=" 1.00"), "AM12", "amount"),
        (_transfer(amount="1000000000000000.01"), "AM02", "amount"),
        (_transfer(amount=..., currency=..., amount_minor=10**17 + 1), "AM02", "amount_minor"),
        (_transfer(amount="100.505"), "CH20", "amount"),
        (_transfer(amount="1.5", currency="JPY"), "CH20", "amount"),
        (_transfer(currency="XYZ"), "AM03", "currency"),
        (_transfer(currency="cny"), "AM03", "currency"),
        (_transfer(currency=7), "FF01", "currency"),
        (_transfer(amount=100.5), "FF01", "amount"),
        (_transfer(amount=..., amount_minor=100.5), "FF01", "amount_minor"),
        (_transfer(amount=..., amount_minor="100"), "FF01", "amount_minor"),
        (_transfer(amount_minor=100), "FF01", "amount_minor"),
        (_transfer(currency=...), "FF01", "currency"),
        (_transfer(amount=...), "FF01", "amount"),
        (_transfer(colour="red"), "FF01", "colour"),
        (_transfer(id=0), "FF01", "id"),
        (_transfer(id=-1), "FF01", "id"),
        (_transfer(id=2**128), "FF01", "id"),
        (_transfer(id="not-a-uuid"), "FF01", "id"),
        (_transfer(id="00000000-0000-0000-0000-000000000000"), "FF01", "id"),
        (_transfer(id=True), "FF01", "id"),
        (_transfer(id=1.0), "FF01", "id"),
        (_transfer(id=None), "FF01", "id"),
        (_transfer(id=...), "FF01", "id"),
        (_transfer(debit_account_id=0), "AC01", "debit_account_id"),
        (_transfer(credit_account_id=2**63), "AC01", "credit_account_id"),
        (_transfer(debit_account_id="601"), "FF01", "debit_account_id"),
        (_transfer(credit_account_id=...), "FF01", "credit_account_id"),
        (_transfer(linked="yes"), "FF01", "linked"),
        (_transfer(linked=1), "FF01", "linked"),
        (_transfer(type="teleport"), "FF01", "type"),
        (_transfer(type=...), "FF01", "type"),
        ('{"type": "transfer", "id": 1, "id": 2}', "FF01", "id"),
        ("{not json", "FF01", None),
        ("", "FF01", None),
        ("[1, 2]", "FF01", None),
        ('"transfer"', "FF01", None),
        ('{"type": "transfer", "id": NaN}', "FF01", None),
        ("[" * 100_000, "FF01", None),
        ("[" * 5_000 + "]" * 5_000, "FF01", None),
        (
            '{"type": "hold", "id": 1, "debit_account_id": 1, "credit_account_id": 2, '
            '"amount_minor": 5, "timeout_ns": -1}',
            "FF01",
            "timeout_ns",
        ),
        ('{"type": "post_hold", "id": 1, "hold_id": 0}', "FF01", "hold_id"),
        ('{"type": "void_hold", "id": 1, "hold_id": 2, "amount_minor": 5}', "FF01", "amount_minor"),
        (
            '{"type": "register_participant", "id": 1, "bic": "AAAACNBJ", "name": "A", '
            '"role": "king"}',
            "FF01",
            "role",
        ),
        (
            '{"type": "register_participant", "id": 1, "bic": 5, "name": "A", "role": "direct"}',
            "FF01",
            "bic",
        ),
        (
            '{"type": "open_account", "id": 1, "account_id": 5, "bic": "AAAACNBJ", '
            '"currency": "CNY", "kind": "savings"}',
            "FF01",
            "kind",
        ),
        (
            '{"type": "open_account", "id": 1, "account_id": 5, "bic": "AAAACNBJ", '
            '"currency": "CNY", "credit_line": "-1.00"}',
            "AM12",
            "credit_line",
        ),
        ('{"type": "set_credit_line", "id": 1, "account_id": 5}', "FF01", "credit_line"),
        (
            '{"type": "set_credit_line", "id": 1, "account_id": 5, "credit_line_minor": -1}',
            "AM12",
            "credit_line_minor",
        ),
        ('{"type": "close_account", "id": 1, "account_id": 5, "linked": true}', "FF01", "linked"),
        ('{"type": "suspend_participant", "id": 1}', "FF01", "bic"),
    ],
)
def test_bad_input_is_refused_with_its_reason_code(line: str, code: str, field: str | None) -> None:
    error = _error(line)
    assert error.reason_code == code, error
    assert error.field == field, error
    assert error.text


def test_line_length_is_limited() -> None:
    line = _transfer(amount="1.00") + " " * LINE_CHARS_MAX
    assert _error(line).reason_code == "FF01"


def test_zero_credit_line_is_allowed() -> None:
    line = '{"type": "set_credit_line", "id": 1, "account_id": 5, "credit_line_minor": 0}'
    assert parse_line(line).command == SetCreditLine(1, 5, 0)


def test_refusal_echoes_the_senders_id() -> None:
    assert _error(_transfer(amount="0.001", id=UUID_TEXT)).id_json == UUID_TEXT
    assert _error(_transfer(amount="0.001", id=42)).id_json == 42
    assert _error(_transfer(amount="0.001", id=-3)).id_json is None


def test_never_a_float_on_the_way_in() -> None:
    # A fraction in a number is read as Decimal and refused, so it cannot lose cents.
    error = _error(_transfer(amount=..., currency=..., amount_minor=0.1))
    assert "0.1" in error.text


# --- the currency check -----------------------------------------------------------------------


def test_currency_other_than_the_accounts_is_am03() -> None:
    parsed = parse_line(_transfer(currency="CNY"))
    currencies = {601: "CNY", 701: "ZAR"}
    with pytest.raises(CommandJsonError) as caught:
        check_currencies(parsed, currencies.get, lambda _: None)
    assert caught.value.reason_code == "AM03"
    assert caught.value.field == "credit_account_id"
    # Unknown accounts are left to the engine (AC01).
    check_currencies(parsed, {601: "CNY"}.get, lambda _: None)


def test_post_hold_currency_is_checked_against_the_hold() -> None:
    parsed = parse_line(
        '{"type": "post_hold", "id": 9, "hold_id": 2, "amount": "5.00", "currency": "RUB"}'
    )
    with pytest.raises(CommandJsonError) as caught:
        check_currencies(parsed, lambda _: None, {2: "CNY"}.get)
    assert caught.value.reason_code == "AM03"


def test_file_check_knows_accounts_and_holds_opened_earlier_in_the_file() -> None:
    lines = [
        '{"type": "open_account", "id": 1, "account_id": 5, "bic": "AAAAJPJT", "currency": "JPY"}',
        '{"type": "issue", "id": 2, "account_id": 5, "amount": "100.00", "currency": "CNY"}',
        '{"type": "hold", "id": 3, "debit_account_id": 5, "credit_account_id": 6, '
        '"amount": "100", "currency": "JPY"}',
        '{"type": "post_hold", "id": 4, "hold_id": 3, "amount": "1.00", "currency": "CNY"}',
        '{"type": "issue", "id": 5, "account_id": 5, "amount": "100", "currency": "JPY"}',
    ]
    outcomes = check_file_currencies(read_lines(lines), lambda _: None, lambda _: None)
    codes = [o.error.reason_code if o.error else "ok" for o in outcomes]
    assert codes == ["ok", "AM03", "ok", "AM03", "ok"]


# --- files of lines ---------------------------------------------------------------------------


def test_read_lines_numbers_physical_lines_and_skips_blank_ones() -> None:
    outcomes = read_lines(["", _transfer(), "   ", "oops", _transfer(id=8)])
    assert [o.line for o in outcomes] == [2, 4, 5]
    assert [o.error is None for o in outcomes] == [True, False, True]


def test_chains_are_kept_whole() -> None:
    lines = [
        _transfer(id=1, linked=True),
        _transfer(id=2, linked=True),
        _transfer(id=3),
        _transfer(id=4),
        '{"type": "transfer", "id": 5, "linked": true, "oops": 1}',
        _transfer(id=6),
    ]
    units = chain_units(read_lines(lines))
    assert [[o.line for o in unit] for unit in units] == [[1, 2, 3], [4], [5, 6]]


def test_unreadable_line_that_says_linked_joins_the_next_chain() -> None:
    units = chain_units(read_lines(['{"linked": true, oops', _transfer(id=2)]))
    assert [[o.line for o in unit] for unit in units] == [[1, 2]]


def test_long_chains_are_refused_whole() -> None:
    lines = [_transfer(id=i, linked=True) for i in range(1, 5)] + [_transfer(id=5)]
    outcomes = refuse_long_chains(read_lines(lines), chain_commands_max=4)
    assert all(o.error is not None and o.error.reason_code == "FF01" for o in outcomes)
    assert len(refuse_long_chains(read_lines(lines), chain_commands_max=5)) == 5


# --- result lines -----------------------------------------------------------------------------


def test_result_lines() -> None:
    ok = result_to_json(3, UUID_TEXT, Result(UUID_INT, ResultCode.OK))
    assert ok == {
        "line": 3,
        "id": UUID_TEXT,
        "status": "ACSC",
        "code": None,
        "reason": "accepted",
        "result": "ok",
        "replayed": False,
    }
    rejected = result_to_json(4, 7, Result(7, ResultCode.INSUFFICIENT_FUNDS, replayed=True))
    assert rejected["status"] == "RJCT" and rejected["code"] == "AM04"
    assert rejected["replayed"] is True and rejected["result"] == "insufficient_funds"
    refused = error_to_json(5, _error(_transfer(amount="1.001")))
    assert refused["code"] == "CH20" and refused["field"] == "amount"
    assert refused["status"] == "RJCT" and refused["result"] == "refused"
    skipped = not_applied_to_json(6, 9, "why")
    assert skipped["code"] == "NARR" and skipped["result"] == "not_applied"
    for line in (ok, rejected, refused, skipped):
        assert json.loads(json.dumps(line)) == line


# --- RTGS commands ----------------------------------------------------------------------------


def _line(**fields: object) -> str:
    return json.dumps(fields)


RTGS_BAD_INPUT: list[tuple[str, str, str | None]] = [
    (_line(type="payment", id=1, debit_account_id=601, credit_account_id=701, amount_minor=5,
           priority="top"), "FF01", "priority"),
    (_line(type="payment", id=1, debit_account_id=601, credit_account_id=701, amount_minor=5,
           priority=2), "FF01", "priority"),
    (_line(type="payment", id=1, debit_account_id=601, credit_account_id=701, amount_minor=5,
           from_ns=-1), "FF01", "from_ns"),
    (_line(type="payment", id=1, debit_account_id=601, credit_account_id=701, amount_minor=5,
           till_ns="soon"), "FF01", "till_ns"),
    (_line(type="payment", id=1, debit_account_id=601, credit_account_id=701, amount_minor=0),
     "AM01", "amount_minor"),
    (_line(type="payment", id=1, debit_account_id=601, credit_account_id=701, amount_minor=5,
           linked=True), "FF01", "linked"),
    (_line(type="cancel_payment", id=1), "FF01", "payment_id"),
    (_line(type="cancel_payment", id=1, payment_id=0), "FF01", "payment_id"),
    (_line(type="cancel_payment", id=1, payment_id=5, by_bic=7), "FF01", "by_bic"),
    (_line(type="change_priority", id=1, payment_id=5), "FF01", "priority"),
    (_line(type="change_priority", id=1, payment_id=5, priority="HIGH"), "FF01", "priority"),
    (_line(type="move_payment", id=1, payment_id=5), "FF01", "to"),
    (_line(type="move_payment", id=1, payment_id=5, to="middle"), "FF01", "to"),
    (_line(type="move_payment", id=1, payment_id=5, to=True), "FF01", "to"),
    (_line(type="set_bilateral_limit", id=1, bic="YRCBCNSH", counterparty_bic="PDBKCNGZ",
           currency="CNY"), "FF01", "limit"),
    (_line(type="set_bilateral_limit", id=1, bic="YRCBCNSH", counterparty_bic="PDBKCNGZ",
           currency="CNY", limit="-1.00"), "AM12", "limit"),
    (_line(type="set_bilateral_limit", id=1, bic="YRCBCNSH", counterparty_bic="PDBKCNGZ",
           currency="CNY", limit="1.001"), "CH20", "limit"),
    (_line(type="set_bilateral_limit", id=1, bic="YRCBCNSH", limit_minor=5, currency="CNY"),
     "FF01", "counterparty_bic"),
    (_line(type="set_multilateral_limit", id=1, bic="YRCBCNSH", limit_minor=5), "FF01",
     "currency"),
    (_line(type="set_multilateral_limit", id=1, bic="YRCBCNSH", currency="XYZ",
           limit_minor=5), "AM03", "currency"),
    (_line(type="set_reservation", id=1, account_id=601, priority="normal", amount_minor=5),
     "FF01", "priority"),
    (_line(type="set_reservation", id=1, account_id=601, amount_minor=5), "FF01", "priority"),
    (_line(type="set_reservation", id=1, account_id=601, priority="high", amount_minor=-5),
     "AM12", "amount_minor"),
    (_line(type="resolve_gridlock", id=1), "FF01", "currency"),
    (_line(type="settle_set", id=1, currency="CNY", payment_ids=[]), "FF01", "payment_ids"),
    (_line(type="settle_set", id=1, currency="CNY", payment_ids=5), "FF01", "payment_ids"),
    (_line(type="settle_set", id=1, currency="CNY", payment_ids=[5, "x"]), "FF01",
     "payment_ids"),
    (_line(type="settle_set", id=1, currency="CNY", payment_ids=list(range(1, 2_002))),
     "FF01", "payment_ids"),
    (_line(type="end_of_day", id=1, currency="CNY", linked=True), "FF01", "linked"),
    (_line(type="start_of_day", id=1, currency=None), "FF01", "currency"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "code", "field"), RTGS_BAD_INPUT)
def test_bad_rtgs_input_is_refused_with_its_reason_code(
    line: str, code: str, field: str | None
) -> None:
    error = _error(line)
    assert (error.reason_code, error.field) == (code, field), error


def test_payment_priority_and_times_as_written_in_docs() -> None:
    parsed = parse_line(
        '{"type": "payment", "id": 70, "debit_account_id": 601, "credit_account_id": 701, '
        '"amount": "250.00", "currency": "CNY", "priority": "high", '
        '"from_ns": 1764316800000000000, "till_ns": 1764345600000000000}'
    )
    assert parsed.command == Payment(
        70, 601, 701, 25_000, Priority.HIGH, 1_764_316_800_000_000_000, 1_764_345_600_000_000_000
    )
    assert [c.field for c in parsed.claims] == ["debit_account_id", "credit_account_id"]


def test_queued_payment_reads_pdng() -> None:
    line = result_to_json(2, 70, Result(70, ResultCode.QUEUED))
    assert (line["status"], line["code"], line["result"]) == ("PDNG", None, "queued")
    infeasible = result_to_json(3, 71, Result(71, ResultCode.SETTLE_SET_INFEASIBLE))
    assert (infeasible["status"], infeasible["code"]) == ("RJCT", "AM04")


def test_apply_drives_the_queues(tmp_path: Path) -> None:
    """`interbank apply` end to end: payments wait (PDNG), a cycle settles in one run, the
    queue is managed, limits and a reservation are set, a SettleSet is checked and applied,
    the day ends and starts again; the balances are worked out by hand."""
    from typer.testing import CliRunner

    from interbank.cli import app
    from interbank.node import replay

    runner = CliRunner()
    db = str(tmp_path / "rtgs.db")
    assert runner.invoke(app, ["init", "--db", db]).exit_code == 0

    def apply(lines: list[str]) -> list[dict[str, object]]:
        path = tmp_path / "commands.jsonl"
        path.write_text("\n".join(lines) + "\n")
        result = runner.invoke(app, ["apply", str(path), "--db", db], catch_exceptions=False)
        return [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]

    cb, a, b, c = "JDRBCNBJ", "YRCBCNSH", "PDBKCNGZ", "SRMBCNBJ"
    setup = [
        _line(type="register_participant", id=1, bic=cb, name="Jade", role="central_bank",
              currency="CNY"),
        _line(type="open_account", id=2, account_id=151, bic=cb, currency="CNY",
              kind="issuance"),
        *(_line(type="register_participant", id=3 + k, bic=bic, name=bic, role="direct")
          for k, bic in enumerate((a, b, c))),
        *(_line(type="open_account", id=6 + k, account_id=account, bic=bic, currency="CNY")
          for k, (account, bic) in enumerate(((601, a), (701, b), (801, c)))),
        _line(type="issue", id=9, account_id=601, amount="50.00", currency="CNY"),
    ]  # fmt: skip
    assert {r["status"] for r in apply(setup)} == {"ACSC"}

    def pay(payment_id: int, debit: int, credit: int, amount: str, **extra: object) -> str:
        return _line(type="payment", id=payment_id, debit_account_id=debit,
                     credit_account_id=credit, amount=amount, currency="CNY", **extra)  # fmt: skip

    # A cycle of 100.00: 601 holds 50.00, the others nothing. Each waits at entry; the run
    # after the file's batch settles all three together: 601 ends at 50, the others at 0.
    cycle = apply([pay(20, 601, 701, "100.00"), pay(21, 701, 801, "100.00"),
                   pay(22, 801, 601, "100.00")])  # fmt: skip
    assert [r["status"] for r in cycle] == ["PDNG", "PDNG", "PDNG"]
    # 40 high (80.00 > 50.00) and 41 normal behind it both wait. 41 is made high and moved
    # to the front; 40 is cancelled; the SettleSet settles 41 (10.00 <= 50.00, a high
    # payment may use the high reservation); the day closes and opens; 601 pays 1.00.
    rest = apply([
        pay(40, 601, 701, "80.00", priority="high"),
        pay(41, 601, 801, "10.00"),
        _line(type="change_priority", id=42, payment_id=41, priority="high", by_bic=a),
        _line(type="move_payment", id=43, payment_id=41, to="front", by_bic=a),
        _line(type="set_bilateral_limit", id=44, bic=a, counterparty_bic=b, currency="CNY",
              limit="1000.00"),
        _line(type="set_multilateral_limit", id=45, bic=a, currency="CNY", limit="500.00"),
        _line(type="set_reservation", id=46, account_id=601, priority="high", amount="5.00",
              currency="CNY"),
        _line(type="resolve_gridlock", id=47, currency="CNY"),
        _line(type="cancel_payment", id=48, payment_id=40, by_bic=a),
        _line(type="settle_set", id=49, currency="CNY", payment_ids=[41]),
        _line(type="end_of_day", id=50, currency="CNY"),
        pay(51, 601, 701, "1.00"),
        _line(type="start_of_day", id=52, currency="CNY"),
        pay(53, 601, 701, "1.00"),
        _line(type="cancel_payment", id=54, payment_id=40),
    ])  # fmt: skip
    statuses = [(r["id"], r["status"], r["code"]) for r in rest]
    assert statuses == [
        (40, "PDNG", None), (41, "PDNG", None), *((i, "ACSC", None) for i in range(42, 51)),
        (51, "RJCT", "TM01"), (52, "ACSC", None), (53, "ACSC", None), (54, "RJCT", "NARR"),
    ]  # fmt: skip
    engine, _ = replay(db)
    balances = {v.account_id: v.balance_minor for v in engine.accounts()}
    assert (balances[601], balances[701], balances[801]) == (5_000 - 1_000 - 100, 100, 1_000)
    assert engine.waiting_count() == 0


def test_every_command_example_in_the_docs_parses() -> None:
    import re

    docs = (Path(__file__).resolve().parents[1] / "docs" / "commands.md").read_text()
    lines = [
        line
        for block in re.findall(r"```json\n(.*?)```", docs, re.S)
        for line in block.splitlines()
        if '"type"' in line and '"status"' not in line
    ]
    parsed = {TYPE_OF[type(parse_line(line).command)] for line in lines}
    rtgs = {"payment", "cancel_payment", "change_priority", "move_payment", "settle_set",
            "set_bilateral_limit", "set_multilateral_limit", "set_reservation",
            "resolve_gridlock", "end_of_day", "start_of_day"}  # fmt: skip
    assert rtgs <= parsed
