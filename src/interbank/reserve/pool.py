"""The reserve pool at work: requests, weighted votes, swaps, renewals, repayments.

Each operation reads the state (a fold of the record store), checks the request against
the rulebook, and either refuses it with a ``ReserveError`` (nothing recorded, nothing
moved) or records its decisions in one transaction. Operations that move money record
the step and its commands first ("submitted"), submit them to the network as one linked
chain (all or none), and then record the outcome: settled, or refused with the
network's reason. A network refusal is an outcome, not bad input: it is recorded.

The swap of a drawing, for requester R with currency L and providers P:
  1. R's central bank issues sum(L legs) into its own L settlement account;
  2. each P pays its USD share to R's USD account;
  3. R pays each P the L equivalent of its share at the spot rate;
and the reverse at repayment: each P returns the L amount, R pays each P its USD share
and the interest, and R redeems the L it got back. Steps 1-3 are one chain, so both
legs settle together or not at all (payment versus payment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from interbank.engine.codes import ResultCode
from interbank.engine.commands import (
    AccountKind,
    Command,
    Issue,
    OpenAccount,
    Redeem,
    RegisterParticipant,
    Result,
    Role,
    Transfer,
)
from interbank.money import AMOUNT_MINOR_MAX, currency
from interbank.network_port import Network, derive_command_id
from interbank.reserve.rulebook import (
    INSTRUMENTS,
    PORTIONS,
    Binding,
    Rulebook,
    RulebookError,
    parse_rulebook,
)
from interbank.reserve.rules import (
    ReserveError,
    convert_minor,
    interest_minor,
    parse_rate,
    split_pro_rata,
    tally,
)
from interbank.reserve.state import (
    ACTIVE,
    APPROVED,
    ARREARS,
    EXPIRED,
    LAPSED,
    PENDING,
    REJECTED,
    Drawing,
    Flow,
    Leg,
    PoolState,
    Step,
    fold,
)
from interbank.reserve.store import Decision, DecisionStore

# Requests one pool keeps in its records; a bound on everything.
REQUESTS_MAX = 100_000


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What the network did with a step: settled, or refused with the first reason."""

    request_id: str
    purpose: str
    settled: bool
    reason: str
    flows: tuple[Flow, ...]
    decisions: tuple[Decision, ...]


@dataclass(frozen=True, slots=True)
class DrillReport:
    outcome: str  # "completed" or "failed"
    request_id: str  # in the drill's copy of the records
    interest_minor: int
    log: tuple[str, ...]
    conserved: bool  # every currency still summed to zero on the drill's network
    decision: Decision


