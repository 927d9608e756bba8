"""Billing, shaped like the Stripe API: customers, subscriptions, invoices, payment methods.

Lists are Stripe list objects paged with ``limit`` and ``starting_after`` (newest first);
customer search speaks the subset of Stripe's query language in ``billing_search``.
Timestamps are Unix seconds; amounts are integer minor units.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.billing_created import CREATED_PARAMS, created_filter
from sandbox.billing_search import SearchQueryError, parse_query
from sandbox.billing_writes import OPERATIONS as WRITE_OPERATIONS
from sandbox.billing_writes import BillingWrites
from sandbox.control import SystemControl
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
from sandbox.records import (
    BillingCustomer,
    BillingStore,
    Dataset,
    Invoice,
    PaymentMethod,
    Subscription,
)
from sandbox.responses import (
    JSON,
    JsonResponse,
    VendorError,
    VendorErrors,
    decode_cursor,
    encode_cursor,
    query_int,
)
from sandbox.system import BEARER_SCHEME, SystemSpec, bearer, build_system_app
from sandbox.table import Table, page_after

API_KEY = "sk_test_scv_sandbox"

SUBSCRIPTION_STATUSES = frozenset(
    {
        "active",
        "past_due",
        "unpaid",
        "canceled",
        "incomplete",
        "incomplete_expired",
        "trialing",
        "paused",
    }
)
INVOICE_STATUSES = frozenset({"draft", "open", "paid", "uncollectible", "void"})

Row = TypeVar("Row", BillingCustomer, Subscription, Invoice, PaymentMethod)


# --- errors -----------------------------------------------------------------------------


def stripe_error(
    status: int, type_: str, code: str, message: str, param: str | None = None
) -> VendorError:
    """An error in Stripe's envelope."""
    return VendorError(
        status, {"error": {"type": type_, "code": code, "message": message, "param": param}}
    )


def invalid_param(param: str) -> Callable[[str], VendorError]:
    """The 400 for a bad value of ``param``."""

    def make(message: str) -> VendorError:
        return stripe_error(400, "invalid_request_error", "parameter_invalid", message, param)

    return make


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


def _missing(kind: str, object_id: str, param: str) -> VendorError:
    return stripe_error(
        404, "invalid_request_error", "resource_missing", f"No such {kind}: '{object_id}'", param
    )


# --- rendering --------------------------------------------------------------------------


def render_customer(customer: BillingCustomer) -> JSON:
    """A customer as Stripe writes it."""
    address = customer.address
    return {
        "id": customer.id,
        "object": "customer",
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "address": None
        if address is None
        else {
            "line1": address.line1,
            "line2": address.line2,
            "city": address.city,
            "state": address.state,
            "postal_code": address.postal_code,
            "country": address.country,
        },
        "balance": customer.balance,
        "currency": customer.currency,
        "delinquent": customer.delinquent,
        "created": customer.created,
        "metadata": dict(customer.metadata),
    }


def render_subscription(subscription: Subscription) -> JSON:
    """A subscription (with its one item) as Stripe writes it."""
    price = subscription.price
    return {
        "id": subscription.id,
        "object": "subscription",
        "customer": subscription.customer,
        "status": subscription.status,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "current_period_end": subscription.current_period_end,
        "created": subscription.created,
        "currency": price.currency,
        "items": {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "id": subscription.item_id,
                    "quantity": subscription.quantity,
                    "price": {
                        "id": price.id,
                        "nickname": price.nickname,
                        "unit_amount": price.unit_amount,
                        "currency": price.currency,
                        "recurring": {"interval": price.interval},
                    },
                }
            ],
        },
    }


def render_invoice(invoice: Invoice) -> JSON:
    """An invoice as Stripe writes it."""
    return {
        "id": invoice.id,
        "object": "invoice",
        "customer": invoice.customer,
        "number": invoice.number,
        "status": invoice.status,
        "currency": invoice.currency,
        "amount_due": invoice.amount_due,
        "amount_paid": invoice.amount_paid,
        "amount_remaining": invoice.amount_remaining,
        "created": invoice.created,
        "due_date": invoice.due_date,
        "status_transitions": {"paid_at": invoice.paid_at},
        "subscription": invoice.subscription,
    }


def render_payment_method(method: PaymentMethod) -> JSON:
    """A card payment method as Stripe writes it."""
    return {
        "id": method.id,
        "object": "payment_method",
        "type": "card",
        "customer": method.customer,
        "created": method.created,
        "card": {
            "brand": method.brand,
            "last4": method.last4,
            "exp_month": method.exp_month,
            "exp_year": method.exp_year,
        },
    }


# --- endpoints --------------------------------------------------------------------------


