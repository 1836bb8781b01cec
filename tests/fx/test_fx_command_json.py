"""The JSON form of cross_payment, publish_quote and withdraw_quote: exact, strict, coded."""

from __future__ import annotations

import json

import pytest

from interbank.command_json import (
    CommandJsonError,
    check_currencies,
    command_to_json,
    dumps,
    parse_line,
    result_to_json,
)
from interbank.engine import Result, ResultCode
from interbank.engine.commands import CrossPayment, Priority, PublishQuote, WithdrawQuote

QUOTE = {
    "type": "publish_quote",
    "id": 30,
    "provider_bic": "PDBKCNGZ",
    "from_currency": "CNY",
    "to_currency": "JPY",
    "rate": "21.4",
    "amount_min": "1.00",
    "amount_max": "1000000.00",
    "expires_at_ns": 1_800_000_000_000_000_000,
    "fee": "0.50",
}
CROSS = {
    "type": "cross_payment",
    "id": 31,
    "debit_account_id": 601,
    "credit_account_id": 702,
    "amount": "100.50",
    "currency": "CNY",
}


def _line(base: dict[str, object], **changes: object) -> str:
    fields = {**base, **changes}
    return json.dumps({k: v for k, v in fields.items() if v is not ...})


def _error(text: str) -> tuple[str, str | None]:
    with pytest.raises(CommandJsonError) as caught:
        parse_line(text)
    return caught.value.reason_code, caught.value.field


def test_examples_from_the_docs_parse_to_these_commands() -> None:
    assert parse_line(_line(QUOTE)).command == PublishQuote(
        30, "PDBKCNGZ", "CNY", "JPY", "21.4", 100, 100_000_000, 1_800_000_000_000_000_000, 50
    )
    assert parse_line(_line(CROSS)).command == CrossPayment(31, 601, 702, 10_050)
    named = parse_line(_line(CROSS, quote_id=30, priority="high", till_ns=5)).command
    assert named == CrossPayment(31, 601, 702, 10_050, 30, Priority.HIGH, 5)
    withdraw = parse_line('{"type": "withdraw_quote", "id": 32, "quote_id": 30}').command
    assert withdraw == WithdrawQuote(32, 30)


def test_quote_amounts_use_the_from_currencys_exponent() -> None:
    jpy = parse_line(
        _line(
            QUOTE,
            from_currency="JPY",
            to_currency="BHD",
            rate="0.00244",
            amount_min="1",
            amount_max="5000000",
            fee="0",
        )
    ).command
    assert isinstance(jpy, PublishQuote) and (jpy.amount_min_minor, jpy.fee_minor) == (1, 0)
    bhd = parse_line(
        _line(
            QUOTE,
            from_currency="BHD",
            to_currency="JPY",
            rate="409.99",
            amount_min="0.005",
            amount_max="10000.000",
            fee="0.001",
        )
    ).command
    assert isinstance(bhd, PublishQuote)
    assert (bhd.amount_min_minor, bhd.amount_max_minor, bhd.fee_minor) == (5, 10_000_000, 1)
    # Three decimals in CNY is not a CNY amount.
    assert _error(_line(QUOTE, amount_min="1.005")) == ("CH20", "amount_min")


def test_minor_unit_forms_and_round_trips() -> None:
    minor = _line(
        QUOTE,
        amount_min=...,
        amount_max=...,
        fee=...,
        amount_min_minor=100,
        amount_max_minor=10**8,
        fee_minor=50,
    )
    assert parse_line(minor).command == parse_line(_line(QUOTE)).command
    for command, code in (
        (parse_line(_line(QUOTE)).command, None),
        (CrossPayment(31, 601, 702, 10_050, 2**100, Priority.URGENT, 7), "CNY"),
        (CrossPayment(31, 601, 702, 10_050), None),
        (WithdrawQuote(32, 30, "PDBKCNGZ"), None),
    ):
        assert parse_line(dumps(command_to_json(command, code))).command == command


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"rate": "0"}, "FF01", "rate"),
        ({"rate": "0.0"}, "FF01", "rate"),
        ({"rate": "-21.4"}, "FF01", "rate"),
        ({"rate": "2.14e1"}, "FF01", "rate"),
        ({"rate": "21.4000000000001"}, "FF01", "rate"),
        ({"rate": 21.4}, "FF01", "rate"),  # a number, not an exact decimal string
        ({"rate": 21}, "FF01", "rate"),
        ({"from_currency": "XXX"}, "AM03", "from_currency"),
        ({"to_currency": "XAU"}, "AM03", "to_currency"),
        ({"amount_min": "0.00"}, "AM01", "amount_min"),
        ({"amount_max": "-1.00"}, "AM12", "amount_max"),
        ({"amount_max": "1000000000000000.01"}, "AM02", "amount_max"),
        ({"amount_min_minor": 100}, "FF01", "amount_min_minor"),  # both forms at once
        ({"amount_min": ...}, "FF01", "amount_min"),
        ({"fee": "-0.01"}, "AM12", "fee"),
        ({"expires_at_ns": ...}, "FF01", "expires_at_ns"),
        ({"expires_at_ns": -1}, "FF01", "expires_at_ns"),
        ({"expires_at_ns": "soon"}, "FF01", "expires_at_ns"),
        ({"expires_at_ns": 2**63}, "FF01", "expires_at_ns"),
        ({"provider_bic": 5}, "FF01", "provider_bic"),
        ({"spread": "1"}, "FF01", "spread"),
    ],
)
def test_bad_quotes_are_refused_with_their_reason_and_field(
    changes: dict[str, object], reason: str, field: str
) -> None:
    assert _error(_line(QUOTE, **changes)) == (reason, field)


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"amount": "0.00"}, "AM01", "amount"),
        ({"amount": "1.001"}, "CH20", "amount"),
        ({"amount": ..., "amount_minor": -1}, "AM12", "amount_minor"),
        ({"quote_id": 0}, "FF01", "quote_id"),
        ({"quote_id": None}, "FF01", "quote_id"),
        ({"quote_id": "not-a-uuid"}, "FF01", "quote_id"),
        ({"priority": "HIGH"}, "FF01", "priority"),
        ({"priority": 1}, "FF01", "priority"),
        ({"till_ns": 1.5}, "FF01", "till_ns"),
        ({"credit_account_id": 0}, "AC01", "credit_account_id"),
        ({"linked": True}, "FF01", "linked"),  # a cross payment is its own atomic unit
    ],
)
def test_bad_cross_payments_are_refused_with_their_reason_and_field(
    changes: dict[str, object], reason: str, field: str
) -> None:
    assert _error(_line(CROSS, **changes)) == (reason, field)


def test_the_currency_named_is_the_senders_and_is_checked_against_the_debit_account() -> None:
    parsed = parse_line(_line(CROSS))
    holds = {601: "CNY", 702: "JPY"}
    check_currencies(parsed, holds.get, lambda _: None)  # CNY from a CNY account: fine
    wrong = parse_line(_line(CROSS, currency="JPY", amount="100"))
    with pytest.raises(CommandJsonError) as caught:
        check_currencies(wrong, holds.get, lambda _: None)
    assert (caught.value.reason_code, caught.value.field) == ("AM03", "debit_account_id")


def test_a_queued_pair_reads_pdng_not_rjct() -> None:
    queued = result_to_json(3, 31, Result(31, ResultCode.QUEUED))
    assert (queued["status"], queued["code"], queued["result"]) == ("PDNG", None, "queued")
    expired = result_to_json(4, 32, Result(32, ResultCode.QUOTE_EXPIRED))
    assert (expired["status"], expired["code"]) == ("RJCT", "TM01")
