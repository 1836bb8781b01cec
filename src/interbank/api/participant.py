"""Participant routes: payments in (ISO 20022 XML or JSON), own accounts, history, queue,
tracking, statements; and the central bank's issue and redeem.

Every write is answered only after its journal entry is durable (the committer's
futures resolve after ``node.submit_batch`` returns). A command the network answered
is a 200 with its result (ACSC settled, PDNG waiting, RJCT with the engine's reason);
a request refused before the journal is a 4xx with a reason code, and nothing of it
reaches the network.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from interbank import command_json
from interbank.api import access, bodies
from interbank.api.committer import Overloaded
from interbank.api.context import answered, caller, overloaded, route_of, service_of
from interbank.api.errors import ApiError, error_body
from interbank.api.identity import Identity, Role
from interbank.api.service import AccountInfo, CommandRequest, Committed, Service, body_sha256
from interbank.command_json import CommandJsonError, ParsedCommand, id_to_json
from interbank.engine import Batch, Result, ResultCode
from interbank.engine.commands import (
    ACCOUNT_ID_MAX,
    COMMAND_ID_MAX,
    CancelPayment,
    ChangePriority,
    Command,
    CrossPayment,
    Hold,
    Issue,
    MovePayment,
    Payment,
    PostHold,
    Priority,
    Redeem,
    Transfer,
    VoidHold,
)
from interbank.iso20022.reports import notification, statement
from interbank.money import AMOUNT_MINOR_MAX, format_amount
from interbank.views import PaymentRecord, track, uetr_of

router = APIRouter()

Caller = Annotated[Identity, Depends(caller)]
AccountId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The account's id.")]
Uetr = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="The payment's UETR (a UUID): its id on the network.",
    ),
]

# What a participant may send through the JSON endpoints; a central bank also issues
# and redeems. Administrative types are the operator's (through proposals).
PARTICIPANT_TYPES = frozenset({"transfer", "payment", "hold", "post_hold", "void_hold",
                               "cross_payment"})  # fmt: skip
CENTRAL_BANK_TYPES = PARTICIPANT_TYPES | {"issue", "redeem"}

_JSON = "application/json"
_XML = "application/xml"

_ERROR_CONTENT = {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": _ERROR_CONTENT}
    for status, text in (
        (401, "No verified client certificate (or development token)."),
        (403, "Not allowed for this caller (AG01); logged."),
        (404, "Not found."),
        (413, "The body is larger than its limit."),
        (422, "Refused before reaching the network: format (FF01), account (AC01), "
              "currency (AM03)..."),
        (429, "Overloaded or over the caller's request rate: retry after Retry-After "
              "seconds."),
        (503, "The journal is not reachable or the network stopped: not acknowledged; "
              "retry with the same id."),
    )
}  # fmt: skip


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value, ensure_ascii=False).encode(), status, media_type=_JSON)


# --- JSON commands: parse, authorise, submit ---------------------------------------------------


async def _debit_account(
    service: Service, identity: Identity, route: str, account_id: int
) -> AccountInfo:
    account = await service.account(account_id)
    if account is None:
        # Refused, not passed on: an account opened for someone else between this check
        # and the journal must never be debited on an unchecked claim.
        raise ApiError(422, "AC01", f"the debit account {account_id} does not exist")
    access.require_account_debit(identity, route, account)
    return account


async def _authorise(
    service: Service,
    identity: Identity,
    route: str,
    parsed: ParsedCommand,
    holds: dict[int, AccountInfo],
) -> PaymentRecord | None:
    command = parsed.command
    if isinstance(command, Transfer | Hold | CrossPayment):
        known = service.account_cached(command.debit_account_id)
        if known is not None:  # no await: a batch of thousands checks each row
            access.require_account_debit(identity, route, known)
        else:
            await _debit_account(service, identity, route, command.debit_account_id)
        return None
    if isinstance(command, Payment):
        debit = await _debit_account(service, identity, route, command.debit_account_id)
        credit = await service.account(command.credit_account_id)
        sha = body_sha256(command_json.dumps(command_json.command_to_json(command)).encode())
        return service.payment_record(command.id, debit, credit, command.amount_minor, sha)
    if isinstance(command, PostHold | VoidHold):
        hold = await service.read(lambda engine: engine.hold(command.hold_id))
        if hold is None:
            raise ApiError(422, "NARR", f"no hold with id {command.hold_id}", "hold_id")
        holds[command.hold_id] = await _debit_account(
            service, identity, route, hold.debit_account_id
        )
        return None
    if isinstance(command, Issue | Redeem):
        await _require_issuer(service, identity, route, command.account_id)
        return None
    raise access.refuse(identity, route, f"{type(command).__name__} is not sent here")


async def _require_issuer(
    service: Service, identity: Identity, route: str, account_id: int
) -> AccountInfo:
    access.require_role(identity, route, frozenset({Role.CENTRAL_BANK}))
    account = await service.account(account_id)
    if account is None:
        raise ApiError(422, "AC01", f"the account {account_id} does not exist", "account_id")
    registered = await service.participant(identity.bic)
    if registered is None or registered.currency != identity.currency:
        raise access.refuse(identity, route, f"{identity.bic} is not the network's central "
                            f"bank of {identity.currency}")  # fmt: skip
    if account.currency != identity.currency:
        raise access.refuse(identity, route, f"account {account_id} holds {account.currency}; "
                            f"you issue {identity.currency}")  # fmt: skip
    return account


_PLAIN_TRANSFER_FIELDS = frozenset({"type", "id", "debit_account_id", "credit_account_id",
                                    "amount_minor"})  # fmt: skip


def _plain_transfer(value: object) -> ParsedCommand | None:
    """The most common command, read without the general parser: a transfer whose fields
    are all integers in range. Anything else (a decimal amount, a UUID id, linked, a bad
    value) returns None and goes through ``command_json``, which says what is wrong; the
    two agree on every plain transfer (tested)."""
    if type(value) is not dict or len(value) != 5 or value.keys() != _PLAIN_TRANSFER_FIELDS:
        return None
    if value["type"] != "transfer":
        return None
    command_id, debit, credit = value["id"], value["debit_account_id"], value["credit_account_id"]
    amount = value["amount_minor"]
    if not (type(command_id) is int and type(debit) is int and type(credit) is int
            and type(amount) is int):  # fmt: skip
        return None
    if not (0 < command_id <= COMMAND_ID_MAX and 0 < debit <= ACCOUNT_ID_MAX
            and 0 < credit <= ACCOUNT_ID_MAX and 0 < amount <= AMOUNT_MINOR_MAX):  # fmt: skip
        return None
    return ParsedCommand(Transfer(command_id, debit, credit, amount), command_id, ())


async def _prepared(
    service: Service, identity: Identity, route: str, values: list[Any], allowed: frozenset[str]
) -> tuple[CommandRequest, list[command_json.IdJson]]:
    """Parse and authorise a request's commands; nothing is submitted if one is refused."""
    if not values:
        raise ApiError(422, "FF01", "no commands", "commands")
    if len(values) > service.settings.batch_commands_max:
        raise ApiError(
            422, "AM02", f"{len(values)} commands; at most {service.settings.batch_commands_max}",
            "commands",
        )  # fmt: skip
    parsed_commands: list[ParsedCommand] = []
    errors: list[dict[str, Any]] = []
    for line, value in enumerate(values, start=1):
        plain = _plain_transfer(value)
        if plain is not None:
            parsed_commands.append(plain)
            continue
        try:
            parsed_commands.append(command_json.parse_command(value))
        except CommandJsonError as error:
            errors.append(command_json.error_to_json(line, error))
    if errors:
        first = errors[0]
        raise ApiError(422, first["code"], first["reason"], first.get("field"), details=errors)
    for parsed in parsed_commands:
        type_name = command_json.TYPE_OF[type(parsed.command)]
        if type_name not in allowed:
            raise access.refuse(identity, route, f"a {identity.role.value} does not send "
                                f"{type_name} here")  # fmt: skip
    holds: dict[int, AccountInfo] = {}
    records: list[PaymentRecord] = []
    for parsed in parsed_commands:
        record = await _authorise(service, identity, route, parsed, holds)
        if record is not None:
            records.append(record)

    def account_currency(account_id: int) -> str | None:
        known = service.account_cached(account_id)
        return None if known is None else known.currency

    def hold_currency(hold_id: int) -> str | None:
        known = holds.get(hold_id)
        return None if known is None else known.currency

    for line, parsed in enumerate(parsed_commands, start=1):
        try:
            command_json.check_currencies(parsed, account_currency, hold_currency)
        except CommandJsonError as error:
            raise ApiError(
                422, error.reason_code, error.text, error.field,
                details=[command_json.error_to_json(line, error)],
            ) from None  # fmt: skip
    if getattr(parsed_commands[-1].command, "linked", False):
        # Requests share journal entries: an open chain would swallow the next caller's.
        raise ApiError(422, "FF01", "the last command says linked: true; close the chain",
                       "linked")  # fmt: skip
    commands: tuple[Command, ...] = tuple(p.command for p in parsed_commands)
    return CommandRequest(commands, tuple(records)), [p.id_json for p in parsed_commands]


