"""The bank's rulebook, its network binding and a loan's terms: TOML read into records.

Reading is strict: an unknown key, a missing key or a value out of range is refused with
its path, because terms that are silently half-read would lend money on terms nobody
signed. Decimals are read as ``Decimal`` (``parse_float=Decimal``); TOML dates are
dates. No float reaches a figure.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from itertools import pairwise
from typing import Any

from interbank.money import AMOUNT_MINOR_MAX, MoneyError, currency

FORMAT = 1
DAY_COUNTS: tuple[str, ...] = ("ACT/360", "ACT/365F", "30/360")
SHAPES: tuple[str, ...] = ("equal_principal", "annuity", "bullet")
DEFAULT_RULEBOOK = "ndb-2016.toml"
DEFAULT_BINDING = "demo-binding.toml"
TEXT_BYTES_MAX = 1 << 20
# Bounds that catch typos before they become loans.
BP_MAX = 10_000
MONTHS_MAX = 600  # 50 years
TRANCHES_MAX = 120
SHARES_MAX = 10**9
ACCOUNT_ID_MAX = 2**63 - 1


class LendingError(ValueError):
    """A step the bank refuses; nothing was recorded and nothing moved.

    ``reason_code`` is the ISO 20022 reason a rejection carries (AM02 over a limit,
    AG01 not allowed, AM03 currency, DUPL done already, FF01 bad format, NARR other).
    """

    def __init__(self, reason_code: str, text: str) -> None:
        super().__init__(f"{reason_code}: {text}")
        self.reason_code = reason_code
        self.text = text


class _Reader:
    """One TOML table, consumed key by key; what is left over is an unknown key."""

    def __init__(self, table: object, path: str) -> None:
        if not isinstance(table, dict):
            raise LendingError("FF01", f"{path or 'the file'} must be a table")
        self._table: dict[str, Any] = dict(table)
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self._table

    def take(self, key: str) -> Any:
        if key not in self._table:
            raise LendingError("FF01", f"{self.where(key)} is missing")
        return self._table.pop(key)

    def text(self, key: str) -> str:
        value = self.take(key)
        if not isinstance(value, str) or not value.strip():
            raise LendingError("FF01", f"{self.where(key)} must be a non-empty string")
        return value

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in allowed:
            raise LendingError(
                "FF01", f"{self.where(key)} is {value!r}; one of {', '.join(allowed)}"
            )
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        value = self.take(key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise LendingError(
                "FF01", f"{self.where(key)} must be a whole number from {low} to {high}"
            )
        return value

    def decimal(self, key: str) -> Decimal:
        value = self.take(key)
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise LendingError("FF01", f"{self.where(key)} must be a number")
        number = Decimal(value)
        if not number.is_finite() or number < 0:
            raise LendingError("FF01", f"{self.where(key)} must be a non-negative number")
        return number

    def day(self, key: str) -> date:
        value = self.take(key)
        if not isinstance(value, date) or hasattr(value, "hour"):
            raise LendingError("FF01", f"{self.where(key)} must be a date (YYYY-MM-DD)")
        return value

    def table(self, key: str) -> _Reader:
        return _Reader(self.take(key), self.where(key))

    def tables(self, key: str) -> list[_Reader]:
        value = self.take(key)
        if not isinstance(value, list) or not value:
            raise LendingError("FF01", f"{self.where(key)} must be a non-empty array of tables")
        return [_Reader(item, f"{self.where(key)}[{n}]") for n, item in enumerate(value)]

    def rest(self) -> dict[str, Any]:
        rest, self._table = self._table, {}
        return rest

    def done(self) -> None:
        if self._table:
            unknown = ", ".join(sorted(self.where(k) for k in self._table))
            raise LendingError("FF01", f"unknown key(s): {unknown}")


def _toml(text: str, what: str) -> _Reader:
    if len(text.encode()) > TEXT_BYTES_MAX:
        raise LendingError("FF01", f"{what} is over {TEXT_BYTES_MAX} bytes")
    try:
        return _Reader(tomllib.loads(text, parse_float=Decimal), "")
    except tomllib.TOMLDecodeError as error:
        raise LendingError("FF01", f"{what} is not TOML: {error}") from None


def _currency_code(code: str, where: str) -> str:
    try:
        currency(code)
    except MoneyError as error:
        raise LendingError("AM03", f"{where}: {error.text}") from None
    return code


def amount_minor(value: Decimal, code: str, where: str) -> int:
    """Units of a currency (exact decimal) as int minor units; FF01 if it has too many
    decimals, AM02 if it is over the network's limit for one payment."""
    minor = value.scaleb(currency(code).exponent)
    if minor != minor.to_integral_value():
        raise LendingError("FF01", f"{where} has more decimals than {code} allows")
    if minor > AMOUNT_MINOR_MAX:
        raise LendingError("AM02", f"{where} is over the network's limit for one payment")
    return int(minor)


