"""Risk controls from a grade: haircuts, intraday credit lines, net debit caps, suspension.

For one settlement account of a rated bank, with the collateral pledged for it:

    collateral value after haircuts = sum over items of value x (1 - haircut)
    net debit cap                   = multiple(bank's grade) x capital
    credit line target              = min(collateral after haircuts, net debit cap),
                                      0 at or below the credit-suspension grade

The haircut of an item depends on its issuer's grade, the issuer's kind (sovereign or
other) and the residual maturity (Basel II comprehensive approach, in the method file).
So all intraday credit is collateralised (as in the Eurosystem), and the bank's own
grade caps how much of it it may use (as the Federal Reserve's net debit caps do).
Money stays in int minor units; a fraction of a minor unit is always rounded down,
in the network's favour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from interbank.money import MoneyError, currency, parse_amount
from interbank.rating.method import Method
from interbank.rating.scale import Grade, GradeError

ISSUER_KINDS = ("sovereign", "other", "cash")
_ITEMS_MAX = 10_000


class CollateralError(ValueError):
    """A collateral pool that cannot be used; the text names the bank and the field."""


@dataclass(frozen=True, slots=True)
class CollateralItem:
    """One pledged asset. ``issuer_grade`` is None for cash."""

    item_id: str
    issuer_kind: str
    issuer_grade: Grade | None
    residual_maturity_days: int
    value_minor: int  # market value in the pool's currency


@dataclass(frozen=True, slots=True)
class CollateralPool:
    """What a bank pledged for the credit line of one settlement account."""

    bic: str
    account_id: int
    currency: str
    items: tuple[CollateralItem, ...]


@dataclass(frozen=True, slots=True)
class ItemValuation:
    item_id: str
    value_minor: int
    haircut_pct: Fraction | None  # None: not eligible
    lendable_minor: int


@dataclass(frozen=True, slots=True)
class ControlTarget:
    """What the network should enforce for one account of a rated bank."""

    bic: str
    account_id: int
    currency: str
    grade: Grade
    collateral_minor: int  # market value pledged
    collateral_after_haircuts_minor: int
    net_debit_cap_minor: int | None  # None: no cap computed (capital in another currency)
    credit_line_minor: int  # the target line
    credit_suspended: bool
    participant_suspended: bool
    valuations: tuple[ItemValuation, ...]
    notes: tuple[str, ...]


def haircut_pct(method: Method, item: CollateralItem) -> Fraction | None:
    """The haircut of an item in percent, or None when it is not eligible."""
    if item.issuer_kind == "cash":
        return method.haircut_cash_pct
    assert item.issuer_grade is not None
    bucket = sum(
        1 for days in method.haircut_maturity_days_max if item.residual_maturity_days > days
    )
    for band in method.haircut_bands:
        if band.best <= item.issuer_grade <= band.worst:
            cuts = band.sovereign_pct if item.issuer_kind == "sovereign" else band.other_pct
            return None if cuts is None else cuts[bucket]
    return None


def controls_for(
    method: Method,
    grade: Grade,
    capital_minor: int,
    capital_currency: str,
    pool: CollateralPool,
) -> ControlTarget:
    """The control target for one account, from the bank's grade and its collateral."""
    notes: list[str] = []
    valuations: list[ItemValuation] = []
    for item in pool.items:
        cut = haircut_pct(method, item)
        lendable = 0 if cut is None else item.value_minor * (100 - cut) // 100
        valuations.append(ItemValuation(item.item_id, item.value_minor, cut, int(lendable)))
    after_haircuts = sum(v.lendable_minor for v in valuations)
    band = method.cap_band(grade)
    cap: int | None
    if band.multiple == 0:
        cap = 0  # zero is zero in every currency
    elif capital_currency == pool.currency:
        cap = int(band.multiple * capital_minor)  # int() of a positive Fraction rounds down
    else:
        cap = None
        notes.append(
            f"capital is in {capital_currency}, the account in {pool.currency}: no net debit "
            "cap until reference rates exist; the line is collateral only"
        )
    line = after_haircuts if cap is None else min(after_haircuts, cap)
    credit_suspended = grade.notch >= method.credit_suspended_notch
    if credit_suspended:
        line = 0
        notes.append(f"credit suspended at {Grade(method.credit_suspended_notch)} or worse")
    participant_suspended = grade.notch >= method.participant_suspended_notch
    return ControlTarget(
        bic=pool.bic,
        account_id=pool.account_id,
        currency=pool.currency,
        grade=grade,
        collateral_minor=sum(i.value_minor for i in pool.items),
        collateral_after_haircuts_minor=after_haircuts,
        net_debit_cap_minor=cap,
        credit_line_minor=line,
        credit_suspended=credit_suspended,
        participant_suspended=participant_suspended,
        valuations=tuple(valuations),
        notes=tuple(notes),
    )


