"""Billing's OpenAPI description: the schemas of Stripe's objects and the read operations.

The write operations are described next to their routes, in ``billing_writes``.
"""

from __future__ import annotations

from sandbox.billing.created import CREATED_PARAMS
from sandbox.billing.shapes import INVOICE_STATUSES, SUBSCRIPTION_STATUSES
from sandbox.openapi import (
    BOOLEAN,
    INTEGER,
    STRING,
    Operation,
    Param,
    nullable,
    obj,
    ref,
)
from sandbox.responses import JSON

_ID = nullable(STRING)
SCHEMAS: dict[str, JSON] = {
    "Address": obj(
        {
            name: nullable(STRING)
            for name in ("line1", "line2", "city", "state", "postal_code", "country")
        }
    ),
    "Customer": obj(
        {
            "id": STRING,
            "object": {"const": "customer"},
            "name": nullable(STRING),
            "email": nullable(STRING),
            "phone": nullable(STRING),
            "address": nullable(ref("Address")),
            "balance": INTEGER,
            "currency": nullable({"enum": ["gbp", "usd"]}),
            "delinquent": BOOLEAN,
            "created": INTEGER,
            "metadata": {"type": "object", "additionalProperties": STRING},
        }
    ),
    "Price": obj(
        {
            "id": STRING,
            "nickname": STRING,
            "unit_amount": INTEGER,
            "currency": STRING,
            "recurring": obj({"interval": {"enum": ["day", "week", "month", "year"]}}),
        }
    ),
    "Subscription": obj(
        {
            "id": STRING,
            "object": {"const": "subscription"},
            "customer": STRING,
            "status": {"enum": sorted(SUBSCRIPTION_STATUSES)},
            "cancel_at_period_end": BOOLEAN,
            "current_period_end": INTEGER,
            "created": INTEGER,
            "currency": STRING,
            "items": obj(
                {
                    "object": {"const": "list"},
                    "has_more": BOOLEAN,
                    "data": {
                        "type": "array",
                        "items": obj({"id": STRING, "quantity": INTEGER, "price": ref("Price")}),
                    },
                }
            ),
        }
    ),
    "Invoice": obj(
        {
            "id": STRING,
            "object": {"const": "invoice"},
            "customer": STRING,
            "number": nullable(STRING),
            "status": {"enum": sorted(INVOICE_STATUSES)},
            "currency": STRING,
            "amount_due": INTEGER,
            "amount_paid": INTEGER,
            "amount_remaining": INTEGER,
            "created": INTEGER,
            "due_date": nullable(INTEGER),
            "status_transitions": obj({"paid_at": nullable(INTEGER)}),
            "subscription": _ID,
        }
    ),
    "PaymentMethod": obj(
        {
            "id": STRING,
            "object": {"const": "payment_method"},
            "type": {"const": "card"},
            "customer": STRING,
            "created": INTEGER,
            "card": obj(
                {"brand": STRING, "last4": STRING, "exp_month": INTEGER, "exp_year": INTEGER}
            ),
        }
    ),
    "Error": obj(
        {
            "error": obj(
                {
                    "type": {"enum": ["invalid_request_error", "api_error", "rate_limit_error"]},
                    "code": STRING,
                    "message": STRING,
                    "param": nullable(STRING),
                }
            )
        }
    ),
}


def _list_schema(item: str) -> JSON:
    return obj(
        {
            "object": {"const": "list"},
            "url": STRING,
            "has_more": BOOLEAN,
            "data": {"type": "array", "items": ref(item)},
        }
    )


for _item in ("Customer", "Subscription", "Invoice", "PaymentMethod"):
    SCHEMAS[f"{_item}List"] = _list_schema(_item)
SCHEMAS["CustomerSearchResult"] = obj(
    {
        "object": {"const": "search_result"},
        "url": STRING,
        "has_more": BOOLEAN,
        "next_page": nullable(STRING),
        "data": {"type": "array", "items": ref("Customer")},
    }
)

_ERROR = ref("Error")
_LIMIT = Param("limit", "Page size, 1..100 (default 10)", {**INTEGER, "minimum": 1, "maximum": 100})
_AFTER = Param("starting_after", "Id of the last object of the previous page")
_CUSTOMER = Param("customer", "Only this customer's objects")
_LIST_ERRORS: dict[int, tuple[str, JSON | None]] = {
    400: ("Invalid parameter", _ERROR),
    401: ("Missing or wrong API key", _ERROR),
}
_GET_ERRORS: dict[int, tuple[str, JSON | None]] = {
    401: ("Missing or wrong API key", _ERROR),
    404: ("No such object", _ERROR),
}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/v1/customers",
        "List customers, newest first",
        {200: ("A page of customers", ref("CustomerList")), **_LIST_ERRORS},
        params=(
            _LIMIT,
            _AFTER,
            Param("email", "Exact (case-sensitive) email"),
            *CREATED_PARAMS,
        ),
    ),
    Operation(
        "GET",
        "/v1/customers/search",
        "Search customers with Stripe's query language",
        {200: ("Matching customers", ref("CustomerSearchResult")), **_LIST_ERRORS},
        params=(
            Param("query", "e.g. email:'a@b.example' OR phone:'+14155550101'", required=True),
            _LIMIT,
            Param("page", "next_page of the previous result"),
        ),
    ),
    Operation(
        "GET",
        "/v1/customers/{id}",
        "Retrieve a customer",
        {200: ("The customer", ref("Customer")), **_GET_ERRORS},
    ),
    Operation(
        "GET",
        "/v1/subscriptions",
        "List subscriptions, newest first",
        {200: ("A page of subscriptions", ref("SubscriptionList")), **_LIST_ERRORS},
        params=(
            _CUSTOMER,
            Param(
                "status",
                "A status, `all` or `ended`; default: all but canceled",
                {"enum": [*sorted(SUBSCRIPTION_STATUSES), "all", "ended"]},
            ),
            _LIMIT,
            _AFTER,
            Param(
                "expand[]",
                "`data.customer`: each subscription's customer whole, not its id",
                {"enum": ["data.customer"]},
            ),
        ),
    ),
    Operation(
        "GET",
        "/v1/subscriptions/{id}",
        "Retrieve a subscription",
        {200: ("The subscription", ref("Subscription")), **_GET_ERRORS},
    ),
    Operation(
        "GET",
        "/v1/invoices",
        "List invoices, newest first",
        {200: ("A page of invoices", ref("InvoiceList")), **_LIST_ERRORS},
        params=(
            _CUSTOMER,
            Param("status", "Only this status", {"enum": sorted(INVOICE_STATUSES)}),
            Param("subscription", "Only this subscription's invoices"),
            _LIMIT,
            _AFTER,
        ),
    ),
    Operation(
        "GET",
        "/v1/invoices/{id}",
        "Retrieve an invoice",
        {200: ("The invoice", ref("Invoice")), **_GET_ERRORS},
    ),
    Operation(
        "GET",
        "/v1/payment_methods",
        "List payment methods (cards), newest first",
        {200: ("A page of payment methods", ref("PaymentMethodList")), **_LIST_ERRORS},
        params=(_CUSTOMER, Param("type", "Only `card` has any"), _LIMIT, _AFTER),
    ),
    Operation(
        "GET",
        "/v1/payment_methods/{id}",
        "Retrieve a payment method",
        {200: ("The payment method", ref("PaymentMethod")), **_GET_ERRORS},
    ),
)
