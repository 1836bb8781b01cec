"""Central-bank reference rates: loaded from CSV or JSON, checked strictly, looked up exactly.

A reference rate says how many units of the quote currency one unit of the base
currency is worth on a date: ``2026-11-27,USD/CNY,7.1830``. Rates are exact decimal
strings, validated by the engine's own rule for quote rates (``parse_rate``: positive,
at most 18 digits, 12 after the point), so a reference rate could be published as a
quote as it is. They are never parsed through float: JSON numbers are refused and the
rate must be a string.

Lookups are exact where they can be: a pair given in the file is its rate as written.
An inverse (CNY/USD from USD/CNY) or a cross (RUB/CNY through USD) is a division, so it
is computed in ``decimal`` with ``DERIVED_DIGITS`` significant digits, rounded half
even, and marked as derived.

Every problem in a file is reported with its line, its field and an ISO 20022 reason
code (FF01 format, DT01 date, AM03 currency, DUPL duplicate), all problems at once, so
that a file is fixed in one pass.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from interbank.engine.pvp import RATE_DIGITS_MAX, RATE_SCALE_MAX, parse_rate
from interbank.money import MoneyError, currency

# Limits on what a file may hold: reference rates are a few dozen lines a day.
FILE_BYTES_MAX = 1_000_000
RATES_MAX = 20_000
PROBLEMS_REPORTED_MAX = 50

# Significant digits of an inverse or cross rate (a division): far beyond any
# quote's 18 digits, so that rounding the derived rate never decides a figure shown.
DERIVED_DIGITS = 34

CSV_HEADER = ("date", "pair", "rate")
_DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PAIR_PATTERN = re.compile(r"([A-Z]{3})/([A-Z]{3})")
_RATE_TEXT = (
    f"a rate is a positive decimal string with at most {RATE_DIGITS_MAX} digits, "
    f"{RATE_SCALE_MAX} after the point (no sign, exponent or spaces)"
)


# Digits of a product that must be exact: an amount (at most 18 digits) times a derived
# rate (DERIVED_DIGITS) fits, so rounding down to minor units sees the true product.
EXACT_PRODUCT_DIGITS = 64


def decimal_context(digits: int = DERIVED_DIGITS) -> decimal.Context:
    """The one arithmetic context of fx/: explicit, so the thread's global context (which
    any library may change) never decides a digit."""
    return decimal.Context(
        prec=digits,
        rounding=decimal.ROUND_HALF_EVEN,
        traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
    )


@dataclass(frozen=True, slots=True)
class RateProblem:
    """One thing wrong with a reference-rate file, where it is, and its reason code."""

    line: int  # 1-based line of a CSV file; 1-based position in a JSON list (0: the file)
    field: str | None
    reason_code: str
    text: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        if self.field:
            where += f" field {self.field}"
        return f"{where}: {self.reason_code}: {self.text}"


class ReferenceRatesError(ValueError):
    """A reference-rate file that does not load, with every problem found in it."""

    def __init__(self, problems: Sequence[RateProblem]) -> None:
        assert problems
        self.problems = tuple(problems)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")

    @property
    def reason_code(self) -> str:
        return self.problems[0].reason_code


@dataclass(frozen=True, slots=True)
class ReferenceRate:
    """One unit of ``base`` is worth ``rate`` units of ``quote`` on ``date``."""

    date: dt.date
    base: str
    quote: str
    rate_text: str  # exactly as published

    @property
    def pair(self) -> str:
        return f"{self.base}/{self.quote}"

    @property
    def rate(self) -> Decimal:
        return Decimal(self.rate_text)  # exact: a decimal string becomes the same decimal


@dataclass(frozen=True, slots=True)
class RateLookup:
    """The reference rate of a pair as found: the rate, the date it is from, and how."""

    base: str
    quote: str
    date: dt.date
    rate: Decimal
    how: str  # "published", "inverse" or "cross via USD"
    sources: tuple[ReferenceRate, ...]

    @property
    def exact(self) -> bool:
        return self.how == "published"


@dataclass(frozen=True, slots=True)
class ReferenceRates:
    """A checked set of reference rates, by date and pair."""

    rates: tuple[ReferenceRate, ...]
    _by_date: dict[dt.date, dict[tuple[str, str], ReferenceRate]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_date: dict[dt.date, dict[tuple[str, str], ReferenceRate]] = {}
        for rate in self.rates:
            by_date.setdefault(rate.date, {})[(rate.base, rate.quote)] = rate
        object.__setattr__(self, "_by_date", by_date)

    @property
    def dates(self) -> list[dt.date]:
        return sorted(self._by_date)

    def on(self, date: dt.date) -> list[ReferenceRate]:
        return sorted(self._by_date.get(date, {}).values(), key=lambda r: (r.base, r.quote))

    def date_for(self, wanted: dt.date | None) -> dt.date | None:
        """The latest date with rates on or before ``wanted`` (the latest of all: None)."""
        eligible = [d for d in self._by_date if wanted is None or d <= wanted]
        return max(eligible) if eligible else None

    def lookup(self, base: str, quote: str, wanted: dt.date | None = None) -> RateLookup | None:
        """Units of ``quote`` per unit of ``base`` from the latest rates on or before
        ``wanted``: as published, else the inverse, else a cross through one currency
        both are quoted against (in code order, so the choice is stable)."""
        date = self.date_for(wanted)
        if date is None or base == quote:
            return None
        day = self._by_date[date]
        context = decimal_context()
        direct = day.get((base, quote))
        if direct is not None:
            return RateLookup(base, quote, date, direct.rate, "published", (direct,))
        inverse = day.get((quote, base))
        if inverse is not None:
            rate = context.divide(Decimal(1), inverse.rate)
            return RateLookup(base, quote, date, rate, "inverse", (inverse,))
        currencies = sorted({c for pair in day for c in pair} - {base, quote})
        for via in currencies:
            first = self._leg(day, base, via)
            second = self._leg(day, via, quote)
            if first is not None and second is not None:
                rate = context.multiply(first[0], second[0])
                return RateLookup(
                    base, quote, date, rate, f"cross via {via}", (first[1], second[1])
                )
        return None

    @staticmethod
    def _leg(
        day: dict[tuple[str, str], ReferenceRate], base: str, quote: str
    ) -> tuple[Decimal, ReferenceRate] | None:
        if (base, quote) in day:
            rate = day[(base, quote)]
            return rate.rate, rate
        if (quote, base) in day:
            rate = day[(quote, base)]
            return decimal_context().divide(Decimal(1), rate.rate), rate
        return None


# --- loading ------------------------------------------------------------------------------


def load_reference_rates(path: str | Path) -> ReferenceRates:
    """Load a ``.csv`` or ``.json`` file; ReferenceRatesError naming every problem."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ReferenceRatesError(
            [RateProblem(0, None, "FF01", f"{file.name}: reference rates are a .csv or .json file")]
        )
    with file.open("rb") as handle:
        data = handle.read(FILE_BYTES_MAX + 1)
    if len(data) > FILE_BYTES_MAX:
        raise ReferenceRatesError(
            [RateProblem(0, None, "FF01", f"the file is larger than {FILE_BYTES_MAX} bytes")]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ReferenceRatesError(
            [RateProblem(0, None, "FF01", f"the file is not UTF-8 text: {error.reason}")]
        ) from None
    return parse_csv(text) if suffix == ".csv" else parse_json(text)


def parse_csv(text: str) -> ReferenceRates:
    """``date,pair,rate`` with a header line; ``#`` lines are comments, blank lines skipped.

    Fields are plain: no quoting, no spaces, no other columns, so that what a person
    reads in the file is exactly what is loaded.
    """
    problems: list[RateProblem] = []
    rows: list[tuple[int, str, str, str]] = []
    header_seen = False
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split(",")
        if not header_seen:
            header_seen = True
            if tuple(cells) != CSV_HEADER:
                problems.append(
                    RateProblem(number, None, "FF01", f"the header must be {','.join(CSV_HEADER)}")
                )
                break
            continue
        if len(cells) != len(CSV_HEADER):
            problems.append(
                RateProblem(
                    number,
                    None,
                    "FF01",
                    f"a line holds {len(CSV_HEADER)} fields (date,pair,rate), not {len(cells)}",
                )
            )
            continue
        rows.append((number, cells[0], cells[1], cells[2]))
    if not header_seen and not problems:
        problems.append(RateProblem(0, None, "FF01", "the file holds no header and no rates"))
    return _checked(rows, problems)


def parse_json(text: str) -> ReferenceRates:
    """A JSON list of objects ``{"date": "...", "pair": "USD/CNY", "rate": "7.1830"}``."""
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_float=_refuse_number,
            parse_int=_refuse_number,
            parse_constant=_refuse_number,
        )
    except _NumberRefused:
        raise ReferenceRatesError(
            [
                RateProblem(
                    0,
                    None,
                    "FF01",
                    "numbers are refused: write every value as a JSON "
                    "string (the rate too, so it never passes through binary float)",
                )
            ]
        ) from None
    except _DuplicateKey as error:
        raise ReferenceRatesError(
            [RateProblem(0, str(error), "FF01", f"the field {error} appears twice in an object")]
        ) from None
    except (ValueError, RecursionError) as error:
        raise ReferenceRatesError(
            [RateProblem(0, None, "FF01", f"not valid JSON: {error}")]
        ) from None
    if not isinstance(value, list):
        raise ReferenceRatesError(
            [RateProblem(0, None, "FF01", "the file is a JSON list of rate objects")]
        )
    problems: list[RateProblem] = []
    rows: list[tuple[int, str, str, str]] = []
    for position, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            problems.append(RateProblem(position, None, "FF01", "each rate is a JSON object"))
            continue
        extra = sorted(set(item) - set(CSV_HEADER))
        missing = [name for name in CSV_HEADER if name not in item]
        if extra or missing:
            name = (extra or missing)[0]
            what = "is not a field of a rate" if extra else "is missing"
            problems.append(RateProblem(position, name, "FF01", f"the field {name!r} {what}"))
            continue
        strings = [item[name] for name in CSV_HEADER]
        wrong = [n for n, v in zip(CSV_HEADER, strings, strict=True) if not isinstance(v, str)]
        if wrong:
            problems.append(RateProblem(position, wrong[0], "FF01", f"{wrong[0]} is a string"))
            continue
        rows.append((position, strings[0], strings[1], strings[2]))
    return _checked(rows, problems)