def parse_pools(data: object, source: str) -> list[CollateralPool]:
    """Collateral pools from parsed JSON: one object or a list of them, each
    ``{"bic", "account_id", "currency", "items": [{"id", "issuer_kind",
    "issuer_grade", "residual_maturity_days", "value"}]}`` with ``value`` a decimal
    string in the pool's currency."""
    raw = data if isinstance(data, list) else [data]
    pools = [_pool(entry, f"{source}[{i}]") for i, entry in enumerate(raw)]
    accounts = [p.account_id for p in pools]
    if len(set(accounts)) != len(accounts):
        raise CollateralError(f"{source}: an account has two pools; give one pool per account")
    return pools


def _pool(entry: object, where: str) -> CollateralPool:
    if not isinstance(entry, dict):
        raise CollateralError(f"{where}: not an object")
    bic = entry.get("bic")
    if not isinstance(bic, str) or not bic.strip():
        raise CollateralError(f"{where}: field bic: missing")
    where = f"bank {bic.upper()}"
    account_id = entry.get("account_id")
    if (
        not isinstance(account_id, int)
        or isinstance(account_id, bool)
        or not 0 < account_id < 2**63
    ):
        raise CollateralError(f"{where}: field account_id: {account_id!r} is not an account id")
    code = entry.get("currency")
    try:
        code = currency(code if isinstance(code, str) else "").code
    except MoneyError as error:
        raise CollateralError(f"{where}: field currency: {error.text}") from None
    items = entry.get("items", [])
    if not isinstance(items, list) or len(items) > _ITEMS_MAX:
        raise CollateralError(f"{where}: field items: a list of at most {_ITEMS_MAX} items")
    parsed = tuple(_item(item, code, f"{where}, item {i}") for i, item in enumerate(items))
    if len({p.item_id for p in parsed}) != len(parsed):
        raise CollateralError(f"{where}: field items: item ids must be unique")
    return CollateralPool(bic.strip().upper(), account_id, code, parsed)


def _item(item: Any, code: str, where: str) -> CollateralItem:
    if not isinstance(item, dict):
        raise CollateralError(f"{where}: not an object")
    item_id = item.get("id")
    if not isinstance(item_id, str) or not item_id:
        raise CollateralError(f"{where}: field id: missing")
    where = f"{where} ({item_id})"
    kind = item.get("issuer_kind")
    if kind not in ISSUER_KINDS:
        raise CollateralError(f"{where}: field issuer_kind: one of {', '.join(ISSUER_KINDS)}")
    grade = None
    if kind != "cash":
        try:
            grade = Grade.of(item.get("issuer_grade") or "")
        except GradeError as error:
            raise CollateralError(f"{where}: field issuer_grade: {error}") from None
    days = item.get("residual_maturity_days", 0)
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 100 * 366:
        raise CollateralError(f"{where}: field residual_maturity_days: whole days 0..36600")
    value = item.get("value")
    try:
        value_minor = parse_amount(value if isinstance(value, str) else repr(value), code)
    except MoneyError as error:
        raise CollateralError(f"{where}: field value: {error.text}") from None
    return CollateralItem(item_id, kind, grade, days, value_minor)


def pools_as_records(pools: Sequence[CollateralPool]) -> list[dict[str, Any]]:
    """The pools back as JSON records (what the agency store keeps with a decision)."""
    from interbank.money import format_amount

    return [
        {
            "bic": p.bic,
            "account_id": p.account_id,
            "currency": p.currency,
            "items": [
                {
                    "id": i.item_id,
                    "issuer_kind": i.issuer_kind,
                    **({"issuer_grade": i.issuer_grade.letters} if i.issuer_grade else {}),
                    "residual_maturity_days": i.residual_maturity_days,
                    "value": format_amount(i.value_minor, p.currency),
                }
                for i in p.items
            ],
        }
        for p in pools
    ]
