"""The reserve pool's rulebook: a versioned TOML file read into frozen records.

The loader is strict on purpose: an unknown key, a missing key, a float, weights that do
not sum to exactly 100 or do not follow the voting rule are refused with the path of
the offending value, because a rulebook that is silently half-read would move money
under rules nobody wrote down. Decimals are read as ``Decimal`` (``tomllib`` with
``parse_float=Decimal``), so no figure ever passes through a float.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from typing import Any

from interbank.money import MoneyError, currency

RULEBOOK_FORMAT = 1
INSTRUMENTS: tuple[str, ...] = ("liquidity", "precautionary")
PORTIONS: tuple[str, ...] = ("de_linked", "imf_linked")
VOTERS: tuple[str, ...] = ("providers", "all_members")
PROVIDER_SPLITS: tuple[str, ...] = ("pro_rata_commitment",)
DAY_COUNTS: dict[str, int] = {"ACT/360": 360, "ACT/365F": 365}
DEFAULT_RULEBOOK = "cra-2014.toml"

# Limits on what a rulebook may say, so that a typo cannot produce an absurd pool.
MEMBERS_MAX = 64
DAYS_MAX = 3660
RENEWALS_MAX = 20
SPREAD_BP_MAX = 10_000
RULEBOOK_BYTES_MAX = 1 << 20


class RulebookError(ValueError):
    """A rulebook that cannot be used; ``reason_code`` FF01 (invalid format)."""

    def __init__(self, text: str) -> None:
        super().__init__(f"FF01: {text}")
        self.reason_code = "FF01"
        self.text = text


@dataclass(frozen=True, slots=True)
class MemberRule:
    code: str  # ISO 3166-1 alpha-2 of the member country
    name: str
    commitment_minor: int  # in minor units of the reserve currency
    access_multiplier: Decimal


@dataclass(frozen=True, slots=True)
class InstrumentTerms:
    instrument: str
    portion: str
    maturity_days: int
    renewals_max: int
    spread_bp: int
    availability_days: int


@dataclass(frozen=True, slots=True)
class Rulebook:
    name: str
    version: str
    title: str
    reserve_currency: str
    members: tuple[MemberRule, ...]
    de_linked_share_percent: Decimal
    count_pending_requests: bool
    basic_votes_percent: Decimal
    proportional_votes_percent: Decimal
    weights_percent: tuple[tuple[str, Fraction], ...]  # in member order
    voters: str
    approval_share_percent: Decimal
    vote_window_days: int
    provider_split: str
    day_count: str
    arrears_spread_bp: int
    instruments: tuple[InstrumentTerms, ...]
    provenance: tuple[tuple[str, str], ...]
    text: str  # the file as read: stored beside the records it governed
    sha256: str

    # --- derived figures ------------------------------------------------------------

    def member(self, code: str) -> MemberRule | None:
        return next((m for m in self.members if m.code == code), None)

    def codes(self) -> tuple[str, ...]:
        return tuple(m.code for m in self.members)

    def max_access_minor(self, code: str) -> int:
        """Commitment x multiplier, rounded down to the minor unit (access is a ceiling)."""
        member = self.member(code)
        assert member is not None, code
        return _floor(Fraction(member.commitment_minor) * Fraction(member.access_multiplier))

    def de_linked_cap_minor(self, code: str) -> int:
        """The part of maximum access drawable without an IMF programme, rounded down."""
        share = Fraction(self.de_linked_share_percent) / 100
        return _floor(Fraction(self.max_access_minor(code)) * share)

    def weight_percent(self, code: str) -> Fraction:
        return dict(self.weights_percent)[code]

    def terms(self, instrument: str, portion: str) -> InstrumentTerms:
        for terms in self.instruments:
            if terms.instrument == instrument and terms.portion == portion:
                return terms
        raise KeyError((instrument, portion))  # the loader made sure every pair exists

    def day_basis(self) -> int:
        return DAY_COUNTS[self.day_count]


def _floor(value: Fraction) -> int:
    return value.numerator // value.denominator


def derived_weights_percent(
    commitments_minor: dict[str, int], basic_percent: Decimal, proportional_percent: Decimal
) -> dict[str, Fraction]:
    """Votes: ``basic`` shared equally, ``proportional`` shared pro rata to commitments."""
    total = sum(commitments_minor.values())
    count = len(commitments_minor)
    return {
        code: Fraction(basic_percent) / count
        + Fraction(proportional_percent) * Fraction(amount, total)
        for code, amount in commitments_minor.items()
    }


# --- reading ------------------------------------------------------------------------------


class _Reader:
    """One TOML table, consumed key by key; whatever is left over is an unknown key."""

    def __init__(self, table: object, path: str) -> None:
        if not isinstance(table, dict):
            raise RulebookError(f"{path or 'the file'} must be a table")
        self._table: dict[str, Any] = dict(table)
        self.path = path

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def take(self, key: str) -> Any:
        if key not in self._table:
            raise RulebookError(f"{self._where(key)} is missing")
        return self._table.pop(key)

    def text(self, key: str) -> str:
        value = self.take(key)
        if not isinstance(value, str) or not value.strip():
            raise RulebookError(f"{self._where(key)} must be a non-empty string")
        return value

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in allowed:
            raise RulebookError(f"{self._where(key)} is {value!r}; one of {', '.join(allowed)}")
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        value = self.take(key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise RulebookError(f"{self._where(key)} must be a whole number from {low} to {high}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.take(key)
        if not isinstance(value, bool):
            raise RulebookError(f"{self._where(key)} must be true or false")
        return value

    def decimal(self, key: str, *, positive: bool = False) -> Decimal:
        return as_decimal(self.take(key), self._where(key), positive=positive)

    def table(self, key: str) -> _Reader:
        return _Reader(self.take(key), self._where(key))

    def tables(self, key: str) -> list[_Reader]:
        value = self.take(key)
        if not isinstance(value, list) or not value:
            raise RulebookError(f"{self._where(key)} must be a non-empty array of tables")
        return [_Reader(item, f"{self._where(key)}[{n}]") for n, item in enumerate(value)]

    def done(self) -> None:
        if self._table:
            unknown = ", ".join(sorted(self._where(k) for k in self._table))
            raise RulebookError(f"unknown key(s): {unknown}")

    def rest(self) -> dict[str, Any]:
        rest, self._table = self._table, {}
        return rest


def as_decimal(value: object, where: str, *, positive: bool = False) -> Decimal:
    """A TOML number as an exact Decimal; floats never occur (parse_float=Decimal)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise RulebookError(f"{where} must be a number")
    number = Decimal(value)
    if not number.is_finite() or number < 0 or (positive and number == 0):
        raise RulebookError(
            f"{where} must be a {'positive' if positive else 'non-negative'} number"
        )
    return number


