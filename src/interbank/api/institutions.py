"""The network's institutions over HTTPS: the reserve pool, the development bank and the
credit agency (issues 7 and 8).

Each keeps its own records beside the journal, as their CLIs do: ``<db>.reserve`` (the
pool), ``<db>.lending`` (the bank) and the agency store (``$INTERBANK_AGENCY``, else
``agency.db`` in the journal's directory). A route opens the records it needs, answers,
and closes them; a missing store is a 404.

Who may do what (``access`` logs every refusal):

- reserve pool: central banks that are members of the pool, operators and auditors read;
  a member's page (its access and drawings) is its own central bank's; every member
  reads any drawing (members vote on each other's requests). A central bank requests
  drawings and votes for its own member only; operators and auditors change nothing.
- development bank: a loan's schedule and statement are its borrower's, the operators'
  and the auditors'; the portfolio is the operators' and auditors' whole, or a borrower's
  own loans. An operator records a loan decision (a cancellation of undisbursed money).
- credit agency: a bank's current rating and its history are the bank's own, the
  operators' and the auditors'.

Dates default to today (the pool's and bank's calendars only go forward); writes take an
``on`` date in their body for back-office catch-up.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from starlette.responses import Response

from interbank.api import access, bodies
from interbank.api.context import caller, route_of, service_of
from interbank.api.errors import ApiError
from interbank.api.identity import Identity, Role
from interbank.api.participant import _ERRORS, _json
from interbank.money import MoneyError, format_amount, parse_amount

if TYPE_CHECKING:
    from interbank.lending.bank import DevelopmentBank
    from interbank.reserve.pool import ReservePool

router = APIRouter()

Caller = Annotated[Identity, Depends(caller)]
Member = Annotated[
    str, PathParam(pattern=r"^[A-Z]{2,8}$", description="A member's code (CN, BR...)")
]
RequestId = Annotated[str, PathParam(pattern=r"^R-[0-9]{4,6}$", description="A request (R-0001).")]
LoanId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="The loan's id.")]
Bic = Annotated[str, PathParam(pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$", description="A BIC.")]
OnQuery = Annotated[dt.date | None, Query(description="The date (default today).")]

RESERVE_READERS = frozenset({Role.CENTRAL_BANK, Role.OPERATOR, Role.AUDITOR})
CENTRAL_BANKS = frozenset({Role.CENTRAL_BANK})
OPERATORS = frozenset({Role.OPERATOR})
_CSV = "text/csv; charset=utf-8"
# One writer per process for each record store: a request and a vote on the same pool
# must not both read the state and append on it.
_writing = threading.Lock()


@dataclass(frozen=True)
class Stores:
    reserve: str
    lending: str
    agency: str

    @staticmethod
    def beside(db: str) -> Stores:
        base = db.removeprefix("sqlite://")
        agency = os.environ.get("INTERBANK_AGENCY") or str(Path(base).parent / "agency.db")
        return Stores(base + ".reserve", base + ".lending", agency)


def stores_of(request: Request) -> Stores:
    state = request.app.state
    found: Stores | None = getattr(state, "institutions", None)
    if found is None:
        db = service_of(request).gateway.db
        if db is None:
            raise ApiError(
                404,
                "NARR",
                "this service has no journal file beside which the institutions keep their records",
            )
        found = Stores.beside(db)
        state.institutions = found
    return found


def _refused(error: Any) -> ApiError:
    return ApiError(422, getattr(error, "reason_code", "NARR"), getattr(error, "text", str(error)))


@contextmanager
def _pool(request: Request) -> Iterator[ReservePool]:
    from interbank.reserve.pool import ReservePool
    from interbank.reserve.rules import ReserveError
    from interbank.reserve.store import DecisionStore, StoreError

    path = stores_of(request).reserve
    if not Path(path).exists():
        raise ApiError(404, "NARR", "the network has no reserve pool")
    try:
        records = DecisionStore.open(path)
    except StoreError as error:
        raise ApiError(503, "NARR", f"the reserve pool's records cannot be read: {error}") from None
    try:
        yield ReservePool(records)
    except ReserveError as error:
        raise _refused(error) from None
    finally:
        records.close()


@contextmanager
def _bank(request: Request) -> Iterator[DevelopmentBank]:
    from interbank.lending.bank import DevelopmentBank
    from interbank.lending.store import DecisionStore, StoreError
    from interbank.lending.terms import LendingError

    path = stores_of(request).lending
    if not Path(path).exists():
        raise ApiError(404, "NARR", "the network has no development bank")
    try:
        records = DecisionStore.open(path)
    except StoreError as error:
        raise ApiError(503, "NARR", f"the bank's records cannot be read: {error}") from None
    try:
        yield DevelopmentBank(records)
    except LendingError as error:
        raise _refused(error) from None
    finally:
        records.close()


# --- the reserve pool ------------------------------------------------------------------------


def _member_of(pool: ReservePool, bic: str) -> str | None:
    return next((m.code for m in pool.state.members.values() if m.bic == bic), None)


def _reserve_reader(identity: Identity, route: str, pool: ReservePool) -> str | None:
    """Who may read the pool; a central bank's member code (None for oversight)."""
    access.require_role(identity, route, RESERVE_READERS)
    if access.may_read_everything(identity):
        return None
    member = _member_of(pool, identity.bic)
    if member is None:
        raise access.refuse(identity, route, f"{identity.bic} is not a member of the reserve pool")
    return member


