"""Scenario files for ``interbank simulate``: TOML (stdlib ``tomllib``), strictly checked.

A scenario names its participants (BIC, currency, opening balance, credit line, limits),
its payment flows (generators or a CSV of payments), whether the liquidity-saving
mechanism is on, and shocks. ``load_scenario`` returns a ``Scenario`` or raises
``ScenarioError`` naming the offending field (``participants[2].credit_line``). The
payments themselves come from ``draw_payments`` with a seeded ``random.Random``: the
same file and seed give the same day. See docs/simulation.md.
"""

from __future__ import annotations

import csv
import math
import random
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from interbank.money import MoneyError, currency

PATTERNS = ("uniform", "morning", "afternoon", "two_peaks")
DISTRIBUTIONS = ("fixed", "uniform", "lognormal")
PRIORITIES = ("normal", "high")
SHOCKS = ("stop_paying", "liquidity", "outage", "default")


class ScenarioError(ValueError):
    """A scenario that cannot run; the message starts with the field's path."""


@dataclass(frozen=True, slots=True)
class Participant:
    bic: str
    currency: str
    balance_minor: int
    credit_line_minor: int
    multilateral_limit_minor: int
    bilateral_limits_minor: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Flow:
    count: int
    senders: tuple[str, ...]  # empty: every participant of the currency
    payees: tuple[str, ...]
    distribution: str
    value_a: float  # fixed: the value; uniform: min; lognormal: median
    value_b: float  # uniform: max; lognormal: sigma
    pattern: str
    priority: str
    csv_path: Path | None = None


@dataclass(frozen=True, slots=True)
class Shock:
    kind: str
    at_s: int
    participant: str | None
    amount_minor: int  # liquidity: how much of its credit line is withdrawn
    minutes: int  # outage


@dataclass(frozen=True, slots=True)
class SimPayment:
    """One instruction of the day: arrival (seconds from the open), sender and payee BICs."""

    arrival_s: int
    sender: str
    payee: str
    amount_minor: int
    priority: str


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    seed: int
    day_s: int
    batch_s: int
    lsm: bool
    participants: tuple[Participant, ...]
    flows: tuple[Flow, ...]
    shocks: tuple[Shock, ...]

    def participant(self, bic: str) -> Participant:
        return next(p for p in self.participants if p.bic == bic)


def _fail(path: str, message: str) -> ScenarioError:
    return ScenarioError(f"{path}: {message}")