async def _submit(service: Service, request: CommandRequest) -> Committed:
    try:
        future = service.commands.submit(request, request.rows)
    except Overloaded as error:
        raise overloaded(service, error) from None
    answer = await answered(service, future)
    if isinstance(answer, ApiError):
        raise answer
    return answer


def _result_json(
    line: int, id_json: command_json.IdJson, code: int, replayed: bool | int, timestamp_ns: int
) -> dict[str, Any]:
    """``command_json.result_to_json`` plus the entry's time, from the columns."""
    status, reason, text, name = _ANSWER_OF[code]
    return {"line": line, "id": id_json, "status": status, "code": reason, "reason": text,
            "result": name, "replayed": bool(replayed), "timestamp_ns": timestamp_ns}  # fmt: skip


def _answer_of(code: ResultCode) -> tuple[str, str | None, str, str]:
    # The same words as command_json.result_to_json, computed once per code.
    shown = command_json.result_to_json(1, 1, Result(1, code))
    return shown["status"], shown["code"], shown["reason"], shown["result"]


_ANSWER_OF = {int(code): _answer_of(code) for code in ResultCode}
# The same row as ``_json(_result_json(...))`` writes it, with its fixed parts computed once.
_ROW_FORMAT = '{"line": %d, "id": %d, %s, "replayed": %s, "timestamp_ns": %d}'
_ANSWER_TEXT = {
    code: json.dumps(
        {"status": status, "code": reason, "reason": text, "result": name}, ensure_ascii=False
    )[1:-1]
    for code, (status, reason, text, name) in _ANSWER_OF.items()
}
_BOOL_TEXT = {0: "false", 1: "true"}  # False and True hash as 0 and 1


