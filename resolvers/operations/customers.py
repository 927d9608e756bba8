"""``Query.customers``: pages of customers for analysts, filtered by the read model's facts.

A Relay connection over ``customer_facts`` (keyset pagination: a cursor is a position in
one order, so paging through never repeats or skips a customer). The filter and order run
as indexed SQL in the store; no system is called for the page itself. Each node is a whole
``Customer``: its panels load through the request's DataLoaders, so a page's profiles are
one CRM batch read and its billing panels a bounded number of calls at once.

Analysts and supervisors only: agents work one customer at a time, and the IVR never sees
lists of customers. Personal fields of the nodes are masked as everywhere (analysts always).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from kernel import customer_facts
from kernel.client_errors import BadUserInput, Forbidden, GatewayError
from kernel.customer_facts import CustomerFilter, CustomerOrder, CustomerOrderField
from kernel.identity import CustomerId
from kernel.models import Source, SubscriptionStatus
from resolvers.types.common import Info
from resolvers.types.customer import Customer
from resolvers.types.facts import DECLARED, source_flag_fields, source_flags_of

#: Who may list customers.
LIST_ROLES = frozenset({"analyst", "supervisor"})
DEFAULT_FIRST = 50
MAX_FIRST = 100

strawberry.enum(CustomerOrderField, description="What a page of customers is sorted by.")


@strawberry.enum(description="Ascending or descending.")
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input(
    name="CustomerFilter",
    description="Which customers: every condition given must hold (null or absent: none).",
)
@source_flag_fields(DECLARED)
class CustomerFilterInput:
    delinquent: bool | None = strawberry.field(
        default=None, description="Billing's delinquency flag is this."
    )
    min_open_tickets: int | None = strawberry.field(
        default=None, description="At least this many tickets not solved or closed."
    )
    subscription_status_in: list[SubscriptionStatus] | None = strawberry.field(
        default=None, description="The most relevant subscription's status is one of these."
    )
    last_contact_before: datetime | None = strawberry.field(
        default=None, description="Last contact (call or ticket) strictly before this time."
    )
    last_contact_after: datetime | None = strawberry.field(
        default=None, description="Last contact (call or ticket) at or after this time."
    )
    country_in: list[str] | None = strawberry.field(
        default=None, description="The CRM address's country is one of these, as written there."
    )
    linked_to: list[Source] | None = strawberry.field(
        default=None, description="Every one of these systems knows the customer."
    )
    missing_from: list[Source] | None = strawberry.field(
        default=None, description="None of these systems knows the customer."
    )

    def to_filter(self) -> CustomerFilter:
        """The store's filter; ``BadUserInput`` for a condition that cannot be meant."""
        if self.min_open_tickets is not None and self.min_open_tickets < 0:
            raise BadUserInput("minOpenTickets must be 0 or more")
        for name, moment in (
            ("lastContactBefore", self.last_contact_before),
            ("lastContactAfter", self.last_contact_after),
        ):
            if moment is not None and moment.tzinfo is None:
                raise BadUserInput(f"{name} needs a time zone offset")
        linked_to = frozenset(self.linked_to or ())
        missing_from = frozenset(self.missing_from or ())
        if linked_to & missing_from:
            raise BadUserInput("a system cannot be in both linkedTo and missingFrom")
        return CustomerFilter(
            delinquent=self.delinquent,
            min_open_tickets=self.min_open_tickets,
            subscription_status_in=frozenset(s.value for s in self.subscription_status_in or ()),
            last_contact_before=self.last_contact_before,
            last_contact_after=self.last_contact_after,
            country_in=frozenset(self.country_in or ()),
            linked_to=linked_to,
            missing_from=missing_from,
            source_flags=source_flags_of(DECLARED, self),
        )


@strawberry.input(name="CustomerOrder", description="A sort order; ties go by customer id.")
class CustomerOrderInput:
    field: CustomerOrderField = CustomerOrderField.CREATED_AT
    direction: SortDirection = SortDirection.ASC

    def to_order(self) -> CustomerOrder:
        return CustomerOrder(field=self.field, descending=self.direction is SortDirection.DESC)


@strawberry.type(description="Where a page of a connection is, and whether there is more.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="One customer of a page, and where it is in the order.")
class CustomerEdge:
    node: Customer
    cursor: str = strawberry.field(description="Pass as `after` for the customers after this.")


@strawberry.type(description="One page of customers.")
class CustomerConnection:
    selection: strawberry.Private[CustomerFilter]
    edges: list[CustomerEdge]
    page_info: PageInfo

    @strawberry.field(description="How many customers the filter selects (one indexed count).")
    async def total_count(self, info: Info) -> int:
        return await _facts_of(info).count_customers_matching(self.selection)


def _facts_of(info: Info) -> customer_facts.CustomerFactsReader:
    facts = info.context.facts
    if facts is None:
        raise GatewayError("lists of customers are not available")
    return facts


async def customers(
    info: Info,
    filter: CustomerFilterInput | None = None,  # the GraphQL argument's name
    first: int | None = DEFAULT_FIRST,
    after: str | None = None,
    order_by: CustomerOrderInput | None = None,
) -> CustomerConnection:
    """Customers the filter selects, ``first`` (1..100) after the cursor ``after``."""
    if info.context.principal.role not in LIST_ROLES:
        raise Forbidden("customers is for analysts and supervisors only")
    limit = DEFAULT_FIRST if first is None else first
    if not 1 <= limit <= MAX_FIRST:
        raise BadUserInput(f"first must be between 1 and {MAX_FIRST}, got {limit}")
    selection = (filter or CustomerFilterInput()).to_filter()
    order = (order_by or CustomerOrderInput()).to_order()
    facts = _facts_of(info)
    try:
        page = await facts.page_customers(selection, order, limit, after)
    except ValueError:
        raise BadUserInput("after is not a cursor from customers in this orderBy") from None
    loaders = info.context.loaders
    ids = [row.customer_id for row in page.rows]
    records = await loaders.customers.load_many(ids)
    edges: list[CustomerEdge] = []
    for row, cursor, record in zip(page.rows, page.cursors, records, strict=True):
        # A customer removed since the page was read is left out rather than shown empty.
        if record is None:
            continue
        # The page already holds the facts: Customer.facts need not read them again.
        loaders.customer_facts.prime(CustomerId(row.customer_id), row)
        edges.append(CustomerEdge(node=Customer.from_record(record), cursor=cursor))
    return CustomerConnection(
        selection=selection,
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
    )