class ReservePool:
    """The pool over one record store and (for steps that move money) one network."""

    def __init__(self, store: DecisionStore, network: Network | None = None) -> None:
        self.store = store
        self.network = network
        self._state = fold(store.decisions())
        self.rulebook = self._stored_rulebook()

    # --- opening -------------------------------------------------------------------

    @staticmethod
    def create(
        store: DecisionStore, rulebook: Rulebook, on: date, network: Network | None = None
    ) -> ReservePool:
        """Start a pool's records under ``rulebook`` (an empty store only)."""
        if store.count():
            raise ReserveError("DUPL", f"{store.location} already holds a pool's records")
        with store.transaction():
            store.append(on, "rulebook_adopted", rulebook.name, _rulebook_payload(rulebook))
        return ReservePool(store, network)

    def _stored_rulebook(self) -> Rulebook:
        adopted = [d for d in self.store.decisions() if d.kind == "rulebook_adopted"]
        if not adopted:
            raise ReserveError("NARR", f"{self.store.location} holds no pool (no rulebook)")
        return parse_rulebook(adopted[-1].payload["text"])

    @property
    def state(self) -> PoolState:
        return self._state

    def _record(self, entries: Sequence[tuple[date, str, str, dict[str, Any]]]) -> list[Decision]:
        """Append decisions in one transaction, then fold them into the state."""
        with self.store.transaction():
            # Another process may have recorded since we read: refold before deciding
            # is the caller's job (operations call _refresh first); here we only append.
            written = [self.store.append(*entry) for entry in entries]
        self._state = fold(written, self._state)
        return written

    def _refresh(self) -> None:
        self._state = fold(self.store.decisions(self._state.last_seq), self._state)

    def _check_date(self, on: date) -> None:
        last = self._state.last_on
        if not isinstance(on, date):
            raise ReserveError("FF01", f"{on!r} is not a date")
        if last is not None and on < last:
            raise ReserveError(
                "FF01",
                f"{on} is before the pool's last decision ({last}); "
                "the pool's calendar does not go back",
            )

    # --- the rulebook ----------------------------------------------------------------

    def adopt(self, rulebook: Rulebook, on: date) -> Decision:
        """Adopt a new rulebook version. Drawings already settled keep the terms they were
        settled under (maturity, spread); everything decided from now on uses the new one."""
        self._refresh()
        self._check_date(on)
        if set(rulebook.codes()) != set(self.rulebook.codes()):
            raise ReserveError("AG01", "a new rulebook must keep the same members")
        decision = self._record(
            [(on, "rulebook_adopted", rulebook.name, _rulebook_payload(rulebook))]
        )[0]
        self.rulebook = rulebook
        return decision

    # --- binding members to the network ------------------------------------------------

    def bind(self, binding: Binding, on: date) -> list[Decision]:
        """Make sure each member's central bank has settlement accounts in the reserve
        currency and in every member's currency, registering the USD agent if the
        network has no issuer of the reserve currency; record who is who."""
        network = self._network()
        self._refresh()
        self._check_date(on)
        reserve = self.rulebook.reserve_currency
        missing = [code for code in self.rulebook.codes() if binding.member(code) is None]
        if missing:
            raise ReserveError("AG01", f"the binding does not name {', '.join(missing)}")
        currencies = [reserve, *sorted({m.local_currency for m in binding.members} - {reserve})]
        commands: list[Command] = []
        namespace = self.store.namespace
        if network.issuer(reserve) is None:
            agent = binding.usd_agent_bic
            agent_account = self._free_account_id(network, binding.account_id_base, commands)
            commands += [
                RegisterParticipant(
                    derive_command_id(namespace, "bind", "agent"),
                    agent,
                    binding.usd_agent_name,
                    Role.CENTRAL_BANK,
                    reserve,
                ),
                OpenAccount(
                    derive_command_id(namespace, "bind", "agent", "account"),
                    agent_account,
                    agent,
                    reserve,
                    AccountKind.ISSUANCE,
                ),
            ]
        accounts: dict[str, dict[str, int]] = {}
        for member in binding.members:
            if self.rulebook.member(member.code) is None:
                continue
            found = network.participant(member.bic)
            if found is None:
                raise ReserveError(
                    "RC01", f"{member.code}'s central bank {member.bic} is not on the network"
                )
            if found != (Role.CENTRAL_BANK, member.local_currency):
                raise ReserveError(
                    "AG01", f"{member.bic} is not the central bank of {member.local_currency}"
                )
            accounts[member.code] = {}
            for code in currencies:
                account_id = network.settlement_account(member.bic, code)
                if account_id is None:
                    account_id = self._free_account_id(network, binding.account_id_base, commands)
                    commands.append(
                        OpenAccount(
                            derive_command_id(namespace, "bind", member.code, code),
                            account_id,
                            member.bic,
                            code,
                        )
                    )
                    if code == reserve and binding.fund_reserves:
                        commitment = self.rulebook.member(member.code)
                        assert commitment is not None
                        commands.append(
                            Issue(
                                derive_command_id(namespace, "bind", member.code, "reserves"),
                                account_id,
                                commitment.commitment_minor,
                            )
                        )
                accounts[member.code][code] = account_id
        refused = [r for r in network.submit(commands) if not r.ok]
        if refused:
            first = refused[0]
            raise ReserveError(first.reason, f"the network refused the binding: {first.text}")
        return self._record(
            [
                (
                    on,
                    "member_bound",
                    m.code,
                    {
                        "code": m.code,
                        "bic": m.bic,
                        "local_currency": m.local_currency,
                        "accounts": accounts[m.code],
                    },
                )
                for m in binding.members
                if m.code in accounts
            ]
        )

    @staticmethod
    def _free_account_id(network: Network, base: int, commands: Sequence[Command]) -> int:
        taken = {c.account_id for c in commands if isinstance(c, OpenAccount)}
        account_id = base
        while account_id in taken or network.account(account_id) is not None:
            account_id += 1
        return account_id

    # --- the IMF link --------------------------------------------------------------------

    def set_imf_programme(self, member: str, on_track: bool, on: date) -> Decision:
        """Record whether a member has an IMF programme on track (set by the operators)."""
        self._refresh()
        self._check_date(on)
        self._member(member)
        return self._record([(on, "imf_status", member, {"member": member, "on_track": on_track})])[
            0
        ]

    # --- requests and votes ------------------------------------------------------------

    def request(
        self, member: str, instrument: str, portion: str, amount_minor: int, on: date
    ) -> Drawing:
        """A member's central bank asks for a drawing; checked against its access."""
        self._refresh()
        self._check_date(on)
        self._member(member)
        if instrument not in INSTRUMENTS:
            raise ReserveError(
                "FF01", f"instrument {instrument!r}: one of {', '.join(INSTRUMENTS)}"
            )
        if portion not in PORTIONS:
            raise ReserveError("FF01", f"portion {portion!r}: one of {', '.join(PORTIONS)}")
        if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
            raise ReserveError("FF01", "the amount is a whole number of minor units")
        if amount_minor <= 0:
            raise ReserveError(
                "AM01" if amount_minor == 0 else "AM12", "the amount must be positive"
            )
        if amount_minor > AMOUNT_MINOR_MAX:
            raise ReserveError("AM02", "the amount is over the network's limit for one payment")
        if len(self._state.drawings) >= REQUESTS_MAX:
            raise ReserveError("NARR", f"the pool keeps at most {REQUESTS_MAX} requests")
        self._check_access(member, portion, amount_minor, exclude=None)
        request_id = f"R-{len(self._state.drawings) + 1:04d}"
        self._record(
            [
                (
                    on,
                    "request",
                    request_id,
                    {
                        "request_id": request_id,
                        "member": member,
                        "instrument": instrument,
                        "portion": portion,
                        "amount_minor": amount_minor,
                    },
                )
            ]
        )
        return self._state.drawings[request_id]

    def _check_access(
        self, member: str, portion: str, amount_minor: int, exclude: str | None
    ) -> None:
        """The access rules, in the order a member would want to hear them."""
        rulebook, state = self.rulebook, self._state
        unit = rulebook.reserve_currency
        blocked = state.in_arrears(member)
        if blocked:
            ids = ", ".join(d.request_id for d in blocked)
            raise ReserveError(
                "AG01", f"{member} is in arrears on {ids}: no new drawing until repaid"
            )
        if portion == "imf_linked" and not state.imf_on_track.get(member, False):
            raise ReserveError(
                "AG01",
                f"{member} has no IMF programme on track: the IMF-linked portion needs one "
                f"(without it {member} may draw only the de-linked "
                f"{rulebook.de_linked_share_percent}% of its access)",
            )

        def open_minor(which: str | None) -> int:
            return state.open_amount_minor(member, which, rulebook.count_pending_requests, exclude)

        access = rulebook.max_access_minor(member)
        used = open_minor(None)
        if used + amount_minor > access:
            raise ReserveError(
                "AM02",
                f"{_units(amount_minor, unit)} {unit} exceeds {member}'s maximum access: "
                f"{_units(access, unit)} less {_units(used, unit)} already drawn or requested "
                f"leaves {_units(max(access - used, 0), unit)}",
            )
        if portion == "de_linked":
            cap = rulebook.de_linked_cap_minor(member)
            used_de_linked = open_minor("de_linked")
            if used_de_linked + amount_minor > cap:
                raise ReserveError(
                    "AM02",
                    f"{_units(amount_minor, unit)} {unit} exceeds the de-linked "
                    f"{rulebook.de_linked_share_percent}% of {member}'s access available without "
                    f"an IMF programme: {_units(cap, unit)} less {_units(used_de_linked, unit)} "
                    "already drawn or requested leaves "
                    f"{_units(max(cap - used_de_linked, 0), unit)}",
                )

    def vote(self, request_id: str, voter: str, approve: bool, on: date) -> Drawing:
        """A provider's vote; the request is decided as soon as the outcome is certain."""
        self._refresh()
        self._check_date(on)
        drawing = self._drawing(request_id)
        if self.rulebook.member(voter) is None:
            raise ReserveError("AG01", f"{voter!r} is not a member of the pool: only members vote")
        if drawing.status != PENDING:
            raise ReserveError("AG01", f"voting on {request_id} is closed: it is {drawing.status}")
        deadline = drawing.requested_on + timedelta(days=self.rulebook.vote_window_days)
        if on > deadline:
            raise ReserveError("AG01", f"voting on {request_id} closed on {deadline}")
        if on < drawing.requested_on:
            raise ReserveError("FF01", f"{on} is before the request ({drawing.requested_on})")
        before = next((v for v in drawing.votes if v[0] == voter), None)
        if before is not None:
            said = "yes" if before[1] else "no"
            raise ReserveError(
                "DUPL", f"{voter} already voted {said} on {request_id} on {before[2]}"
            )
        eligible = tally(self.rulebook, drawing.member, []).eligible
        if voter not in eligible:
            raise ReserveError("AG01", f"{voter} requested {request_id} and does not vote on it")
        votes = [(v[0], v[1]) for v in drawing.votes] + [(voter, approve)]
        result = tally(self.rulebook, drawing.member, votes)
        entries: list[tuple[date, str, str, dict[str, Any]]] = [
            (on, "vote", request_id, {"voter": voter, "approve": approve})
        ]
        if result.outcome == "approved":
            try:
                self._check_access(
                    drawing.member, drawing.portion, drawing.amount_minor, exclude=request_id
                )
                entries.append((on, APPROVED, request_id, {"reason": "weighted majority"}))
            except ReserveError as error:  # the vote passed, the rules no longer allow it
                entries.append((on, REJECTED, request_id, {"reason": error.text}))
        elif result.outcome == "rejected":
            entries.append((on, REJECTED, request_id, {"reason": "no weighted majority"}))
        self._record(entries)
        return self._state.drawings[request_id]

    # --- settling, renewing, repaying ------------------------------------------------------

    def settle(
        self, request_id: str, spot_rate: str, reference_rate_percent: str, on: date
    ) -> StepOutcome:
        """Settle an approved drawing as a currency swap: both legs on the network, PvP.

        ``spot_rate``: units of the requester's currency per unit of the reserve currency;
        the reverse leg uses the same rate. ``reference_rate_percent``: the USD benchmark
        for the first period; the instrument's spread is added to it.
        """
        self._refresh()
        self._check_date(on)
        drawing = self._drawing(request_id)
        rate = parse_rate(spot_rate, "spot rate")
        if rate == 0:
            raise ReserveError("FF01", "the spot rate must be above zero")
        reference = parse_rate(reference_rate_percent, "reference rate")
        self._no_step_in_flight(drawing)
        if drawing.status != APPROVED:
            raise ReserveError("AG01", f"{request_id} is {drawing.status}, not approved")
        terms = self.rulebook.terms(drawing.instrument, drawing.portion)
        assert drawing.decided_on is not None
        until = drawing.decided_on + timedelta(days=terms.availability_days)
        if on > until:
            raise ReserveError("AG01", f"{request_id} was available until {until}")
        if on < drawing.decided_on:
            raise ReserveError("FF01", f"{on} is before the approval ({drawing.decided_on})")
        if drawing.portion == "imf_linked" and not self._state.imf_on_track.get(drawing.member):
            raise ReserveError("AG01", f"{drawing.member}'s IMF programme is no longer on track")
        requester = self._binding(drawing.member)
        local = requester.local_currency
        reserve = self.rulebook.reserve_currency
        providers = [c for c in self.rulebook.codes() if c != drawing.member]
        weights = [(c, self._member(c).commitment_minor) for c in providers]
        legs = [
            Leg(code, usd, convert_minor(usd, reserve, local, rate))
            for code, usd in split_pro_rata(drawing.amount_minor, weights)
        ]
        if any(leg.local_minor > AMOUNT_MINOR_MAX for leg in legs):
            raise ReserveError(
                "AM02", "a leg in the requester's currency is over the network limit"
            )
        local_total = sum(leg.local_minor for leg in legs)
        own_local = self._account(requester, local)
        own_usd = self._account(requester, reserve)
        flows: list[tuple[str, int, int, int, str, str]] = [
            ("issue", 0, own_local, local_total, local, f"{drawing.member} issues {local}")
        ]
        for leg in legs:
            provider = self._binding(leg.provider)
            flows.append(
                (
                    "transfer",
                    self._account(provider, reserve),
                    own_usd,
                    leg.usd_minor,
                    reserve,
                    f"{leg.provider} pays {reserve}",
                )
            )
        for leg in legs:
            provider = self._binding(leg.provider)
            flows.append(
                (
                    "transfer",
                    own_local,
                    self._account(provider, local),
                    leg.local_minor,
                    local,
                    f"{drawing.member} pays {leg.provider} {local}",
                )
            )
        detail = {
            "spot_rate": str(rate),
            "local_currency": local,
            "maturity_on": (on + timedelta(days=terms.maturity_days)).isoformat(),
            "reference_rate_percent": str(reference),
            "spread_bp": terms.spread_bp,
            "legs": [
                {"provider": g.provider, "usd_minor": g.usd_minor, "local_minor": g.local_minor}
                for g in legs
            ],
        }
        return self._run_step(drawing, "swap", on, flows, detail)

    def renew(self, request_id: str, reference_rate_percent: str, on: date) -> StepOutcome:
        """Roll a drawing over for another maturity: the period's interest is paid now,
        the legs stay in place, the reference rate is fixed again."""
        self._refresh()
        self._check_date(on)
        drawing = self._drawing(request_id)
        reference = parse_rate(reference_rate_percent, "reference rate")
        self._no_step_in_flight(drawing)
        if drawing.status != ACTIVE or drawing.swap is None:
            raise ReserveError(
                "AG01", f"{request_id} is {drawing.status}: only an active drawing renews"
            )
        swap = drawing.swap
        terms = self.rulebook.terms(drawing.instrument, drawing.portion)
        if swap.renewals >= terms.renewals_max:
            raise ReserveError(
                "AG01",
                f"{request_id} has been renewed {swap.renewals} times, the most the "
                f"rulebook allows for {drawing.instrument}/{drawing.portion}",
            )
        if not swap.period_start <= on <= swap.maturity_on:
            raise ReserveError(
                "AG01", f"{request_id} renews on or before its maturity {swap.maturity_on}"
            )
        if drawing.portion == "imf_linked" and not self._state.imf_on_track.get(drawing.member):
            raise ReserveError("AG01", f"{drawing.member}'s IMF programme is no longer on track")
        others = [d.request_id for d in self._state.in_arrears(drawing.member)]
        if others:
            raise ReserveError("AG01", f"{drawing.member} is in arrears on {', '.join(others)}")
        requester = self._binding(drawing.member)
        reserve = self.rulebook.reserve_currency
        interests = self._interest(drawing, swap.maturity_on)
        flows = [
            (
                "transfer",
                self._account(requester, reserve),
                self._account(self._binding(leg.provider), reserve),
                interest,
                reserve,
                f"{drawing.member} pays {leg.provider} interest",
            )
            for leg, interest in zip(swap.legs, interests, strict=True)
        ]
        detail = {
            "period_start": swap.maturity_on.isoformat(),
            "maturity_on": (swap.maturity_on + timedelta(days=terms.maturity_days)).isoformat(),
            "reference_rate_percent": str(reference),
            "interest_minor": sum(interests),
            "interest_to": swap.maturity_on.isoformat(),
        }
        return self._run_step(drawing, "renewal", on, flows, detail)

    def repay(self, request_id: str, on: date) -> StepOutcome:
        """The reverse leg: local currency back to the requester, USD and interest back to
        the providers, at the swap's own rate; late days bear the arrears spread."""
        self._refresh()
        self._check_date(on)
        drawing = self._drawing(request_id)
        self._no_step_in_flight(drawing)
        if drawing.status not in (ACTIVE, ARREARS) or drawing.swap is None:
            raise ReserveError("AG01", f"{request_id} is {drawing.status}: nothing to repay")
        swap = drawing.swap
        if on < swap.period_start:
            raise ReserveError("FF01", f"{on} is before the current period ({swap.period_start})")
        requester = self._binding(drawing.member)
        local, reserve = swap.local_currency, self.rulebook.reserve_currency
        own_local, own_usd = self._account(requester, local), self._account(requester, reserve)
        interests = self._interest(drawing, on)
        flows: list[tuple[str, int, int, int, str, str]] = []
        for leg in swap.legs:
            flows.append(
                (
                    "transfer",
                    self._account(self._binding(leg.provider), local),
                    own_local,
                    leg.local_minor,
                    local,
                    f"{leg.provider} returns {local}",
                )
            )
        for leg, interest in zip(swap.legs, interests, strict=True):
            provider_usd = self._account(self._binding(leg.provider), reserve)
            flows.append(
                (
                    "transfer",
                    own_usd,
                    provider_usd,
                    leg.usd_minor,
                    reserve,
                    f"{drawing.member} repays {leg.provider}",
                )
            )
            flows.append(
                (
                    "transfer",
                    own_usd,
                    provider_usd,
                    interest,
                    reserve,
                    f"{drawing.member} pays {leg.provider} interest",
                )
            )
        local_total = sum(leg.local_minor for leg in swap.legs)
        flows.append(
            ("redeem", own_local, 0, local_total, local, f"{drawing.member} redeems {local}")
        )
        detail = {"interest_minor": sum(interests), "interest_to": on.isoformat()}
        return self._run_step(drawing, "repayment", on, flows, detail)

    def _interest(self, drawing: Drawing, until: date) -> list[int]:
        """Interest per leg for the current period up to ``until``: the period's rate on
        every day, plus the arrears spread on every day after maturity."""
        swap = drawing.swap
        assert swap is not None
        rate = Fraction(Decimal(swap.reference_rate_percent)) + Fraction(swap.spread_bp, 100)
        late = Fraction(self.rulebook.arrears_spread_bp, 100)
        basis = self.rulebook.day_basis()
        amounts = []
        for leg in swap.legs:
            amount = interest_minor(leg.usd_minor, rate, swap.period_start, until, basis)
            if until > swap.maturity_on:
                amount += interest_minor(leg.usd_minor, late, swap.maturity_on, until, basis)
            amounts.append(amount)
        return amounts

    # --- the calendar ------------------------------------------------------------------------

    def review(self, on: date) -> list[Decision]:
        """Everything that a date passing decides: votes that expired, approvals that lapsed,
        maturities missed (arrears, which block the member's new drawings)."""
        self._refresh()
        self._check_date(on)
        entries: list[tuple[date, str, str, dict[str, Any]]] = []
        for drawing in self._state.drawings.values():
            if drawing.pending_step() is not None:
                continue  # a step in flight is finished by resume(), not judged
            if drawing.status == PENDING:
                deadline = drawing.requested_on + timedelta(days=self.rulebook.vote_window_days)
                if on > deadline:
                    entries.append(
                        (on, EXPIRED, drawing.request_id, {"reason": f"no decision by {deadline}"})
                    )
            elif drawing.status == APPROVED:
                assert drawing.decided_on is not None
                terms = self.rulebook.terms(drawing.instrument, drawing.portion)
                until = drawing.decided_on + timedelta(days=terms.availability_days)
                if on > until:
                    entries.append(
                        (on, LAPSED, drawing.request_id, {"reason": f"not drawn by {until}"})
                    )
            elif drawing.status == ACTIVE:
                assert drawing.swap is not None
                if on > drawing.swap.maturity_on:
                    since = drawing.swap.maturity_on + timedelta(days=1)
                    entries.append(
                        (
                            on,
                            ARREARS,
                            drawing.request_id,
                            {
                                "since": since.isoformat(),
                                "reason": f"not repaid at maturity {drawing.swap.maturity_on}",
                            },
                        )
                    )
        return self._record(entries) if entries else []

    def resume(self) -> list[StepOutcome]:
        """Finish steps recorded as submitted but without an outcome (after a crash):
        resubmit their commands with the same ids, so nothing settles twice."""
        self._refresh()
        outcomes = []
        for drawing in list(self._state.drawings.values()):
            step = drawing.pending_step()
            if step is not None:
                outcomes.append(self._submit_step(drawing.request_id, step))
        return outcomes

    # --- drills -----------------------------------------------------------------------------

    def drill(
        self,
        member: str,
        instrument: str,
        portion: str,
        amount_minor: int,
        spot_rate: str,
        reference_rate_percent: str,
        on: date,
        assume_imf_on_track: bool = False,
    ) -> DrillReport:
        """Run a whole cycle (request, votes, swap, interest, repayment at maturity) on a
        copy of the network and of the records: the real balances never move. The drill
        itself, and how it went, is recorded as one decision of the real pool."""
        self._refresh()
        self._check_date(on)
        self._member(member)
        twin = ReservePool(self.store.scratch_copy(), self._network().scratch_copy())
        log: list[str] = []
        outcome = "completed"
        request_id = ""
        interest = 0
        try:
            if assume_imf_on_track:
                twin.set_imf_programme(member, True, on)
                log.append(f"{on} IMF programme assumed on track for {member}")
            drawing = twin.request(member, instrument, portion, amount_minor, on)
            request_id = drawing.request_id
            log.append(
                f"{on} request {request_id}: {member} {instrument}/{portion} "
                f"{_units(amount_minor, self.rulebook.reserve_currency)}"
            )
            for voter in tally(self.rulebook, member, []).eligible:
                drawing = twin.vote(request_id, voter, True, on)
                log.append(f"{on} {voter} votes yes: {drawing.status}")
                if drawing.status != PENDING:
                    break
            if drawing.status != APPROVED:
                raise ReserveError("NARR", f"{request_id} was {drawing.status}: {drawing.reason}")
            swap = twin.settle(request_id, spot_rate, reference_rate_percent, on)
            log.append(f"{on} swap {'settled' if swap.settled else 'refused: ' + swap.reason}")
            if not swap.settled:
                raise ReserveError("NARR", f"swap refused: {swap.reason}")
            settled = twin.state.drawings[request_id]
            assert settled.swap is not None
            maturity = settled.swap.maturity_on
            repayment = twin.repay(request_id, maturity)
            interest = twin.state.drawings[request_id].interest_paid_minor
            log.append(
                f"{maturity} repayment "
                f"{'settled' if repayment.settled else 'refused: ' + repayment.reason}"
            )
            if not repayment.settled:
                raise ReserveError("NARR", f"repayment refused: {repayment.reason}")
        except ReserveError as error:
            outcome = "failed"
            log.append(f"drill stopped: {error.text}")
        conserved = all(total == 0 for total in twin._network().totals_by_currency().values())
        decision = self._record(
            [
                (
                    on,
                    "drill",
                    member,
                    {
                        "member": member,
                        "instrument": instrument,
                        "portion": portion,
                        "amount_minor": amount_minor,
                        "spot_rate": spot_rate,
                        "reference_rate_percent": reference_rate_percent,
                        "outcome": outcome,
                        "interest_minor": interest,
                        "log": log,
                        "conserved": conserved,
                    },
                )
            ]
        )[0]
        return DrillReport(outcome, request_id, interest, tuple(log), conserved, decision)

    # --- steps ---------------------------------------------------------------------------------

    def _run_step(
        self,
        drawing: Drawing,
        purpose: str,
        on: date,
        flows: list[tuple[str, int, int, int, str, str]],
        detail: dict[str, Any],
    ) -> StepOutcome:
        self._network()
        attempt = drawing.attempts(purpose) + 1
        namespace = self.store.namespace
        kept = [f for f in flows if f[3] > 0]  # a zero leg (a tiny drawing) moves nothing
        recorded = tuple(
            Flow(
                derive_command_id(namespace, drawing.request_id, purpose, attempt, n),
                kind,
                debit,
                credit,
                amount,
                code,
                n < len(kept) - 1,
                label,
            )
            for n, (kind, debit, credit, amount, code, label) in enumerate(kept)
        )
        self._record(
            [
                (
                    on,
                    "step_submitted",
                    drawing.request_id,
                    {
                        "purpose": purpose,
                        "attempt": attempt,
                        "detail": detail,
                        "flows": [f.as_json() for f in recorded],
                    },
                )
            ]
        )
        step = self._state.drawings[drawing.request_id].pending_step()
        assert step is not None
        return self._submit_step(drawing.request_id, step)

    def _submit_step(self, request_id: str, step: Step) -> StepOutcome:
        network = self._network()
        results = network.submit([_command(f) for f in step.flows]) if step.flows else []
        failed = _first_failure(results, step.flows)
        entries: list[tuple[date, str, str, dict[str, Any]]] = []
        if failed is None:
            entries.append((step.on, "step_settled", request_id, {"purpose": step.purpose}))
        else:
            entries.append(
                (
                    step.on,
                    "step_refused",
                    request_id,
                    {"purpose": step.purpose, "reason": failed[1]},
                )
            )
            drawing = self._state.drawings[request_id]
            swap = drawing.swap
            requester_accounts = {a for _, a in self._binding(drawing.member).accounts}
            if (
                step.purpose == "repayment"
                and swap is not None
                and step.on > swap.maturity_on
                and drawing.status == ACTIVE
                and failed[0].debit_account_id in requester_accounts
            ):
                since = swap.maturity_on + timedelta(days=1)
                entries.append(
                    (
                        step.on,
                        ARREARS,
                        request_id,
                        {
                            "since": since.isoformat(),
                            "reason": f"repayment refused: {failed[1]}",
                        },
                    )
                )
        written = self._record(entries)
        return StepOutcome(
            request_id,
            step.purpose,
            failed is None,
            "" if failed is None else failed[1],
            step.flows,
            tuple(written),
        )

    def _no_step_in_flight(self, drawing: Drawing) -> None:
        step = drawing.pending_step()
        if step is not None:
            raise ReserveError(
                "NARR",
                f"{drawing.request_id} has a {step.purpose} step without an outcome; "
                "run resume first",
            )

    # --- lookups ---------------------------------------------------------------------------------

    def _network(self) -> Network:
        if self.network is None:
            raise ReserveError("NARR", "this step moves money: open the pool with a network")
        return self.network

    def _member(self, code: str) -> Any:
        member = self.rulebook.member(code)
        if member is None:
            raise ReserveError("AG01", f"{code!r} is not a member of the pool")
        return member

    def _drawing(self, request_id: str) -> Drawing:
        drawing = self._state.drawings.get(request_id)
        if drawing is None:
            raise ReserveError("NARR", f"no request {request_id!r}")
        return drawing

    def _binding(self, code: str) -> Any:
        binding = self._state.members.get(code)
        if binding is None:
            raise ReserveError("AG01", f"{code} is not bound to the network: run bind first")
        return binding

    def _account(self, binding: Any, code: str) -> int:
        account_id: int | None = binding.account(code)
        if account_id is None:
            raise ReserveError("AM03", f"{binding.code} holds no {code} settlement account")
        return account_id