def _results(ids: list[command_json.IdJson], committed: Committed) -> list[dict[str, Any]]:
    stamp = committed.timestamp_ns
    return [
        _result_json(line, id_json, code, again, stamp)
        for line, (id_json, code, again) in enumerate(
            zip(ids, committed.codes, committed.replayed, strict=True), start=1
        )
    ]


async def _one_command(request: Request, identity: Identity, type_name: str) -> Response:
    service = service_of(request)
    body = await bodies.read_body(request, service.settings.json_body_bytes_max)
    return await one_command(service, identity, route_of(request), type_name, body)


async def one_command(
    service: Service, identity: Identity, route: str, type_name: str, body: bytes
) -> Response:
    """A transfer or a payment; shared by the route and the direct path (``direct``)."""
    access.require_role(identity, route, access.PAYING)
    value = bodies.json_object(body)
    declared = value.setdefault("type", type_name)
    if declared != type_name:
        raise ApiError(422, "FF01", f"this endpoint takes a {type_name}, not {declared!r}", "type")
    prepared, ids = await _prepared(service, identity, route, [value], frozenset({type_name}))
    committed = await _submit(service, prepared)
    return _json(_results(ids, committed)[0])


async def batch_of_commands(
    service: Service, identity: Identity, route: str, body: bytes
) -> Response:
    """A batch request; shared by the route and the direct path (``direct``)."""
    access.require_role(identity, route, access.PAYING)
    plain = _plain_batch(body, service.settings.batch_commands_max)
    if plain is not None:
        return await _plain_transfers(service, identity, route, *plain)
    value = bodies.json_object(body)
    commands = value.get("commands")
    if set(value) != {"commands"} or not isinstance(commands, list):
        raise ApiError(422, "FF01", 'the body is {"commands": [...]}', "commands")
    allowed = CENTRAL_BANK_TYPES if identity.role is Role.CENTRAL_BANK else PARTICIPANT_TYPES
    prepared, ids = await _prepared(service, identity, route, commands, allowed)
    committed = await _submit(service, prepared)
    return _json({"results": _results(ids, committed)})


# --- the batch route's columnar path for plain transfers ---------------------------------------
#
# A batch of 4,096 plain transfers cost ~17 µs of server CPU per row through the general
# path (a Python hook per JSON object, a Transfer, ``Batch.of`` and a result dict per row).
# When every row is a plain transfer (``_plain_transfer``'s five integer fields), the body
# is decoded once by the C decoder, checked by columns and submitted as
# ``Batch.of_transfers``; the answer is the same document, written from the code columns.
# Anything else (a bad row, another type, a duplicate key) takes the general path, which
# says what is wrong exactly as before.

# A key is a string followed by a colon; string contents can only add to this count, so
# "as many matches as keys decoded" proves that no key appeared twice.
_KEY = re.compile(rb'"[ \t\n\r]*:')
_ROW_KEYS = len(_PLAIN_TRANSFER_FIELDS)


