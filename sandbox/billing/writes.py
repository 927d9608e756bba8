"""Billing's write endpoints (update a customer, pay an invoice) and the Stripe events they emit.

Stripe takes form-encoded parameters (``email=...&address[city]=...&metadata[tier]=gold``);
the sandbox also accepts the same keys as a JSON object. Every change is sent as a Stripe
event (``customer.updated``, ``invoice.paid``) through the system's webhook outbox.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.openapi import Operation, ref
from sandbox.records import BillingCustomer, BillingStore, Invoice, PostalAddress
from sandbox.responses import JSON, JsonResponse, VendorError
from sandbox.webhooks import WebhookOutbox

#: The API version stamped on events, as Stripe stamps the account's version.
API_VERSION = "2024-06-20"

CUSTOMER_FIELDS = ("name", "email", "phone")
ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")
#: Invoices Stripe lets you pay.
PAYABLE = frozenset({"open", "uncollectible"})


def _error(status: int, code: str, message: str, param: str | None = None) -> VendorError:
    body = {"type": "invalid_request_error", "code": code, "message": message, "param": param}
    return VendorError(status, {"error": body})


def stripe_event(event_type: str, obj: JSON, previous: JSON | None = None) -> JSON:
    """A Stripe event envelope around ``obj`` (with ``previous_attributes`` on updates)."""
    data: JSON = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "type": event_type,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{secrets.token_hex(7)}", "idempotency_key": None},
        "data": data,
    }


async def read_parameters(request: Request) -> dict[str, str]:
    """The request's parameters, flat (``address[city]``), from a form or a JSON object.

    JSON objects nest as Stripe's form keys do: ``{"address": {"city": "x"}}`` reads as
    ``address[city]``. Values must be strings (or null, meaning empty: unset).
    """
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise _error(400, "parameter_invalid", "The request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise _error(400, "parameter_invalid", "The request body must be a JSON object")
        return _flatten(data, "")
    # Stripe's forms are URL-encoded only; the standard library reads them (Starlette's form
    # parser needs python-multipart, which is no dependency of the project).
    try:
        text = (await request.body()).decode()
        return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
    except (UnicodeDecodeError, ValueError):
        raise _error(400, "parameter_invalid", "The request body is not a valid form") from None


def _flatten(data: Mapping[str, object], prefix: str) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name))
        elif value is None or isinstance(value, str):
            flat[name] = value or ""
        else:
            raise _error(400, "parameter_invalid", f"Invalid string: {name}", name)
    return flat


class BillingWrites:
    """``POST /v1/customers/{id}`` and ``POST /v1/invoices/{id}/pay`` over one store."""

    def __init__(
        self,
        store: BillingStore,
        outbox: WebhookOutbox,
        render_customer: Callable[[BillingCustomer], JSON],
        render_invoice: Callable[[Invoice], JSON],
    ) -> None:
        # The renderers live in ``sandbox.billing.shapes``; ``sandbox.billing.system``, which
        # imports
        # this module, passes them in.
        self.store = store
        self.outbox = outbox
        self.render_customer = render_customer
        self.render_invoice = render_invoice

    def routes(self) -> list[Route]:
        """The write routes."""
        return [
            Route("/v1/customers/{id}", self.update_customer, methods=["POST"]),
            Route("/v1/invoices/{id}/pay", self.pay_invoice, methods=["POST"]),
        ]

    async def update_customer(self, request: Request) -> Response:
        """Change name, email, phone, address or metadata; an empty value unsets it."""
        customer_id = request.path_params["id"]
        customer = self.store.customers.get(customer_id)
        if customer is None:
            raise _error(404, "resource_missing", f"No such customer: '{customer_id}'", "id")
        parameters = await read_parameters(request)
        changes = _customer_changes(customer, parameters)
        before = self.render_customer(customer)
        self.store.customers.update(customer_id, lambda row: _apply(row, changes))
        after = self.render_customer(customer)
        previous = {key: before[key] for key in after if before[key] != after[key]}
        if previous:
            self.outbox.emit("billing", stripe_event("customer.updated", after, previous))
        return JsonResponse(after)

    async def pay_invoice(self, request: Request) -> Response:
        """Mark an open (or uncollectible) invoice paid in full."""
        invoice_id = request.path_params["id"]
        invoice = self.store.invoices.get(invoice_id)
        if invoice is None:
            raise _error(404, "resource_missing", f"No such invoice: '{invoice_id}'", "id")
        if invoice.status not in PAYABLE:
            raise _error(
                400, "invoice_not_open", f"Invoice is {invoice.status}; only open invoices are paid"
            )
        self.store.invoices.update(invoice_id, _mark_paid)
        rendered = self.render_invoice(invoice)
        self.outbox.emit("billing", stripe_event("invoice.paid", rendered))
        return JsonResponse(rendered)


def _customer_changes(customer: BillingCustomer, parameters: Mapping[str, str]) -> dict[str, str]:
    allowed = {*CUSTOMER_FIELDS, *(f"address[{name}]" for name in ADDRESS_FIELDS)}
    for key in parameters:
        if key not in allowed and not _is_metadata(key):
            raise _error(400, "parameter_unknown", f"Received unknown parameter: {key}", key)
    return dict(parameters)


def _is_metadata(key: str) -> bool:
    return key.startswith("metadata[") and key.endswith("]") and len(key) > len("metadata[]")


def _apply(customer: BillingCustomer, changes: Mapping[str, str]) -> None:
    for key, value in changes.items():
        if key in CUSTOMER_FIELDS:
            setattr(customer, key, value or None)
        elif key.startswith("address["):
            if customer.address is None:
                customer.address = PostalAddress(None, None, None, None, None, None)
            setattr(customer.address, key[len("address[") : -1], value or None)
        else:
            name = key[len("metadata[") : -1]
            if value:
                customer.metadata[name] = value
            else:
                customer.metadata.pop(name, None)


def _mark_paid(invoice: Invoice) -> None:
    invoice.status = "paid"
    invoice.amount_paid = invoice.amount_due
    invoice.paid_at = int(time.time())


OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/v1/customers/{id}",
        "Update a customer (form-encoded or JSON: name, email, phone, address[...], "
        "metadata[...]; an empty value unsets); emits customer.updated",
        {
            200: ("The updated customer", ref("Customer")),
            400: ("Unknown or invalid parameter", ref("Error")),
            401: ("Missing or wrong API key", ref("Error")),
            404: ("No such customer", ref("Error")),
        },
    ),
    Operation(
        "POST",
        "/v1/invoices/{id}/pay",
        "Pay an open invoice in full; emits invoice.paid",
        {
            200: ("The paid invoice", ref("Invoice")),
            400: ("The invoice is not open", ref("Error")),
            401: ("Missing or wrong API key", ref("Error")),
            404: ("No such invoice", ref("Error")),
        },
    ),
)
