"""Support ticketing, shaped like the Zendesk Support API v2: end users and their tickets.

Lists use Zendesk's cursor pagination (``page[size]``, ``page[after]``, ``page[before]``);
user and ticket ids are integers; timestamps are ISO 8601 UTC.

This module assembles the system: its key, its answers to faults and unknown routes, and
the app over the read endpoints (``support_reads``), the writes (``support_writes``) and
the incremental export (``support_incremental``), described by ``support_openapi``, all
speaking Zendesk's shapes (``support_shapes``).
"""

from __future__ import annotations

from starlette.applications import Starlette

from sandbox.control import SystemControl
from sandbox.entry import HttpSystem, http_system
from sandbox.records import Dataset
from sandbox.responses import VendorError, VendorErrors
from sandbox.support.incremental import OPERATIONS as EXPORT_OPERATIONS
from sandbox.support.incremental import SCHEMAS as EXPORT_SCHEMAS
from sandbox.support.incremental import IncrementalUserExport
from sandbox.support.openapi import OPERATIONS, SCHEMAS
from sandbox.support.reads import SupportApi
from sandbox.support.shapes import (
    _not_found,
    invalid_pagination,
    invalid_value,
    render_ticket,
    render_user,
    zendesk_error,
)
from sandbox.support.writes import OPERATIONS as WRITE_OPERATIONS
from sandbox.support.writes import SupportWrites
from sandbox.system import BEARER_SCHEME, SystemSpec, bearer, build_system_app

API_KEY = "zd-sandbox-token"


def _rate_limited(retry_after: int) -> VendorError:
    error = zendesk_error(
        429, "APIRateLimitExceeded", "Number of allowed API requests per minute exceeded"
    )
    error.headers["Retry-After"] = str(retry_after)
    return error


ERRORS = VendorErrors(
    unauthorized=lambda: zendesk_error(401, "Couldn't authenticate you"),
    server_error=lambda status: zendesk_error(
        status,
        "InternalServerError" if status == 500 else "ServiceUnavailable",
        "Injected by the sandbox",
    ),
    rate_limited=_rate_limited,
    unknown_route=lambda status, message: zendesk_error(status, "InvalidEndpoint", message),
)


def create_support_app(
    dataset: Dataset, control: SystemControl | None = None, *, api_key: str = API_KEY
) -> Starlette:
    """The support system over ``dataset.support``; faults and stats through ``control``;
    ``api_key`` is the account\'s key (another account of the system has its own)."""
    api = SupportApi(dataset.support)
    control = control or SystemControl("support", ERRORS)
    writes = SupportWrites(
        dataset.support, control.outbox, render_ticket, _not_found, clock=control.clock
    )
    export = IncrementalUserExport(dataset.support, render_user, invalid_value, invalid_pagination)
    spec = SystemSpec(
        name="support",
        title="Sandbox support (Zendesk-shaped)",
        description="End users and tickets, as the Zendesk Support API v2 shapes them.",
        # The writes first: ``PUT /api/v2/tickets/{id}.json`` must not reach ``{id}``.
        routes=[*writes.routes(), *export.routes(), *api.routes()],
        operations=[*OPERATIONS, *WRITE_OPERATIONS, *EXPORT_OPERATIONS],
        schemas={**SCHEMAS, **EXPORT_SCHEMAS},
        security_scheme=BEARER_SCHEME,
        check_key=bearer(api_key),
        errors=ERRORS,
    )
    return build_system_app(spec, control)


#: Its entry in the sandbox-system registry (``sandbox/registry.py``).
SYSTEM = http_system("support", HttpSystem(create_support_app, ERRORS, listings=("support.users",)))
