"""The cost model: objects 1, lists by `first` (or a connection's), upstream reads weighted."""

from __future__ import annotations

import pytest
from graphql import build_schema, parse

from app.limits.cost import (
    DEFAULT_LIST_SIZE,
    UPSTREAM_WEIGHTS,
    FirstArgument,
    OperationCosts,
    UnmeasurableOperation,
    operation_cost,
)
from app.limits.settings import QueryLimitSettings
from resolvers.schema import build_schema as build_gateway_schema

# The shape of the gateway's graph, small enough to cost by hand.
SCHEMA = build_schema(
    """
    type Query {
      customer(id: ID!): Customer
      customers(first: Int = 50, after: String): CustomerConnection!
    }
    type CustomerConnection { edges: [CustomerEdge!]! pageInfo: PageInfo! totalCount: Int! }
    type CustomerEdge { cursor: String! node: Customer! }
    type PageInfo { hasNextPage: Boolean! }
    type Customer {
      id: ID!
      links: [IdentityLink!]!
      tags: [Tag!]!
      profile: Profile
      billing: BillingAccount
    }
    type IdentityLink { source: String! }
    type Tag { name: String! }
    type Profile { name: String address: Address }
    type Address { city: String }
    type BillingAccount {
      balance: Money!
      invoices(first: Int = 10): [Invoice!]!
      subscriptions: [Subscription!]!
    }
    type Money { amount: String! }
    type Invoice { id: ID! amountDue: Money! }
    type Subscription { id: ID! }
    """
)


def cost_of(document: str, **variables: object) -> int:
    return operation_cost(SCHEMA, parse(document), None, variables).cost


def test_an_object_costs_one_and_a_scalar_nothing() -> None:
    assert cost_of('{ customer(id: "1") { id } }') == 1


def test_a_panel_that_reads_a_system_costs_its_weight_and_its_object() -> None:
    assert UPSTREAM_WEIGHTS["Customer.profile"] == 10
    assert cost_of('{ customer(id: "1") { profile { name } } }') == 1 + 10 + 1


def test_a_list_with_first_multiplies_what_it_holds_but_its_read_is_counted_once() -> None:
    document = '{ customer(id: "1") { billing { invoices(first: 3) { amountDue { amount } } } } }'
    # customer 1, billing 10 + 1, invoices 10 + 3 x (invoice 1 + money 1)
    assert cost_of(document) == 1 + 11 + 10 + 3 * 2


def test_a_list_without_first_given_takes_the_arguments_default() -> None:
    document = '{ customer(id: "1") { billing { invoices { id } } } }'
    assert cost_of(document) == 1 + 11 + 10 + 10 * 1


def test_a_list_without_a_first_argument_takes_its_table_size_or_the_default() -> None:
    assert cost_of('{ customer(id: "1") { links { source } } }') == 1 + 4
    assert cost_of('{ customer(id: "1") { tags { name } } }') == 1 + DEFAULT_LIST_SIZE


def test_a_connection_is_costed_by_first_times_its_node() -> None:
    document = "query($n: Int) { customers(first: $n) { edges { node { profile { name } } } } }"
    # connection 1 + n x (edge 1 + node 1 + CRM read 10 + profile 1)
    assert cost_of(document, n=100) == 1 + 100 * 13
    assert cost_of(document, n=5) == 1 + 5 * 13


def test_a_connection_without_first_is_costed_by_its_default() -> None:
    assert cost_of("{ customers { edges { node { id } } } }") == 1 + 50 * 2


def test_fragments_and_inline_fragments_are_counted_where_they_are_spread() -> None:
    document = """
    { customer(id: "1") { ...panels ... on Customer { billing { balance { amount } } } } }
    fragment panels on Customer { profile { name } }
    """
    # customer 1, profile 10 + 1, billing 10 + 1 + money 1
    assert cost_of(document) == 1 + 11 + 12


def test_a_fragment_cycle_is_left_to_validation_without_looping() -> None:
    document = """
    { customer(id: "1") { ...a } }
    fragment a on Customer { id ...b }
    fragment b on Customer { id ...a }
    """
    assert cost_of(document) == 1


def test_every_first_is_recorded_with_its_path_and_value() -> None:
    document = """query($n: Int) {
      customers(first: $n) { edges { node { billing { bills: invoices(first: 7) { id } } } } }
    }"""
    found = operation_cost(SCHEMA, parse(document), None, {"n": 30})
    assert set(found.firsts) == {
        FirstArgument("customers", 30),
        FirstArgument("customers.edges.node.billing.bills", 7),
    }
    assert found.largest_first() == FirstArgument("customers", 30)


