"""Cross-currency payments settled payment-versus-payment: atomicity, waiting, expiry,
rounding per currency exponent, idempotency, routing and bad input.

Every expected amount is worked out by hand in the comment beside it, from the rule
"amount out = floor((amount in - fee) / 10^e_from * rate * 10^e_to)" (docs/fx.md).

The network: five central banks (JPY 0 decimals, CNY 2, BHD 3, USD 2, RUB 2), a sender
S, a receiver R and two FX providers P1 and P2. Account ids read as
10 * participant + currency number: S = 1x, R = 2x, P1 = 3x, P2 = 4x, issuance 9x,
with JPY 1, CNY 2, BHD 3, USD 4, RUB 5 (so 12 is S's CNY account, 41 P2's JPY account).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from interbank.engine import (
    AccountKind,
    Batch,
    CloseAccount,
    Command,
    Engine,
    EngineSettings,
    Issue,
    OpenAccount,
    RegisterParticipant,
    ResultCode,
    Role,
    SuspendParticipant,
    Transfer,
)
from interbank.engine.commands import (
    CancelPayment,
    CrossPayment,
    EndOfDay,
    Event,
    PaymentQueued,
    PaymentRejected,
    PublishQuote,
    PvpSettled,
    WithdrawQuote,
)
from interbank.engine.pvp import PriceView, convert_minor, parse_rate

CURRENCIES = ("JPY", "CNY", "BHD", "USD", "RUB")
CENTRAL = {
    "JPY": "BOJPJPJT",
    "CNY": "PBOCCNBJ",
    "BHD": "CBBHBHBM",
    "USD": "FRNYUS33",
    "RUB": "CBRFRUMM",
}
S, R, P1, P2 = "SNDRCNBJ", "RCVRJPJT", "PROVSGSG", "PRVBAEAD"
PARTY_NUMBER = {S: 1, R: 2, P1: 3, P2: 4}
FAR_NS = 10**15  # quotes that do not expire in a test
T0 = 1_000


def account(party: str, code: str) -> int:
    return 10 * PARTY_NUMBER[party] + CURRENCIES.index(code) + 1


def setup_commands() -> list[Command]:
    commands: list[Command] = []
    next_id = iter(range(1, 1_000))
    for n, code in enumerate(CURRENCIES, start=1):
        bic = CENTRAL[code]
        commands.append(
            RegisterParticipant(next(next_id), bic, f"{code} CB", Role.CENTRAL_BANK, code)
        )
        commands.append(OpenAccount(next(next_id), 90 + n, bic, code, AccountKind.ISSUANCE))
    for party in (S, R, P1, P2):
        commands.append(RegisterParticipant(next(next_id), party, party, Role.DIRECT))
        for code in CURRENCIES:
            commands.append(OpenAccount(next(next_id), account(party, code), party, code))
    return commands


class Net:
    """An engine with the test network, a clock the test moves, and fresh command ids."""

    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.engine = Engine(
            settings
            or EngineSettings(idempotency_window_commands=1 << 12, batch_commands_max=1 << 12)
        )
        self.now_ns = T0
        self._next_id = 10_000
        assert all(r.ok for r in self.engine.execute_many(setup_commands(), self.now_ns))

    def id(self) -> int:
        self._next_id += 1
        return self._next_id

    def run(
        self, *commands: Command, at_ns: int | None = None
    ) -> tuple[list[ResultCode], list[Event]]:
        self.now_ns = self.now_ns + 1 if at_ns is None else at_ns
        batch = Batch.of(list(commands))
        result = self.engine.apply(batch, self.now_ns)
        return [r.code for r in result.results()], self.engine.events(batch, result)

    def ok(self, *commands: Command) -> None:
        codes, _ = self.run(*commands)
        assert codes == [ResultCode.OK] * len(commands), codes

    def fund(self, party: str, code: str, amount_minor: int) -> None:
        self.ok(Issue(self.id(), account(party, code), amount_minor))

    def quote(self, provider: str, pair: str, rate: str, *, low: int = 1, high: int = 10**15,
              fee: int = 0, expires_at_ns: int = FAR_NS) -> int:  # fmt: skip
        quote_id = self.id()
        base, quote = pair.split("/")
        self.ok(PublishQuote(quote_id, provider, base, quote, rate, low, high, expires_at_ns, fee))
        return quote_id

    def balance(self, party: str, code: str) -> int:
        view = self.engine.account(account(party, code))
        assert view is not None
        return view.balance_minor

    def balances(self) -> dict[int, int]:
        return {a.account_id: a.balance_minor for a in self.engine.accounts()}

    def observable(self) -> tuple[object, ...]:
        """Everything a rejected command must leave alone: money, quotes, waiting pairs."""
        fx = self.engine._fx.state()
        return self.balances(), fx["quotes"], fx["waiting"], self.engine.waiting_count()


def pvp_events(events: Sequence[Event]) -> list[PvpSettled]:
    return [e for e in events if isinstance(e, PvpSettled)]


def assert_conserved(net: Net) -> None:
    assert set(net.engine.totals_by_currency().values()) == {0}


# --- settling both legs together ------------------------------------------------------------


def test_a_direct_pair_settles_both_legs_at_once() -> None:
    net = Net()
    net.fund(S, "CNY", 1_000_000)
    net.fund(P1, "JPY", 5_000_000)
    quote = net.quote(P1, "CNY/JPY", "21.4")
    codes, events = net.run(CrossPayment(net.id(), account(S, "CNY"), account(R, "JPY"), 100_00))
    # 100.00 CNY * 21.4 = 2140 JPY exactly
    assert codes == [ResultCode.OK]
    [settled] = pvp_events(events)
    assert settled.quote_ids == (quote,)
    assert settled.legs == (
        (account(S, "CNY"), account(P1, "CNY"), 100_00, "CNY"),
        (account(P1, "JPY"), account(R, "JPY"), 2140, "JPY"),
    )
    assert (settled.amount_in_minor, settled.amount_out_minor) == (100_00, 2140)
    assert net.balance(S, "CNY") == 1_000_000 - 100_00
    assert net.balance(P1, "CNY") == 100_00
    assert net.balance(P1, "JPY") == 5_000_000 - 2140
    assert net.balance(R, "JPY") == 2140
    assert_conserved(net)


@pytest.mark.parametrize("short", ["sender", "provider"])
def test_either_leg_short_nothing_moves_the_pair_waits_then_both_settle(short: str) -> None:
    net = Net()
    net.quote(P1, "CNY/JPY", "21.4")
    net.fund(S, "CNY", 50_00 if short == "sender" else 1_000_000)
    net.fund(P1, "JPY", 1_000 if short == "provider" else 5_000_000)
    before = net.balances()
    payment = net.id()
    codes, events = net.run(CrossPayment(payment, account(S, "CNY"), account(R, "JPY"), 100_00))
    assert codes == [ResultCode.QUEUED]
    assert [type(e) for e in events] == [PaymentQueued]
    assert net.balances() == before  # no leg moved: not even the one that had cover
    # Something unrelated settles: still short, still nothing.
    net.fund(R, "CNY", 1)
    assert net.balance(S, "CNY") == before[account(S, "CNY")]
    assert pvp_events(net.run(Transfer(net.id(), account(R, "CNY"), account(S, "CNY"), 1))[1]) == []
    # The missing cover arrives: both legs book in the same batch as the funding.
    short_party, code = (S, "CNY") if short == "sender" else (P1, "JPY")
    codes, events = net.run(Issue(net.id(), account(short_party, code), 100_000))
    [settled] = pvp_events(events)
    assert settled.payment_id == payment and len(settled.legs) == 2
    assert net.balance(R, "JPY") == 2140
    assert net.balance(P1, "CNY") == 100_00
    assert net.engine.waiting_count() == 0 and not net.engine._fx.waiting
    assert_conserved(net)


def test_quote_expiry_while_queued_rejects_the_pair_and_nothing_ever_moves() -> None:
    net = Net()
    expires_ns = T0 + 1_000
    net.quote(P1, "CNY/JPY", "21.4", expires_at_ns=expires_ns)
    net.fund(S, "CNY", 1_000_000)
    payment = net.id()
    assert net.run(CrossPayment(payment, account(S, "CNY"), account(R, "JPY"), 100_00))[0] == [
        ResultCode.QUEUED
    ]
    before = net.balances()
    net.run(Transfer(net.id(), account(S, "CNY"), account(R, "CNY"), 1), at_ns=expires_ns - 1)
    assert payment in net.engine._fx.waiting  # one nanosecond before: still waiting
    # The batch stamped at the expiry: the pair is rejected before any command runs,
    # so the provider's funding in that very batch does not settle it.
    codes, events = net.run(Issue(net.id(), account(P1, "JPY"), 10**6), at_ns=expires_ns)
    assert codes == [ResultCode.OK]
    assert PaymentRejected(payment, ResultCode.QUOTE_EXPIRED, expires_ns) in events
    assert pvp_events(events) == []
    after = net.balances()
    assert after[account(S, "CNY")] == before[account(S, "CNY")] - 1
    assert after[account(R, "JPY")] == 0 and after[account(P1, "CNY")] == 0
    assert not net.engine._fx.waiting
    assert ResultCode.QUOTE_EXPIRED.reason == "TM01"


def test_till_passes_while_queued() -> None:
    net = Net()
    net.quote(P1, "CNY/JPY", "21.4")
    net.fund(S, "CNY", 1_000_000)
    payment = net.id()
    till_ns = T0 + 500
    cross = CrossPayment(payment, account(S, "CNY"), account(R, "JPY"), 100_00, till_ns=till_ns)
    assert net.run(cross)[0] == [ResultCode.QUEUED]
    _, events = net.run(Issue(net.id(), account(P1, "JPY"), 10**6), at_ns=till_ns)
    assert PaymentRejected(payment, ResultCode.TILL_PASSED, till_ns) in events
    assert net.balance(R, "JPY") == 0


def test_cancel_a_waiting_pair() -> None:
    net = Net()
    net.quote(P1, "CNY/JPY", "21.4")
    payment = net.id()
    assert net.run(CrossPayment(payment, account(S, "CNY"), account(R, "JPY"), 100_00))[0] == [
        ResultCode.QUEUED
    ]
    assert net.run(CancelPayment(net.id(), payment, R))[0] == [ResultCode.NOT_PAYMENT_SENDER]
    codes, events = net.run(CancelPayment(net.id(), payment, S))
    assert codes == [ResultCode.OK]
    assert PaymentRejected(payment, ResultCode.CANCELLED, net.now_ns) in events
    net.fund(S, "CNY", 10**6)
    net.fund(P1, "JPY", 10**6)
    assert net.balance(R, "JPY") == 0


# --- rounding per currency exponent ---------------------------------------------------------

ROUNDING_CASES = [
    # (from, to, amount in minor, rate, fee minor, expected out minor), worked by hand:
    ("JPY", "CNY", 12_345, "0.0467", 0, 576_51),  # 12345 JPY * 0.0467 = 576.5115 -> 576.51 CNY
    ("JPY", "CNY", 10_000, "0.0467", 100, 462_33),  # (10000 - 100) JPY * 0.0467 = 462.33 CNY
    ("CNY", "JPY", 100_01, "21.4", 0, 2_140),  # 100.01 CNY * 21.4 = 2140.214 -> 2140 JPY
    ("CNY", "JPY", 99, "21.4", 0, 21),  # 0.99 CNY * 21.4 = 21.186 -> 21 JPY
    ("CNY", "BHD", 1_234_56, "0.0523", 0, 64_567),  # 1234.56 * 0.0523 = 64.567488 -> 64.567 BHD
    ("BHD", "JPY", 1_999, "409.99", 0, 819),  # 1.999 BHD * 409.99 = 819.57001 -> 819 JPY
    ("JPY", "BHD", 409, "0.00244", 0, 997),  # 409 JPY * 0.00244 = 0.99796 -> 0.997 BHD
    ("JPY", "BHD", 1, "0.00244", 0, 2),  # 1 JPY * 0.00244 = 0.00244 -> 0.002 BHD
    ("BHD", "CNY", 1, "19.12", 0, 1),  # 0.001 BHD * 19.12 = 0.01912 -> 0.01 CNY
    # (12.345 - 0.005) BHD * 2.659574468085 = 32.8191489361689 -> 32.81 USD
    ("BHD", "USD", 12_345, "2.659574468085", 5, 32_81),
]


@pytest.mark.parametrize(("c_from", "c_to", "amount", "rate", "fee", "expected"), ROUNDING_CASES)
def test_rounding_down_to_the_receiving_currencys_minor_unit(
    c_from: str, c_to: str, amount: int, rate: str, fee: int, expected: int
) -> None:
    net = Net()
    net.fund(S, c_from, 10**9)
    net.fund(P1, c_to, 10**9)
    net.quote(P1, f"{c_from}/{c_to}", rate, fee=fee, low=max(1, fee + 1))
    price = net.engine.price(account(S, c_from), account(R, c_to), amount)
    assert isinstance(price, PriceView) and price.amount_out_minor == expected
    codes, events = net.run(CrossPayment(net.id(), account(S, c_from), account(R, c_to), amount))
    assert codes == [ResultCode.OK]
    assert net.balance(R, c_to) == expected
    assert net.balance(P1, c_from) == amount  # the provider keeps the fee and the fraction
    [settled] = pvp_events(events)
    assert settled.amount_out_minor == expected


def test_convert_minor_by_hand_for_every_exponent_pair() -> None:
    # exponents 0 -> 2, 2 -> 0, 2 -> 3, 3 -> 0, 0 -> 3: the cases above, straight.
    mantissa, scale = parse_rate("0.0467")  # type: ignore[misc]
    assert (mantissa, scale) == (467, 4)
    assert convert_minor(12_345, mantissa, scale, 0, 2) == 576_51
    assert convert_minor(100_01, 214, 1, 2, 0) == 2_140
    assert convert_minor(1_234_56, 523, 4, 2, 3) == 64_567
    assert convert_minor(1_999, 40_999, 2, 3, 0) == 819
    assert convert_minor(409, 244, 5, 0, 3) == 997
    assert parse_rate("7.10000") == (71, 1)  # trailing zeros do not add scale


def test_an_amount_that_rounds_to_zero_is_refused_and_nothing_moves() -> None:
    net = Net()
    net.fund(S, "JPY", 10**6)
    net.fund(P1, "CNY", 10**6)
    net.quote(P1, "JPY/CNY", "0.0049")
    before = net.observable()
    # 1 JPY * 0.0049 = 0.0049 CNY = 0.49 fen -> 0: nothing to deliver
    codes, _ = net.run(CrossPayment(net.id(), account(S, "JPY"), account(R, "CNY"), 1))
    assert codes == [ResultCode.AMOUNT_ZERO]
    assert net.observable() == before


# --- idempotency --------------------------------------------------------------------------


def test_a_resent_cross_payment_has_no_second_effect() -> None:
    net = Net()
    net.fund(S, "CNY", 1_000_000)
    net.fund(P1, "JPY", 5_000_000)
    net.quote(P1, "CNY/JPY", "21.4")
    cross = CrossPayment(net.id(), account(S, "CNY"), account(R, "JPY"), 100_00)
    assert net.run(cross)[0] == [ResultCode.OK]
    after_first = net.balances()
    batch = Batch.of([cross])
    result = net.engine.apply(batch, net.now_ns + 1)
    assert result.result(0).code == ResultCode.OK and result.result(0).replayed
    assert pvp_events(net.engine.events(batch, result)) == []
    assert net.balances() == after_first
    other = CrossPayment(cross.id, account(S, "CNY"), account(R, "JPY"), 100_01)
    assert net.run(other)[0] == [ResultCode.ID_REUSED]
    assert net.balances() == after_first


def test_a_resent_waiting_pair_is_not_queued_twice() -> None:
    net = Net()
    net.fund(S, "CNY", 1_000_000)
    net.quote(P1, "CNY/JPY", "21.4")
    cross = CrossPayment(net.id(), account(S, "CNY"), account(R, "JPY"), 100_00)
    assert net.run(cross)[0] == [ResultCode.QUEUED]
    batch = Batch.of([cross, cross])
    result = net.engine.apply(batch, net.now_ns + 1)
    net.now_ns += 1
    assert [(r.code, r.replayed) for r in result.results()] == [(ResultCode.QUEUED, True)] * 2
    assert len(net.engine._fx.waiting) == 1
    _, events = net.run(Issue(net.id(), account(P1, "JPY"), 10**6))
    assert len(pvp_events(events)) == 1
    assert net.balance(R, "JPY") == 2140  # once


# --- routing ----------------------------------------------------------------------------------


def test_the_best_direct_quote_is_the_one_that_delivers_most() -> None:
    net = Net()
    net.fund(S, "CNY", 10**9)
    net.fund(P1, "JPY", 10**9)
    net.fund(P2, "JPY", 10**9)
    # P1: the better rate but a 50.00 CNY fee; P2: a worse rate, no fee.
    q1 = net.quote(P1, "CNY/JPY", "21.5", fee=50_00, low=50_01)
    q2 = net.quote(P2, "CNY/JPY", "21.4")
    small = net.engine.price(account(S, "CNY"), account(R, "JPY"), 1_000_00)
    large = net.engine.price(account(S, "CNY"), account(R, "JPY"), 100_000_00)
    assert isinstance(small, PriceView) and isinstance(large, PriceView)
    # 1000 CNY: P1 (1000 - 50) * 21.5 = 20425 JPY; P2 1000 * 21.4 = 21400 JPY -> P2
    assert (small.quote_ids, small.amount_out_minor) == ((q2,), 21_400)
    # 100000 CNY: P1 99950 * 21.5 = 2148925 JPY; P2 2140000 JPY -> P1
    assert (large.quote_ids, large.amount_out_minor) == ((q1,), 2_148_925)
    assert large.fees_minor == (50_00,) and large.fee_currencies == ("CNY",)
    # The sender may name the worse quote and gets exactly it.
    named = net.engine.price(account(S, "CNY"), account(R, "JPY"), 100_000_00, q2)
    assert isinstance(named, PriceView) and named.amount_out_minor == 2_140_000
    # Ties go to the older quote (lower id), so the choice never depends on dict order.
    q3 = net.quote(P1, "CNY/JPY", "21.4")
    tie = net.engine.price(account(S, "CNY"), account(R, "JPY"), 1_000_00)
    assert isinstance(tie, PriceView) and tie.quote_ids == (min(q2, q3),)


def test_via_a_reference_currency_with_two_providers_three_legs() -> None:
    net = Net()
    net.fund(S, "RUB", 10**9)
    net.fund(P1, "USD", 10**9)
    net.fund(P2, "JPY", 10**9)
    q1 = net.quote(P1, "RUB/USD", "0.0101", fee=10_00, low=10_01)
    q2 = net.quote(P2, "USD/JPY", "154.1", fee=1_00, low=1_01)
    payment = net.id()
    codes, events = net.run(CrossPayment(payment, account(S, "RUB"), account(R, "JPY"), 10_000_00))
    # leg 1: 10000.00 RUB to P1; (10000 - 10) RUB * 0.0101 = 100.899 USD -> 100.89 USD
    # leg 2: P1 hands 100.89 USD to P2; (100.89 - 1.00) USD * 154.1 = 15393.049 JPY -> 15393
    # leg 3: P2 pays 15393 JPY to R
    assert codes == [ResultCode.OK]
    [settled] = pvp_events(events)
    assert settled.quote_ids == (q1, q2)
    assert settled.legs == (
        (account(S, "RUB"), account(P1, "RUB"), 10_000_00, "RUB"),
        (account(P1, "USD"), account(P2, "USD"), 100_89, "USD"),
        (account(P2, "JPY"), account(R, "JPY"), 15_393, "JPY"),
    )
    assert net.balance(R, "JPY") == 15_393
    assert_conserved(net)


def test_via_a_reference_currency_with_one_provider_two_legs() -> None:
    net = Net()
    net.fund(S, "RUB", 10**9)
    net.fund(P1, "JPY", 10**9)
    net.quote(P1, "RUB/USD", "0.0101")
    net.quote(P1, "USD/JPY", "154.1")
    codes, events = net.run(CrossPayment(net.id(), account(S, "RUB"), account(R, "JPY"), 10_000_00))
    # 10000 RUB * 0.0101 = 101.00 USD (kept inside P1); 101.00 * 154.1 = 15564.1 -> 15564 JPY
    assert codes == [ResultCode.OK]
    [settled] = pvp_events(events)
    assert settled.legs == (
        (account(S, "RUB"), account(P1, "RUB"), 10_000_00, "RUB"),
        (account(P1, "JPY"), account(R, "JPY"), 15_564, "JPY"),
    )
    assert net.balance(P1, "USD") == 0  # the hand-over is not a leg: nothing moves in USD


def test_a_three_leg_route_waits_as_one_unit_when_the_middle_leg_is_short() -> None:
    net = Net()
    net.fund(S, "RUB", 10**9)
    net.fund(P2, "JPY", 10**9)
    net.quote(P1, "RUB/USD", "0.0101")
    net.quote(P2, "USD/JPY", "154.1")
    before = net.balances()
    payment = net.id()
    codes, _ = net.run(CrossPayment(payment, account(S, "RUB"), account(R, "JPY"), 10_000_00))
    assert codes == [ResultCode.QUEUED]  # P1 holds no USD for the hand-over
    assert net.balances() == before
    _, events = net.run(Issue(net.id(), account(P1, "USD"), 101_00))
    [settled] = pvp_events(events)
    assert settled.payment_id == payment and len(settled.legs) == 3
    assert net.balance(P1, "USD") == 0 and net.balance(P2, "USD") == 101_00


def test_a_direct_quote_is_used_before_any_route_through_a_reference_currency() -> None:
    # Routing rule (docs/fx.md): any valid direct quote wins, even when a route through
    # USD would deliver more; reference currencies are the way when no direct quote fits.
    net = Net()
    net.fund(S, "RUB", 10**9)
    net.fund(P1, "JPY", 10**9)
    net.fund(P2, "JPY", 10**9)
    direct = net.quote(P2, "RUB/JPY", "1.5")
    net.quote(P1, "RUB/USD", "0.0101")
    net.quote(P1, "USD/JPY", "154.1")  # 0.0101 * 154.1 = 1.55641 per RUB: better, unused
    price = net.engine.price(account(S, "RUB"), account(R, "JPY"), 10_000_00)
    assert isinstance(price, PriceView) and price.quote_ids == (direct,)


# --- bad input: reason code, no effect ----------------------------------------------------------


def _rejected(net: Net, command: Command, code: ResultCode, reason: str) -> None:
    before = net.observable()
    codes, events = net.run(command)
    assert codes == [code]
    assert code.reason == reason
    assert pvp_events(events) == []
    assert net.observable() == before


def _bad_input_net() -> tuple[Net, int, int]:
    net = Net()
    net.fund(S, "CNY", 10**9)
    net.fund(P1, "JPY", 10**9)
    good = net.quote(P1, "CNY/JPY", "21.4", low=10_00, high=1_000_000_00)
    short_lived = net.quote(P1, "CNY/JPY", "21.4", expires_at_ns=net.now_ns + 10)
    net.run(Transfer(net.id(), account(S, "CNY"), account(R, "CNY"), 1), at_ns=net.now_ns + 20)
    return net, good, short_lived


def test_bad_cross_payments_each_with_its_reason_and_no_effect() -> None:
    net, good, expired = _bad_input_net()
    s, r = account(S, "CNY"), account(R, "JPY")
    R_ = ResultCode
    _rejected(net, CrossPayment(net.id(), s, r, 100_00, expired), R_.QUOTE_EXPIRED, "TM01")
    _rejected(net, CrossPayment(net.id(), s, r, 100_00, 424_242), R_.QUOTE_NOT_FOUND, "NARR")
    # the named quote converts CNY to JPY, not CNY to BHD
    wrong_pair = CrossPayment(net.id(), s, account(R, "BHD"), 100_00, good)
    _rejected(net, wrong_pair, R_.QUOTE_PAIR_MISMATCH, "AM03")
    # no quote at all for CNY to BHD, directly or through USD or CNY
    _rejected(net, CrossPayment(net.id(), s, account(R, "BHD"), 100_00), R_.NO_QUOTE, "AM03")
    _rejected(net, CrossPayment(net.id(), s, r, 9_99, good), R_.QUOTE_AMOUNT_OUT_OF_RANGE, "AM02")
    over = CrossPayment(net.id(), s, r, 1_000_000_01, good)
    _rejected(net, over, R_.QUOTE_AMOUNT_OUT_OF_RANGE, "AM02")
    same = CrossPayment(net.id(), s, account(R, "CNY"), 100_00)
    _rejected(net, same, R_.PVP_SAME_CURRENCY, "AM03")
    _rejected(net, CrossPayment(net.id(), s, r, 0), R_.AMOUNT_ZERO, "AM01")
    _rejected(net, CrossPayment(net.id(), s, r, -5), R_.AMOUNT_NEGATIVE, "AM12")
    _rejected(net, CrossPayment(net.id(), 999, r, 100_00), R_.DEBIT_ACCOUNT_NOT_FOUND, "AC01")
    # the provider is the receiver: a quote cannot pay its own provider
    own = CrossPayment(net.id(), s, account(P1, "JPY"), 100_00, good)
    _rejected(net, own, R_.QUOTE_PAIR_MISMATCH, "AM03")


def test_a_provider_that_lost_an_account_cannot_be_used() -> None:
    net = Net()
    net.fund(S, "CNY", 10**9)
    quote = net.quote(P1, "CNY/JPY", "21.4")
    net.ok(CloseAccount(net.id(), account(P1, "JPY")))  # empty, so it closes
    cross = CrossPayment(net.id(), account(S, "CNY"), account(R, "JPY"), 100_00, quote)
    _rejected(net, cross, ResultCode.PROVIDER_ACCOUNTS_MISSING, "AC01")
    net.ok(SuspendParticipant(net.id(), P2))
    q2 = net.id()
    publish = PublishQuote(q2, P2, "CNY", "JPY", "21.4", 1, 10**6, FAR_NS)
    _rejected(net, publish, ResultCode.PROVIDER_ACCOUNTS_MISSING, "AC01")


@pytest.mark.parametrize(
    ("changes", "code", "reason"),
    [
        ({"rate": "0"}, ResultCode.RATE_INVALID, "FF01"),
        ({"rate": "0.000"}, ResultCode.RATE_INVALID, "FF01"),
        ({"rate": "-21.4"}, ResultCode.RATE_INVALID, "FF01"),
        ({"rate": "21.4e0"}, ResultCode.RATE_INVALID, "FF01"),
        ({"rate": "0.0000000000001"}, ResultCode.RATE_INVALID, "FF01"),  # 13 places
        ({"rate": ""}, ResultCode.RATE_INVALID, "FF01"),
        ({"to_currency": "CNY"}, ResultCode.QUOTE_INVALID, "FF01"),  # CNY to CNY
        ({"from_currency": "EUR"}, ResultCode.CURRENCY_NOT_HELD, None),  # not on the network
        ({"amount_min_minor": 0}, ResultCode.QUOTE_INVALID, "FF01"),
        ({"amount_min_minor": 11, "amount_max_minor": 10}, ResultCode.QUOTE_INVALID, "FF01"),
        ({"fee_minor": 1}, ResultCode.QUOTE_INVALID, "FF01"),  # fee not below the minimum
        ({"expires_at_ns": 0}, ResultCode.QUOTE_INVALID, "FF01"),  # already expired
        ({"provider_bic": "NOBANKXX"}, ResultCode.PARTICIPANT_NOT_FOUND, None),
    ],
)
def test_bad_quotes_each_with_its_reason_and_no_effect(
    changes: dict[str, object], code: ResultCode, reason: str | None
) -> None:
    net = Net()
    fields: dict[str, object] = {
        "id": net.id(), "provider_bic": P1, "from_currency": "CNY", "to_currency": "JPY",
        "rate": "21.4", "amount_min_minor": 1, "amount_max_minor": 10**6,
        "expires_at_ns": FAR_NS, "fee_minor": 0,
    }  # fmt: skip
    fields.update(changes)
    before = net.observable()
    codes, _ = net.run(PublishQuote(**fields))  # type: ignore[arg-type]
    assert codes == [code]
    if reason is not None:
        assert code.reason == reason
    assert net.observable() == before


def test_a_quote_id_is_used_once_and_only_its_provider_or_the_operator_withdraws_it() -> None:
    net = Net()
    quote = net.quote(P1, "CNY/JPY", "21.4")
    again = PublishQuote(quote, P1, "CNY", "JPY", "21.5", 1, 10**6, FAR_NS)
    assert net.run(again)[0] == [ResultCode.ID_REUSED]
    assert net.run(WithdrawQuote(net.id(), quote, P2))[0] == [ResultCode.NOT_QUOTE_PROVIDER]
    assert net.run(WithdrawQuote(net.id(), quote, P1))[0] == [ResultCode.OK]
    assert net.run(WithdrawQuote(net.id(), quote))[0] == [ResultCode.QUOTE_NOT_FOUND]
    cross = CrossPayment(net.id(), account(S, "CNY"), account(R, "JPY"), 100_00, quote)
    assert net.run(cross)[0] == [ResultCode.QUOTE_NOT_FOUND]


# --- state: snapshot and replay -----------------------------------------------------------------


def test_a_waiting_pair_survives_snapshot_restore_and_settles_alike() -> None:
    net = Net()
    net.fund(S, "CNY", 10**6)
    net.quote(P1, "CNY/JPY", "21.4", expires_at_ns=T0 + 10**6)
    assert net.run(CrossPayment(net.id(), account(S, "CNY"), account(R, "JPY"), 100_00))[0] == [
        ResultCode.QUEUED
    ]
    restored = Engine.restore(net.engine.snapshot())
    assert restored.digest() == net.engine.digest()
    funding = Batch.of([Issue(net.id(), account(P1, "JPY"), 10**6)])
    at_ns = net.now_ns + 1
    for engine in (net.engine, restored):
        result = engine.apply(funding, at_ns)
        assert len(pvp_events(engine.events(funding, result))) == 1
    assert restored.digest() == net.engine.digest()


# --- engine bugs, pinned: each turns green when the engine is fixed ---------------------------


def test_end_of_day_rejects_a_waiting_pair_in_that_currency() -> None:
    net = Net()
    net.fund(S, "CNY", 10**6)
    net.quote(P1, "CNY/JPY", "21.4")
    payment = net.id()
    assert net.run(CrossPayment(payment, account(S, "CNY"), account(R, "JPY"), 100_00))[0] == [
        ResultCode.QUEUED
    ]
    codes, events = net.run(EndOfDay(net.id(), "JPY"))
    assert codes == [ResultCode.OK]
    _, later = net.run(Issue(net.id(), account(P1, "JPY"), 10**6))
    assert pvp_events(later) == []
    assert net.balance(R, "JPY") == 0
    assert any(isinstance(e, PaymentRejected) and e.payment_id == payment for e in events)


def test_withdrawing_a_quote_ends_the_pairs_waiting_on_it() -> None:
    net = Net()
    net.fund(S, "CNY", 10**6)
    quote = net.quote(P1, "CNY/JPY", "21.4")
    cross = CrossPayment(net.id(), account(S, "CNY"), account(R, "JPY"), 100_00)
    assert net.run(cross)[0] == [ResultCode.QUEUED]
    assert net.run(WithdrawQuote(net.id(), quote, P1))[0] == [ResultCode.OK]
    _, events = net.run(Issue(net.id(), account(P1, "JPY"), 10**6))
    assert pvp_events(events) == []
    assert net.balance(R, "JPY") == 0


def test_a_pair_unblocked_by_another_pair_settles_in_the_same_batch() -> None:
    net = Net()
    net.fund(S, "CNY", 10**6)
    net.quote(P1, "CNY/JPY", "21.4")
    net.quote(P1, "JPY/CNY", "0.0467")
    net.fund(P1, "CNY", 10**6)
    first = net.id()  # waits: P1 has no JPY
    assert net.run(CrossPayment(first, account(S, "CNY"), account(R, "JPY"), 100_00))[0] == [
        ResultCode.QUEUED
    ]
    second = net.id()  # waits: the receiver (as sender here) has no JPY; brings P1 JPY
    assert net.run(CrossPayment(second, account(R, "JPY"), account(S, "CNY"), 5_000))[0] == [
        ResultCode.QUEUED
    ]
    _, events = net.run(Issue(net.id(), account(R, "JPY"), 5_000))
    assert {e.payment_id for e in pvp_events(events)} == {first, second}