def _drawing_json(pool: ReservePool, drawing: Any) -> dict[str, Any]:
    from interbank.reserve.rules import percent_text, tally

    code = pool.rulebook.reserve_currency
    body: dict[str, Any] = {
        "request_id": drawing.request_id,
        "member": drawing.member,
        "instrument": drawing.instrument,
        "portion": drawing.portion,
        "amount": format_amount(drawing.amount_minor, code),
        "currency": code,
        "status": drawing.status,
        "requested_on": drawing.requested_on.isoformat(),
        "decided_on": drawing.decided_on.isoformat() if drawing.decided_on else None,
        "reason": drawing.reason,
        "votes": [{"member": v[0], "approve": v[1], "on": v[2].isoformat()} for v in drawing.votes],
        "maturity_on": drawing.swap.maturity_on.isoformat() if drawing.swap else None,
        "renewals": drawing.swap.renewals if drawing.swap else 0,
        "interest_paid": format_amount(drawing.interest_paid_minor, code),
        "arrears_since": drawing.arrears_since.isoformat() if drawing.arrears_since else None,
        "repaid_on": drawing.repaid_on.isoformat() if drawing.repaid_on else None,
    }
    result = tally(pool.rulebook, drawing.member, [(v[0], v[1]) for v in drawing.votes])
    body["tally"] = {
        "yes_percent": percent_text(result.yes_percent),
        "no_percent": percent_text(result.no_percent),
        "eligible_percent": percent_text(result.eligible_percent),
        "needed_percent": percent_text(result.needed_percent),
    }
    return body


@router.get(
    "/v1/reserve/rulebook",
    tags=["reserve pool"],
    responses=_ERRORS,
    summary="The pool's rulebook in force, with every member's derived figures",
)
def get_reserve_rulebook(request: Request, identity: Caller) -> Response:
    from interbank.reserve.rules import percent_text

    with _pool(request) as pool:
        _reserve_reader(identity, route_of(request), pool)
        book = pool.rulebook
        code = book.reserve_currency
        return _json(
            {
                "name": book.name,
                "version": book.version,
                "sha256": book.sha256,
                "reserve_currency": code,
                "vote_window_days": book.vote_window_days,
                "approval_share_percent": str(book.approval_share_percent),
                "de_linked_share_percent": str(book.de_linked_share_percent),
                "members": [
                    {
                        "member": m.code,
                        "name": m.name,
                        "commitment": format_amount(m.commitment_minor, code),
                        "access_multiplier": str(m.access_multiplier),
                        "max_access": format_amount(book.max_access_minor(m.code), code),
                        "de_linked_cap": format_amount(book.de_linked_cap_minor(m.code), code),
                        "voting_percent": percent_text(book.weight_percent(m.code)),
                    }
                    for m in book.members
                ],
                "instruments": [asdict(t) for t in book.instruments],
            }
        )


