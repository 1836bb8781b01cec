"""What every route needs: the service, the caller's identity, the route's name."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from fastapi import Request

from interbank.api.committer import Overloaded, Stopped
from interbank.api.errors import ApiError
from interbank.api.identity import Identity
from interbank.api.service import Service, refusal
from interbank.node import NodeClosedError, NodeFailedError, NodeUnavailableError

T = TypeVar("T")


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def route_of(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else request.url.path


async def caller(request: Request) -> Identity:
    """The authenticated caller (401 otherwise), within its request rate (429 otherwise).

    A coroutine on purpose: FastAPI runs plain-function dependencies on a thread pool,
    and this runs on every request.
    """
    return identify(service_of(request), request.scope, route_of(request))


def identify(service: Service, scope: dict[str, Any], route: str) -> Identity:
    """``caller`` from the ASGI scope (the direct path has no Request object)."""
    try:
        identity = service.identities.identify(scope)
    except ApiError as error:
        refusal(None, route, error.status, error.text)
        raise
    if not service.rates.allow(identity.bic):
        limit = service.settings.participant_requests_per_s
        text = f"{identity.bic} sends more than {limit} requests/s: slow down"
        refusal(identity, route, 429, text)
        raise ApiError(429, "NARR", text, headers=retry_after(service))
    return identity


def retry_after(service: Service) -> dict[str, str]:
    return {"Retry-After": str(service.settings.retry_after_s)}


async def answered(service: Service, future: asyncio.Future[T]) -> T:
    """Await a worker's answer, turning the node's failures into 503 with Retry-After."""
    try:
        return await future
    except NodeUnavailableError as error:
        raise ApiError(
            503, "NARR", f"the journal cannot be reached; not acknowledged: {error}",
            headers=retry_after(service),
        ) from None  # fmt: skip
    except (NodeFailedError, NodeClosedError, Stopped) as error:
        raise ApiError(
            503, "NARR", f"the network is not taking commands: {error}",
            headers=retry_after(service),
        ) from None  # fmt: skip


def overloaded(service: Service, error: Overloaded) -> ApiError:
    return ApiError(
        429, "NARR", f"the service is at capacity: {error}", headers=retry_after(service)
    )
