"""Properties of cross-currency settlement on random command streams (hypothesis).

After every batch: per-currency conservation (every currency sums to zero), and no leg
settles alone: the change of every balance is exactly what the batch's events say
moved (PvpSettled legs, transfers, issues, RTGS payments), each PvpSettled carries
every leg of its route from the sender's account to the receiver's, and a payment
settles or is rejected at most once. Across replay: the same batches, packed and
unpacked into a fresh engine, give the same events and the same digest; and an engine
restored from a snapshot taken midway continues to the same digest.

The network is small on purpose so that payments collide on the same providers: two
banks and two providers holding JPY (0 decimals), CNY (2), BHD (3) and USD (2).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st

from interbank.engine import (
    AccountKind,
    Batch,
    Command,
    Engine,
    EngineSettings,
    Issue,
    OpenAccount,
    RegisterParticipant,
    ResultCode,
    Role,
    Transfer,
    TransferSettled,
)
from interbank.engine.commands import (
    CancelPayment,
    CrossPayment,
    Event,
    Payment,
    PaymentRejected,
    PaymentSettled,
    PublishQuote,
    PvpSettled,
    WithdrawQuote,
)

CURRENCIES = ("JPY", "CNY", "BHD", "USD")
CENTRAL = {"JPY": "BOJPJPJT", "CNY": "PBOCCNBJ", "BHD": "CBBHBHBM", "USD": "FRNYUS33"}
BANKS = ("BANKAEAD", "BANKBGB2")
PROVIDERS = ("PROVSGSG", "PRVBJPJT")
PARTIES = BANKS + PROVIDERS
# Rates of every size the network meets: 0.00244 BHD per JPY up to 409.99 JPY per BHD.
RATES = ("0.0467", "21.4", "0.00244", "409.99", "1", "154.1", "0.0065", "7.1", "0.14", "2.6595")
SETTINGS = EngineSettings(idempotency_window_commands=1 << 12, batch_commands_max=1 << 12)
STEP_NS = 100


def account(party: str, code: str) -> int:
    return 10 * (PARTIES.index(party) + 1) + CURRENCIES.index(code) + 1


ACCOUNTS = [(account(p, c), c) for p in PARTIES for c in CURRENCIES]
CURRENCY_OF = dict(ACCOUNTS)


def setup() -> list[Command]:
    commands: list[Command] = []
    n = 0

    def next_id() -> int:
        nonlocal n
        n += 1
        return n

    for i, code in enumerate(CURRENCIES, start=1):
        bic = CENTRAL[code]
        commands.append(RegisterParticipant(next_id(), bic, code, Role.CENTRAL_BANK, code))
        commands.append(OpenAccount(next_id(), 90 + i, bic, code, AccountKind.ISSUANCE))
    for party in PARTIES:
        commands.append(RegisterParticipant(next_id(), party, party, Role.DIRECT))
        for code in CURRENCIES:
            commands.append(OpenAccount(next_id(), account(party, code), party, code))
    return commands


@dataclass
class Draw:
    """What has been drawn so far, so later commands can refer to it."""

    next_id: int = 1_000
    quote_ids: tuple[int, ...] = ()
    cross: tuple[CrossPayment, ...] = ()

    def id(self) -> int:
        self.next_id += 1
        return self.next_id


@st.composite
def command(draw: st.DrawFn, state: Draw, now_ns: int) -> Command:
    kind = draw(
        st.sampled_from(
            ["cross"] * 8 + ["quote"] * 2
            + ["issue", "transfer", "payment", "withdraw", "cancel", "resend"]
        )
    )  # fmt: skip
    if kind == "quote" or (kind == "withdraw" and not state.quote_ids):
        c_from, c_to = draw(st.permutations(CURRENCIES))[:2]
        provider = draw(st.sampled_from(PROVIDERS + BANKS[:1]))
        return _quote(draw, state, provider, (c_from, c_to), now_ns)
    if kind == "withdraw":
        by = draw(st.sampled_from((None, *PROVIDERS)))
        return WithdrawQuote(state.id(), draw(st.sampled_from(state.quote_ids)), by)
    if kind == "cancel" and state.cross:
        by = draw(st.sampled_from((None, *BANKS)))
        return CancelPayment(state.id(), draw(st.sampled_from(state.cross)).id, by)
    if kind == "resend" and state.cross:
        return draw(st.sampled_from(state.cross))
    bank_accounts = [(a, c) for a, c in ACCOUNTS if a // 10 <= len(BANKS)]
    debit_id, code = draw(st.sampled_from(bank_accounts if kind == "cross" else ACCOUNTS))
    amount = draw(st.integers(1, 10**6))
    if kind == "issue":
        return Issue(state.id(), debit_id, amount * 10)
    same = [a for a, c in ACCOUNTS if c == code and a != debit_id]
    if kind in ("transfer", "payment"):
        credit = draw(st.sampled_from(same))
        if kind == "transfer":
            return Transfer(state.id(), debit_id, credit, amount)
        return Payment(state.id(), debit_id, credit, amount)
    # Mostly to the other bank in another currency; sometimes anywhere (same currency,
    # a provider's own account) to meet the refusals too.
    other = [a for a, c in bank_accounts if c != code and a // 10 != debit_id // 10]
    credit_id = draw(st.sampled_from(other * 4 + [a for a, _ in ACCOUNTS]))
    quote_id = draw(st.sampled_from((None, None, None, 999_999, *state.quote_ids[-3:])))
    till = draw(st.sampled_from((0, 0, now_ns + 3 * STEP_NS)))
    cross = CrossPayment(state.id(), debit_id, credit_id, amount, quote_id, till_ns=till)
    state.cross += (cross,)
    return cross


def _quote(draw: st.DrawFn, state: Draw, provider: str, pair: tuple[str, str], now_ns: int
           ) -> PublishQuote:  # fmt: skip
    low = draw(st.integers(1, 100))
    quote = PublishQuote(
        state.id(), provider, pair[0], pair[1], draw(st.sampled_from(RATES)), low,
        draw(st.sampled_from((10**4, 10**7))), now_ns + draw(st.integers(1, 30)) * STEP_NS,
        draw(st.integers(0, low - 1)),
    )  # fmt: skip
    state.quote_ids += (quote.id,)
    return quote


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[int, list[Command]]]:
    state = Draw()
    now_ns = 10
    batches: list[tuple[int, list[Command]]] = []
    # Opening funds: providers well, banks thinly, so both legs run short at times.
    opening: list[Command] = [
        Issue(state.id(), a, draw(st.integers(0, 5)) * 100_000 + 1) for a, _ in ACCOUNTS
    ]
    # Each provider quotes about a third of the twelve pairs, so some pairs have a direct
    # quote, some two competing ones, and some only a route through USD or CNY.
    for provider in PROVIDERS:
        for c_from in CURRENCIES:
            for c_to in CURRENCIES:
                if c_from != c_to and draw(st.integers(0, 2)) == 0:
                    opening.append(_quote(draw, state, provider, (c_from, c_to), now_ns))
    batches.append((now_ns, opening))
    for _ in range(draw(st.integers(1, 14))):
        now_ns += draw(st.sampled_from((0, 1, STEP_NS, 3 * STEP_NS)))
        count = draw(st.integers(1, 5))
        batches.append((now_ns, [draw(command(state, now_ns)) for _ in range(count)]))
    return batches


def balances(engine: Engine) -> dict[int, int]:
    return {a.account_id: a.balance_minor for a in engine.accounts()}


def moved_by_events(events: list[Event]) -> Counter[int]:
    moved: Counter[int] = Counter()
    for event in events:
        if isinstance(event, TransferSettled | PaymentSettled):
            moved[event.debit_account_id] -= event.amount_minor
            moved[event.credit_account_id] += event.amount_minor
        elif isinstance(event, PvpSettled):
            for debit, credit, amount, _ in event.legs:
                moved[debit] -= amount
                moved[credit] += amount
    return moved


def check_pvp_event(event: PvpSettled, sent: dict[int, CrossPayment]) -> None:
    cross = sent[event.payment_id]
    legs = event.legs
    assert 2 <= len(legs) <= 3
    assert legs[0][0] == cross.debit_account_id and legs[-1][1] == cross.credit_account_id
    assert legs[0][2] == cross.amount_minor == event.amount_in_minor
    assert legs[-1][2] == event.amount_out_minor > 0
    assert (event.currency_in, event.currency_out) == (legs[0][3], legs[-1][3])
    assert event.currency_in != event.currency_out
    for debit, credit, amount, code in legs:
        assert amount > 0
        assert CURRENCY_OF.get(debit, code) == code and CURRENCY_OF.get(credit, code) == code
    # Each leg's payer is the party paid by the leg before it (the chain is unbroken).
    for before, after in itertools.pairwise(legs):
        assert before[1] // 10 == after[0] // 10  # same participant, other currency
    # Three legs only through a reference currency, which takes two quotes.
    assert len(event.quote_ids) in (1, 2) and (len(legs) == 2 or len(event.quote_ids) == 2)


def fresh() -> Engine:
    engine = Engine(SETTINGS)
    assert all(r.ok for r in engine.execute_many(setup(), 1))
    return engine


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(stream=streams(), cut=st.integers(0, 20))
def test_conservation_no_lone_leg_and_the_same_state_after_replay_and_restore(
    stream: list[tuple[int, list[Command]]], cut: int
) -> None:
    engine = fresh()
    packed: list[tuple[int, bytes]] = []
    all_events: list[list[Event]] = []
    sent: dict[int, CrossPayment] = {}
    ended: Counter[int] = Counter()
    settled_legs: Counter[int] = Counter()
    snapshot_at = min(cut, len(stream) - 1)
    snapshot: bytes | None = None
    for index, (now_ns, commands) in enumerate(stream):
        batch = Batch.of(commands)
        before = balances(engine)
        result = engine.apply(batch, now_ns)
        events = engine.events(batch, result)
        for cmd in commands:
            if isinstance(cmd, CrossPayment):
                sent.setdefault(cmd.id, cmd)
        # 1. per-currency conservation
        assert set(engine.totals_by_currency().values()) == {0}
        # 2. every balance moved by exactly what the events say: no lone leg, no extra
        after = balances(engine)
        moved = moved_by_events(events)
        assert {a: after[a] - before[a] for a in after if after[a] != before[a]} == {
            a: d for a, d in moved.items() if d
        }
        for event in events:
            if isinstance(event, PvpSettled):
                check_pvp_event(event, sent)
                ended[event.payment_id] += 1
                settled_legs[len(event.legs)] += 1
            elif isinstance(event, PaymentRejected) and event.payment_id in sent:
                ended[event.payment_id] += 1
        # A pair that settled at entry says OK; one that waits says QUEUED and ends later.
        for row, cmd in enumerate(commands):
            if isinstance(cmd, CrossPayment) and not result.replayed[row]:
                code = ResultCode(int(result.codes[row]))
                settled_now = any(
                    isinstance(e, PvpSettled) and e.payment_id == cmd.id for e in events
                )
                if code == ResultCode.OK:
                    assert settled_now
                elif code != ResultCode.QUEUED:
                    assert not settled_now
        packed.append((now_ns, batch.pack()))
        all_events.append(events)
        if index == snapshot_at:
            snapshot = engine.snapshot()
    # What the stream exercised (hypothesis --hypothesis-show-statistics).
    tally(f"pairs settled with 2 legs: {min(settled_legs[2], 3)}+")
    tally(f"pairs settled with 3 legs: {min(settled_legs[3], 1)}+")
    tally(f"pairs still waiting: {min(len(engine._fx.waiting), 2)}+")
    # 3. a payment ends (settles or is rejected) at most once
    assert all(count == 1 for count in ended.values()), ended
    assert not set(engine._fx.waiting) & set(ended)
    # 4. replay: the packed batches into a fresh engine give the same events and digest
    replica = fresh()
    for (now_ns, data), events in zip(packed, all_events, strict=True):
        batch = Batch.unpack(data)
        result = replica.apply(batch, now_ns)
        assert replica.events(batch, result) == events
    assert replica.digest() == engine.digest()
    # 5. snapshot and restore midway, then the rest: the same digest
    assert snapshot is not None
    restored = Engine.restore(snapshot)
    for now_ns, data in packed[snapshot_at + 1 :]:
        restored.apply(Batch.unpack(data), now_ns)
    assert restored.digest() == engine.digest()
