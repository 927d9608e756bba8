"""Billing's read endpoints: customers, subscriptions, invoices and payment methods.

Every list is a Stripe list object paged with ``limit`` and ``starting_after``, newest
first; customers are also searched (``billing_search``) and listed by ``created``
(``billing_created``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.billing.created import created_filter
from sandbox.billing.search import SearchQueryError, parse_query
from sandbox.billing.shapes import (
    INVOICE_STATUSES,
    SUBSCRIPTION_STATUSES,
    invalid_param,
    render_customer,
    render_invoice,
    render_payment_method,
    render_subscription,
    stripe_error,
)
from sandbox.records import (
    BillingCustomer,
    BillingStore,
    Invoice,
    PaymentMethod,
    Subscription,
)
from sandbox.responses import (
    JSON,
    JsonResponse,
    VendorError,
    decode_cursor,
    encode_cursor,
    query_int,
)
from sandbox.table import Table, page_after

Row = TypeVar("Row", BillingCustomer, Subscription, Invoice, PaymentMethod)


def _missing(kind: str, object_id: str, param: str) -> VendorError:
    return stripe_error(
        404, "invalid_request_error", "resource_missing", f"No such {kind}: '{object_id}'", param
    )


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
        """GET /v1/subscriptions: by ``customer`` and ``status``; ``expand[]=data.customer``
        writes each subscription's customer whole, as Stripe expands a list's objects."""
        render = render_subscription
        expand = request.query_params.getlist("expand[]")
        for path in expand:
            if path != "data.customer":
                raise invalid_param("expand")(f"This property cannot be expanded ({path}).")
        if expand:
            render = self._with_customer
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
            render,
            rows=self._by_customer(request, table),
            where=wanted,
        )

    def _with_customer(self, subscription: Subscription) -> JSON:
        """A subscription with its customer expanded (``expand[]=data.customer``)."""
        rendered = render_subscription(subscription)
        customer = self.store.customers.get(subscription.customer)
        if customer is not None:
            rendered["customer"] = render_customer(customer)
        return rendered

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