# --- the rulebook ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpreadBucket:
    up_to_years: Decimal
    spread_bp: int


@dataclass(frozen=True, slots=True)
class SpreadTable:
    name: str
    buckets: tuple[SpreadBucket, ...]


@dataclass(frozen=True, slots=True)
class InitialSubscription:
    member: str
    paid_in_shares: int
    callable_shares: int


@dataclass(frozen=True, slots=True)
class LendingRulebook:
    name: str
    version: str
    title: str
    capital_currency: str
    share_par_minor: int
    founders: tuple[str, ...]
    founders_vote_floor_percent: Decimal
    initial: tuple[InitialSubscription, ...]
    front_end_fee_bp: int
    commitment_fee_bp: int
    commitment_fee_start_days: int
    day_count: str
    interval_months: int
    spread_table: str
    penalty_spread_bp: int
    prepayment_premium_bp: int
    spread_tables: tuple[SpreadTable, ...]
    provenance: tuple[tuple[str, str], ...]
    text: str
    sha256: str

    def table(self, name: str) -> SpreadTable:
        for table in self.spread_tables:
            if table.name == name:
                return table
        known = ", ".join(t.name for t in self.spread_tables)
        raise LendingError("FF01", f"no spread table {name!r}; the rulebook has {known}")


def parse_lending_rulebook(text: str) -> LendingRulebook:
    top = _toml(text, "the rulebook")
    if top.integer("format", 0, 1_000) != FORMAT:
        raise LendingError("FF01", f"format must be {FORMAT}")
    head = top.table("rulebook")
    name, version, title = head.text("name"), head.text("version"), head.text("title")
    capital_currency = _currency_code(head.text("capital_currency"), "rulebook.capital_currency")
    head.done()

    capital = top.table("capital")
    par = amount_minor(capital.decimal("share_par"), capital_currency, "capital.share_par")
    if par <= 0:
        raise LendingError("FF01", "capital.share_par must be positive")
    founders_value = capital.take("founders")
    if (
        not isinstance(founders_value, list)
        or not founders_value
        or not all(isinstance(f, str) and f for f in founders_value)
        or len(set(founders_value)) != len(founders_value)
    ):
        raise LendingError("FF01", "capital.founders must be a list of distinct member codes")
    floor = capital.decimal("founders_vote_floor_percent")
    if floor > 100:
        raise LendingError("FF01", "capital.founders_vote_floor_percent is at most 100")
    initial: list[InitialSubscription] = []
    for reader in capital.tables("initial"):
        initial.append(
            InitialSubscription(
                reader.text("member"),
                reader.integer("paid_in_shares", 0, SHARES_MAX),
                reader.integer("callable_shares", 0, SHARES_MAX),
            )
        )
        reader.done()
    capital.done()

    fees = top.table("fees")
    front_end = fees.integer("front_end_fee_bp", 0, BP_MAX)
    commitment = fees.integer("commitment_fee_bp", 0, BP_MAX)
    start_days = fees.integer("commitment_fee_start_days", 0, 3660)
    fees.done()

    terms = top.table("terms")
    day_count = terms.choice("day_count", DAY_COUNTS)
    interval = terms.integer("interval_months", 1, 12)
    spread_table = terms.text("spread_table")
    penalty = terms.integer("penalty_spread_bp", 0, BP_MAX)
    premium = terms.integer("prepayment_premium_bp", 0, BP_MAX)
    terms.done()

    tables: list[SpreadTable] = []
    for reader in top.tables("spread_table"):
        table_name = reader.text("name")
        buckets = []
        for bucket in reader.tables("buckets"):
            buckets.append(
                SpreadBucket(bucket.decimal("up_to_years"), bucket.integer("spread_bp", 0, BP_MAX))
            )
            bucket.done()
        reader.done()
        bounds = [b.up_to_years for b in buckets]
        if any(a >= b for a, b in pairwise(bounds)) or bounds[0] <= 0:
            raise LendingError("FF01", f"spread table {table_name}: bounds must rise from above 0")
        if any(t.name == table_name for t in tables):
            raise LendingError("FF01", f"spread table {table_name} appears twice")
        tables.append(SpreadTable(table_name, tuple(buckets)))
    provenance = tuple(sorted(top.table("provenance").rest().items()))
    top.done()
    rulebook = LendingRulebook(
        name=name,
        version=version,
        title=title,
        capital_currency=capital_currency,
        share_par_minor=par,
        founders=tuple(founders_value),
        founders_vote_floor_percent=floor,
        initial=tuple(initial),
        front_end_fee_bp=front_end,
        commitment_fee_bp=commitment,
        commitment_fee_start_days=start_days,
        day_count=day_count,
        interval_months=interval,
        spread_table=spread_table,
        penalty_spread_bp=penalty,
        prepayment_premium_bp=premium,
        spread_tables=tuple(tables),
        provenance=provenance,
        text=text,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )
    rulebook.table(spread_table)  # the default table must exist
    return rulebook