class _Table:
    """A TOML table whose reads are checked; unknown keys are refused at ``done``."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise _fail(path, "must be a table")
        self.data, self.path, self.seen = data, path, set[str]()

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        self.seen.add(key)
        where = f"{self.path}.{key}" if self.path else key
        if key not in self.data:
            if default is ...:
                raise _fail(where, "is required")
            return default
        value = self.data[key]
        if isinstance(value, bool) and kind is not bool:
            raise _fail(where, f"must be {_kind_name(kind)}, not a boolean")
        if not isinstance(value, kind):
            raise _fail(where, f"must be {_kind_name(kind)}, not {type(value).__name__}")
        return value

    def integer(self, key: str, default: Any = ..., minimum: int = 0) -> int:
        value: int = self.get(key, int, default)
        if value < minimum:
            raise _fail(f"{self.path}.{key}" if self.path else key, f"must be >= {minimum}")
        return value

    def done(self) -> None:
        extra = sorted(set(self.data) - self.seen)
        if extra:
            where = f"{self.path}.{extra[0]}" if self.path else extra[0]
            raise _fail(where, "unknown field")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "an integer", str: "a string", bool: "true or false", list: "a list",
             dict: "a table", float: "a number"}  # fmt: skip
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{path}: not valid TOML ({error})") from error
    return parse_scenario(data, path.parent)


def parse_scenario(data: dict[str, Any], base: Path = Path()) -> Scenario:
    top = _Table(data, "")
    head = _Table(top.get("scenario", dict, {}), "scenario")
    name = head.get("name", str, "scenario")
    seed = head.integer("seed", 1)
    day_s = head.integer("day_minutes", 480, 1) * 60
    batch_s = head.integer("batch_seconds", 60, 1)
    head.done()
    lsm_table = _Table(top.get("lsm", dict, {}), "lsm")
    lsm = lsm_table.get("enabled", bool, True)
    lsm_table.done()
    participants = _participants(top.get("participants", list))
    bics = {p.bic: p for p in participants}
    flows = tuple(
        _flow(item, f"flows[{k}]", bics, base) for k, item in enumerate(top.get("flows", list, []))
    )
    shocks = tuple(
        _shock(item, f"shocks[{k}]", bics, day_s)
        for k, item in enumerate(top.get("shocks", list, []))
    )
    top.done()
    if not flows:
        raise _fail("flows", "at least one flow is required")
    return Scenario(name, seed, day_s, batch_s, lsm, participants, flows, shocks)


def _participants(items: list[Any]) -> tuple[Participant, ...]:
    if not items:
        raise _fail("participants", "at least two participants are required")
    out: list[Participant] = []
    for k, item in enumerate(items):
        t = _Table(item, f"participants[{k}]")
        bic = t.get("bic", str)
        if len(bic) not in (8, 11) or not bic.isalnum() or not bic.isupper():
            raise _fail(f"{t.path}.bic", f"{bic!r} is not a BIC (8 or 11 letters and digits)")
        if any(p.bic == bic for p in out):
            raise _fail(f"{t.path}.bic", f"{bic} is listed twice")
        code = t.get("currency", str)
        try:
            currency(code)
        except MoneyError as error:
            raise _fail(f"{t.path}.currency", str(error)) from error
        limits = _Table(t.get("bilateral_limits", dict, {}), f"{t.path}.bilateral_limits")
        bilateral = tuple(sorted((c, limits.integer(c, ..., 1)) for c in list(limits.data)))
        out.append(Participant(
            bic, code, t.integer("balance"), t.integer("credit_line", 0),
            t.integer("multilateral_limit", 0), bilateral,
        ))  # fmt: skip
        t.done()
    by_bic = {p.bic: p for p in out}
    for k, p in enumerate(out):
        for counterparty, _ in p.bilateral_limits_minor:
            if by_bic.get(counterparty) is None or by_bic[counterparty].currency != p.currency:
                raise _fail(f"participants[{k}].bilateral_limits.{counterparty}",
                            "not a participant of the same currency")  # fmt: skip
    if len(out) < 2:
        raise _fail("participants", "at least two participants are required")
    return tuple(out)


def _bic_list(t: _Table, key: str, bics: dict[str, Participant]) -> tuple[str, ...]:
    value = t.get(key, (str, list), "*")
    if value == "*":
        return ()
    items = [value] if isinstance(value, str) else value
    for bic in items:
        if bic not in bics:
            raise _fail(f"{t.path}.{key}", f"{bic!r} is not a participant")
    return tuple(items)


def _flow(item: Any, path: str, bics: dict[str, Participant], base: Path) -> Flow:
    t = _Table(item, path)
    if "csv" in t.data:
        csv_path = base / t.get("csv", str)
        t.done()
        if not csv_path.is_file():
            raise _fail(f"{path}.csv", f"{csv_path} does not exist")
        return Flow(0, (), (), "fixed", 0, 0, "uniform", "normal", csv_path)
    count = t.integer("count", ..., 1)
    senders = _bic_list(t, "from", bics)
    payees = _bic_list(t, "to", bics)
    value = _Table(t.get("value", dict), f"{path}.value")
    distribution = value.get("distribution", str, "lognormal")
    if distribution not in DISTRIBUTIONS:
        raise _fail(f"{path}.value.distribution", f"one of {', '.join(DISTRIBUTIONS)}")
    if distribution == "fixed":
        a, b = float(value.integer("amount", ..., 1)), 0.0
    elif distribution == "uniform":
        a, b = float(value.integer("min", ..., 1)), float(value.integer("max", ..., 1))
        if b < a:
            raise _fail(f"{path}.value.max", "must be >= min")
    else:
        a = float(value.integer("median", ..., 1))
        b = float(value.get("sigma", (int, float), 1.0))
        if not 0 <= b <= 5:
            raise _fail(f"{path}.value.sigma", "must be between 0 and 5")
    value.done()
    pattern = t.get("pattern", str, "uniform")
    if pattern not in PATTERNS:
        raise _fail(f"{path}.pattern", f"one of {', '.join(PATTERNS)}")
    priority = t.get("priority", str, "normal")
    if priority not in PRIORITIES:
        raise _fail(f"{path}.priority", f"one of {', '.join(PRIORITIES)}")
    t.done()
    return Flow(count, senders, payees, distribution, a, b, pattern, priority)


def _shock(item: Any, path: str, bics: dict[str, Participant], day_s: int) -> Shock:
    t = _Table(item, path)
    kind = t.get("kind", str)
    if kind not in SHOCKS:
        raise _fail(f"{path}.kind", f"one of {', '.join(SHOCKS)}")
    at_s = t.integer("at_minute") * 60
    if at_s >= day_s:
        raise _fail(f"{path}.at_minute", "must be before the end of the day")
    participant = None
    if kind != "outage":
        participant = t.get("participant", str)
        if participant not in bics:
            raise _fail(f"{path}.participant", f"{participant!r} is not a participant")
    amount = t.integer("amount", ..., 1) if kind == "liquidity" else 0
    minutes = t.integer("minutes", ..., 1) if kind == "outage" else 0
    t.done()
    return Shock(kind, at_s, participant, amount, minutes)


# --- the day's payments ---------------------------------------------------------------------------


def _arrival(rng: random.Random, pattern: str, day_s: int) -> int:
    if pattern == "uniform":
        x = rng.random()
    elif pattern == "morning":
        x = rng.betavariate(1.5, 4.0)
    elif pattern == "afternoon":
        x = rng.betavariate(4.0, 1.5)
    else:  # two_peaks: mid-morning and late afternoon
        x = rng.betavariate(2.0, 6.0) if rng.random() < 0.5 else rng.betavariate(6.0, 2.0)
    return min(day_s - 1, int(x * day_s))


def _amount(rng: random.Random, flow: Flow) -> int:
    if flow.distribution == "fixed":
        return int(flow.value_a)
    if flow.distribution == "uniform":
        return rng.randint(int(flow.value_a), int(flow.value_b))
    return max(1, int(flow.value_a * math.exp(rng.gauss(0.0, flow.value_b))))


def draw_payments(scenario: Scenario) -> list[SimPayment]:
    """Every instruction of the day, in arrival order (ties: flow order, then draw order)."""
    rng = random.Random(f"interbank-simulate-{scenario.seed}")
    by_currency: dict[str, list[str]] = {}
    for p in scenario.participants:
        by_currency.setdefault(p.currency, []).append(p.bic)
    out: list[SimPayment] = []
    for k, flow in enumerate(scenario.flows):
        if flow.csv_path is not None:
            out.extend(_read_csv(flow.csv_path, f"flows[{k}].csv", scenario))
            continue
        senders = list(flow.senders) or [p.bic for p in scenario.participants]
        for _ in range(flow.count):
            sender = rng.choice(senders)
            code = scenario.participant(sender).currency
            payees = [b for b in (flow.payees or by_currency[code])
                      if b != sender and scenario.participant(b).currency == code]  # fmt: skip
            if not payees:
                raise _fail(f"flows[{k}].to", f"no payee in {code} other than {sender}")
            arrival = _arrival(rng, flow.pattern, scenario.day_s)
            payee = rng.choice(payees)
            out.append(SimPayment(arrival, sender, payee, _amount(rng, flow), flow.priority))
    out.sort(key=lambda p: p.arrival_s)
    return out


def _read_csv(path: Path, where: str, scenario: Scenario) -> list[SimPayment]:
    """Columns: time_s, from, to, amount (minor units), optional priority."""
    bics = {p.bic: p for p in scenario.participants}
    out: list[SimPayment] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            at = f"{where} line {line}"
            try:
                arrival, amount = int(row["time_s"]), int(row["amount"])
                sender, payee = row["from"], row["to"]
            except (KeyError, TypeError, ValueError) as error:
                raise _fail(at, "needs integer time_s and amount, and from, to") from error
            if sender not in bics or payee not in bics or sender == payee:
                raise _fail(at, "from and to must be two different participants")
            if bics[sender].currency != bics[payee].currency:
                raise _fail(at, "from and to hold different currencies")
            if not 0 <= arrival < scenario.day_s or amount <= 0:
                raise _fail(at, "time_s must fall within the day and amount be > 0")
            priority = (row.get("priority") or "normal").strip()
            if priority not in PRIORITIES:
                raise _fail(at, f"priority one of {', '.join(PRIORITIES)}")
            out.append(SimPayment(arrival, sender, payee, amount, priority))
    return out
