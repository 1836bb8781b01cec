"""Bank financials: one record per bank and reporting date, read from JSON or CSV.

Amounts are decimal strings in the bank's reporting currency, turned into int minor
units by ``interbank.money`` (so "1234.50" in a two-decimal currency is 123450); only
``net_income`` may be negative. CAMELS component scores and the composite are whole
numbers 1..5 where a supervisor provides them. Every problem names the bank, the
reporting date and the field, and a file is checked whole: all its problems are
reported together, and nothing of it is used while any remains.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from interbank.money import MoneyError, currency, parse_amount
from interbank.rating.scale import Grade, GradeError

# Figures every record must have, in minor units of the reporting currency.
AMOUNT_FIELDS: tuple[str, ...] = (
    "tangible_common_equity", "risk_weighted_assets", "problem_loans", "gross_loans",
    "net_income", "tangible_assets", "market_funds", "liquid_assets",
)  # fmt: skip
CAMELS_FIELDS: tuple[str, ...] = (
    "camels_capital", "camels_asset_quality", "camels_management", "camels_earnings",
    "camels_liquidity", "camels_sensitivity", "camels_composite",
)  # fmt: skip
REQUIRED_FIELDS: tuple[str, ...] = ("bic", "reporting_date", "currency", *AMOUNT_FIELDS)
OPTIONAL_FIELDS: tuple[str, ...] = ("name", *CAMELS_FIELDS, "sovereign_grade", "in_default")
KNOWN_FIELDS = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
_FILE_BYTES_MAX = 16 << 20
_RECORDS_MAX = 100_000
_NAME_CHARS_MAX = 140
_UNKNOWN = "?"


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One thing wrong with one field of one bank's report."""

    bank: str
    reporting_date: str
    field: str
    text: str

    def __str__(self) -> str:
        return f"bank {self.bank}, {self.reporting_date}, field {self.field}: {self.text}"