def _plain_batch(
    body: bytes, rows_max: int
) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray] | None:
    """``{"commands": [...]}`` of plain transfers only, as id list and account/amount
    columns; None when anything differs (the general path then reads the body)."""
    try:
        value = json.loads(body.decode("utf-8"), parse_float=_refuse, parse_constant=_refuse)
    except (ValueError, RecursionError, _NotPlain):
        return None
    if type(value) is not dict or len(value) != 1:
        return None
    rows = value.get("commands")
    if type(rows) is not list or not 0 < len(rows) <= rows_max:
        return None
    if set(map(type, rows)) != {dict} or set(map(len, rows)) != {_ROW_KEYS}:
        return None
    if len(_KEY.findall(body)) != 1 + _ROW_KEYS * len(rows):
        return None  # a duplicate key (or a colon inside a string): read strictly
    try:
        kinds = {row["type"] for row in rows}
        ids = [row["id"] for row in rows]
        debit = [row["debit_account_id"] for row in rows]
        credit = [row["credit_account_id"] for row in rows]
        amount = [row["amount_minor"] for row in rows]
    except (KeyError, TypeError):
        return None
    if kinds != {"transfer"}:
        return None
    # ``type(x) is int`` per column (bools and Decimals are not plain), at C speed.
    if any(set(map(type, column)) != {int} for column in (ids, debit, credit, amount)):
        return None
    try:
        columns = [np.array(c, dtype=np.int64) for c in (ids, debit, credit, amount)]
    except OverflowError:
        return None  # past 2**63-1: the general path reads (or refuses) it
    id_array, debit_array, credit_array, amount_array = columns
    if not (
        (id_array > 0).all()
        and (debit_array > 0).all()
        and (credit_array > 0).all()
        and (amount_array > 0).all()
        and (amount_array <= AMOUNT_MINOR_MAX).all()
    ):
        return None
    return ids, debit_array, credit_array, amount_array


class _NotPlain(Exception):
    pass


def _refuse(_text: str) -> Any:
    raise _NotPlain


async def _plain_transfers(
    service: Service,
    identity: Identity,
    route: str,
    ids: list[int],
    debit: np.ndarray,
    credit: np.ndarray,
    amount: np.ndarray,
) -> Response:
    """Authorise per debit account (first refused in row order, as the general path),
    submit as one columnar request, answer from the result columns."""
    accounts, first_rows = np.unique(debit, return_index=True)
    for account_id in accounts[np.argsort(first_rows)].tolist():
        known = service.account_cached(account_id)
        if known is not None:
            access.require_account_debit(identity, route, known)
        else:
            await _debit_account(service, identity, route, account_id)
    id_array = np.array(ids, dtype=np.int64).view(np.uint64)
    batch = Batch.of_transfers(np.zeros(len(ids), dtype=np.uint64), id_array, debit, credit, amount)
    committed = await _submit(service, CommandRequest((), (), batch))
    stamp = committed.timestamp_ns
    rows = [
        _ROW_FORMAT % (line, command_id, _ANSWER_TEXT[code], _BOOL_TEXT[again], stamp)
        for line, command_id, code, again in zip(
            range(1, len(ids) + 1), ids, committed.codes, committed.replayed, strict=True
        )
    ]
    text = '{"results": [' + ", ".join(rows) + "]}"
    return Response(text.encode(), 200, media_type=_JSON)


@router.post(
    "/v1/transfers",
    tags=["payments"],
    summary="Send one transfer (settles at once or is rejected)",
    openapi_extra=bodies.json_body(bodies.TRANSFER_SCHEMA),
    responses=_ERRORS,
)
async def post_transfer(request: Request, identity: Caller) -> Response:
    return await _one_command(request, identity, "transfer")


@router.post(
    "/v1/payments",
    tags=["payments"],
    summary="Send one RTGS payment (settles, or waits in your queue)",
    openapi_extra=bodies.json_body(bodies.PAYMENT_SCHEMA),
    responses=_ERRORS,
)
async def post_payment(request: Request, identity: Caller) -> Response:
    return await _one_command(request, identity, "payment")


@router.post(
    "/v1/batches",
    tags=["payments"],
    summary="Send a batch of commands, applied in one journal entry, answered in order",
    openapi_extra=bodies.json_body(bodies.BATCH_SCHEMA),
    responses=_ERRORS,
)
async def post_batch(request: Request, identity: Caller) -> Response:
    service = service_of(request)
    body = await bodies.read_body(request, service.settings.json_body_bytes_max)
    return await batch_of_commands(service, identity, route_of(request), body)