def _packaged(name: str) -> str:
    return resources.files("interbank.lending").joinpath("rulebooks", name).read_text("utf-8")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(TEXT_BYTES_MAX + 1)
    except (OSError, UnicodeDecodeError) as error:
        raise LendingError("FF01", f"cannot read {path}: {error}") from None


def load_lending_rulebook(path: str | None = None) -> LendingRulebook:
    return parse_lending_rulebook(_packaged(DEFAULT_RULEBOOK) if path is None else _read(path))


# --- the network binding -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BankBinding:
    account_id_base: int
    lending_currencies: tuple[str, ...]
    bank_bic: str
    bank_name: str
    usd_agent_bic: str
    usd_agent_name: str
    members: tuple[tuple[str, str], ...]  # (member code, central bank BIC)


def parse_bank_binding(text: str) -> BankBinding:
    top = _toml(text, "the binding")
    if top.integer("format", 0, 1_000) != FORMAT:
        raise LendingError("FF01", f"binding format must be {FORMAT}")
    base = top.integer("account_id_base", 1, ACCOUNT_ID_MAX // 2)
    codes = top.take("lending_currencies")
    if not isinstance(codes, list) or not codes:
        raise LendingError("FF01", "lending_currencies must be a list of currency codes")
    currencies = tuple(_currency_code(c, "lending_currencies") for c in codes)
    bank = top.table("bank")
    bank_bic, bank_name = bank.text("bic"), bank.text("name")
    bank.done()
    agent = top.table("usd_agent")
    agent_bic, agent_name = agent.text("bic"), agent.text("name")
    agent.done()
    members = tuple(sorted(top.table("member").rest().items()))
    if not all(isinstance(bic, str) for _, bic in members):
        raise LendingError("FF01", "member.<code> is the member's central bank BIC")
    top.done()
    return BankBinding(base, currencies, bank_bic, bank_name, agent_bic, agent_name, members)


def load_bank_binding(path: str | None = None) -> BankBinding:
    return parse_bank_binding(_packaged(DEFAULT_BINDING) if path is None else _read(path))


# --- a loan's terms --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tranche:
    on: date
    amount_minor: int


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """What is signed. Defaults not given in the loan file come from the rulebook."""

    loan_id: str
    borrower_bic: str
    borrower_account_id: int | None  # None: the borrower's settlement account
    currency: str
    amount_minor: int
    signed_on: date
    reference_rate_percent: Decimal
    shape: str
    grace_months: int
    maturity_months: int
    interval_months: int
    day_count: str
    spread_table: str
    tranches: tuple[Tranche, ...]
    front_end_fee_bp: int
    commitment_fee_bp: int
    commitment_fee_start_days: int
    penalty_spread_bp: int
    prepayment_premium_bp: int

    def as_json(self) -> dict[str, Any]:
        return {
            "loan_id": self.loan_id,
            "borrower_bic": self.borrower_bic,
            "borrower_account_id": self.borrower_account_id,
            "currency": self.currency,
            "amount_minor": self.amount_minor,
            "signed_on": self.signed_on.isoformat(),
            "reference_rate_percent": str(self.reference_rate_percent),
            "shape": self.shape,
            "grace_months": self.grace_months,
            "maturity_months": self.maturity_months,
            "interval_months": self.interval_months,
            "day_count": self.day_count,
            "spread_table": self.spread_table,
            "tranches": [[t.on.isoformat(), t.amount_minor] for t in self.tranches],
            "front_end_fee_bp": self.front_end_fee_bp,
            "commitment_fee_bp": self.commitment_fee_bp,
            "commitment_fee_start_days": self.commitment_fee_start_days,
            "penalty_spread_bp": self.penalty_spread_bp,
            "prepayment_premium_bp": self.prepayment_premium_bp,
        }

    @staticmethod
    def of_json(data: dict[str, Any]) -> LoanTerms:
        return LoanTerms(
            loan_id=data["loan_id"],
            borrower_bic=data["borrower_bic"],
            borrower_account_id=data["borrower_account_id"],
            currency=data["currency"],
            amount_minor=data["amount_minor"],
            signed_on=date.fromisoformat(data["signed_on"]),
            reference_rate_percent=Decimal(data["reference_rate_percent"]),
            shape=data["shape"],
            grace_months=data["grace_months"],
            maturity_months=data["maturity_months"],
            interval_months=data["interval_months"],
            day_count=data["day_count"],
            spread_table=data["spread_table"],
            tranches=tuple(Tranche(date.fromisoformat(d), a) for d, a in data["tranches"]),
            front_end_fee_bp=data["front_end_fee_bp"],
            commitment_fee_bp=data["commitment_fee_bp"],
            commitment_fee_start_days=data["commitment_fee_start_days"],
            penalty_spread_bp=data["penalty_spread_bp"],
            prepayment_premium_bp=data["prepayment_premium_bp"],
        )


def parse_loan_terms(text: str, rulebook: LendingRulebook) -> LoanTerms:
    """A loan file (TOML); see docs/lending.md for an example."""
    top = _toml(text, "the loan file")
    loan_id = top.text("loan_id")
    if len(loan_id) > 35 or not all(c.isalnum() or c in "-_." for c in loan_id):
        raise LendingError("FF01", "loan_id: at most 35 letters, digits, '-', '_' or '.'")
    borrower_bic = top.text("borrower_bic")
    account = (
        top.integer("borrower_account_id", 1, ACCOUNT_ID_MAX)
        if top.has("borrower_account_id")
        else None
    )
    code = _currency_code(top.text("currency"), "currency")
    amount = amount_minor(top.decimal("amount"), code, "amount")
    signed_on = top.day("signed_on")
    reference = top.decimal("reference_rate_percent")
    if reference > 100:
        raise LendingError("FF01", "reference_rate_percent is at most 100")
    shape = top.choice("shape", SHAPES)
    grace = top.integer("grace_months", 0, MONTHS_MAX)
    maturity = top.integer("maturity_months", 1, MONTHS_MAX)

    def optional_int(key: str, default: int, high: int) -> int:
        return top.integer(key, 0, high) if top.has(key) else default

    def optional_choice(key: str, default: str, allowed: tuple[str, ...]) -> str:
        return top.choice(key, allowed) if top.has(key) else default

    interval = optional_int("interval_months", rulebook.interval_months, 12)
    day_count = optional_choice("day_count", rulebook.day_count, DAY_COUNTS)
    table = top.text("spread_table") if top.has("spread_table") else rulebook.spread_table
    rulebook.table(table)
    tranches = []
    for reader in top.tables("tranche"):
        when = reader.day("on")
        tranches.append(Tranche(when, amount_minor(reader.decimal("amount"), code, reader.path)))
        reader.done()
    terms = LoanTerms(
        loan_id=loan_id,
        borrower_bic=borrower_bic,
        borrower_account_id=account,
        currency=code,
        amount_minor=amount,
        signed_on=signed_on,
        reference_rate_percent=reference,
        shape=shape,
        grace_months=grace,
        maturity_months=maturity,
        interval_months=interval,
        day_count=day_count,
        spread_table=table,
        tranches=tuple(tranches),
        front_end_fee_bp=optional_int("front_end_fee_bp", rulebook.front_end_fee_bp, BP_MAX),
        commitment_fee_bp=optional_int("commitment_fee_bp", rulebook.commitment_fee_bp, BP_MAX),
        commitment_fee_start_days=optional_int(
            "commitment_fee_start_days", rulebook.commitment_fee_start_days, 3660
        ),
        penalty_spread_bp=optional_int("penalty_spread_bp", rulebook.penalty_spread_bp, BP_MAX),
        prepayment_premium_bp=optional_int(
            "prepayment_premium_bp", rulebook.prepayment_premium_bp, BP_MAX
        ),
    )
    top.done()
    return terms