def _command(flow: Flow) -> Command:
    if flow.kind == "issue":
        return Issue(flow.command_id, flow.credit_account_id, flow.amount_minor, flow.linked)
    if flow.kind == "redeem":
        return Redeem(flow.command_id, flow.debit_account_id, flow.amount_minor, flow.linked)
    assert flow.kind == "transfer", flow.kind
    return Transfer(
        flow.command_id,
        flow.debit_account_id,
        flow.credit_account_id,
        flow.amount_minor,
        flow.linked,
    )


def _first_failure(results: Sequence[Result], flows: Sequence[Flow]) -> tuple[Flow, str] | None:
    """The command whose own reason failed the chain (the others answer LINKED_EVENT_FAILED)."""
    for result, flow in zip(results, flows, strict=True):
        if not result.ok and result.code != ResultCode.LINKED_EVENT_FAILED:
            return flow, f"{result.reason} {result.text} ({flow.label})"
    return None


def _rulebook_payload(rulebook: Rulebook) -> dict[str, Any]:
    return {
        "name": rulebook.name,
        "version": rulebook.version,
        "sha256": rulebook.sha256,
        "text": rulebook.text,
    }


def _units(amount_minor: int, code: str) -> str:
    """Minor units as a decimal string with digit grouping, for messages."""
    exponent = currency(code).exponent
    whole, fraction = divmod(amount_minor, 10**exponent)
    text = f"{whole:,}"
    return f"{text}.{fraction:0{exponent}d}" if exponent else text


__all__ = ["DrillReport", "ReserveError", "ReservePool", "RulebookError", "StepOutcome"]
