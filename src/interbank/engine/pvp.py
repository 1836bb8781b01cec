"""Cross-currency payments settled payment-versus-payment, and the FX quotes they use.

A ``CrossPayment`` becomes two legs (sender to FX provider in currency A, provider to
receiver in currency B) or, routed through a reference currency R, up to three (sender
to provider 1 in A, provider 1 to provider 2 in R, provider 2 to receiver in B). The
legs settle together, in one step, or not at all; a payment whose legs lack cover
waits as one unit and is retried whenever liquidity arrives; it is rejected when its
quote expires or its TILL time passes first. No leg ever settles alone.

Rates are exact decimals held as an integer mantissa and a power-of-ten scale. The
conversion rounds down to the receiving currency's minor unit (the provider keeps the
fraction); see docs/fx.md. Nothing here touches float, a clock or randomness.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from interbank.engine import kernel
from interbank.engine.codes import ResultCode
from interbank.engine.commands import (
    PaymentQueued,
    PaymentRejected,
    Priority,
    PublishQuote,
    PvpSettled,
)
from interbank.engine.rtgs import NORMAL, Waiting
from interbank.money import MoneyError
from interbank.money import currency as iso_currency

if TYPE_CHECKING:
    from interbank.engine.ledger import Engine

RATE_DIGITS_MAX = 18
RATE_SCALE_MAX = 12
_RATE_PATTERN = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_NEVER_NS = 2**63 - 1


def parse_rate(text: object) -> tuple[int, int] | None:
    """An exact positive decimal rate as (mantissa, scale): "7.1234" -> (71234, 4)."""
    if not isinstance(text, str) or len(text) > RATE_DIGITS_MAX + 2:
        return None
    match = _RATE_PATTERN.fullmatch(text)
    if match is None:
        return None
    whole, fraction = match.group(1), (match.group(2) or "").rstrip("0")
    if len(fraction) > RATE_SCALE_MAX:
        return None
    digits = (whole + fraction).lstrip("0")
    if not digits or len(digits) > RATE_DIGITS_MAX:
        return None  # zero, or more precision than a rate needs
    mantissa: int = int(whole + fraction)
    return mantissa, len(fraction)


def convert_minor(
    amount_minor: int, rate_mantissa: int, rate_scale: int, exponent_from: int, exponent_to: int
) -> int:
    """Convert minor units at an exact rate, rounding down to the target's minor unit.

    amount_to = floor(amount_from / 10^e_from * rate * 10^e_to), computed in integers:
    floor(amount * mantissa * 10^e_to / (10^scale * 10^e_from)).
    """
    assert amount_minor >= 0 and rate_mantissa > 0 and rate_scale >= 0
    numerator: int = amount_minor * rate_mantissa * 10**exponent_to
    denominator: int = 10 ** (rate_scale + exponent_from)
    return numerator // denominator


@dataclass(slots=True)
class Quote:
    quote_id: int
    provider: int  # participant index
    from_currency: int
    to_currency: int
    rate_text: str
    rate_mantissa: int
    rate_scale: int
    amount_min_minor: int
    amount_max_minor: int
    expires_at_ns: int
    fee_minor: int

    def as_list(self) -> list[Any]:
        return [
            self.quote_id, self.provider, self.from_currency, self.to_currency, self.rate_text,
            self.rate_mantissa, self.rate_scale, self.amount_min_minor, self.amount_max_minor,
            self.expires_at_ns, self.fee_minor,
        ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Leg:
    debit: int  # account slot
    credit: int
    amount_minor: int
    currency: int


@dataclass(frozen=True, slots=True)
class Route:
    quote_ids: tuple[int, ...]
    legs: tuple[Leg, ...]
    amount_in_minor: int
    amount_out_minor: int
    fees_minor: tuple[int, ...]  # per quote, in that quote's from-currency


@dataclass(slots=True)
class WaitingPvp:
    payment_id: int
    route: Route
    priority: int
    till_ns: int
    order: int
    expires_at_ns: int  # the earliest expiry of its quotes

    def as_list(self) -> list[Any]:
        r = self.route
        return [
            self.payment_id, list(r.quote_ids),
            [[g.debit, g.credit, g.amount_minor, g.currency] for g in r.legs],
            r.amount_in_minor, r.amount_out_minor, list(r.fees_minor), self.priority,
            self.till_ns, self.order, self.expires_at_ns,
        ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class QuoteView:
    """One quote of the book, as people read it."""

    quote_id: int
    provider_bic: str
    from_currency: str
    to_currency: str
    rate: str
    amount_min_minor: int
    amount_max_minor: int
    fee_minor: int
    expires_at_ns: int


@dataclass(frozen=True, slots=True)
class PriceView:
    """What a sender sees before committing: amounts, rate, every fee, the legs."""

    amount_in_minor: int
    currency_in: str
    amount_out_minor: int
    currency_out: str
    quote_ids: tuple[int, ...]
    rates: tuple[str, ...]
    fees_minor: tuple[int, ...]
    fee_currencies: tuple[str, ...]
    legs: tuple[tuple[int, int, int, str], ...]


class CrossCurrency:
    """Quotes and waiting cross-currency payments of one engine; called by ``Engine``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.quotes: dict[int, Quote] = {}
        self.waiting: dict[int, WaitingPvp] = {}
        self.order_next = 1
        self.dirty = False
        self.due_ns = _NEVER_NS  # derived: the next expiry or TILL to act on

    # --- quotes ---------------------------------------------------------------------

    def publish(self, command: PublishQuote, now_ns: int) -> ResultCode:
        e = self._engine
        provider = e._participant_index.get(e.canonical(command.provider_bic), -1)
        if provider < 0:
            return ResultCode.PARTICIPANT_NOT_FOUND
        rate = parse_rate(command.rate)
        if rate is None:
            return ResultCode.RATE_INVALID
        codes = (command.from_currency, command.to_currency)
        for code in codes:
            try:
                iso_currency(code)
            except MoneyError:
                return ResultCode.CURRENCY_UNKNOWN
        numbers = [e._currency_index.get(code, -1) for code in codes]
        if min(numbers) < 0:
            return ResultCode.CURRENCY_NOT_HELD
        low, high, fee = command.amount_min_minor, command.amount_max_minor, command.fee_minor
        amount_max = e.settings.amount_minor_max
        if (
            numbers[0] == numbers[1]
            or not 0 < low <= high <= amount_max
            or not 0 <= fee < low
            or command.expires_at_ns <= now_ns
        ):
            return ResultCode.QUOTE_INVALID
        for number in numbers:
            if self._provider_slot(provider, number) < 0:
                return ResultCode.PROVIDER_ACCOUNTS_MISSING
        if command.id in self.quotes:
            return ResultCode.ID_REUSED
        if len(self.quotes) >= e.settings.quotes_max:
            self._drop_expired(now_ns)
            if len(self.quotes) >= e.settings.quotes_max:
                return ResultCode.LIMIT_REACHED
        self.quotes[command.id] = Quote(
            command.id, provider, numbers[0], numbers[1], command.rate, rate[0], rate[1],
            low, high, command.expires_at_ns, fee,
        )  # fmt: skip
        return ResultCode.OK

    def withdraw(self, quote_id: int, by_bic: str | None, now_ns: int) -> ResultCode:
        """Take a quote back; pairs waiting on it end too (a firm quote withdrawn is no
        longer a price anyone may settle at)."""
        quote = self.quotes.get(quote_id)
        if quote is None:
            return ResultCode.QUOTE_NOT_FOUND
        e = self._engine
        if by_bic is not None and e.canonical(by_bic) != e._participants[quote.provider].bic:
            return ResultCode.NOT_QUOTE_PROVIDER
        del self.quotes[quote_id]
        for pvp in sorted(self.waiting.values(), key=lambda p: p.payment_id):
            if quote_id in pvp.route.quote_ids:
                self._reject(pvp, ResultCode.QUOTE_NOT_FOUND, now_ns)
        return ResultCode.OK

    def end_of_day(self, currency: int, now_ns: int) -> None:
        """The day of a currency closed: every waiting pair with a leg in it ends."""
        for pvp in sorted(self.waiting.values(), key=lambda p: p.payment_id):
            if any(leg.currency == currency for leg in pvp.route.legs):
                self._reject(pvp, ResultCode.END_OF_DAY_REJECTED, now_ns)

    def _drop_expired(self, now_ns: int) -> None:
        in_use = {q for w in self.waiting.values() for q in w.route.quote_ids}
        for quote_id in [q.quote_id for q in self.quotes.values()
                         if q.expires_at_ns <= now_ns and q.quote_id not in in_use]:  # fmt: skip
            del self.quotes[quote_id]

    def _provider_slot(self, provider: int, currency: int) -> int:
        e = self._engine
        slot = e._account_key.get((provider, currency, 0), -1)
        if slot < 0 or e._part_suspended[provider]:
            return -1
        return slot

    # --- routing ----------------------------------------------------------------------

    def _quote_problem(self, quote: Quote, amount_minor: int, now_ns: int) -> ResultCode | None:
        if quote.expires_at_ns <= now_ns:
            return ResultCode.QUOTE_EXPIRED
        if not quote.amount_min_minor <= amount_minor <= quote.amount_max_minor:
            return ResultCode.QUOTE_AMOUNT_OUT_OF_RANGE
        if (
            self._provider_slot(quote.provider, quote.from_currency) < 0
            or self._provider_slot(quote.provider, quote.to_currency) < 0
        ):
            return ResultCode.PROVIDER_ACCOUNTS_MISSING
        return None

    def _convert(self, quote: Quote, amount_minor: int) -> int:
        e = self._engine
        exponent_from = iso_currency(e._currencies[quote.from_currency]).exponent
        exponent_to = iso_currency(e._currencies[quote.to_currency]).exponent
        return convert_minor(amount_minor - quote.fee_minor, quote.rate_mantissa,
                             quote.rate_scale, exponent_from, exponent_to)  # fmt: skip

    def route(
        self, sender: int, receiver: int, amount_minor: int, quote_id: int | None, now_ns: int
    ) -> Route | ResultCode:
        """The legs for a cross-currency payment from slot ``sender`` to ``receiver``."""
        e = self._engine
        a, b = int(e._acc_currency[sender]), int(e._acc_currency[receiver])
        parties = {int(e._acc_participant[sender]), int(e._acc_participant[receiver])}
        if quote_id is not None:
            quote = self.quotes.get(quote_id)
            if quote is None:
                return ResultCode.QUOTE_NOT_FOUND
            if (quote.from_currency, quote.to_currency) != (a, b) or quote.provider in parties:
                return ResultCode.QUOTE_PAIR_MISMATCH
            problem = self._quote_problem(quote, amount_minor, now_ns)
            if problem is not None:
                return problem
            return self._direct(sender, receiver, quote, amount_minor)
        best: Route | None = None
        for quote in sorted(self.quotes.values(), key=lambda q: q.quote_id):
            if (quote.from_currency, quote.to_currency) != (a, b) or quote.provider in parties:
                continue
            if self._quote_problem(quote, amount_minor, now_ns) is None:
                candidate = self._direct(sender, receiver, quote, amount_minor)
                if best is None or candidate.amount_out_minor > best.amount_out_minor:
                    best = candidate
        if best is not None:
            return best
        for code in e.settings.fx_reference_currencies:
            via = e._currency_index.get(code, -1)
            if via < 0 or via in (a, b):
                continue
            for first in sorted(self.quotes.values(), key=lambda q: q.quote_id):
                if (first.from_currency, first.to_currency) != (a, via):
                    continue
                if first.provider in parties or self._quote_problem(first, amount_minor, now_ns):
                    continue
                middle_minor = self._convert(first, amount_minor)
                for second in sorted(self.quotes.values(), key=lambda q: q.quote_id):
                    if (second.from_currency, second.to_currency) != (via, b):
                        continue
                    if second.provider in parties or self._quote_problem(
                        second, middle_minor, now_ns
                    ):
                        continue
                    candidate = self._via(sender, receiver, first, second, amount_minor)
                    if best is None or candidate.amount_out_minor > best.amount_out_minor:
                        best = candidate
            if best is not None:
                return best
        return ResultCode.NO_QUOTE

    def _direct(self, sender: int, receiver: int, quote: Quote, amount_minor: int) -> Route:
        out_minor = self._convert(quote, amount_minor)
        legs = (
            Leg(sender, self._provider_slot(quote.provider, quote.from_currency), amount_minor,
                quote.from_currency),
            Leg(self._provider_slot(quote.provider, quote.to_currency), receiver, out_minor,
                quote.to_currency),
        )  # fmt: skip
        return Route((quote.quote_id,), legs, amount_minor, out_minor, (quote.fee_minor,))

    def _via(
        self, sender: int, receiver: int, first: Quote, second: Quote, amount_minor: int
    ) -> Route:
        middle_minor = self._convert(first, amount_minor)
        out_minor = self._convert(second, middle_minor)
        via = first.to_currency
        legs = [Leg(sender, self._provider_slot(first.provider, first.from_currency),
                    amount_minor, first.from_currency)]  # fmt: skip
        if first.provider != second.provider:
            payer, payee = (self._provider_slot(p, via) for p in (first.provider, second.provider))
            hand_over = Leg(payer, payee, middle_minor, via)
            legs.append(hand_over)
        legs.append(Leg(self._provider_slot(second.provider, second.to_currency), receiver,
                        out_minor, second.to_currency))  # fmt: skip
        return Route((first.quote_id, second.quote_id), tuple(legs), amount_minor, out_minor,
                     (first.fee_minor, second.fee_minor))  # fmt: skip

    # --- entry and settlement -------------------------------------------------------------

    def admit(self, payment_id: int, route: Route, priority: int, till_ns: int,
              now_ns: int) -> ResultCode:  # fmt: skip
        if route.amount_out_minor <= 0 or any(leg.amount_minor <= 0 for leg in route.legs):
            return ResultCode.AMOUNT_ZERO
        if len(self.waiting) >= self._engine.settings.queue_payments_max:
            return ResultCode.QUEUE_FULL
        expires_at_ns = min(self.quotes[q].expires_at_ns for q in route.quote_ids)
        pvp = WaitingPvp(payment_id, route, priority, till_ns, self.order_next, expires_at_ns)
        self.order_next += 1
        if self._settle_if_possible(pvp, now_ns):
            return ResultCode.OK
        self.waiting[payment_id] = pvp
        self.due_ns = min(self.due_ns, expires_at_ns, till_ns or _NEVER_NS)
        self._engine._queues.events.append(PaymentQueued(payment_id, now_ns))
        return ResultCode.QUEUED

    def _as_waiting(self, pvp: WaitingPvp) -> list[Waiting]:
        return [
            Waiting(pvp.payment_id, leg.debit, leg.credit, leg.currency, leg.amount_minor,
                    pvp.priority if i == 0 else NORMAL, 0, 0, 0)
            for i, leg in enumerate(pvp.route.legs)
        ]

    def _settle_if_possible(self, pvp: WaitingPvp, now_ns: int) -> bool:
        """Settle every leg at once if each currency's legs fit; otherwise nothing."""
        queues = self._engine._queues
        legs = self._as_waiting(pvp)
        sender_queue = queues.by_sender.get(legs[0].debit, {})
        # The sender's own urgent/high payments waiting ahead come first (FIFO).
        ahead = (w for w in sender_queue.values() if w.priority > NORMAL)
        if any(w.priority >= pvp.priority for w in ahead):
            return False
        by_currency: dict[int, list[Waiting]] = {}
        for leg in legs:
            by_currency.setdefault(leg.currency, []).append(leg)
        if any(queues._violations(group) for group in by_currency.values()):
            return False
        self._book(pvp, legs, now_ns)
        return True

    def _book(self, pvp: WaitingPvp, legs: list[Waiting], now_ns: int) -> None:
        e = self._engine
        queues = e._queues
        for leg in legs:
            e._acc_balance[leg.debit] -= leg.amount_minor
            e._acc_balance[leg.credit] += leg.amount_minor
            a, b = queues._participant(leg.debit), queues._participant(leg.credit)
            key = (a, b, leg.currency)
            queues.flow_total[key] = queues.flow_total.get(key, 0) + leg.amount_minor
            if leg.priority == NORMAL:
                queues.flow_normal[key] = queues.flow_normal.get(key, 0) + leg.amount_minor
            # Legs credit providers and the receiver: their queues may move now.
            if leg.credit in queues.by_sender:
                queues.dirty.add(leg.currency)
        route = pvp.route
        first, last = route.legs[0], route.legs[-1]
        queues.events.append(
            PvpSettled(
                pvp.payment_id, route.amount_in_minor, e._currencies[first.currency],
                route.amount_out_minor, e._currencies[last.currency], route.quote_ids,
                tuple((int(e._acc_id[g.debit]), int(e._acc_id[g.credit]), g.amount_minor,
                       e._currencies[g.currency]) for g in route.legs),
                now_ns,
            )
        )  # fmt: skip
        self.dirty = True

    def on_time(self, now_ns: int) -> None:
        """Reject waiting payments whose quote expired or whose TILL passed."""
        if not self.waiting or now_ns < self.due_ns:
            return
        due_ns = _NEVER_NS
        for pvp in sorted(self.waiting.values(), key=lambda p: p.payment_id):
            if pvp.expires_at_ns <= now_ns:
                self._reject(pvp, ResultCode.QUOTE_EXPIRED, now_ns)
            elif pvp.till_ns and pvp.till_ns <= now_ns:
                self._reject(pvp, ResultCode.TILL_PASSED, now_ns)
            else:
                due_ns = min(due_ns, pvp.expires_at_ns, pvp.till_ns or _NEVER_NS)
        self.due_ns = due_ns

    def _reject(self, pvp: WaitingPvp, code: ResultCode, now_ns: int) -> None:
        del self.waiting[pvp.payment_id]
        self._engine._queues.events.append(PaymentRejected(pvp.payment_id, code, now_ns))

    def retry(self, now_ns: int) -> None:
        """Try every waiting cross-currency payment again, in queue order, pass after
        pass while a pass settles something (a settled pair can bring the next one its
        cover), at most ``lsm_rounds_max`` passes."""
        for _ in range(self._engine.settings.lsm_rounds_max):
            settled = False
            for pvp in sorted(self.waiting.values(), key=lambda p: (-p.priority, p.order)):
                if self._settle_if_possible(pvp, now_ns):
                    del self.waiting[pvp.payment_id]
                    settled = True
            if not settled:
                return

    def cancel(self, payment_id: int, by_bic: str | None, now_ns: int) -> ResultCode:
        pvp = self.waiting.get(payment_id)
        if pvp is None:
            return ResultCode.PAYMENT_NOT_QUEUED
        e = self._engine
        sender = e._participants[int(e._acc_participant[pvp.route.legs[0].debit])]
        if by_bic is not None and e.canonical(by_bic) != sender.bic:
            return ResultCode.NOT_PAYMENT_SENDER
        self._reject(pvp, ResultCode.CANCELLED, now_ns)
        return ResultCode.OK

    def price(self, route: Route) -> PriceView:
        e = self._engine
        names = e._currencies
        quotes = [self.quotes[q] for q in route.quote_ids]
        return PriceView(
            route.amount_in_minor, names[route.legs[0].currency], route.amount_out_minor,
            names[route.legs[-1].currency], route.quote_ids, tuple(q.rate_text for q in quotes),
            route.fees_minor, tuple(names[q.from_currency] for q in quotes),
            tuple((int(e._acc_id[g.debit]), int(e._acc_id[g.credit]), g.amount_minor,
                   names[g.currency]) for g in route.legs),
        )  # fmt: skip

    def views(self) -> list[QuoteView]:
        e = self._engine
        return [
            QuoteView(q.quote_id, e._participants[q.provider].bic, e._currencies[q.from_currency],
                      e._currencies[q.to_currency], q.rate_text, q.amount_min_minor,
                      q.amount_max_minor, q.fee_minor, q.expires_at_ns)
            for q in sorted(self.quotes.values(), key=lambda q: q.quote_id)
        ]  # fmt: skip

    # --- state --------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "quotes": [q.as_list() for q in sorted(self.quotes.values(),
                                                    key=lambda q: q.quote_id)],
            "waiting": [w.as_list() for w in sorted(self.waiting.values(),
                                                     key=lambda w: w.payment_id)],
            "order_next": self.order_next,
        }  # fmt: skip

    def load(self, state: dict[str, Any]) -> None:
        for row in state["quotes"]:
            quote = Quote(*row)
            self.quotes[quote.quote_id] = quote
        for row in state["waiting"]:
            payment_id, quote_ids, legs, amount_in, amount_out, fees = row[:6]
            priority, till_ns, order, expires_at_ns = row[6:]
            route = Route(tuple(quote_ids), tuple(Leg(*leg) for leg in legs), amount_in,
                          amount_out, tuple(fees))  # fmt: skip
            self.waiting[payment_id] = WaitingPvp(payment_id, route, priority, till_ns, order,
                                                  expires_at_ns)  # fmt: skip
        self.order_next = int(state["order_next"])
        self.due_ns = min((min(w.expires_at_ns, w.till_ns or _NEVER_NS)
                           for w in self.waiting.values()), default=_NEVER_NS)  # fmt: skip


def closed_or_issuance(engine: Engine, slot: int) -> bool:
    return bool(int(engine._acc_flags[slot]) & (kernel.ACC_CLOSED | kernel.ACC_ISSUANCE))


__all__ = ["CrossCurrency", "PriceView", "Priority", "QuoteView", "convert_minor", "parse_rate"]