class BillingApi:
    """The billing endpoints over one ``BillingStore``."""

    def __init__(self, store: BillingStore) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        """The vendor routes (search before ``{id}``, which would swallow it)."""
        return [
            Route("/v1/customers", self.list_customers, methods=["GET"]),
            Route("/v1/customers/search", self.search_customers, methods=["GET"]),
            Route("/v1/customers/{id}", self.get_customer, methods=["GET"]),
            Route("/v1/subscriptions", self.list_subscriptions, methods=["GET"]),
            Route("/v1/subscriptions/{id}", self.get_subscription, methods=["GET"]),
            Route("/v1/invoices", self.list_invoices, methods=["GET"]),
            Route("/v1/invoices/{id}", self.get_invoice, methods=["GET"]),
            Route("/v1/payment_methods", self.list_payment_methods, methods=["GET"]),
            Route("/v1/payment_methods/{id}", self.get_payment_method, methods=["GET"]),
        ]

    async def list_customers(self, request: Request) -> Response:
        """GET /v1/customers: every customer, or those with an exact ``email``, or created in
        a range (``created[gte]=<unix seconds>``, also ``gt``, ``lt``, ``lte``)."""
        table = self.store.customers
        created = created_filter(request.query_params, invalid_param)
        email = request.query_params.get("email")
        if email is None:
            if created is None:
                return self._list(request, "/v1/customers", "customer", table, render_customer)
            return self._list(
                request, "/v1/customers", "customer", table, render_customer, where=created
            )
        # Stripe's list filter on email is case-sensitive, unlike search.
        return self._list(
            request,
            "/v1/customers",
            "customer",
            table,
            render_customer,
            rows=table.find("email", email.lower()),
            where=lambda c: c.email == email and (created is None or created(c)),
        )

    async def search_customers(self, request: Request) -> Response:
        """GET /v1/customers/search: Stripe's query language, paged by ``page``."""
        query = request.query_params.get("query")
        if not query:
            raise stripe_error(
                400, "invalid_request_error", "parameter_missing", "Missing query", "query"
            )
        try:
            matches = parse_query(query).run(self.store)
        except SearchQueryError as exc:
            raise invalid_param("query")(str(exc)) from None
        limit = query_int(
            request, "limit", default=10, low=1, high=100, invalid=invalid_param("limit")
        )
        offset = 0
        page_token = request.query_params.get("page")
        if page_token:
            try:
                (offset,) = decode_cursor(page_token)
                if not isinstance(offset, int) or offset < 0:
                    raise ValueError(page_token)
            except ValueError:
                raise invalid_param("page")(f"Invalid page: {page_token}") from None
        ordered = sorted(matches, key=lambda c: (c.created, c.id), reverse=True)
        chunk = ordered[offset : offset + limit]
        has_more = offset + limit < len(ordered)
        return JsonResponse(
            {
                "object": "search_result",
                "url": "/v1/customers/search",
                "has_more": has_more,
                "next_page": encode_cursor(offset + limit) if has_more else None,
                "data": [render_customer(c) for c in chunk],
            }
        )

    async def get_customer(self, request: Request) -> Response:
        """GET /v1/customers/{id}."""
        customer_id = request.path_params["id"]
        customer = self.store.customers.get(customer_id)
        if customer is None:
            raise _missing("customer", customer_id, "id")
        return JsonResponse(render_customer(customer))

    async def list_subscriptions(self, request: Request) -> Response:
        """GET /v1/subscriptions: by ``customer`` and ``status``."""
        status = request.query_params.get("status")
        if status is not None and status not in SUBSCRIPTION_STATUSES | {"all", "ended"}:
            raise invalid_param("status")(f"Invalid status: {status}")
        wanted: Callable[[Subscription], bool]
        if status == "all":
            wanted = _always
        elif status == "ended":
            wanted = _is_ended
        elif status is None:
            # As Stripe does: without a status filter, canceled subscriptions are left out.
            wanted = _is_not_canceled
        else:
            wanted = _status_is(status)
        table = self.store.subscriptions
        return self._list(
            request,
            "/v1/subscriptions",
            "subscription",
            table,
            render_subscription,
            rows=self._by_customer(request, table),
            where=wanted,
        )

    async def get_subscription(self, request: Request) -> Response:
        """GET /v1/subscriptions/{id}."""
        subscription_id = request.path_params["id"]
        subscription = self.store.subscriptions.get(subscription_id)
        if subscription is None:
            raise _missing("subscription", subscription_id, "id")
        return JsonResponse(render_subscription(subscription))

    async def list_invoices(self, request: Request) -> Response:
        """GET /v1/invoices: by ``customer``, ``subscription`` and ``status``."""
        table = self.store.invoices
        status = request.query_params.get("status")
        if status is not None and status not in INVOICE_STATUSES:
            raise invalid_param("status")(f"Invalid status: {status}")
        rows = self._by_customer(request, table)
        subscription = request.query_params.get("subscription")
        if rows is None and subscription is not None:
            rows = table.find("subscription", subscription)

        def wanted(invoice: Invoice) -> bool:
            return (status is None or invoice.status == status) and (
                subscription is None or invoice.subscription == subscription
            )

        return self._list(
            request, "/v1/invoices", "invoice", table, render_invoice, rows=rows, where=wanted
        )

    async def get_invoice(self, request: Request) -> Response:
        """GET /v1/invoices/{id}."""
        invoice_id = request.path_params["id"]
        invoice = self.store.invoices.get(invoice_id)
        if invoice is None:
            raise _missing("invoice", invoice_id, "id")
        return JsonResponse(render_invoice(invoice))

    async def list_payment_methods(self, request: Request) -> Response:
        """GET /v1/payment_methods: a customer's cards."""
        table = self.store.payment_methods
        rows = self._by_customer(request, table)
        if request.query_params.get("type", "card") != "card":
            rows = []  # the sandbox holds cards only
        return self._list(
            request,
            "/v1/payment_methods",
            "payment_method",
            table,
            render_payment_method,
            rows=rows,
        )

    async def get_payment_method(self, request: Request) -> Response:
        """GET /v1/payment_methods/{id}."""
        method_id = request.path_params["id"]
        method = self.store.payment_methods.get(method_id)
        if method is None:
            raise _missing("payment_method", method_id, "id")
        return JsonResponse(render_payment_method(method))

    # --- helpers --------------------------------------------------------------------

    def _by_customer(self, request: Request, table: Table[str, Row]) -> list[Row] | None:
        """The rows of the ``customer`` filter, or None when there is no filter.

        An unknown customer gives an empty list rather than an error.
        """
        customer = request.query_params.get("customer")
        return None if customer is None else table.find("customer", customer)

    def _list(
        self,
        request: Request,
        url: str,
        kind: str,
        table: Table[str, Row],
        render: Callable[[Row], JSON],
        *,
        rows: Iterable[Row] | None = None,
        where: Callable[[Row], bool] | None = None,
    ) -> Response:
        """A Stripe list object of ``rows`` (default: all) that satisfy ``where``, newest first."""
        limit = query_int(
            request, "limit", default=10, low=1, high=100, invalid=invalid_param("limit")
        )
        after = None
        starting_after = request.query_params.get("starting_after")
        if starting_after:
            anchor = table.get(starting_after)
            if anchor is None:
                raise stripe_error(
                    400,
                    "invalid_request_error",
                    "resource_missing",
                    f"No such {kind}: '{starting_after}'",
                    "starting_after",
                )
            after = table.sort_key(anchor)
        if rows is not None:
            subset = rows if where is None else (row for row in rows if where(row))
            page = page_after(table.sorted_keys(subset), after, limit, descending=True)
        elif where is not None:
            condition = where
            page = page_after(
                table.order(),
                after,
                limit,
                descending=True,
                keep=lambda key: condition(table.rows[key[1]]),
            )
        else:
            page = page_after(table.order(), after, limit, descending=True)
        return JsonResponse(
            {
                "object": "list",
                "url": url,
                "has_more": page.more_after,
                "data": [render(table.rows[key]) for _, key in page.keys],
            }
        )


