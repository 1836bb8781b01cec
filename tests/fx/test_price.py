"""The price presentation: every figure worked by hand, and always the engine's figure."""

from __future__ import annotations

from decimal import Decimal

import pytest

from interbank.engine import (
    AccountKind,
    Command,
    Engine,
    EngineSettings,
    Issue,
    OpenAccount,
    ResultCode,
    Role,
)
from interbank.engine import RegisterParticipant as Register
from interbank.engine.commands import CrossPayment, PublishQuote
from interbank.engine.pvp import PriceView
from interbank.fx import (
    amount_at_rate_minor,
    effective_rate,
    markup_bp,
    parse_csv,
    present,
    quote_book,
    rate_text_shown,
)

FAR_NS = 10**15
RATES = parse_csv(
    "date,pair,rate\n2026-11-27,USD/JPY,154.10\n2026-11-27,USD/RUB,100\n2026-11-27,USD/CNY,7.2\n"
)


def network() -> Engine:
    """RUB, USD and JPY; sender 1 (RUB), receiver 2 (JPY), provider PROV with 3/4/5."""
    engine = Engine(EngineSettings(idempotency_window_commands=1 << 10, batch_commands_max=1 << 10))
    commands: list[Command] = [
        Register(1, "CBRFRUMM", "RUB CB", Role.CENTRAL_BANK, "RUB"),
        OpenAccount(2, 91, "CBRFRUMM", "RUB", AccountKind.ISSUANCE),
        Register(3, "FRNYUS33", "USD CB", Role.CENTRAL_BANK, "USD"),
        OpenAccount(4, 92, "FRNYUS33", "USD", AccountKind.ISSUANCE),
        Register(5, "BOJPJPJT", "JPY CB", Role.CENTRAL_BANK, "JPY"),
        OpenAccount(6, 93, "BOJPJPJT", "JPY", AccountKind.ISSUANCE),
        Register(7, "SNDRRUMM", "Sender", Role.DIRECT),
        OpenAccount(8, 1, "SNDRRUMM", "RUB"),
        Register(9, "RCVRJPJT", "Receiver", Role.DIRECT),
        OpenAccount(10, 2, "RCVRJPJT", "JPY"),
        Register(11, "PROVSGSG", "Provider", Role.DIRECT),
        OpenAccount(12, 3, "PROVSGSG", "RUB"),
        OpenAccount(13, 4, "PROVSGSG", "USD"),
        OpenAccount(14, 5, "PROVSGSG", "JPY"),
        Issue(15, 1, 10**9),
        Issue(16, 5, 10**9),
        # RUB -> USD at 0.0099 with a 50.00 RUB fee; USD -> JPY at 153.5 with a 1.00 USD fee
        PublishQuote(20, "PROVSGSG", "RUB", "USD", "0.0099", 50_01, 10**10, FAR_NS, 50_00),
        PublishQuote(21, "PROVSGSG", "USD", "JPY", "153.5", 1_01, 10**10, FAR_NS, 1_00),
    ]
    assert all(r.ok for r in engine.execute_many(commands, 1))
    return engine