@router.get(
    "/v1/reserve/members/{member}",
    tags=["reserve pool"],
    responses=_ERRORS,
    summary="A member's access (maximum, in use, left) and its drawings",
)
def get_reserve_member(request: Request, identity: Caller, member: Member) -> Response:
    route = route_of(request)
    with _pool(request) as pool:
        own = _reserve_reader(identity, route, pool)
        if own is not None and own != member:
            raise access.refuse(identity, route, f"member {member} is not yours")
        book, state = pool.rulebook, pool.state
        if book.member(member) is None:
            raise ApiError(404, "NARR", f"{member} is not a member of the pool")
        code = book.reserve_currency
        in_use = state.open_amount_minor(member, None, book.count_pending_requests)
        de_linked = state.open_amount_minor(member, "de_linked", book.count_pending_requests)
        bound = state.members.get(member)
        return _json(
            {
                "member": member,
                "bic": bound.bic if bound else None,
                "currency": code,
                "max_access": format_amount(book.max_access_minor(member), code),
                "in_use": format_amount(in_use, code),
                "available": format_amount(max(book.max_access_minor(member) - in_use, 0), code),
                "de_linked_cap": format_amount(book.de_linked_cap_minor(member), code),
                "de_linked_available": format_amount(
                    max(book.de_linked_cap_minor(member) - de_linked, 0), code
                ),
                "imf_on_track": state.imf_on_track.get(member, False),
                "in_arrears": [d.request_id for d in state.in_arrears(member)],
                "drawings": [
                    _drawing_json(pool, d) for d in state.drawings.values() if d.member == member
                ],
            }
        )


@router.get(
    "/v1/reserve/drawings/{request_id}",
    tags=["reserve pool"],
    responses=_ERRORS,
    summary="A request or drawing: status, votes and tally, swap",
)
def get_reserve_drawing(request: Request, identity: Caller, request_id: RequestId) -> Response:
    with _pool(request) as pool:
        _reserve_reader(identity, route_of(request), pool)
        drawing = pool.state.drawings.get(request_id)
        if drawing is None:
            raise ApiError(404, "NARR", f"no request {request_id}")
        return _json(_drawing_json(pool, drawing))


async def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    value = bodies.json_object(
        await bodies.read_body(request, service_of(request).settings.json_body_bytes_max)
    )
    unknown = set(value) - allowed
    if unknown:
        name = sorted(unknown)[0]
        raise ApiError(422, "FF01", f"unknown field {name!r}", name)
    return value


def _on(value: dict[str, Any]) -> dt.date:
    text = value.get("on")
    if text is None:
        return dt.date.today()
    try:
        if not isinstance(text, str):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "FF01", "on is a date, YYYY-MM-DD", "on") from None


def _text(value: dict[str, Any], name: str, default: str | None = None) -> str:
    found = value.get(name, default)
    if not isinstance(found, str):
        raise ApiError(422, "FF01", f"{name} is a string", name)
    return found


def _amount(value: dict[str, Any], code: str) -> int:
    try:
        return parse_amount(_text(value, "amount"), code)
    except MoneyError as error:
        raise ApiError(422, error.reason_code, error.text, "amount") from None


def _own_member(identity: Identity, route: str, pool: ReservePool, value: dict[str, Any]) -> str:
    """The caller's member code; a ``member`` in the body must be it."""
    access.require_role(identity, route, CENTRAL_BANKS)
    member = _member_of(pool, identity.bic)
    if member is None:
        raise access.refuse(identity, route, f"{identity.bic} is not a member of the reserve pool")
    named = value.get("member", member)
    if named != member:
        raise access.refuse(identity, route, f"{identity.bic} acts for {member} only, not {named}")
    return member