@router.post(
    "/v1/liquidity-transfers",
    tags=["payments"],
    summary="Move liquidity between two of your own accounts",
    openapi_extra=bodies.json_body(bodies.LIQUIDITY_SCHEMA),
    responses=_ERRORS,
)
async def post_liquidity_transfer(request: Request, identity: Caller) -> Response:
    service = service_of(request)
    route = route_of(request)
    access.require_role(identity, route, access.PAYING)
    value = bodies.json_object(
        await bodies.read_body(request, service.settings.json_body_bytes_max)
    )
    credit_id = value.get("credit_account_id")
    credit = await service.account(credit_id) if _is_account_id(credit_id) else None
    if credit is not None and credit.bic != identity.bic:
        raise access.refuse(identity, route, f"account {credit_id} is not yours: a liquidity "
                            "transfer stays between your own accounts")  # fmt: skip
    debit_id = value.get("debit_account_id")
    debit = await service.account(debit_id) if _is_account_id(debit_id) else None
    # One currency: a transfer; two: a cross-currency payment settled PvP.
    cross = debit is not None and credit is not None and debit.currency != credit.currency
    if not cross and "quote_id" in value:
        raise ApiError(422, "FF01", "quote_id is for accounts in two currencies", "quote_id")
    value = {"type": "cross_payment" if cross else "transfer", **value}
    if credit is None and _is_account_id(credit_id):
        raise ApiError(422, "AC01", f"the account {credit_id} does not exist", "credit_account_id")
    prepared, ids = await _prepared(
        service, identity, route, [value], frozenset({"transfer", "cross_payment"})
    )
    committed = await _submit(service, prepared)
    return _json(_results(ids, committed)[0])


def _is_account_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


async def _central_bank(request: Request, identity: Identity, type_name: str) -> Response:
    service = service_of(request)
    route = route_of(request)
    access.require_role(identity, route, frozenset({Role.CENTRAL_BANK}))
    value = bodies.json_object(
        await bodies.read_body(request, service.settings.json_body_bytes_max)
    )
    value = {"type": type_name, **value}
    prepared, ids = await _prepared(service, identity, route, [value], frozenset({type_name}))
    committed = await _submit(service, prepared)
    return _json(_results(ids, committed)[0])


@router.post(
    "/v1/central-bank/issue",
    tags=["central bank"],
    summary="Issue your currency into an account (central bank only)",
    openapi_extra=bodies.json_body(bodies.MONEY_SCHEMA),
    responses=_ERRORS,
)
async def post_issue(request: Request, identity: Caller) -> Response:
    return await _central_bank(request, identity, "issue")


@router.post(
    "/v1/central-bank/redeem",
    tags=["central bank"],
    summary="Redeem your currency from an account (central bank only)",
    openapi_extra=bodies.json_body(bodies.MONEY_SCHEMA),
    responses=_ERRORS,
)
async def post_redeem(request: Request, identity: Caller) -> Response:
    return await _central_bank(request, identity, "redeem")


# --- ISO 20022 -----------------------------------------------------------------------------


@router.post(
    "/v1/iso20022/messages",
    tags=["payments"],
    summary="Send one ISO 20022 message; the answer is pacs.002, camt.029 or admi.002",
    openapi_extra=bodies.XML_BODY,
    responses={
        **_ERRORS,
        200: {"description": "pacs.002 or camt.029", "content": {_XML: {}}},
        202: {"description": "a resolution routed to the debtor agent", "content": {_JSON: {}}},
        400: {"description": "admi.002: the message was refused whole", "content": {_XML: {}}},
    },
)
async def post_iso_message(request: Request, identity: Caller) -> Response:
    service = service_of(request)
    route = route_of(request)
    access.require_role(identity, route, access.PAYING)
    data = await bodies.read_body(request, service.settings.xml_body_bytes_max)
    try:
        future = service.messages.submit((data, identity.bic))
    except Overloaded as error:
        raise overloaded(service, error) from None
    reply = await answered(service, future)
    if isinstance(reply, ApiError):
        if reply.status == 403:
            raise access.refuse(identity, route, reply.text)
        raise reply
    headers = {"X-Interbank-Message": reply.kind, "X-Interbank-Status": reply.status}
    if reply.kind == "routed":
        return Response(
            b'{"status": "ACCP", "routed": true}', 202, headers=headers, media_type=_JSON
        )
    status = 400 if reply.kind == "admi.002" else 200
    return Response(reply.xml, status, headers=headers, media_type=_XML)


# --- reading: accounts, history, queue, tracking, statements ---------------------------------


def _account_json(view: Any) -> dict[str, Any]:
    code = view.currency
    return {
        "account_id": view.account_id,
        "bic": view.bic,
        "currency": code,
        "kind": view.kind.value,
        "balance": format_amount(view.balance_minor, code),
        "balance_minor": view.balance_minor,
        "held_minor": view.held_minor,
        "available_minor": view.available_minor,
        "floor_minor": view.floor_minor,
        "credit_line_minor": view.credit_line_minor,
        "closed": view.closed,
    }