def _always(subscription: Subscription) -> bool:
    return True


def _is_ended(subscription: Subscription) -> bool:
    return subscription.status in ("canceled", "incomplete_expired")


def _is_not_canceled(subscription: Subscription) -> bool:
    return subscription.status != "canceled"


def _status_is(status: str) -> Callable[[Subscription], bool]:
    def check(subscription: Subscription) -> bool:
        return subscription.status == status

    return check


# --- OpenAPI ----------------------------------------------------------------------------

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


def create_billing_app(dataset: Dataset, control: SystemControl | None = None) -> Starlette:
    """The billing system over ``dataset.billing``; faults and stats through ``control``."""
    api = BillingApi(dataset.billing)
    control = control or SystemControl("billing", ERRORS)
    writes = BillingWrites(dataset.billing, control.outbox, render_customer, render_invoice)
    spec = SystemSpec(
        name="billing",
        title="Sandbox billing (Stripe-shaped)",
        description="Customers, subscriptions, invoices and cards, as the Stripe API shapes them.",
        routes=[*api.routes(), *writes.routes()],
        operations=[*OPERATIONS, *WRITE_OPERATIONS],
        schemas=SCHEMAS,
        security_scheme=BEARER_SCHEME,
        check_key=bearer(API_KEY),
        errors=ERRORS,
    )
    return build_system_app(spec, control)
