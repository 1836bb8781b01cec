"""Request bodies: read within their limit, decoded strictly, and their documented shape.

A body is read chunk by chunk and refused (413) as soon as it passes its limit, so a
huge or endless upload costs at most the limit. JSON is decoded as strictly as
``interbank apply`` reads command lines: no duplicate keys, no NaN or Infinity, and
numbers with a fraction come back as ``Decimal`` (never float) so that the command
parser can name the field and say what to write instead.

The schemas below are for the OpenAPI document (and schemathesis): the service itself
parses with ``command_json``, which is stricter than any schema can say.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from interbank.api.errors import ApiError

_JSON_DEPTH_ERROR = "the JSON is nested too deeply"


async def read_body(request: Request, limit_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "FF01", "Content-Length is not a number")
        if int(declared) > limit_bytes:
            raise ApiError(413, "FF01", f"the body is larger than {limit_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            raise ApiError(413, "FF01", f"the body is larger than {limit_bytes} bytes")
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ApiError(422, "FF01", f"the field {key!r} appears twice", key)
        result[key] = value
    return result


def _constant(name: str) -> Any:
    raise ApiError(422, "FF01", f"{name} is not a number this network accepts")


def strict_json(data: bytes) -> Any:
    """Decode a JSON body strictly; ApiError 422 (FF01) when it is not acceptable."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "FF01", "the body is not UTF-8") from None
    try:
        return json.loads(
            text, object_pairs_hook=_pairs, parse_float=Decimal, parse_constant=_constant
        )
    except ApiError:
        raise
    except RecursionError:
        raise ApiError(422, "FF01", _JSON_DEPTH_ERROR) from None
    except ValueError as error:
        raise ApiError(422, "FF01", f"not valid JSON: {error}") from None


def json_object(data: bytes) -> dict[str, Any]:
    value = strict_json(data)
    if not isinstance(value, dict):
        raise ApiError(422, "FF01", "the body is a JSON object")
    return value


# --- schemas for the OpenAPI document -----------------------------------------------------

_ID = {
    "description": "Idempotency id: a UUID (for payments, the UETR) or a positive integer. "
    "The same id with the same content answers the first result again.",
    "anyOf": [{"type": "string", "format": "uuid"}, {"type": "integer", "minimum": 1}],
}
_ACCOUNT = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
_AMOUNT = {"type": "string", "pattern": r"^(0|[1-9][0-9]*)(\.[0-9]+)?$", "example": "100.50"}
_AMOUNT_MINOR = {"type": "integer", "minimum": 1}
_CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$", "example": "EUR"}
_PRIORITY = {"type": "string", "enum": ["normal", "high", "urgent"]}


def _object(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }


TRANSFER_SCHEMA = _object(
    ["id", "debit_account_id", "credit_account_id"],
    {
        "type": {"type": "string", "enum": ["transfer"]},
        "id": _ID,
        "debit_account_id": _ACCOUNT,
        "credit_account_id": _ACCOUNT,
        "amount": _AMOUNT,
        "amount_minor": _AMOUNT_MINOR,
        "currency": _CURRENCY,
        "linked": {"type": "boolean"},
    },
    description="Move money now, with finality, from one of your accounts: settles or is "
    "rejected at once (amount with currency, or amount_minor).",
)
PAYMENT_SCHEMA = _object(
    ["id", "debit_account_id", "credit_account_id"],
    {
        "type": {"type": "string", "enum": ["payment"]},
        "id": _ID,
        "debit_account_id": _ACCOUNT,
        "credit_account_id": _ACCOUNT,
        "amount": _AMOUNT,
        "amount_minor": _AMOUNT_MINOR,
        "currency": _CURRENCY,
        "priority": _PRIORITY,
        "from_ns": {"type": "integer", "minimum": 0},
        "till_ns": {"type": "integer", "minimum": 0},
    },
    description="An RTGS payment: settles at once if it can, else waits in your queue.",
)
COMMAND_SCHEMA = {
    "type": "object",
    "required": ["type", "id"],
    "properties": {"type": {"type": "string"}, "id": _ID},
    "description": "Any command in its JSON form (docs/commands.md).",
}
BATCH_SCHEMA = _object(
    ["commands"],
    {"commands": {"type": "array", "items": COMMAND_SCHEMA, "minItems": 1}},
    description="Commands applied together in one journal entry, answered in order. "
    "Types: transfer, payment, hold, post_hold, void_hold, cross_payment (and issue, "
    "redeem for a central bank).",
)
LIQUIDITY_SCHEMA = _object(
    ["id", "debit_account_id", "credit_account_id"],
    {
        "id": _ID,
        "debit_account_id": _ACCOUNT,
        "credit_account_id": _ACCOUNT,
        "amount": _AMOUNT,
        "amount_minor": _AMOUNT_MINOR,
        "currency": _CURRENCY,
        "quote_id": _ID,
    },
    description="Move liquidity between two of your own accounts: a transfer in one "
    "currency, a cross-currency payment (settled PvP) between two.",
)
MONEY_SCHEMA = _object(
    ["id", "account_id"],
    {
        "id": _ID,
        "account_id": _ACCOUNT,
        "amount": _AMOUNT,
        "amount_minor": _AMOUNT_MINOR,
        "currency": _CURRENCY,
    },
)
QUEUE_ACTION_SCHEMAS = {
    "cancel": _object(["id"], {"id": _ID}),
    "priority": _object(["id", "priority"], {"id": _ID, "priority": _PRIORITY}),
    "move": _object(["id", "to"], {"id": _ID, "to": {"type": "string", "enum": ["front", "back"]}}),
}
DAY_SCHEMA = _object(["id", "currency"], {"id": _ID, "currency": _CURRENCY})
PROPOSAL_SCHEMA = {
    "type": "object",
    "required": ["type", "id"],
    "properties": {
        "type": {
            "type": "string",
            "enum": [
                "register_participant",
                "open_account",
                "close_account",
                "set_credit_line",
                "suspend_participant",
                "reactivate_participant",
                "set_bilateral_limit",
                "set_multilateral_limit",
                "set_reservation",
            ],
        },
        "id": _ID,
    },
    "description": "An administrative command in its JSON form (docs/commands.md): "
    "onboarding, suspension, accounts, credit lines, limits.",
}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body the handler reads itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


XML_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/xml": {"schema": {"type": "string", "description": "an ISO 20022 message"}}
        },
    }
}
