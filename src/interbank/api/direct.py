"""The hot write routes handled straight from ASGI, past FastAPI's routing.

Measured on the 2-core box, a one-transfer request cost the server ~300 µs of CPU, of
which the commit (node and views) was ~25 µs: the rest was HTTP, and most of that was
the framework's per-request machinery (route matching over every route, dependency
solving, the middleware stack, a Request object). ``POST /v1/transfers``,
``/v1/payments`` and ``/v1/batches`` are the routes a bank calls thousands of times a
second, so ``Guard`` hands them to the functions here, which call the very same
functions the FastAPI routes call (``participant.one_command``, ``batch_of_commands``,
``context.identify``) with the body read from ``receive``. The FastAPI routes stay
registered: they are what the OpenAPI document describes, and what answers every other
method on those paths.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import Response
from starlette.types import Receive, Scope

from interbank.api import participant
from interbank.api.context import identify
from interbank.api.errors import ApiError, error_response
from interbank.api.identity import Identity
from interbank.api.service import Service

Handler = Callable[[Service, Identity, str, bytes], Awaitable[Response]]


async def _transfer(service: Service, identity: Identity, route: str, body: bytes) -> Response:
    return await participant.one_command(service, identity, route, "transfer", body)


async def _payment(service: Service, identity: Identity, route: str, body: bytes) -> Response:
    return await participant.one_command(service, identity, route, "payment", body)


HANDLERS: dict[str, Handler] = {
    "/v1/transfers": _transfer,
    "/v1/payments": _payment,
    "/v1/batches": participant.batch_of_commands,
}


async def read_body(scope: Scope, receive: Receive, limit_bytes: int) -> bytes:
    """The request body within its limit (413 past it), as ``bodies.read_body`` reads it."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise ApiError(400, "FF01", "Content-Length is not a number")
            if int(value) > limit_bytes:
                raise ApiError(413, "FF01", f"the body is larger than {limit_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "FF01", "the client went away before sending its body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit_bytes:
            raise ApiError(413, "FF01", f"the body is larger than {limit_bytes} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def handle(service: Service, handler: Handler, scope: Scope, receive: Receive) -> Response:
    """Answer one direct request; every refusal is the same JSON as on the routes."""
    route = scope["path"]
    try:
        identity = identify(service, scope, route)
        body = await read_body(scope, receive, service.settings.json_body_bytes_max)
        return await handler(service, identity, route, body)
    except ApiError as error:
        return error_response(error)
