"""The demo network: five central banks, their commercial banks, accounts and funding.

All banks are fictional; their BICs follow ISO 9362 (bank code, the real ISO 3166
country code of their home, a location code) so that the engine's checks treat them
like real ones. Which foreign currencies a bank holds, how large it is, its credit
lines and its opening funding are drawn from a seeded ``random.Random``. Three FX
providers (sim/fx.py) follow the commercial banks: they send no ordinary payments
(weight 0), hold accounts in the currencies they quote, and publish their quotes as
part of the setup. They draw nothing from the random source, so the banks and the
day of a seed are the same with or without them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from interbank.engine.commands import (
    AccountKind,
    Command,
    Issue,
    OpenAccount,
    PublishQuote,
    RegisterParticipant,
    Role,
)
from interbank.money import currency
from interbank.sim.fx import (
    PROVIDER_FUNDING_REFERENCE,
    PROVIDERS,
    SimQuote,
    demo_quotes,
    provider_currencies,
    sample_rates,
)

CURRENCIES: tuple[str, ...] = ("CNY", "RUB", "INR", "BRL", "ZAR")
COUNTRY_OF: dict[str, str] = {"CNY": "CN", "RUB": "RU", "INR": "IN", "BRL": "BR", "ZAR": "ZA"}

# Rough units of each currency per one unit of a common reference (integers, so that
# sizes stay exact): makes a "large" payment large in every currency alike.
UNITS_PER_REFERENCE: dict[str, int] = {"CNY": 7, "RUB": 90, "INR": 83, "BRL": 5, "ZAR": 18}

# (currency, BIC, name) of each fictional central bank.
_CENTRAL_BANKS: tuple[tuple[str, str, str], ...] = (
    ("CNY", "JDRBCNBJ", "Jade Reserve Bank"),
    ("RUB", "NVCBRUMM", "Neva Central Bank"),
    ("INR", "GGRBINBB", "Ganga Reserve Bank"),
    ("BRL", "BCATBRDF", "Banco Central do Atlantico"),
    ("ZAR", "KPRBZAPP", "Kaap Reserve Bank"),
)

# (home currency, BIC, name) of each fictional commercial bank.
_COMMERCIAL_BANKS: tuple[tuple[str, str, str], ...] = (
    ("CNY", "YRCBCNSH", "Yellow River Commercial Bank"),
    ("CNY", "PDBKCNGZ", "Pearl Delta Bank"),
    ("CNY", "SRMBCNBJ", "Silk Road Merchants Bank"),
    ("CNY", "LTSBCNSZ", "Lotus Savings Bank"),
    ("CNY", "EHBKCNSH", "Eastern Harbour Bank"),
    ("RUB", "VLTBRUMM", "Volga Trade Bank"),
    ("RUB", "URIBRUMM", "Ural Industrial Bank"),
    ("RUB", "TGCBRUMM", "Taiga Commercial Bank"),
    ("RUB", "BLMBRUSP", "Baltic Mercantile Bank"),
    ("RUB", "SBSBRUMM", "Siberian Savings Bank"),
    ("INR", "DCCBINBB", "Deccan Commercial Bank"),
    ("INR", "IVBKINDD", "Indus Valley Bank"),
    ("INR", "MLTBINBB", "Malabar Trust Bank"),
    ("INR", "CRMDINMM", "Coromandel Bank"),
    ("INR", "HMFBINDD", "Himalaya Finance Bank"),
    ("BRL", "BAZSBRSP", "Banco Amazonia Sul"),
    ("BRL", "BCRDBRRJ", "Banco Cerrado"),
    ("BRL", "BLTRBRSP", "Banco Litoral"),
    ("BRL", "BPMMBRRS", "Banco Pampa Mercantil"),
    ("BRL", "BSAZBRBH", "Banco Serra Azul"),
    ("ZAR", "HVBKZAJJ", "Highveld Bank"),
    ("ZAR", "KRMBZACT", "Karoo Mutual Bank"),
    ("ZAR", "DRCMZAJJ", "Drakensberg Commercial Bank"),
    ("ZAR", "FYBKZACT", "Fynbos Bank"),
)

# Size tiers of commercial banks: (name, weight). The weight scales a bank's share of
# the day's payments and its opening funding.
_TIERS: tuple[tuple[str, int], ...] = (("large", 8), ("medium", 3), ("small", 1))

# Opening funding of a settlement account, in reference units per unit of weight.
FUNDING_REFERENCE_PER_WEIGHT = 4_000_000_000

# Account ids: 100 * participant number + currency number (1..5) for settlement
# accounts, + 50 for a central bank's issuance account. Readable in listings.
_ISSUANCE_OFFSET = 50


@dataclass(frozen=True, slots=True)
class SimBank:
    bic: str
    name: str
    role: Role
    home_currency: str
    weight: int  # share of payments sent and received, and of funding


@dataclass(frozen=True, slots=True)
class SimAccount:
    account_id: int
    bic: str
    currency: str
    kind: AccountKind
    credit_line_minor: int
    funding_minor: int
    weight: int


@dataclass(frozen=True, slots=True)
class Network:
    """A generated network: who is in it, their accounts, and how to build it."""

    seed: int
    banks: tuple[SimBank, ...]
    accounts: tuple[SimAccount, ...]
    quotes: tuple[SimQuote, ...]  # the FX providers', published at setup
    _ids: tuple[int, ...] = field(repr=False)

    def central_bank(self, code: str) -> SimBank:
        return next(
            b for b in self.banks if b.role == Role.CENTRAL_BANK and b.home_currency == code
        )

    def settlement_accounts(self, code: str) -> list[SimAccount]:
        return [a for a in self.accounts if a.currency == code and a.kind == AccountKind.SETTLEMENT]

    def currency_of(self, account_id: int) -> str | None:
        for account in self.accounts:
            if account.account_id == account_id:
                return account.currency
        return None

    def setup_commands(self) -> list[Command]:
        """Register every participant, open every account, fund it by an Issue, then
        publish the FX providers' quotes.

        Order matters: a central bank first (so its currency has an issuer), then its
        issuance account, then the others, then the funding; a quote needs its
        provider's accounts in both currencies.
        """
        ids = iter(self._ids)
        commands: list[Command] = []
        for bank in self.banks:
            is_central = bank.role == Role.CENTRAL_BANK
            commands.append(
                RegisterParticipant(
                    next(ids), bank.bic, bank.name, bank.role,
                    bank.home_currency if is_central else None,
                )
            )  # fmt: skip
        for account in self.accounts:
            commands.append(
                OpenAccount(
                    next(ids), account.account_id, account.bic, account.currency,
                    account.kind, account.credit_line_minor,
                )
            )  # fmt: skip
        for account in self.accounts:
            if account.funding_minor > 0:
                commands.append(Issue(next(ids), account.account_id, account.funding_minor))
        for q in self.quotes:
            commands.append(
                PublishQuote(
                    next(ids), q.provider_bic, q.from_currency, q.to_currency, q.rate,
                    q.amount_min_minor, q.amount_max_minor, q.expires_at_ns, q.fee_minor,
                )
            )  # fmt: skip
        return commands


def uuid4_int(rng: random.Random) -> int:
    """A random UUID version 4 as an int (what UETRs and command ids look like)."""
    value = rng.getrandbits(128)
    value = (value & ~(0xF << 76)) | (0x4 << 76)  # version 4
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return value


def demo_network(seed: int = 1) -> Network:
    """The demo network for ``seed``: 5 central banks and 24 commercial banks."""
    rng = random.Random(f"interbank-network-{seed}")
    banks: list[SimBank] = []
    accounts: list[SimAccount] = []
    for code, bic, name in _CENTRAL_BANKS:
        banks.append(SimBank(bic, name, Role.CENTRAL_BANK, code, weight=1))
    for code, bic, name in _COMMERCIAL_BANKS:
        _, weight = rng.choices(_TIERS, weights=(2, 4, 5))[0]
        banks.append(SimBank(bic, name, Role.DIRECT, code, weight))
    for number, bank in enumerate(banks, start=1):
        held = _currencies_held(rng, bank)
        for code in held:
            ci = CURRENCIES.index(code) + 1
            is_home = code == bank.home_currency
            if bank.role == Role.CENTRAL_BANK:
                accounts.append(
                    SimAccount(
                        number * 100 + _ISSUANCE_OFFSET + ci, bank.bic, code,
                        AccountKind.ISSUANCE, 0, 0, 0,
                    )
                )  # fmt: skip
            # Abroad a bank is a smaller player than at home.
            weight = bank.weight if is_home else max(1, bank.weight // 3)
            funding = _funding_minor(rng, code, weight)
            line = _credit_line_minor(rng, code, weight) if bank.role == Role.DIRECT else 0
            accounts.append(
                SimAccount(
                    number * 100 + ci, bank.bic, code, AccountKind.SETTLEMENT, line,
                    funding, weight,
                )
            )  # fmt: skip
    # The FX providers come after every draw the banks make (see the module docstring).
    for plan in PROVIDERS:
        banks.append(SimBank(plan.bic, plan.name, Role.DIRECT, plan.home_currency, weight=0))
        number = len(banks)
        for code in provider_currencies(plan):
            ci = CURRENCIES.index(code) + 1
            funding = to_minor(PROVIDER_FUNDING_REFERENCE, code)
            accounts.append(
                SimAccount(number * 100 + ci, plan.bic, code, AccountKind.SETTLEMENT, 0, funding, 0)
            )
    quotes = demo_quotes(sample_rates(), UNITS_PER_REFERENCE)
    setup_count = len(banks) + 2 * len(accounts) + len(quotes)
    ids = tuple(uuid4_int(rng) for _ in range(setup_count))
    network = Network(seed, tuple(banks), tuple(accounts), quotes, ids)
    _check(network)
    return network


def _currencies_held(rng: random.Random, bank: SimBank) -> list[str]:
    if bank.role == Role.CENTRAL_BANK:
        return [bank.home_currency]
    foreign = [c for c in CURRENCIES if c != bank.home_currency]
    # Most banks stay at home; large ones are likelier to hold foreign accounts.
    count = rng.choices((0, 1, 2, 4), weights=(5, 3 + bank.weight // 3, 2, 1))[0]
    return [bank.home_currency, *sorted(rng.sample(foreign, count), key=CURRENCIES.index)]


def to_minor(reference_units: int, code: str) -> int:
    """Reference units to minor units of ``code``, exactly (ints only)."""
    minor_per_unit: int = 10 ** currency(code).exponent
    return reference_units * UNITS_PER_REFERENCE[code] * minor_per_unit


def _funding_minor(rng: random.Random, code: str, weight: int) -> int:
    # Between 0.5x and 1.5x of the weight's share, rounded to whole millions. About one
    # account in six starts the day thin (0.2-2% of that) and lives on incoming
    # payments and its credit line, as many real banks do: these meet AM04 early.
    per_mille = rng.randint(2, 20) if rng.randrange(6) == 0 else rng.randint(500, 1500)
    share = FUNDING_REFERENCE_PER_WEIGHT * weight * per_mille // 1000
    return to_minor(max(1_000_000, share // 1_000_000 * 1_000_000), code)


def _credit_line_minor(rng: random.Random, code: str, weight: int) -> int:
    # About a third of accounts have an intraday credit line of 5-25% of funding.
    if rng.randrange(3) != 0:
        return 0
    line = FUNDING_REFERENCE_PER_WEIGHT * weight * rng.randint(5, 25) // 100
    return to_minor(line // 1_000_000 * 1_000_000, code)


def _check(network: Network) -> None:
    ids = [a.account_id for a in network.accounts]
    assert len(ids) == len(set(ids)), "account ids are unique"
    assert len({b.bic for b in network.banks}) == len(network.banks)
    for code in CURRENCIES:
        assert COUNTRY_OF[code] == network.central_bank(code).bic[4:6]
        assert len(network.settlement_accounts(code)) >= 2, code