def _readable_account(service: Service, identity: Identity, route: str, account_id: int) -> Any:
    """The account's view (quiesced), once the caller may read it; 404/403 otherwise."""
    view = service.read_now(lambda engine: engine.account(account_id))
    if view is None:
        if access.may_read_everything(identity):
            raise ApiError(404, "AC01", f"no account {account_id}")
        # Whether someone else's account exists is itself their data.
        raise access.refuse(identity, route, f"account {account_id} is not yours")
    info = AccountInfo(view.account_id, view.bic, view.currency, view.kind.value)
    access.require_account_read(identity, route, info)
    return view


@router.get("/v1/accounts", tags=["accounts"], summary="Your accounts and balances",
            responses=_ERRORS)  # fmt: skip
def get_accounts(
    request: Request,
    identity: Caller,
    bic: Annotated[
        str | None,
        Query(max_length=11, description="Operators and auditors: one participant's accounts"),
    ] = None,
) -> Response:
    service = service_of(request)
    route = route_of(request)
    wanted = identity.bic if bic is None and not access.may_read_everything(identity) else bic
    if wanted is not None:
        access.require_bic_read(identity, route, wanted)
    views = service.read_now(lambda engine: engine.accounts())
    chosen = [v for v in views if wanted is None or v.bic == wanted]
    return _json({"accounts": [_account_json(v) for v in chosen]})


@router.get("/v1/accounts/{account_id}", tags=["accounts"], summary="One of your accounts",
            responses=_ERRORS)  # fmt: skip
def get_account(request: Request, identity: Caller, account_id: AccountId) -> Response:
    service = service_of(request)
    view = _readable_account(service, identity, route_of(request), account_id)
    return _json(_account_json(view))


# Times are int64 nanoseconds (SQLite integers): larger values are refused as input.
_NS_MAX = 2**63 - 1


