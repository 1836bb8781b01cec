"""The ASGI application: routes, error answers, docs, health, readiness, metrics.

``create_app(service)`` builds the FastAPI app around a ``Service``. Around it sits
``Guard``, a plain ASGI layer (no per-request task or copy, unlike Starlette's
``BaseHTTPMiddleware``) that counts every answer for the metrics, hands the hot write
routes to ``direct`` (past FastAPI's per-request machinery), and is the last
line against surprises: an exception nothing else handled is logged with an incident
id and answered 503 with a reason code and that id, never a 500 or a stack trace.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interbank.api import access, institutions, operator, participant
from interbank.api.context import caller, route_of, service_of
from interbank.api.direct import HANDLERS, handle
from interbank.api.errors import ERROR_SCHEMA, ApiError, error_body, error_response
from interbank.api.metrics import CONTENT_TYPE
from interbank.api.service import Service, refusal

_log = logging.getLogger("interbank.api")

DOCS_ASSETS = "/docs-assets"

DESCRIPTION = """
The interbank network's participant and operator API.

**Authentication**: mutual TLS with a client certificate from the network's PKI
(`interbank pki issue BIC --role ROLE`); in development mode only, `Authorization:
Bearer <token>`. **Errors** are JSON, `{"error": {"status", "code", "text", "field"}}`,
with an ISO 20022 reason code. Every write is answered after it is durable; 429 and
503 carry `Retry-After`, and a command re-sent with the same `id` is answered with its
first result and has no second effect. Full guide: docs/api.md.
"""


def _docs_assets_directory() -> Path | None:
    """Swagger UI's files, served by the service itself (no CDN): fastapi-offline ships them."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def create_app(service: Service) -> ASGIApp:
    app = FastAPI(
        title="interbank",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = service
    app.include_router(participant.router)
    app.include_router(operator.router)
    app.include_router(institutions.router)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, error: ApiError) -> Response:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, error: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "text": str(e.get("msg", ""))}
            for e in error.errors()
        ]
        first = problems[0] if problems else {"field": None, "text": "invalid request"}
        return Response(
            error_body(422, "FF01", f"{first['field']}: {first['text']}", first["field"], problems),
            422,
            media_type="application/json",
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> Response:
        status = error.status_code if 400 <= error.status_code < 500 else 503
        return Response(
            error_body(status, "NARR", str(error.detail)),
            status,
            media_type="application/json",
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    async def on_anything(request: Request, error: Exception) -> Response:
        return _internal_error(service, route_of(request), error)

    _add_docs(app)
    _add_operations(app, service)
    return Guard(app, service)


def _internal_error(service: Service, route: str, error: BaseException) -> Response:
    incident = uuid.uuid4().hex[:16]
    _log.error("incident %s on %s: %r", incident, route, error, exc_info=error)
    service.metrics.internal_errors.inc()
    text = (
        f"the service met an unexpected error (incident {incident}); nothing was "
        "acknowledged: retry with the same id, and report the incident if it persists"
    )
    return Response(
        error_body(503, "NARR", text),
        503,
        media_type="application/json",
        headers={"Retry-After": str(service.settings.retry_after_s), "X-Incident": incident},
    )


def _add_docs(app: FastAPI) -> None:
    assets = _docs_assets_directory()
    if assets is not None:
        app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if assets is None:
            return HTMLResponse(
                "<p>Swagger UI's files are not installed (pip install fastapi-offline); "
                "the OpenAPI document is at <a href='/openapi.json'>/openapi.json</a>.</p>"
            )
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="interbank API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_operations(app: FastAPI, service: Service) -> None:
    @app.get("/health", tags=["operations"], summary="Liveness: the process answers")
    async def health() -> Response:
        return Response(b'{"status": "ok"}', 200, media_type="application/json")

    @app.get("/ready", tags=["operations"], summary="Readiness: the network takes commands")
    def ready() -> Response:
        problems = []
        try:
            head = service.node.head
        except Exception as error:  # a closed or failed node is not ready, whatever it says
            problems.append(f"node: {error}")
            head = None
        identity_problem = service.identities.problem()
        if identity_problem:
            problems.append(identity_problem)
        if service.views.stale:
            problems.append("the views lag the journal (they catch up on the next message)")
        body = {
            "ready": not problems,
            "problems": problems,
            "journal_head_seq": None if head is None else head.seq,
            "authentication": service.identities.mode,
        }
        import json

        return Response(json.dumps(body).encode(), 200 if not problems else 503,
                        media_type="application/json")  # fmt: skip

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics (operators, auditors)")
    async def metrics(request: Request) -> Response:
        identity = await caller(request)
        access.require_role(identity, route_of(request), access.READING_ALL)
        return Response(service_of(request).metrics.exposition(), 200, media_type=CONTENT_TYPE)


class _DirectRoute:
    """What the metrics read of a route: its template (a direct route's path is one)."""

    def __init__(self, path: str) -> None:
        self.path = path


class Guard:
    """Outermost ASGI layer: metrics for every answer, and no exception escapes."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        self._requests = service.metrics.requests
        self._latency = service.metrics.latency
        self._refusals = service.metrics.refusals
        self._direct = HANDLERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        direct = self._direct.get(scope["path"]) if scope["method"] == "POST" else None
        try:
            if direct is not None:
                response = await handle(self.service, direct, scope, receive)
                await response(scope, receive, send_counted)
                scope["route"] = _DirectRoute(scope["path"])
            else:
                await self.app(scope, receive, send_counted)
        except Exception as error:
            # FastAPI's own handler has answered already when status is set; if not,
            # the exception came from outside the routes (a middleware, the router).
            if status == 0:
                response = _internal_error(self.service, scope.get("path", "?"), error)
                status = response.status_code
                await response(scope, receive, send)
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        self._requests.labels(template, scope.get("method", ""), str(status)).inc()
        self._latency.labels(template).observe(time.perf_counter() - started)
        if status in (401, 403, 429):
            self._refusals.labels(str(status)).inc()


__all__ = ["Guard", "create_app", "refusal"]