class _NumberRefused(ValueError):
    pass


class _DuplicateKey(ValueError):
    pass


def _refuse_number(text: str) -> Any:
    raise _NumberRefused(text)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _checked(
    rows: Iterable[tuple[int, str, str, str]], problems: list[RateProblem]
) -> ReferenceRates:
    rates: list[ReferenceRate] = []
    seen: dict[tuple[dt.date, frozenset[str]], int] = {}
    for number, date_text, pair_text, rate_text in rows:
        if len(rates) >= RATES_MAX:
            problems.append(RateProblem(number, None, "FF01", f"more than {RATES_MAX} rates"))
            break
        row_problems: list[RateProblem] = []
        date = _date(date_text, number, row_problems)
        pair = _pair(pair_text, number, row_problems)
        if parse_rate(rate_text) is None:
            row_problems.append(RateProblem(number, "rate", "FF01", f"{rate_text!r}: {_RATE_TEXT}"))
        if row_problems or date is None or pair is None:
            problems.extend(row_problems)
            continue
        # A pair and its inverse on one date would be two answers to one question.
        key = (date, frozenset(pair))
        if key in seen:
            problems.append(
                RateProblem(
                    number,
                    "pair",
                    "DUPL",
                    f"{pair_text} (or its inverse) on {date} is already given on line {seen[key]}",
                )
            )
            continue
        seen[key] = number
        rates.append(ReferenceRate(date, pair[0], pair[1], rate_text))
    if not rates and not problems:
        problems.append(RateProblem(0, None, "FF01", "the file holds no rates"))
    if problems:
        raise ReferenceRatesError(problems[:PROBLEMS_REPORTED_MAX])
    return ReferenceRates(tuple(rates))


def _date(text: str, number: int, problems: list[RateProblem]) -> dt.date | None:
    # fromisoformat alone also takes "20261127" and week dates: ask for one spelling.
    if _DATE_PATTERN.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    problems.append(RateProblem(number, "date", "DT01", f"{text!r} is not a date YYYY-MM-DD"))
    return None


def _pair(text: str, number: int, problems: list[RateProblem]) -> tuple[str, str] | None:
    match = _PAIR_PATTERN.fullmatch(text)
    if match is None:
        problems.append(RateProblem(number, "pair", "FF01", f"{text!r} is not a pair like USD/CNY"))
        return None
    base, quote = match.group(1), match.group(2)
    if base == quote:
        problems.append(RateProblem(number, "pair", "FF01", f"{text}: two different currencies"))
        return None
    for code in (base, quote):
        try:
            currency(code)
        except MoneyError as error:
            problems.append(RateProblem(number, "pair", error.reason_code, error.text))
            return None
    return base, quote
