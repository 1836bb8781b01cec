"""Errors as callers see them: always JSON, always an ISO 20022 reason code.

Every refusal is an ``ApiError`` (HTTP status, reason code, plain text, optionally
the field at fault). The shape is the same for all of them:

    {"error": {"status": 403, "code": "AG01", "text": "...", "field": null}}

Reason codes used here beyond the engine's: AG01 (not allowed for this caller),
FF01 (format), NARR (with the text saying why: overload, unavailable, not found).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


class ApiError(Exception):
    """A request the service refuses, with what the caller is told."""

    def __init__(
        self,
        status: int,
        code: str,
        text: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {text}")
        assert 400 <= status <= 599 and status != 500, "the service never answers 500"
        self.status = status
        self.code = code
        self.text = text
        self.field = field
        self.headers = headers or {}
        self.details = details


def error_body(
    status: int, code: str, text: str, field: str | None = None, details: object = None
) -> bytes:
    body: dict[str, Any] = {"status": status, "code": code, "text": text, "field": field}
    if details is not None:
        body["details"] = details
    return json.dumps({"error": body}, ensure_ascii=False).encode()


def error_response(error: ApiError) -> Response:
    return Response(
        error_body(error.status, error.code, error.text, error.field, error.details),
        status_code=error.status,
        media_type="application/json",
        headers=error.headers,
    )


def forbidden(text: str) -> ApiError:
    return ApiError(403, "AG01", text)


def not_found(text: str, code: str = "NARR") -> ApiError:
    return ApiError(404, code, text)


def bad_request(text: str, field: str | None = None, code: str = "FF01") -> ApiError:
    return ApiError(422, code, text, field)


# The JSON schema of the error body, for the OpenAPI document.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "text"],
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string", "description": "ISO 20022 reason code"},
                "text": {"type": "string"},
                "field": {"type": ["string", "null"]},
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}
