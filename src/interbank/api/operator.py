"""Operator routes: proposals and approvals (maker-checker), end and start of day.

Onboarding, suspension, accounts, credit lines and limits change who may move money
and how much: one operator proposes the command, a different operator (another
certificate holder) approves it, and only then does it reach the engine. Each step is
journaled (``approvals``), so the audit trail of every operator action is the journal.
End and start of day are single-operator actions; they are engine commands and so are
journaled as they are.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from interbank import command_json
from interbank.api import access, bodies
from interbank.api.approvals import APPROVED, PENDING, REFUSED, REJECTED, STATUSES, Proposal
from interbank.api.approvals import record_bytes as proposal_bytes
from interbank.api.context import caller, route_of, service_of
from interbank.api.errors import ApiError
from interbank.api.identity import Identity, Role
from interbank.api.participant import _ERRORS, _json, _result_json, _results, _submit
from interbank.api.service import CommandRequest, Service
from interbank.command_json import CommandJsonError
from interbank.engine.codes import ResultCode
from interbank.engine.commands import Command, EndOfDay, RecordMessage, StartOfDay
from interbank.iso20022.gateway import message_record_id

router = APIRouter()

Caller = Annotated[Identity, Depends(caller)]
ProposalId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The proposal's id.")]

OPERATORS = frozenset({Role.OPERATOR})
# Times are int64 nanoseconds (SQLite integers): larger values are refused as input.
_NS_MAX = 2**63 - 1
# What needs two operators: everything that admits, removes or limits a participant.
PROPOSED_TYPES = frozenset({
    "register_participant", "open_account", "close_account", "set_credit_line",
    "suspend_participant", "reactivate_participant", "set_bilateral_limit",
    "set_multilateral_limit", "set_reservation",
})  # fmt: skip


async def _journal_record(service: Service, bic: str, sha256: str, *also: Command) -> list[Any]:
    """Journal a record's hash (as a RecordMessage from ``bic``) and ``also`` in one entry."""
    record = RecordMessage(message_record_id(sha256), bic, sha256)
    committed = await _submit(service, CommandRequest((record, *also)))
    return committed.results


@router.post(
    "/v1/operator/proposals",
    tags=["operator"],
    summary="Propose an administrative change (a second operator approves it)",
    status_code=202,
    openapi_extra=bodies.json_body(bodies.PROPOSAL_SCHEMA),
    responses=_ERRORS,
)
async def post_proposal(request: Request, identity: Caller) -> Response:
    service = service_of(request)
    route = route_of(request)
    access.require_role(identity, route, OPERATORS)
    value = bodies.json_object(
        await bodies.read_body(request, service.settings.json_body_bytes_max)
    )
    try:
        parsed = command_json.parse_command(value)
    except CommandJsonError as error:
        raise ApiError(422, error.reason_code, error.text, error.field) from None
    type_name = command_json.TYPE_OF[type(parsed.command)]
    if type_name not in PROPOSED_TYPES:
        raise ApiError(422, "FF01", f"{type_name} is not proposed; proposals take: "
                       f"{', '.join(sorted(PROPOSED_TYPES))}", "type")  # fmt: skip
    # The command as it will be applied (ids and amounts normalised), kept with the record.
    command = command_json.command_to_json(parsed.command)
    proposal_id = uuid.uuid4().hex
    created_ns = time.time_ns()
    data, sha = proposal_bytes({
        "proposal": proposal_id, "created_ns": created_ns, "maker_bic": identity.bic,
        "maker": identity.holder, "maker_certificate": identity.serial, "command": command,
    })  # fmt: skip
    proposal = Proposal(proposal_id, created_ns, identity.bic, identity.holder, command, sha,
                        PENDING)  # fmt: skip
    service.approvals.add(proposal, data)
    results = await _journal_record(service, identity.bic, sha)
    if not results[0].ok:
        refused = {"code": results[0].reason, "reason": results[0].text}
        service.approvals.decide(proposal_id, REFUSED, None, time.time_ns(), None, refused)
        raise ApiError(
            409, results[0].reason or "NARR",
            f"the proposal could not be journaled from {identity.bic}: {results[0].text} "
            "(the operator's institution must be a participant of the network)",
        )  # fmt: skip
    stored = service.approvals.get(proposal_id)
    assert stored is not None
    return _json(stored.to_json(), 202)


@router.get("/v1/operator/proposals", tags=["operator"], summary="Proposals, oldest first",
            responses=_ERRORS)  # fmt: skip