def test_variables_that_do_not_fit_leave_the_operation_to_execution() -> None:
    with pytest.raises(UnmeasurableOperation):
        operation_cost(
            SCHEMA,
            parse("query($n: Int) { customers(first: $n) { totalCount } }"),
            None,
            {"n": "many"},
        )


def test_the_named_operation_is_the_one_costed() -> None:
    document = parse(
        'query small { customer(id: "1") { id } } '
        'query big { customer(id: "1") { profile { name } } }'
    )
    assert operation_cost(SCHEMA, document, "small", None).cost == 1
    assert operation_cost(SCHEMA, document, "big", None).cost == 12


# The gateway's own schema: the defaults must let its everyday queries through.
WHOLE_CUSTOMER = """query($phone: String!) { customerByPhone(phone: $phone) {
  id displayName links { source externalId matchedBy }
  profile { name email phone address { line1 city country } meta { source fetchedAt cache } }
  billing {
    balance { amount currency } delinquent
    subscriptions { id status amount { amount currency } }
    invoices(first: 10) { id amountDue { amount } } paymentCards { brand last4 } meta { source }
  }
  support { openTicketCount tickets(first: 20) { id subject status } meta { source } }
} }"""

PAGE_OF_CUSTOMERS = """query($n: Int) { customers(first: $n) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node {
    id profile { name } billing { balance { amount } meta { source } }
    support { openTicketCount meta { source } }
  } }
} }"""


def gateway_cost(document: str, **variables: object) -> int:
    schema = build_gateway_schema()._schema
    return operation_cost(schema, parse(document), None, variables).cost


def test_the_agent_desktops_whole_customer_fits_an_agents_query_limit() -> None:
    assert gateway_cost(WHOLE_CUSTOMER, phone="+15550100") <= QueryLimitSettings().max_cost_for(
        "agent"
    )


def test_the_customers_connection_is_costed_by_first_times_its_node() -> None:
    node_only = "query($n: Int) { customers(first: $n) { edges { node { id } } } }"
    assert gateway_cost(node_only, n=100) == 1 + 100 * (1 + 1)


def test_an_analysts_page_of_100_with_panels_fits_an_analysts_query_limit() -> None:
    cost = gateway_cost(PAGE_OF_CUSTOMERS, n=100)
    assert cost > 100 * 30  # three upstream panels per customer
    assert cost <= QueryLimitSettings().max_cost_for("analyst")


# --- remembered costs --------------------------------------------------------------------------

PAGE = """query Page($after: String, $first: Int, $invoices: Int) {
  customers(first: $first, after: $after) {
    edges { node { billing { invoices(first: $invoices) { id } } } }
  }
}"""


def remembered(costs: OperationCosts, query: str, **variables: object) -> int:
    return costs.cost(SCHEMA, query, parse(query), None, variables).cost


def test_a_remembered_cost_serves_requests_that_differ_in_other_variables() -> None:
    costs = OperationCosts()
    first = remembered(costs, PAGE, first=10, after="a", invoices=2)
    again = remembered(costs, PAGE, first=10, after="b", invoices=2)
    assert again == first == cost_of(PAGE, first=10, after="b", invoices=2)
    assert costs.remembered == 1


def test_each_value_of_a_variable_given_as_first_is_costed_on_its_own() -> None:
    costs = OperationCosts()
    small = remembered(costs, PAGE, first=10, invoices=2)
    larger_page = remembered(costs, PAGE, first=20, invoices=2)
    more_invoices = remembered(costs, PAGE, first=10, invoices=3)
    unsent = remembered(costs, PAGE, invoices=2)
    assert small == cost_of(PAGE, first=10, invoices=2)
    assert larger_page == cost_of(PAGE, first=20, invoices=2) > small
    assert more_invoices == cost_of(PAGE, first=10, invoices=3) > small
    # Not sent: the argument's default (50), not the value last remembered.
    assert unsent == cost_of(PAGE, invoices=2) > larger_page
    assert costs.remembered == 4


def test_remembered_costs_are_bounded_by_their_size() -> None:
    costs = OperationCosts(size=2)
    for first in (1, 2, 3):
        remembered(costs, PAGE, first=first)
    assert costs.remembered == 2


def test_an_unmeasurable_operation_is_measured_each_time_and_never_remembered() -> None:
    costs = OperationCosts()
    with pytest.raises(UnmeasurableOperation):
        remembered(costs, PAGE, first=[1, 2])
    with pytest.raises(UnmeasurableOperation):
        remembered(costs, PAGE, first="ten")
    assert costs.remembered == 0
