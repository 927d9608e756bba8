"""Billing, Stripe-shaped: the system of record for money."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime

import httpx

from adapters.billing.settings import BillingSettings
from adapters.billing.wire import (
    ObjectT,
    StripeCustomer,
    StripeCustomerList,
    StripeCustomerSearch,
    StripeExpandedSubscriptionList,
    StripeInvoiceList,
    StripeList,
    StripePaymentMethodList,
    StripeSubscriptionList,
    describe_stripe_error,
    to_customer,
    to_invoice,
    to_payment_card,
    to_subscription,
)
from adapters.http.client import CallPolicy, Clock, UpstreamHttp, utc_now
from adapters.taxonomy import Taxonomy
from kernel.errors import UpstreamContractError, UpstreamNotFound
from kernel.models import (
    BillingCustomer,
    BillingCustomerId,
    InvoiceList,
    InvoiceStatus,
    PaymentCard,
    PaymentCardList,
    Source,
    Subscription,
    SubscriptionId,
    SubscriptionList,
    SubscriptionStatus,
)


def billing_auth_headers(settings: BillingSettings) -> dict[str, str]:
    """The headers that authenticate the gateway to billing: Stripe's Bearer secret key."""
    return {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}


def stripe_search_query(*, email: str | None = None, phone: str | None = None) -> str:
    """A Stripe search query matching ``email`` or ``phone``, each value quoted and escaped.

    Values are the caller's input: without escaping, a ``'`` in one would end the quoted
    string and let the rest be read as query syntax. Backslashes are escaped first so that
    a trailing ``\\`` cannot escape our closing quote.
    """
    clauses = [
        f"{field}:{_stripe_quote(value)}"
        for field, value in (("email", email), ("phone", phone))
        if value is not None
    ]
    return " OR ".join(clauses)


def _stripe_quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