def _amount_minor(value: Decimal, code: str, where: str) -> int:
    exponent = currency(code).exponent
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise RulebookError(f"{where} has more decimals than {code} allows")
    return int(minor)


def parse_rulebook(text: str) -> Rulebook:
    """Read and check a rulebook; RulebookError names the first thing wrong."""
    if len(text.encode()) > RULEBOOK_BYTES_MAX:
        raise RulebookError(f"a rulebook is at most {RULEBOOK_BYTES_MAX} bytes")
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise RulebookError(f"not TOML: {error}") from None
    top = _Reader(data, "")
    if top.integer("format", 0, 1_000) != RULEBOOK_FORMAT:
        raise RulebookError(f"format must be {RULEBOOK_FORMAT}")
    head = top.table("rulebook")
    name, version, title = head.text("name"), head.text("version"), head.text("title")
    reserve_currency = head.text("reserve_currency")
    try:
        currency(reserve_currency)
    except MoneyError as error:
        raise RulebookError(f"rulebook.reserve_currency: {error.text}") from None
    head.done()

    members: list[MemberRule] = []
    for reader in top.tables("member"):
        code = reader.text("code")
        if len(code) != 2 or not code.isascii() or not code.isupper():
            raise RulebookError(f"{reader.path}.code {code!r} is not an ISO 3166 alpha-2 code")
        if any(m.code == code for m in members):
            raise RulebookError(f"member {code} appears twice")
        commitment = _amount_minor(
            reader.decimal("commitment", positive=True),
            reserve_currency,
            f"{reader.path}.commitment",
        )
        members.append(
            MemberRule(
                code,
                reader.text("name"),
                commitment,
                reader.decimal("access_multiplier", positive=True),
            )
        )
        reader.done()
    if len(members) > MEMBERS_MAX:
        raise RulebookError(f"at most {MEMBERS_MAX} members")
    if len(members) < 2:
        raise RulebookError("a pool needs at least two members")

    access = top.table("access")
    de_linked = access.decimal("de_linked_share_percent")
    if de_linked > 100:
        raise RulebookError("access.de_linked_share_percent is at most 100")
    count_pending = access.boolean("count_pending_requests")
    access.done()

    voting = top.table("voting")
    basic = voting.decimal("basic_votes_percent")
    proportional = voting.decimal("proportional_votes_percent")
    if basic + proportional != 100:
        raise RulebookError(
            f"voting.basic_votes_percent + proportional_votes_percent is {basic + proportional}, "
            "not 100"
        )
    derived = derived_weights_percent(
        {m.code: m.commitment_minor for m in members}, basic, proportional
    )
    weights = _weights(voting.table("weights_percent"), members, derived)
    voters = voting.choice("voters", VOTERS)
    approval = voting.decimal("approval_share_percent")
    if not 0 <= approval < 100:
        raise RulebookError("voting.approval_share_percent must be at least 0 and below 100")
    vote_window = voting.integer("vote_window_days", 1, DAYS_MAX)
    voting.done()

    funding = top.table("funding")
    split = funding.choice("provider_split", PROVIDER_SPLITS)
    funding.done()

    interest = top.table("interest")
    day_count = interest.choice("day_count", tuple(DAY_COUNTS))
    arrears_spread = interest.integer("arrears_spread_bp", 0, SPREAD_BP_MAX)
    interest.done()

    instruments: list[InstrumentTerms] = []
    for reader in top.tables("instrument"):
        terms = InstrumentTerms(
            instrument=reader.choice("instrument", INSTRUMENTS),
            portion=reader.choice("portion", PORTIONS),
            maturity_days=reader.integer("maturity_days", 1, DAYS_MAX),
            renewals_max=reader.integer("renewals_max", 0, RENEWALS_MAX),
            spread_bp=reader.integer("spread_bp", 0, SPREAD_BP_MAX),
            availability_days=reader.integer("availability_days", 1, DAYS_MAX),
        )
        reader.done()
        if any((t.instrument, t.portion) == (terms.instrument, terms.portion) for t in instruments):
            raise RulebookError(f"terms for {terms.instrument}/{terms.portion} appear twice")
        instruments.append(terms)
    missing = [
        f"{i}/{p}"
        for i in INSTRUMENTS
        for p in PORTIONS
        if not any((t.instrument, t.portion) == (i, p) for t in instruments)
    ]
    if missing:
        raise RulebookError(f"no terms for {', '.join(missing)}")

    provenance_reader = top.table("provenance")
    provenance = tuple(sorted(provenance_reader.rest().items()))
    if any(not isinstance(v, str) or not v for _, v in provenance):
        raise RulebookError("every provenance entry is a non-empty string")
    top.done()
    return Rulebook(
        name=name,
        version=version,
        title=title,
        reserve_currency=reserve_currency,
        members=tuple(members),
        de_linked_share_percent=de_linked,
        count_pending_requests=count_pending,
        basic_votes_percent=basic,
        proportional_votes_percent=proportional,
        weights_percent=weights,
        voters=voters,
        approval_share_percent=approval,
        vote_window_days=vote_window,
        provider_split=split,
        day_count=day_count,
        arrears_spread_bp=arrears_spread,
        instruments=tuple(instruments),
        provenance=provenance,
        text=text,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def _weights(
    reader: _Reader, members: list[MemberRule], derived: dict[str, Fraction]
) -> tuple[tuple[str, Fraction], ...]:
    """The written weights: one per member, summing to exactly 100, equal to the rule's."""
    written = reader.rest()
    codes = [m.code for m in members]
    if sorted(written) != sorted(codes):
        raise RulebookError(
            f"voting.weights_percent names {', '.join(sorted(written)) or 'nobody'}; "
            f"the members are {', '.join(codes)}"
        )
    weights = {
        code: Fraction(as_decimal(written[code], f"voting.weights_percent.{code}"))
        for code in codes
    }
    total = sum(weights.values(), Fraction(0))
    if total != 100:
        raise RulebookError(f"voting.weights_percent sums to {_percent_text(total)}, not 100")
    for code in codes:
        if weights[code] != derived[code]:
            raise RulebookError(
                f"voting.weights_percent.{code} is {_percent_text(weights[code])} but the voting "
                f"rule gives {_percent_text(derived[code])}"
            )
    return tuple((code, weights[code]) for code in codes)


def _percent_text(value: Fraction) -> str:
    if (value * 10**6).denominator == 1:
        return str(Decimal(value.numerator) / Decimal(value.denominator))
    return f"{value.numerator}/{value.denominator}"


def load_rulebook(path: str | None = None) -> Rulebook:
    """The rulebook at ``path``, or the default one shipped with the package."""
    if path is None:
        text = resources.files("interbank.reserve").joinpath("rulebooks", DEFAULT_RULEBOOK)
        return parse_rulebook(text.read_text(encoding="utf-8"))
    try:
        with open(path, "rb") as handle:
            data = handle.read(RULEBOOK_BYTES_MAX + 1)
    except OSError as error:
        raise RulebookError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return parse_rulebook(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise RulebookError(f"{path} is not UTF-8 text") from None


# --- the network binding ------------------------------------------------------------------

DEFAULT_BINDING = "demo-binding.toml"
ACCOUNT_ID_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class MemberParticipant:
    code: str
    bic: str
    local_currency: str


@dataclass(frozen=True, slots=True)
class Binding:
    """Which participants the members are on one network (not part of the treaty)."""

    account_id_base: int
    fund_reserves: bool
    usd_agent_bic: str
    usd_agent_name: str
    members: tuple[MemberParticipant, ...]

    def member(self, code: str) -> MemberParticipant | None:
        return next((m for m in self.members if m.code == code), None)


def parse_binding(text: str) -> Binding:
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise RulebookError(f"binding is not TOML: {error}") from None
    top = _Reader(data, "")
    if top.integer("format", 0, 1_000) != RULEBOOK_FORMAT:
        raise RulebookError(f"binding format must be {RULEBOOK_FORMAT}")
    base = top.integer("account_id_base", 1, ACCOUNT_ID_MAX // 2)
    fund = top.boolean("fund_reserves")
    agent = top.table("usd_agent")
    agent_bic, agent_name = agent.text("bic"), agent.text("name")
    agent.done()
    members_table = top.table("member")
    members: list[MemberParticipant] = []
    for code, value in sorted(members_table.rest().items()):
        reader = _Reader(value, f"member.{code}")
        local = reader.text("local_currency")
        try:
            currency(local)
        except MoneyError as error:
            raise RulebookError(f"member.{code}.local_currency: {error.text}") from None
        members.append(MemberParticipant(code, reader.text("bic"), local))
        reader.done()
    top.done()
    return Binding(base, fund, agent_bic, agent_name, tuple(members))


def load_binding(path: str | None = None) -> Binding:
    if path is None:
        text = resources.files("interbank.reserve").joinpath("rulebooks", DEFAULT_BINDING)
        return parse_binding(text.read_text(encoding="utf-8"))
    try:
        with open(path, encoding="utf-8") as handle:
            return parse_binding(handle.read(RULEBOOK_BYTES_MAX + 1))
    except (OSError, UnicodeDecodeError) as error:
        raise RulebookError(f"cannot read {path}: {error}") from None