class FinancialsError(ValueError):
    """Financials that cannot be used, with every problem found."""

    def __init__(self, source: str, problems: Iterable[FieldProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        shown = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"{source}: {shown}{more}")


@dataclass(frozen=True, slots=True)
class Camels:
    """UFIRS scores, 1 (strongest) to 5 (weakest); None where not provided."""

    capital: int | None = None
    asset_quality: int | None = None
    management: int | None = None
    earnings: int | None = None
    liquidity: int | None = None
    sensitivity: int | None = None
    composite: int | None = None


@dataclass(frozen=True, slots=True)
class BankFinancials:
    bic: str
    reporting_date: dt.date
    currency: str
    tangible_common_equity_minor: int
    risk_weighted_assets_minor: int
    problem_loans_minor: int
    gross_loans_minor: int
    net_income_minor: int
    tangible_assets_minor: int
    market_funds_minor: int
    liquid_assets_minor: int
    name: str = ""
    camels: Camels = Camels()
    sovereign_grade: Grade | None = None
    in_default: bool = False

    def figure_minor(self, figure: str) -> int:
        """A figure by its name in the method file (``problem_loans`` and so on)."""
        value: int = getattr(self, f"{figure}_minor")
        return value

    def as_record(self) -> dict[str, Any]:
        """The record as it would be written in a JSON file (amounts as decimals)."""
        from interbank.money import format_amount

        record: dict[str, Any] = {
            "bic": self.bic,
            "reporting_date": self.reporting_date.isoformat(),
            "currency": self.currency,
        }
        if self.name:
            record["name"] = self.name
        for figure in AMOUNT_FIELDS:
            record[figure] = format_amount(self.figure_minor(figure), self.currency)
        for camels_field in fields(Camels):
            score = getattr(self.camels, camels_field.name)
            if score is not None:
                record[f"camels_{camels_field.name}"] = score
        if self.sovereign_grade is not None:
            record["sovereign_grade"] = self.sovereign_grade.letters
        if self.in_default:
            record["in_default"] = True
        return record


def load_financials(path: str | Path) -> list[BankFinancials]:
    """Read a ``.json`` or ``.csv`` file of financials; FinancialsError if any is bad."""
    file = Path(path)
    size = file.stat().st_size
    if size > _FILE_BYTES_MAX:
        raise FinancialsError(
            str(file), [FieldProblem(_UNKNOWN, _UNKNOWN, "(file)", f"over {_FILE_BYTES_MAX} bytes")]
        )
    text = file.read_text(encoding="utf-8-sig")
    if file.suffix.lower() == ".csv":
        return parse_financials_csv(text, str(file))
    if file.suffix.lower() == ".json":
        return parse_financials_json(text, str(file))
    raise FinancialsError(
        str(file), [FieldProblem(_UNKNOWN, _UNKNOWN, "(file)", "name a .json or a .csv file")]
    )


def parse_financials_json(text: str, source: str = "(json)") -> list[BankFinancials]:
    """One JSON object per bank and date, or a list of them.

    JSON numbers are kept as their exact text (never read as a float): 1234.5 is the
    amount "1234.5". A number that is not a plain decimal is refused by its field.
    """
    try:
        data = json.loads(text, parse_float=str, parse_int=str, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise FinancialsError(
            source, [FieldProblem(_UNKNOWN, _UNKNOWN, "(file)", f"not JSON: {error}")]
        ) from None
    records = data if isinstance(data, list) else [data]
    if not all(isinstance(r, dict) for r in records):
        raise FinancialsError(
            source,
            [FieldProblem(_UNKNOWN, _UNKNOWN, "(file)", "give an object or a list of objects")],
        )
    return _parse_records(records, source)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number")


def parse_financials_csv(text: str, source: str = "(csv)") -> list[BankFinancials]:
    """A header line of field names, then one line per bank and date; an empty cell is
    a missing value."""
    reader = csv.DictReader(io.StringIO(text), strict=True)
    try:
        rows = list(reader)
    except csv.Error as error:
        raise FinancialsError(
            source, [FieldProblem(_UNKNOWN, _UNKNOWN, "(file)", f"not CSV: {error}")]
        ) from None
    if reader.fieldnames is None:
        raise FinancialsError(
            source, [FieldProblem(_UNKNOWN, _UNKNOWN, "(file)", "no header line")]
        )
    records: list[dict[str, Any]] = []
    for row in rows:
        if None in row:  # more cells than header names
            bank = (row.get("bic") or _UNKNOWN).strip()
            date = (row.get("reporting_date") or _UNKNOWN).strip()
            raise FinancialsError(
                source, [FieldProblem(bank, date, "(line)", "more cells than the header names")]
            )
        records.append({k: v.strip() for k, v in row.items() if v is not None and v.strip() != ""})
    return _parse_records(records, source)


def _parse_records(records: list[dict[str, Any]], source: str) -> list[BankFinancials]:
    if len(records) > _RECORDS_MAX:
        raise FinancialsError(
            source, [FieldProblem(_UNKNOWN, _UNKNOWN, "(file)", f"over {_RECORDS_MAX} records")]
        )
    problems: list[FieldProblem] = []
    parsed: list[BankFinancials] = []
    seen: set[tuple[str, dt.date]] = set()
    for record in records:
        one = _Record(record)
        result = one.parse()
        problems.extend(one.problems)
        if result is None:
            continue
        key = (result.bic, result.reporting_date)
        if key in seen:
            problems.append(
                FieldProblem(
                    result.bic, result.reporting_date.isoformat(), "reporting_date", "given twice"
                )
            )
        seen.add(key)
        parsed.append(result)
    if problems:
        raise FinancialsError(source, problems)
    return sorted(parsed, key=lambda f: (f.bic, f.reporting_date))


class _Record:
    """Checks one record, collecting every problem rather than stopping at the first."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.record = {k: v for k, v in record.items() if v is not None}
        self.problems: list[FieldProblem] = []
        bic = self.record.get("bic")
        date = self.record.get("reporting_date")
        self.bank = bic.strip().upper() if isinstance(bic, str) and bic.strip() else _UNKNOWN
        self.date = date.strip() if isinstance(date, str) and date.strip() else _UNKNOWN

    def problem(self, field: str, text: str) -> None:
        self.problems.append(FieldProblem(self.bank, self.date, field, text))

    def parse(self) -> BankFinancials | None:
        for name in sorted(set(self.record) - KNOWN_FIELDS):
            self.problem(name, "unknown field (a typo?)")
        for name in REQUIRED_FIELDS:
            if name not in self.record or self.record[name] == "":
                self.problem(name, "missing")
        bic = self.text("bic")
        if bic is not None and not _BIC.fullmatch(bic.upper()):
            self.problem("bic", f"{bic!r} is not a BIC (8 or 11 letters and digits, ISO 9362)")
        date = self.date_value()
        code = self.currency_code()
        amounts = {name: self.amount(name, code) for name in AMOUNT_FIELDS}
        camels = {name: self.camels_score(name) for name in CAMELS_FIELDS}
        sovereign = self.grade("sovereign_grade")
        in_default = self.flag("in_default")
        name = self.text("name") or ""
        if len(name) > _NAME_CHARS_MAX:
            self.problem("name", f"over {_NAME_CHARS_MAX} characters")
        self.check_relations(amounts)
        if self.problems:
            return None
        assert bic is not None and date is not None and code is not None
        minor = {f"{k}_minor": v for k, v in amounts.items()}
        return BankFinancials(
            bic=bic.upper(),
            reporting_date=date,
            currency=code,
            name=name,
            camels=Camels(**{k.removeprefix("camels_"): v for k, v in camels.items()}),
            sovereign_grade=sovereign,
            in_default=in_default,
            **minor,
        )

    def text(self, name: str) -> str | None:
        value = self.record.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(name, f"{value!r} is not text")
            return None
        return value.strip()

    def date_value(self) -> dt.date | None:
        value = self.text("reporting_date")
        if value is None:
            return None
        try:
            return (
                dt.date.fromisoformat(value)
                if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)
                else _bad_date()
            )
        except ValueError:
            self.problem("reporting_date", f"{value!r} is not a date like 2025-12-31")
            return None

    def currency_code(self) -> str | None:
        value = self.text("currency")
        if value is None:
            return None
        try:
            return currency(value.upper()).code
        except MoneyError as error:
            self.problem("currency", error.text)
            return None

    def amount(self, name: str, code: str | None) -> int:
        value = self.record.get(name)
        if value is None or value == "" or code is None:
            return 0  # missing is reported above; without a currency it cannot be read
        if not isinstance(value, str):
            self.problem(name, f"{value!r} is not an amount")
            return 0
        text = value.strip()
        negative = text.startswith("-")
        if negative and name != "net_income":
            self.problem(name, f"{text} is negative; only net_income may be")
            return 0
        try:
            minor = parse_amount(text.removeprefix("-"), code)
        except MoneyError as error:
            self.problem(name, error.text)
            return 0
        return -minor if negative else minor

    def camels_score(self, name: str) -> int | None:
        value = self.record.get(name)
        if value is None or value == "":
            return None
        text = value.strip() if isinstance(value, str) else value
        if not isinstance(text, str) or text not in ("1", "2", "3", "4", "5"):
            self.problem(name, f"{value!r} is not a CAMELS score 1..5")
            return None
        return int(text)

    def grade(self, name: str) -> Grade | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            grade = Grade.of(value)
        except GradeError as error:
            self.problem(name, str(error))
            return None
        return grade

    def flag(self, name: str) -> bool:
        value = self.record.get(name)
        if value is None or value == "":
            return False
        if value in (True, False):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        self.problem(name, f"{value!r} is not true or false")
        return False

    def check_relations(self, amounts: dict[str, int]) -> None:
        """Figures that cannot be true together: divisors of zero, parts over wholes."""
        if any(p.field in AMOUNT_FIELDS or p.field == "currency" for p in self.problems):
            return  # a figure already failed; comparing it would only add noise
        for divisor in ("risk_weighted_assets", "gross_loans", "tangible_assets"):
            if amounts[divisor] == 0:
                self.problem(divisor, "is zero; ratios divide by it")
        for part, whole in (
            ("problem_loans", "gross_loans"),
            ("tangible_common_equity", "tangible_assets"),
            ("market_funds", "tangible_assets"),
            ("liquid_assets", "tangible_assets"),
        ):
            if amounts[part] > amounts[whole]:
                self.problem(part, f"is larger than {whole}")


def _bad_date() -> dt.date:
    raise ValueError("not YYYY-MM-DD")
