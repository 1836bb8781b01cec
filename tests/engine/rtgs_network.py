"""A small RTGS network for queue and liquidity-saving tests, and a driver for it.

EUR: the ECB issues (issuance account 1) and holds settlement account 90, so it can
send urgent payments; banks A..H hold EUR settlement accounts 100..107. USD: the New
York Fed issues (issuance account 2); banks A and B also hold USD accounts 200 and 201,
so tests can show that one currency's queues, day and limits leave the other alone.

Tests speak in bank letters (``net.pay("A", "B", 100)``) and read balances the same
way; every command gets a fresh id and every batch a later stamp, so a test only says
what happens, never how ids and clocks are kept apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from interbank.engine import (
    AccountKind,
    Batch,
    Command,
    Engine,
    EngineSettings,
    Issue,
    OpenAccount,
    RegisterParticipant,
    Result,
    Role,
)
from interbank.engine.commands import (
    Event,
    LsmRun,
    Payment,
    PaymentQueued,
    PaymentRejected,
    PaymentSettled,
    Priority,
)

EUR_CENTRAL_BANK = "ECBFDEFF"
USD_CENTRAL_BANK = "FRNYUS33"
EUR_ISSUANCE_ACCOUNT = 1
USD_ISSUANCE_ACCOUNT = 2
CENTRAL_BANK_ACCOUNT = 90  # the ECB's own EUR settlement account
BANK_BICS: dict[str, str] = {
    "A": "BNPAFRPP",
    "B": "COBADEFF",
    "C": "BCITITMM",
    "D": "INGBNL2A",
    "E": "CAIXESBB",
    "F": "KREDBEBB",
    "G": "BKAUATWW",
    "H": "NDEAFIHH",
}
EUR_ACCOUNTS: dict[str, int] = {name: 100 + k for k, name in enumerate(BANK_BICS)}
EUR_ACCOUNTS["CB"] = CENTRAL_BANK_ACCOUNT
USD_ACCOUNTS: dict[str, int] = {"A": 200, "B": 201}
BICS: dict[str, str] = {**BANK_BICS, "CB": EUR_CENTRAL_BANK}

SETUP_NS = 1_000
TICK_NS = 1_000
# Settings for hand-derived examples: a short TILL warning so times stay readable.
SETTINGS = EngineSettings(till_warning_ns=1_000)
URGENT, HIGH, NORMAL = Priority.URGENT, Priority.HIGH, Priority.NORMAL


class Network:
    """One engine with the network above, its clock, its ids and its last events."""

    def __init__(
        self,
        balances_minor: Mapping[str, int] | None = None,
        *,
        credit_lines_minor: Mapping[str, int] | None = None,
        usd_balances_minor: Mapping[str, int] | None = None,
        settings: EngineSettings = SETTINGS,
    ) -> None:
        self.engine = Engine(settings)
        self.now_ns = SETUP_NS
        self._id_next = 1_000
        self.events: list[Event] = []
        lines = credit_lines_minor or {}
        setup: list[Command] = [
            RegisterParticipant(self.next_id(), EUR_CENTRAL_BANK, "ECB", Role.CENTRAL_BANK, "EUR"),
            RegisterParticipant(self.next_id(), USD_CENTRAL_BANK, "Fed", Role.CENTRAL_BANK, "USD"),
            OpenAccount(self.next_id(), EUR_ISSUANCE_ACCOUNT, EUR_CENTRAL_BANK, "EUR",
                        AccountKind.ISSUANCE),
            OpenAccount(self.next_id(), USD_ISSUANCE_ACCOUNT, USD_CENTRAL_BANK, "USD",
                        AccountKind.ISSUANCE),
            OpenAccount(self.next_id(), CENTRAL_BANK_ACCOUNT, EUR_CENTRAL_BANK, "EUR"),
        ]  # fmt: skip
        for name, bic in BANK_BICS.items():
            setup.append(RegisterParticipant(self.next_id(), bic, f"Bank {name}", Role.DIRECT))
            setup.append(OpenAccount(self.next_id(), EUR_ACCOUNTS[name], bic, "EUR",
                                     credit_line_minor=lines.get(name, 0)))  # fmt: skip
        for name, account_id in USD_ACCOUNTS.items():
            setup.append(OpenAccount(self.next_id(), account_id, BANK_BICS[name], "USD"))
        for name, amount in (balances_minor or {}).items():
            if amount:
                setup.append(Issue(self.next_id(), EUR_ACCOUNTS[name], amount))
        for name, amount in (usd_balances_minor or {}).items():
            if amount:
                setup.append(Issue(self.next_id(), USD_ACCOUNTS[name], amount))
        results = self.engine.execute_many(setup, SETUP_NS)
        assert all(r.ok for r in results), [r for r in results if not r.ok]

    # --- commands -------------------------------------------------------------------------

    def next_id(self) -> int:
        self._id_next += 1
        return self._id_next

    def send(self, *commands: Command, at_ns: int | None = None) -> list[Result]:
        """Apply the commands as one batch, one tick later (or at ``at_ns``)."""
        self.now_ns = self.now_ns + TICK_NS if at_ns is None else at_ns
        batch = Batch.of(list(commands))
        result = self.engine.apply(batch, self.now_ns)
        self.events = self.engine.events(batch, result)
        return result.results()

    def send_one(self, command: Command, at_ns: int | None = None) -> Result:
        return self.send(command, at_ns=at_ns)[0]

    def payment(
        self,
        sender: str,
        payee: str,
        amount_minor: int,
        priority: Priority = NORMAL,
        *,
        from_ns: int = 0,
        till_ns: int = 0,
        currency: str = "EUR",
    ) -> Payment:
        accounts = EUR_ACCOUNTS if currency == "EUR" else USD_ACCOUNTS
        return Payment(self.next_id(), accounts[sender], accounts[payee], amount_minor,
                       priority, from_ns, till_ns)  # fmt: skip

    def pay(self, sender: str, payee: str, amount_minor: int, priority: Priority = NORMAL,
            **timing: Any) -> tuple[int, Result]:  # fmt: skip
        """Send one payment in a batch of its own: (payment id, result)."""
        payment = self.payment(sender, payee, amount_minor, priority, **timing)
        return payment.id, self.send_one(payment)

    def fund(self, name: str, amount_minor: int) -> Result:
        """Liquidity from the central bank (an Issue): the event that starts a run."""
        return self.send_one(Issue(self.next_id(), EUR_ACCOUNTS[name], amount_minor))

    # --- reading ----------------------------------------------------------------------------

    def balance(self, name: str, currency: str = "EUR") -> int:
        accounts = EUR_ACCOUNTS if currency == "EUR" else USD_ACCOUNTS
        view = self.engine.account(accounts[name])
        assert view is not None
        return view.balance_minor

    def balances(self, names: Iterable[str] = ("A", "B", "C", "D", "E")) -> dict[str, int]:
        return {name: self.balance(name) for name in names}

    def settled(self) -> list[PaymentSettled]:
        return [e for e in self.events if isinstance(e, PaymentSettled)]

    def settled_ids(self) -> set[int]:
        return {e.payment_id for e in self.settled()}

    def runs(self) -> list[LsmRun]:
        return [e for e in self.events if isinstance(e, LsmRun)]

    def rejected(self) -> dict[int, int]:
        """Payment id -> result code of the payments that left their queue unsettled."""
        return {e.payment_id: int(e.code) for e in self.events if isinstance(e, PaymentRejected)}

    def queued_ids(self) -> set[int]:
        return {e.payment_id for e in self.events if isinstance(e, PaymentQueued)}

    def waiting_ids(self, name: str) -> list[int]:
        """The sender's waiting payments in queue order."""
        return [view.payment_id for view in self.engine.queue(EUR_ACCOUNTS[name])]

    def state(self) -> tuple[object, ...]:
        """Everything a rejected command must leave as it was: accounts, participants,
        currencies, and the queue state (waiting payments with their order, limits,
        today's flows, reservations, closed days). Limits and flows have no public
        reader, so the queue part is read from the engine's own state record."""
        engine = self.engine
        accounts = [(a.account_id, a.balance_minor, a.held_minor, a.floor_minor, a.closed)
                    for a in engine.accounts()]  # fmt: skip
        participants = [(p.bic, p.suspended) for p in engine.participants()]
        return (accounts, participants, list(engine._currencies), engine._queues.state())