@router.post(
    "/v1/reserve/drawings",
    tags=["reserve pool"],
    status_code=201,
    responses=_ERRORS,
    summary="A member's central bank requests a drawing (checked against its access)",
)
async def post_reserve_drawing(request: Request, identity: Caller) -> Response:
    value = await _body(request, {"member", "amount", "instrument", "portion", "on"})
    route = route_of(request)

    def run() -> dict[str, Any]:
        with _writing, _pool(request) as pool:
            member = _own_member(identity, route, pool, value)
            minor = _amount(value, pool.rulebook.reserve_currency)
            drawing = pool.request(
                member,
                _text(value, "instrument", "liquidity"),
                _text(value, "portion", "de_linked"),
                minor,
                _on(value),
            )
            return _drawing_json(pool, drawing)

    return _json(await _in_thread(run), 201)


@router.post(
    "/v1/reserve/drawings/{request_id}/votes",
    tags=["reserve pool"],
    responses=_ERRORS,
    summary="A member's central bank votes on another member's request",
)
async def post_reserve_vote(request: Request, identity: Caller, request_id: RequestId) -> Response:
    value = await _body(request, {"member", "approve", "on"})
    route = route_of(request)

    def run() -> dict[str, Any]:
        with _writing, _pool(request) as pool:
            member = _own_member(identity, route, pool, value)
            approve = value.get("approve")
            if not isinstance(approve, bool):
                raise ApiError(422, "FF01", "approve is true or false", "approve")
            drawing = pool.vote(request_id, member, approve, _on(value))
            return _drawing_json(pool, drawing)

    return _json(await _in_thread(run))


