"""CRM, shaped like HubSpot CRM v3: contacts, listed, fetched, searched and batch-read.

Contacts are property bags of strings; a response carries only the requested properties
(default ``firstname``, ``lastname``, ``email``) plus ``createdate``, ``lastmodifieddate``
and ``hs_object_id``, as HubSpot does. Lists are ordered by numeric id.

This module assembles the system: its key, its answers to faults and unknown routes, and
the app over the read endpoints (``crm_reads``) and the writes (``crm_writes``), described
by ``crm_openapi``, all speaking HubSpot's shapes (``crm_shapes``).
"""

from __future__ import annotations

from starlette.applications import Starlette

from sandbox.control import SystemControl
from sandbox.crm.notes import NOTE_SCHEMA, CrmNotes
from sandbox.crm.notes import OPERATIONS as NOTE_OPERATIONS
from sandbox.crm.openapi import OPERATIONS, SCHEMAS
from sandbox.crm.reads import CrmApi
from sandbox.crm.shapes import (
    PROPERTIES,
    _not_found,
    hubspot_error,
    render_contact,
    validation_error,
)
from sandbox.crm.writes import OPERATIONS as WRITE_OPERATIONS
from sandbox.crm.writes import CrmWrites
from sandbox.entry import HttpSystem, http_system
from sandbox.records import Dataset
from sandbox.responses import VendorError, VendorErrors
from sandbox.system import BEARER_SCHEME, SystemSpec, bearer, build_system_app

API_KEY = "pat-sandbox-crm"


def _rate_limited(retry_after: int) -> VendorError:
    error = hubspot_error(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling limit.")
    error.headers["Retry-After"] = str(retry_after)
    return error


ERRORS = VendorErrors(
    unauthorized=lambda: hubspot_error(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. Send `Authorization: Bearer <private app token>`.",
    ),
    server_error=lambda status: hubspot_error(
        status,
        "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
        "internal error (injected by the sandbox)",
    ),
    rate_limited=_rate_limited,
    unknown_route=lambda status, message: hubspot_error(
        status, "OBJECT_NOT_FOUND" if status == 404 else "VALIDATION_ERROR", message
    ),
)


def create_crm_app(
    dataset: Dataset, control: SystemControl | None = None, *, api_key: str = API_KEY
) -> Starlette:
    """The CRM system over ``dataset.crm``; faults and stats through ``control``;
    ``api_key`` is the account\'s key (another account of the system has its own)."""
    api = CrmApi(dataset.crm)
    control = control or SystemControl("crm", ERRORS)
    writes = CrmWrites(
        dataset.crm, control.outbox, PROPERTIES, render_contact, validation_error, _not_found
    )
    notes = CrmNotes(dataset.crm, control.outbox, validation_error, _not_found)
    spec = SystemSpec(
        name="crm",
        title="Sandbox CRM (HubSpot-shaped)",
        description="Contacts, as HubSpot's CRM v3 API shapes them.",
        routes=[*api.routes(), *writes.routes(), *notes.routes()],
        operations=[*OPERATIONS, *WRITE_OPERATIONS, *NOTE_OPERATIONS],
        schemas={**SCHEMAS, "Note": NOTE_SCHEMA},
        security_scheme=BEARER_SCHEME,
        check_key=bearer(api_key),
        errors=ERRORS,
    )
    return build_system_app(spec, control)


#: Its entry in the sandbox-system registry (``sandbox/registry.py``).
SYSTEM = http_system("crm", HttpSystem(create_crm_app, ERRORS, listings=("crm.contacts",)))