def get_proposals(
    request: Request,
    identity: Caller,
    status: Annotated[str | None, Query(pattern="^(pending|approved|rejected|refused)$")] = None,
    after_ns: Annotated[int, Query(ge=0, le=_NS_MAX, description="the last created_ns seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
) -> Response:
    service = service_of(request)
    access.require_role(identity, route_of(request), access.READING_ALL)
    assert status is None or status in STATUSES
    found = service.approvals.listing(status, after_ns, min(limit, service.settings.page_items_max))
    return _json({"proposals": [p.to_json() for p in found]})


@router.get("/v1/operator/proposals/{proposal_id}", tags=["operator"], summary="One proposal",
            responses=_ERRORS)  # fmt: skip
def get_proposal(request: Request, identity: Caller, proposal_id: ProposalId) -> Response:
    service = service_of(request)
    access.require_role(identity, route_of(request), access.READING_ALL)
    found = service.approvals.get(proposal_id)
    if found is None:
        raise ApiError(404, "NARR", f"no proposal {proposal_id}")
    return _json(found.to_json())


async def _decide(
    request: Request, identity: Identity, proposal_id: str, approve: bool
) -> Response:
    service = service_of(request)
    route = route_of(request)
    access.require_role(identity, route, OPERATORS)
    async with service.decisions:
        proposal = service.approvals.get(proposal_id)
        if proposal is None:
            raise ApiError(404, "NARR", f"no proposal {proposal_id}")
        if proposal.status != PENDING:
            raise ApiError(409, "NARR", f"the proposal is {proposal.status}, not pending")
        if proposal.maker_holder == identity.holder:
            # Maker-checker: the same holder (even with another certificate) never both
            # proposes and decides.
            raise access.refuse(identity, route, "a proposal is decided by another operator "
                                f"than its maker ({proposal.maker_holder})")  # fmt: skip
        decided_ns = time.time_ns()
        data, sha = proposal_bytes({
            "decision": "approve" if approve else "reject", "proposal": proposal_id,
            "proposal_sha256": proposal.record_sha256, "decided_ns": decided_ns,
            "checker_bic": identity.bic, "checker": identity.holder,
            "checker_certificate": identity.serial,
        })  # fmt: skip
        service.approvals.keep_record(proposal_id, sha, data)
        command: tuple[Command, ...] = ()
        if approve:
            command = (command_json.parse_command(proposal.command).command,)
        results = await _journal_record(service, identity.bic, sha, *command)
        if not results[0].ok:
            raise ApiError(409, results[0].reason or "NARR",
                           f"the decision could not be journaled from {identity.bic}: "
                           f"{results[0].text}")  # fmt: skip
        outcome: dict[str, Any] | None = None
        if approve:
            committed_result = results[1]
            outcome = _result_json(1, proposal.command["id"], int(committed_result.code),
                                   committed_result.replayed, time.time_ns())  # fmt: skip
            if committed_result.code not in (ResultCode.OK, ResultCode.QUEUED):
                outcome["applied"] = False
        service.approvals.decide(proposal_id, APPROVED if approve else REJECTED,
                                 identity.holder, decided_ns, sha, outcome)  # fmt: skip
    decided = service.approvals.get(proposal_id)
    assert decided is not None
    return _json(decided.to_json())


@router.post(
    "/v1/operator/proposals/{proposal_id}/approve",
    tags=["operator"],
    summary="Approve a proposal (another operator than its maker): the command is applied",
    responses=_ERRORS,
)
async def post_approve(request: Request, identity: Caller, proposal_id: ProposalId) -> Response:
    return await _decide(request, identity, proposal_id, approve=True)


@router.post(
    "/v1/operator/proposals/{proposal_id}/reject",
    tags=["operator"],
    summary="Reject a proposal (another operator than its maker)",
    responses=_ERRORS,
)
async def post_reject(request: Request, identity: Caller, proposal_id: ProposalId) -> Response:
    return await _decide(request, identity, proposal_id, approve=False)


async def _day(
    request: Request, identity: Identity, cls: type[EndOfDay] | type[StartOfDay]
) -> Response:
    service = service_of(request)
    access.require_role(identity, route_of(request), OPERATORS)
    value = bodies.json_object(
        await bodies.read_body(request, service.settings.json_body_bytes_max)
    )
    unknown = set(value) - {"id", "currency"}
    if unknown:
        name = sorted(unknown)[0]
        raise ApiError(422, "FF01", f"unknown field {name!r}", name)
    try:
        command_id = command_json.parse_id(value.get("id"))
        currency = value.get("currency")
        if not isinstance(currency, str):
            raise CommandJsonError("FF01", "currency is an ISO 4217 code", "currency")
        from interbank.money import MoneyError
        from interbank.money import currency as currency_of

        try:
            currency_of(currency)
        except MoneyError as error:
            raise CommandJsonError(error.reason_code, error.text, "currency") from None
    except CommandJsonError as error:
        raise ApiError(422, error.reason_code, error.text, error.field) from None
    committed = await _submit(service, CommandRequest((cls(command_id, currency),)))
    return _json(_results([value["id"]], committed)[0])


@router.post(
    "/v1/operator/end-of-day",
    tags=["operator"],
    summary="Close the business day of a currency: waiting payments are rejected",
    openapi_extra=bodies.json_body(bodies.DAY_SCHEMA),
    responses=_ERRORS,
)
async def post_end_of_day(request: Request, identity: Caller) -> Response:
    return await _day(request, identity, EndOfDay)


@router.post(
    "/v1/operator/start-of-day",
    tags=["operator"],
    summary="Open a business day of a currency",
    openapi_extra=bodies.json_body(bodies.DAY_SCHEMA),
    responses=_ERRORS,
)
async def post_start_of_day(request: Request, identity: Caller) -> Response:
    return await _day(request, identity, StartOfDay)
