"""Assembles one system's Starlette app: vendor routes, key check, faults, stats, OpenAPI.

Request path through a system app::

    ControlMiddleware (count, log, faults) -> KeyAuthMiddleware (401) -> vendor route

The sandbox's own routes (``/openapi.json``, ``/_sandbox/...``) pass both untouched.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.clock import CLOCK_OPERATIONS, CLOCK_SCHEMAS, clock_routes
from sandbox.control import (
    CONTROL_OPERATIONS,
    CONTROL_SCHEMAS,
    ControlMiddleware,
    SystemControl,
    control_routes,
)
from sandbox.openapi import Operation, build_document
from sandbox.responses import JSON, JsonResponse, VendorError, VendorErrors, system_base_url
from sandbox.routing import OPENAPI_PATH, is_public, route_template


@dataclass(frozen=True, slots=True)
class SystemSpec:
    """What one vendor module contributes to its app."""

    name: str
    title: str
    description: str
    routes: Sequence[Route]
    operations: Sequence[Operation]
    schemas: dict[str, JSON]
    #: The OpenAPI security scheme that describes ``check_key``.
    security_scheme: JSON
    check_key: Callable[[Headers], bool]
    errors: VendorErrors


class KeyAuthMiddleware:
    """Refuses vendor requests without the system's API key, in the vendor's 401 body."""

    def __init__(
        self,
        app: ASGIApp,
        routes: Sequence[BaseRoute],
        check_key: Callable[[Headers], bool],
        errors: VendorErrors,
    ) -> None:
        self.app = app
        self.routes = routes
        self.check_key = check_key
        self.errors = errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not is_public(route_template(self.routes, scope))
            and not self.check_key(Headers(scope=scope))
        ):
            await self.errors.unauthorized().response()(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_system_app(spec: SystemSpec, control: SystemControl) -> Starlette:
    """The Starlette app of one system, faulted and counted through ``control``."""
    operations = [*spec.operations, *CONTROL_OPERATIONS, *CLOCK_OPERATIONS]
    schemas = {**spec.schemas, **CONTROL_SCHEMAS, **CLOCK_SCHEMAS}

    async def openapi(request: Request) -> Response:
        return JsonResponse(
            build_document(
                title=spec.title,
                description=spec.description,
                server_url=system_base_url(request),
                operations=operations,
                schemas=schemas,
                security_scheme=spec.security_scheme,
            )
        )

    async def vendor_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, VendorError)
        return exc.response()

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = f"Unrecognized request URL ({request.method}: {request.url.path})"
        return spec.errors.unknown_route(exc.status_code, message).response()

    routes: list[BaseRoute] = [
        *spec.routes,
        Route(OPENAPI_PATH, openapi, methods=["GET"]),
        *control_routes(control),
        *clock_routes(control.clock),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(ControlMiddleware, control=control, routes=routes),
            Middleware(
                KeyAuthMiddleware, routes=routes, check_key=spec.check_key, errors=spec.errors
            ),
        ],
        exception_handlers={VendorError: vendor_error, HTTPException: http_error},
    )


def bearer(expected: str) -> Callable[[Headers], bool]:
    """A key check for ``Authorization: Bearer <expected>``."""

    def check(headers: Headers) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), expected.encode()
        )

    return check


def header_key(name: str, expected: str) -> Callable[[Headers], bool]:
    """A key check for ``<name>: <expected>``."""

    def check(headers: Headers) -> bool:
        return hmac.compare_digest(headers.get(name, "").encode(), expected.encode())

    return check


BEARER_SCHEME: JSON = {"type": "http", "scheme": "bearer"}