async def _in_thread(run: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(run)


# --- the development bank ------------------------------------------------------------------


def _loan(bank: DevelopmentBank, identity: Identity, route: str, loan_id: str) -> Any:
    loan = bank.state.loans.get(loan_id)
    if loan is None:
        if not access.may_read_everything(identity):
            # Not "no such loan" to a bank that may not read it: no probing for ids.
            raise access.refuse(identity, route, f"loan {loan_id} is not yours")
        raise ApiError(404, "NARR", f"no loan {loan_id}")
    access.require_bic_read(identity, route, loan.terms.borrower_bic)
    return loan


def _csv_wanted(request: Request, format_: str | None) -> bool:
    return format_ == "csv" or (format_ is None and "text/csv" in request.headers.get("accept", ""))


Format = Annotated[str | None, Query(pattern="^(json|csv)$", description="json (default) or csv")]


@router.get(
    "/v1/lending/loans/{loan_id}/schedule",
    tags=["development bank"],
    responses=_ERRORS,
    summary="A loan's every payment date: paid, due or scheduled (JSON or CSV)",
)
def get_loan_schedule(
    request: Request, identity: Caller, loan_id: LoanId, on: OnQuery = None, format: Format = None
) -> Response:
    from interbank.lending.report import ScheduleRow, schedule_rows, to_csv

    with _bank(request) as bank:
        loan = _loan(bank, identity, route_of(request), loan_id)
        rows = schedule_rows(loan, on or dt.date.today())
    if _csv_wanted(request, format):
        return Response(to_csv(rows, ScheduleRow).encode(), 200, media_type=_CSV)
    return _json(
        {"loan_id": loan_id, "currency": loan.terms.currency, "rows": [asdict(r) for r in rows]}
    )


@router.get(
    "/v1/lending/loans/{loan_id}/statement",
    tags=["development bank"],
    responses=_ERRORS,
    summary="A loan's transfers settled on the network, with the balance after each",
)
def get_loan_statement(
    request: Request, identity: Caller, loan_id: LoanId, format: Format = None
) -> Response:
    from interbank.lending.report import StatementRow, statement_rows, to_csv

    with _bank(request) as bank:
        loan = _loan(bank, identity, route_of(request), loan_id)
        rows = statement_rows(bank.state, loan_id)
    if _csv_wanted(request, format):
        return Response(to_csv(rows, StatementRow).encode(), 200, media_type=_CSV)
    return _json(
        {"loan_id": loan_id, "currency": loan.terms.currency, "rows": [asdict(r) for r in rows]}
    )


@router.get(
    "/v1/lending/portfolio",
    tags=["development bank"],
    responses=_ERRORS,
    summary="Every loan (oversight), or one borrower's: amounts, outstanding, status",
)
def get_portfolio(
    request: Request,
    identity: Caller,
    borrower: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")] = None,
    on: OnQuery = None,
    format: Format = None,
) -> Response:
    from interbank.lending.report import PortfolioRow, portfolio_rows, to_csv

    if borrower is None and not access.may_read_everything(identity):
        borrower = identity.bic
    if borrower is not None:
        access.require_bic_read(identity, route_of(request), borrower)
    with _bank(request) as bank:
        rows = [
            r
            for r in portfolio_rows(bank.state, on or dt.date.today())
            if borrower is None or r.borrower == borrower
        ]
    if _csv_wanted(request, format):
        return Response(to_csv(rows, PortfolioRow).encode(), 200, media_type=_CSV)
    return _json({"loans": [asdict(r) for r in rows]})


@router.post(
    "/v1/lending/loans/{loan_id}/cancel",
    tags=["development bank"],
    responses=_ERRORS,
    summary="An operator records a loan decision: cancel undisbursed money",
)
async def post_loan_cancel(request: Request, identity: Caller, loan_id: LoanId) -> Response:
    route = route_of(request)
    access.require_role(identity, route, OPERATORS)
    value = await _body(request, {"amount", "on"})

    def run() -> dict[str, Any]:
        with _writing, _bank(request) as bank:
            loan = _loan(bank, identity, route, loan_id)
            minor = _amount(value, loan.terms.currency)
            decision = bank.cancel(loan_id, minor, _on(value))
            code = loan.terms.currency
            after = bank.state.loans[loan_id]
            return {
                "loan_id": loan_id,
                "decision_seq": decision.seq,
                "on": decision.on.isoformat(),
                "cancelled": format_amount(minor, code),
                "undisbursed": format_amount(after.undisbursed_minor(), code),
            }

    return _json(await _in_thread(run))


# --- the credit agency -----------------------------------------------------------------------


def _rating_json(decision: Any) -> dict[str, Any]:
    return {
        "bic": decision.bic,
        "grade": decision.grade.letters,
        "outlook": decision.outlook,
        "watch": decision.watch,
        "effective_on": decision.effective_on,
        "method_version": decision.method_version,
        "pd_pct": decision.pd_pct,
        "score": decision.score,
        "approvals": decision.approvals,
        "rejections": decision.rejections,
        "decision_seq": decision.seq,
        "recorded_at": decision.recorded_at,
    }


@contextmanager
def _agency(request: Request) -> Iterator[Any]:
    from interbank.rating.committee import Agency
    from interbank.rating.store import StoreError

    path = stores_of(request).agency
    if not Path(path).exists():
        raise ApiError(404, "NARR", "the network has no credit agency store")
    try:
        agency = Agency.open(path)
    except StoreError as error:
        raise ApiError(503, "NARR", f"the agency's records cannot be read: {error}") from None
    try:
        yield agency
    finally:
        agency.close()


@router.get(
    "/v1/ratings/{bic}",
    tags=["credit agency"],
    responses=_ERRORS,
    summary="A bank's current rating (the bank itself, operators, auditors)",
)
def get_rating(request: Request, identity: Caller, bic: Bic) -> Response:
    access.require_bic_read(identity, route_of(request), bic)
    with _agency(request) as agency:
        current = agency.state.current(bic)
    if current is None:
        raise ApiError(404, "NARR", f"{bic} is not rated")
    return _json(_rating_json(current))


@router.get(
    "/v1/ratings/{bic}/history",
    tags=["credit agency"],
    responses=_ERRORS,
    summary="A bank's every rating, oldest first",
)
def get_rating_history(request: Request, identity: Caller, bic: Bic) -> Response:
    access.require_bic_read(identity, route_of(request), bic)
    with _agency(request) as agency:
        history = agency.state.history(bic)
    return _json({"bic": bic, "ratings": [_rating_json(d) for d in history]})