@router.get(
    "/v1/accounts/{account_id}/history",
    tags=["accounts"],
    summary="Entries on your account, oldest first, a page at a time",
    responses=_ERRORS,
)
def get_history(
    request: Request,
    identity: Caller,
    account_id: AccountId,
    from_ns: Annotated[int | None, Query(ge=0, le=_NS_MAX, description="From, inclusive")] = None,
    until_ns: Annotated[int | None, Query(ge=1, le=_NS_MAX, description="Until, exclusive")] = None,
    kind: Annotated[str | None, Query(pattern="^(payment|transfer|issue|redeem|hold)$")] = None,
    direction: Annotated[str | None, Query(pattern="^(debit|credit)$")] = None,
    counterparty_account_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    cursor: Annotated[str | None, Query(max_length=64, description="the last next_cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
) -> Response:  # fmt: skip
    service = service_of(request)
    view = _readable_account(service, identity, route_of(request), account_id)
    settings = service.settings
    limit = min(limit, settings.page_items_max)
    until = (
        until_ns
        if until_ns is not None
        else max(time.time_ns(), service.node.head.timestamp_ns) + 1
    )
    start = from_ns if from_ns is not None else max(0, until - settings.history_span_ns_max)
    if until <= start:
        raise ApiError(422, "FF01", "until_ns must be after from_ns", "until_ns")
    if until - start > settings.history_span_ns_max:
        raise ApiError(422, "FF01", f"at most {settings.history_span_ns_max} ns per request; "
                       "page through longer spans", "from_ns")  # fmt: skip
    skip = 0
    if cursor is not None:
        at_text, _, skip_text = cursor.partition(".")
        if not (at_text.isdigit() and skip_text.isdigit()) or int(at_text) > _NS_MAX:
            raise ApiError(422, "FF01", "not a cursor this service gave", "cursor")
        start, skip = max(start, int(at_text)), int(skip_text)
    entries = service.views.entries(account_id, start, until)
    # Entries of one journal entry share a timestamp: the cursor is (time, how many
    # entries at that time were already shown), which survives later appends.
    chosen: list[dict[str, Any]] = []
    next_cursor = None
    seen_at, seen_count = -1, 0
    for entry in entries:
        seen_count = seen_count + 1 if entry.at_ns == seen_at else 1
        seen_at = entry.at_ns
        if cursor is not None and entry.at_ns == start and seen_count <= skip:
            continue
        if kind is not None and entry.kind != kind:
            continue
        if direction is not None and (entry.amount_minor < 0) != (direction == "debit"):
            continue
        if (
            counterparty_account_id is not None
            and entry.counter_account_id != counterparty_account_id
        ):
            continue
        if len(chosen) == limit:
            next_cursor = f"{seen_at}.{seen_count - 1}"
            break
        chosen.append({
            "at_ns": entry.at_ns,
            "seq": entry.seq,
            "id": id_to_json(entry.command_id),
            "uetr": uetr_of(entry.command_id) if entry.kind == "payment" else None,
            "kind": entry.kind,
            "direction": "debit" if entry.amount_minor < 0 else "credit",
            "amount": format_amount(abs(entry.amount_minor), view.currency),
            "amount_minor": entry.amount_minor,
            "counterparty_account_id": entry.counter_account_id,
            "lsm_run_id": entry.run_id,
        })  # fmt: skip
    return _json({"account_id": account_id, "currency": view.currency, "from_ns": start,
                  "until_ns": until, "entries": chosen, "next_cursor": next_cursor})  # fmt: skip


def _wait_json(view: Any) -> dict[str, Any]:
    return {
        "uetr": uetr_of(view.payment_id),
        "position": view.position,
        "priority": view.priority.name.lower(),
        "reason": view.reason,
        "text": view.text,
        "blocking_uetr": (
            None if view.blocking_payment_id is None else uetr_of(view.blocking_payment_id)
        ),
        "counterparty_bic": view.counterparty_bic,
    }  # fmt: skip


@router.get(
    "/v1/accounts/{account_id}/queue",
    tags=["queue"],
    summary="Your payments waiting to settle, in queue order, each with why it waits",
    responses=_ERRORS,
)
def get_queue(request: Request, identity: Caller, account_id: AccountId) -> Response:
    service = service_of(request)
    route = route_of(request)

    def read(engine: Any) -> tuple[Any, list[Any]]:
        return engine.account(account_id), engine.queue(account_id)

    view, waiting = service.read_now(read)
    if view is None:
        _readable_account(service, identity, route, account_id)  # 404 or 403
    info = AccountInfo(view.account_id, view.bic, view.currency, view.kind.value)
    access.require_account_read(identity, route, info)
    limit = service.settings.page_items_max
    return _json({"account_id": account_id, "waiting": [_wait_json(w) for w in waiting[:limit]],
                  "count": len(waiting)})  # fmt: skip


@router.get(
    "/v1/accounts/{account_id}/camt053",
    tags=["statements"],
    summary="The camt.053 statement of your account for one UTC date",
    responses={**_ERRORS, 200: {"description": "camt.053", "content": {_XML: {}}}},
)
def get_statement(
    request: Request,
    identity: Caller,
    account_id: AccountId,
    date: Annotated[dt.date, Query(description="The UTC date, YYYY-MM-DD")],
) -> Response:
    service = service_of(request)
    view = _readable_account(service, identity, route_of(request), account_id)
    network = service.gateway.settings.network_bic
    result = service.read_now(
        lambda engine: statement(service.views, engine, view.bic, view.currency, date, network)
    )
    if not isinstance(result, bytes):
        raise ApiError(422, result.code, result.text)
    return Response(result, 200, media_type=_XML)


def _payment_parties(service: Service, uetr: str) -> set[str]:
    return {
        bic
        for record in service.views.payments_of_uetr(uetr)
        for bic in (record.debit_bic, record.credit_bic)
        if bic is not None
    }


def _readable_payment(service: Service, identity: Identity, route: str, uetr: str) -> str:
    key = uetr.lower()
    parties = _payment_parties(service, key)
    if identity.bic in parties or (parties and access.may_read_everything(identity)):
        return key
    if not parties and access.may_read_everything(identity):
        raise ApiError(404, "NARR", f"no payment with UETR {key}")
    # Unknown or someone else's: the same answer, so existence is not told.
    raise access.refuse(identity, route, f"payment {key} is not one of yours")


@router.get(
    "/v1/payments/{uetr}",
    tags=["tracking"],
    summary="Track one of your payments by UETR: every step, and why it waits",
    responses=_ERRORS,
)
def get_payment(request: Request, identity: Caller, uetr: Uetr) -> Response:
    service = service_of(request)
    key = _readable_payment(service, identity, route_of(request), uetr)
    steps = track(service.views, key)
    waiting = service.read_now(lambda engine: engine.waiting(uuid.UUID(key).int))
    return _json({
        "uetr": key,
        "steps": [{"at_ns": s.at_ns, "event": s.event, "detail": s.detail,
                   "message_sha256": s.sha256, "lsm_run_id": s.run_id} for s in steps],
        "waiting": None if waiting is None else _wait_json(waiting),
    })  # fmt: skip


@router.get(
    "/v1/payments/{uetr}/camt054",
    tags=["statements"],
    summary="The camt.054 debit or credit notification of a settled payment of yours",
    responses={**_ERRORS, 200: {"description": "camt.054", "content": {_XML: {}}}},
)
def get_notification(
    request: Request,
    identity: Caller,
    uetr: Uetr,
    bic: Annotated[
        str | None, Query(max_length=11, description="Operators and auditors: whose side")
    ] = None,
) -> Response:
    service = service_of(request)
    route = route_of(request)
    key = _readable_payment(service, identity, route, uetr)
    side = bic if bic is not None else identity.bic
    access.require_bic_read(identity, route, side)
    network = service.gateway.settings.network_bic
    result = service.read_now(
        lambda engine: notification(service.views, engine, key, side, network)
    )
    if not isinstance(result, bytes):
        raise ApiError(404 if result.code == "NARR" else 422, result.code, result.text)
    return Response(result, 200, media_type=_XML)


# --- queue management ---------------------------------------------------------------------


async def _queue_action(request: Request, identity: Identity, uetr: str, action: str) -> Response:
    service = service_of(request)
    route = route_of(request)
    access.require_role(identity, route, access.PAYING)
    payment_id = uuid.UUID(uetr).int
    value = bodies.json_object(
        await bodies.read_body(request, service.settings.json_body_bytes_max)
    )
    allowed = {"cancel": {"id"}, "priority": {"id", "priority"}, "move": {"id", "to"}}[action]
    unknown = set(value) - allowed
    if unknown:
        name = sorted(unknown)[0]
        raise ApiError(422, "FF01", f"unknown field {name!r}", name)
    try:
        command_id = command_json.parse_id(value.get("id"))
    except CommandJsonError as error:
        raise ApiError(422, error.reason_code, error.text, error.field) from None

    def owner(engine: Any) -> tuple[bool, bool]:
        """(waiting at all, waiting in one of the caller's queues)."""
        if engine.waiting(payment_id) is None:
            return False, False
        own = [v.account_id for v in engine.accounts() if v.bic == identity.bic]
        return True, any(w.payment_id == payment_id for a in own for w in engine.queue(a))

    waiting, own = await service.read(owner)
    senders = {r.debit_bic for r in service.views.payments_of_uetr(uetr.lower()) if r.debit_bic}
    if (waiting and not own) or (senders and identity.bic not in senders):
        raise access.refuse(identity, route, f"payment {uetr} is not one of yours")
    if not waiting:
        raise ApiError(404, "NARR", f"payment {uetr} is not waiting in a queue")
    command: Command
    if action == "cancel":
        command = CancelPayment(command_id, payment_id, identity.bic)
    elif action == "priority":
        names = {"normal": Priority.NORMAL, "high": Priority.HIGH, "urgent": Priority.URGENT}
        if value.get("priority") not in names:
            raise ApiError(422, "FF01", "priority is normal, high or urgent", "priority")
        command = ChangePriority(command_id, payment_id, names[value["priority"]], identity.bic)
    else:
        if value.get("to") not in ("front", "back"):
            raise ApiError(422, "FF01", "to is front or back", "to")
        command = MovePayment(command_id, payment_id, value["to"] == "front", identity.bic)
    committed = await _submit(service, CommandRequest((command,)))
    return _json(_results([id_to_json(command_id)], committed)[0])


for _action, _summary in (
    ("cancel", "Cancel one of your waiting payments"),
    ("priority", "Change the priority of one of your waiting payments"),
    ("move", "Move one of your waiting payments to the front or back of its class"),
):

    def _make(action: str) -> Any:
        async def handler(request: Request, identity: Caller, uetr: Uetr) -> Response:
            return await _queue_action(request, identity, uetr, action)

        handler.__name__ = f"post_payment_{action}"
        return handler

    router.add_api_route(
        f"/v1/payments/{{uetr}}/{_action}",
        _make(_action),
        methods=["POST"],
        tags=["queue"],
        summary=_summary,
        openapi_extra=bodies.json_body(bodies.QUEUE_ACTION_SCHEMAS[_action]),
        responses=_ERRORS,
    )


# --- the participant directory -------------------------------------------------------------


@router.get("/v1/participants", tags=["accounts"], summary="The network's participants",
            responses=_ERRORS)  # fmt: skip
def get_participants(request: Request, identity: Caller) -> Response:
    service = service_of(request)
    views = service.read_now(lambda engine: engine.participants())
    return _json({"participants": [
        {"bic": p.bic, "name": p.name, "role": p.role.value, "currency": p.currency,
         "suspended": p.suspended} for p in views]})  # fmt: skip


__all__ = ["error_body", "router"]
