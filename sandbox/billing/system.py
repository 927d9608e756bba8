"""Billing, shaped like the Stripe API: customers, subscriptions, invoices, payment methods.

Lists are Stripe list objects paged with ``limit`` and ``starting_after`` (newest first);
customer search speaks the subset of Stripe's query language in ``billing_search``.
Timestamps are Unix seconds; amounts are integer minor units.

This module assembles the system: its key, its answers to faults and unknown routes, and
the app over the read endpoints (``billing_reads``) and the writes (``billing_writes``),
described by ``billing_openapi``, all speaking Stripe's shapes (``billing_shapes``).
"""

from __future__ import annotations

from starlette.applications import Starlette

from sandbox.billing.openapi import OPERATIONS, SCHEMAS
from sandbox.billing.reads import BillingApi
from sandbox.billing.shapes import (
    render_customer,
    render_invoice,
    render_subscription,
    stripe_error,
)
from sandbox.billing.subscriptions import OPERATIONS as SUBSCRIPTION_OPERATIONS
from sandbox.billing.subscriptions import SubscriptionWrites
from sandbox.billing.writes import OPERATIONS as WRITE_OPERATIONS
from sandbox.billing.writes import BillingWrites
from sandbox.control import SystemControl
from sandbox.entry import HttpSystem, http_system
from sandbox.records import Dataset
from sandbox.responses import VendorError, VendorErrors
from sandbox.system import BEARER_SCHEME, SystemSpec, bearer, build_system_app

API_KEY = "sk_test_scv_sandbox"

ERRORS = VendorErrors(
    unauthorized=lambda: stripe_error(
        401,
        "invalid_request_error",
        "api_key_invalid",
        "Invalid API Key provided. Send `Authorization: Bearer <secret key>`.",
    ),
    server_error=lambda status: stripe_error(
        status, "api_error", "api_error", "An unexpected error occurred (injected by the sandbox)."
    ),
    rate_limited=lambda retry_after: VendorError(
        429,
        {
            "error": {
                "type": "rate_limit_error",
                "code": "rate_limit",
                "message": "Too many requests hit the API too quickly.",
                "param": None,
            }
        },
        {"Retry-After": str(retry_after)},
    ),
    unknown_route=lambda status, message: stripe_error(
        status, "invalid_request_error", "unrecognized_request_url", message
    ),
)


def create_billing_app(
    dataset: Dataset, control: SystemControl | None = None, *, api_key: str = API_KEY
) -> Starlette:
    """The billing system over ``dataset.billing``; faults and stats through ``control``;
    ``api_key`` is the account\'s key (another account of the system has its own)."""
    api = BillingApi(dataset.billing)
    control = control or SystemControl("billing", ERRORS)
    writes = BillingWrites(dataset.billing, control.outbox, render_customer, render_invoice)
    subscriptions = SubscriptionWrites(
        dataset.billing, lambda event: control.outbox.emit("billing", event), render_subscription
    )
    spec = SystemSpec(
        name="billing",
        title="Sandbox billing (Stripe-shaped)",
        description="Customers, subscriptions, invoices and cards, as the Stripe API shapes them.",
        routes=[*api.routes(), *writes.routes(), *subscriptions.routes()],
        operations=[*OPERATIONS, *WRITE_OPERATIONS, *SUBSCRIPTION_OPERATIONS],
        schemas=SCHEMAS,
        security_scheme=BEARER_SCHEME,
        check_key=bearer(api_key),
        errors=ERRORS,
    )
    return build_system_app(spec, control)


#: Its entry in the sandbox-system registry (``sandbox/registry.py``).
SYSTEM = http_system(
    "billing", HttpSystem(create_billing_app, ERRORS, listings=("billing.customers",))
)