class HttpBillingAdapter:
    """``BillingAdapter`` over a Stripe-shaped HTTP API.

    ``client`` comes from ``adapters.http.client.build_client(settings, billing_auth_headers(
    settings))``; the caller owns and closes it. ``subscription_status`` and
    ``invoice_status`` are public so that their ``unmapped`` counts can be reported.
    """

    def __init__(
        self,
        settings: BillingSettings,
        client: httpx.AsyncClient,
        *,
        clock: Clock = utc_now,
        policy: CallPolicy | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._http = UpstreamHttp(
            client, Source.BILLING, describe_stripe_error, clock=clock, policy=policy
        )
        self.subscription_status = Taxonomy(
            Source.BILLING,
            "subscription_status",
            settings.subscription_status,
            SubscriptionStatus,
        )
        self.invoice_status = Taxonomy(
            Source.BILLING, "invoice_status", settings.invoice_status, InvoiceStatus
        )

    async def get_customer(self, customer_id: BillingCustomerId) -> BillingCustomer:
        """One customer; ``UpstreamNotFound`` if the system has none (or deleted it)."""
        payload = await self._http.request_json(
            "GET", f"/v1/customers/{self._http.segment(customer_id)}"
        )
        # Stripe answers 200 with a stub for a deleted customer: to us it does not exist.
        if isinstance(payload, dict) and payload.get("deleted") is True:
            raise UpstreamNotFound(Source.BILLING, "customer is deleted")
        wire = self._http.parse(StripeCustomer, payload, "customer")
        return to_customer(wire, self._clock())

    async def list_subscriptions(self, customer_id: BillingCustomerId) -> SubscriptionList:
        """Every subscription of the customer (``status=all``: canceled ones too)."""
        items: list[Subscription] = []
        params = {"customer": customer_id, "status": "all"}
        async for page in self._pages(
            StripeSubscriptionList, "/v1/subscriptions", params, "subscription list"
        ):
            items.extend(to_subscription(s, self.subscription_status) for s in page)
        return SubscriptionList(
            customer_id=customer_id, items=tuple(items), fetched_at=self._clock()
        )

    async def get_customer_with_subscriptions(
        self, customer_id: BillingCustomerId
    ) -> tuple[BillingCustomer, SubscriptionList]:
        """The customer and every subscription of theirs, in one call where Stripe allows.

        ``GET /v1/subscriptions?customer=..&status=all&expand[]=data.customer``: each
        subscription comes with its customer whole, canceled ones too. Stripe's other way,
        the customer with ``expand[]=subscriptions``, was not taken: that embedded list holds
        the customer's *current* subscriptions only (canceled ones left out) and ten at most,
        where the panel shows every one. A customer without any subscription has no
        customer in the list, so then the customer is read on its own (a second call);
        more than a page of subscriptions is paged through as ``list_subscriptions`` does.
        """
        params: dict[str, str | int] = {
            "customer": customer_id,
            "status": "all",
            "limit": self._settings.page_size,
            "expand[]": "data.customer",
        }
        page = await self._http.request_model(
            StripeExpandedSubscriptionList,
            "GET",
            "/v1/subscriptions",
            resource="subscription list",
            params=params,
        )
        if not page.data:
            customer = await self.get_customer(customer_id)
            return customer, SubscriptionList(
                customer_id=customer_id, items=(), fetched_at=customer.fetched_at
            )
        fetched_at = self._clock()
        owner = page.data[0].customer
        if owner.id != customer_id:
            raise UpstreamContractError(Source.BILLING, "subscription of another customer")
        customer = to_customer(owner, fetched_at)
        items = [to_subscription(s, self.subscription_status) for s in page.data]
        if page.has_more:
            # Rare (a page holds ``page_size``): the rest without their customer again.
            rest = {"customer": customer_id, "status": "all"}
            after = page.data[-1].id
            async for more in self._pages(
                StripeSubscriptionList, "/v1/subscriptions", rest, "subscription list", after
            ):
                items.extend(to_subscription(s, self.subscription_status) for s in more)
        return customer, SubscriptionList(
            customer_id=customer_id, items=tuple(items), fetched_at=fetched_at
        )

    async def cancel_subscription_at_period_end(
        self, subscription_id: SubscriptionId, idempotency_key: str
    ) -> None:
        """``POST /v1/subscriptions/{id}`` with ``cancel_at_period_end=true`` and Stripe's
        ``Idempotency-Key``: a retry with the key is answered the first result, so the
        policy may repeat it (and the outbox may send it again) without a second change.

        Sent as a form, as Stripe's API takes its parameters (it reads no JSON body).
        """
        await self._http.request_json(
            "POST",
            f"/v1/subscriptions/{self._http.segment(subscription_id)}",
            form={"cancel_at_period_end": "true"},
            headers={"Idempotency-Key": idempotency_key},
            idempotent=True,
        )

    async def list_invoices(self, customer_id: BillingCustomerId, limit: int) -> InvoiceList:
        """The customer's newest ``limit`` invoices (1..100), newest first: one request."""
        if not 1 <= limit <= 100:
            raise ValueError(f"limit must be 1..100, not {limit}")
        page = await self._http.request_model(
            StripeInvoiceList,
            "GET",
            "/v1/invoices",
            resource="invoice list",
            params={"customer": customer_id, "limit": limit},
        )
        return InvoiceList(
            customer_id=customer_id,
            items=tuple(to_invoice(i, self.invoice_status) for i in page.data),
            fetched_at=self._clock(),
        )

    async def list_payment_cards(self, customer_id: BillingCustomerId) -> PaymentCardList:
        """The customer's cards on file (``type=card``), every page."""
        items: list[PaymentCard] = []
        params = {"customer": customer_id, "type": "card"}
        async for page in self._pages(
            StripePaymentMethodList, "/v1/payment_methods", params, "payment method list"
        ):
            items.extend(to_payment_card(m) for m in page)
        return PaymentCardList(
            customer_id=customer_id, items=tuple(items), fetched_at=self._clock()
        )

    async def search_customers(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[BillingCustomer]:
        """Customers whose email or phone equals the one given (``email:'..' OR phone:'..'``)."""
        if email is None and phone is None:
            return []
        params: dict[str, str | int] = {
            "query": stripe_search_query(email=email, phone=phone),
            "limit": self._settings.page_size,
        }
        found: dict[str, BillingCustomer] = {}
        while True:
            result = await self._http.request_model(
                StripeCustomerSearch,
                "GET",
                "/v1/customers/search",
                resource="customer search result",
                params=params,
            )
            fetched_at = self._clock()
            for wire in result.data:
                found.setdefault(wire.id, to_customer(wire, fetched_at))
            if not (result.has_more and result.next_page):
                return list(found.values())
            if result.next_page == params.get("page"):
                raise UpstreamContractError(Source.BILLING, "customer search repeated its page")
            params = {**params, "page": result.next_page}

    async def iter_customers(self) -> AsyncIterator[list[BillingCustomer]]:
        """Every customer, one page of ``settings.page_size`` at a time."""
        async for page in self._pages(StripeCustomerList, "/v1/customers", {}, "customer list"):
            fetched_at = self._clock()
            yield [to_customer(wire, fetched_at) for wire in page]

    async def iter_customers_created_since(
        self, since: datetime
    ) -> AsyncIterator[list[BillingCustomer]]:
        """Customers created at or after ``since``: ``GET /v1/customers?created[gte]=``."""
        params = {"created[gte]": str(int(since.timestamp()))}
        async for page in self._pages(StripeCustomerList, "/v1/customers", params, "customer list"):
            fetched_at = self._clock()
            yield [to_customer(wire, fetched_at) for wire in page]

    async def iter_subscriptions(
        self,
    ) -> AsyncIterator[list[tuple[BillingCustomerId, Subscription]]]:
        """Every subscription (``GET /v1/subscriptions?status=all`` without ``customer``, as
        Stripe lists them), one page of ``settings.page_size`` at a time."""
        async for page in self._pages(
            StripeSubscriptionList,
            "/v1/subscriptions",
            {"status": "all"},
            "subscription list",
        ):
            yield [
                (BillingCustomerId(s.customer), to_subscription(s, self.subscription_status))
                for s in page
                if s.customer is not None
            ]

    async def _pages(
        self,
        model: type[StripeList[ObjectT]],
        path: str,
        params: Mapping[str, str],
        resource: str,
        cursor: str | None = None,
    ) -> AsyncIterator[list[ObjectT]]:
        """Each page of a Stripe list, following ``has_more`` with ``starting_after``
        (from after ``cursor`` when given)."""
        while True:
            page_params: dict[str, str | int] = {**params, "limit": self._settings.page_size}
            if cursor is not None:
                page_params["starting_after"] = cursor
            page = await self._http.request_model(
                model, "GET", path, resource=resource, params=page_params
            )
            yield page.data
            if not page.has_more:
                return
            if not page.data:
                # Nothing to continue after: asking again would loop forever.
                raise UpstreamContractError(Source.BILLING, f"{resource} has_more without data")
            cursor = page.data[-1].id