def test_a_route_through_usd_explained_step_by_step() -> None:
    engine = network()
    view = engine.price(1, 2, 100_000_00)
    assert isinstance(view, PriceView)
    presentation = present(view, {q.quote_id: q for q in quote_book(engine)}, RATES)
    first, second = presentation.steps
    # (100000.00 - 50.00) RUB * 0.0099 = 989.505 USD -> 989.50 USD (kept by the provider)
    assert (first.amount_from_minor, first.fee_minor, first.amount_to_minor) == (
        100_000_00, 50_00, 989_50,
    )  # fmt: skip
    # (989.50 - 1.00) USD * 153.5 = 151734.75 JPY -> 151734 JPY
    assert (second.amount_from_minor, second.fee_minor, second.amount_to_minor) == (
        989_50, 1_00, 151_734,
    )  # fmt: skip
    assert presentation.amount_out_minor == view.amount_out_minor == 151_734
    assert len(presentation.legs) == 2  # one provider: the USD hand-over is not a leg
    # Reference RUB/JPY through USD: 154.10 / 100 = 1.541 JPY per RUB.
    assert presentation.reference is not None and presentation.reference.how == "cross via USD"
    assert presentation.reference.rate == Decimal("1.541")
    assert presentation.amount_out_at_reference_minor == 154_100  # 100000 * 1.541
    assert presentation.cost_minor == 154_100 - 151_734
    # All-in rate 151734 / 100000 = 1.51734; (1.541 - 1.51734) / 1.541 = 153.54 bp
    assert presentation.effective_rate == Decimal("1.51734")
    assert presentation.markup_bp == Decimal("153.54")
    # Per step: RUB/USD reference 0.01, quote 0.0099: 100 bp; USD/JPY 154.10 vs 153.5: 38.94 bp
    assert (first.markup_bp, second.markup_bp) == (Decimal("100.00"), Decimal("38.94"))
    data = presentation.to_json()
    assert data["amount_out"] == "151734" and data["currency_out"] == "JPY"
    assert [f["fee"] for f in data["fees"]] == ["50.00", "1.00"]
    assert data["markup_bp"] == "153.54" and data["cost"] == "2366"
    text = "\n".join(presentation.lines({"PROVSGSG": "Provider"}))
    assert "by Provider" in text and "153.54 bp below the reference" in text


def test_the_presentation_is_what_then_settles() -> None:
    engine = network()
    view = engine.price(1, 2, 7_777_77)
    assert isinstance(view, PriceView)
    result = engine.execute(CrossPayment(30, 1, 2, 7_777_77), 2)
    assert result.code == ResultCode.OK
    account = engine.account(2)
    assert account is not None and account.balance_minor == view.amount_out_minor


def test_without_reference_rates_the_rest_is_still_shown() -> None:
    engine = network()
    view = engine.price(1, 2, 100_000_00, quote_id=None)
    assert isinstance(view, PriceView)
    presentation = present(view, {q.quote_id: q for q in quote_book(engine)})
    assert presentation.reference is None and presentation.markup_bp is None
    assert presentation.cost_minor is None
    assert any("none loaded" in line for line in presentation.lines())


@pytest.mark.parametrize(
    ("amount_in", "code_in", "amount_out", "code_out", "expected"),
    [
        (100_00, "CNY", 2140, "JPY", Decimal("21.4")),  # 100.00 CNY -> 2140 JPY
        (1_999, "BHD", 819, "JPY", Decimal("409.7048524262131065532766383191596")),
        (409, "JPY", 997, "BHD", Decimal("0.002437652811735941320293398533007335")),
    ],
)
def test_effective_rates_across_exponents(
    amount_in: int, code_in: str, amount_out: int, code_out: str, expected: Decimal
) -> None:
    assert effective_rate(amount_in, code_in, amount_out, code_out) == expected


def test_small_figures_by_hand() -> None:
    # 1.999 BHD at 409.99 = 819.57001 JPY -> 819 (floor, like the engine)
    assert amount_at_rate_minor(1_999, "BHD", Decimal("409.99"), "JPY") == 819
    # 1 JPY at 0.00244 = 0.00244 BHD -> 2 fils
    assert amount_at_rate_minor(1, "JPY", Decimal("0.00244"), "BHD") == 2
    assert markup_bp(Decimal("7.18"), Decimal("7.2")) == Decimal("27.78")  # 0.02/7.2
    assert markup_bp(Decimal("7.3"), Decimal("7.2")) == Decimal("-138.89")  # better than it
    assert rate_text_shown(Decimal(1) / Decimal(3)) == "0.3333333333"
    assert rate_text_shown(Decimal("154.1000")) == "154.1"
    assert rate_text_shown(Decimal("12345678901.5")) == "12345678902"
