"""The customer graph over fake systems: panels, batching, partial failure, bad input."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry

from app.http.errors import PresentErrors
from kernel.access import Principal
from kernel.errors import UpstreamTimeout
from kernel.models import Source
from resolvers.context import Sources, new_context
from resolvers.schema import build_schema
from tests.fake_systems import FakeSystems, named_customers
from tests.resolvers.memory_store import MemoryStore, named_store

# A supervisor with a stated purpose sees personal fields as they are: these tests are about
# the graph, not masking (tests/resolvers/extensions/masking_roles/ is).
READER = Principal(subject="supervisor-1", role="supervisor")
PURPOSE = "resolver tests"


@pytest.fixture
def systems() -> FakeSystems:
    return named_customers()


@pytest.fixture
def store() -> MemoryStore:
    return named_store()


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema(extensions=[PresentErrors])


async def run(
    schema: strawberry.Schema,
    systems: FakeSystems,
    store: MemoryStore,
    query: str,
    **variables: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sources = Sources.from_adapters(systems.by_source)
    context = new_context(READER, store, sources, default_region="US", purpose=PURPOSE)
    result = await schema.execute(query, variable_values=variables, context_value=context)
    errors = [e.formatted for e in result.errors or []]
    return result.data or {}, errors


WHOLE = """query($id: ID!) { customer(id: $id) {
  id displayName links { source externalId matchedBy }
  profile { name email phone meta { source sourceRecordId fetchedAt } }
  billing { balance { amount currency } delinquent subscriptions { status sourceStatus }
            invoices(first: 3) { number status overdue } paymentCards { brand last4 }
            meta { source sourceRecordId } }
  support { openTicketCount tickets(first: 2) { id status } meta { source } }
} }"""


async def test_the_whole_view_has_every_panel_with_its_source(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    data, errors = await run(schema, systems, store, WHOLE, id="ada")
    assert errors == []
    ada = data["customer"]
    assert ada["displayName"] == "Ada Lovelace"
    assert ada["profile"]["email"] == "ada.lovelace@example.com"
    assert ada["profile"]["meta"]["source"] == "CRM"
    assert ada["billing"]["meta"] == {"source": "BILLING", "sourceRecordId": "cus_ada"}
    assert len(ada["billing"]["invoices"]) == 3
    assert ada["billing"]["paymentCards"][0]["last4"]
    assert ada["support"]["openTicketCount"] == 2
    assert ada["support"]["meta"]["source"] == "SUPPORT"


async def test_the_whole_view_makes_one_call_per_source_and_resource(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    await run(schema, systems, store, WHOLE, id="ada")
    calls = systems.billing.calls + systems.crm.calls + systems.support.calls
    assert calls == {
        # The balance and the subscriptions both asked for: one combined read.
        "get_customer_with_subscriptions": 1,
        "list_invoices": 1,
        "list_payment_cards": 1,
        "get_contacts": 1,
        "list_requested_tickets": 1,
    }


async def test_panels_of_several_customers_share_one_crm_batch_read(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = """{ a: customer(id: "ada") { profile { name } }
                 g: customer(id: "grace") { profile { name } }
                 e: customer(id: "edsger") { profile { name } } }"""
    data, errors = await run(schema, systems, store, query)
    assert errors == []
    assert [data[k]["profile"]["name"] for k in "age"] == [
        "Ada Lovelace",
        "Grace Hopper",
        "Edsger Dijkstra",
    ]
    assert systems.crm.calls["get_contacts"] == 1
    assert store.calls["get_customers"] == 1


async def test_a_customer_unknown_to_a_system_gets_a_null_panel_and_no_error(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    data, errors = await run(
        schema,
        systems,
        store,
        '{ customer(id: "edsger") { billing { delinquent } support { openTicketCount } } }',
    )
    assert errors == []
    assert data["customer"] == {"billing": None, "support": None}
    assert systems.billing.calls.total() == 0


async def test_a_failing_system_costs_only_its_own_panel(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    systems.billing.errors["list_invoices"] = UpstreamTimeout(Source.BILLING, "no answer")
    data, errors = await run(schema, systems, store, WHOLE, id="ada")
    ada = data["customer"]
    assert ada["billing"] is None
    assert ada["profile"]["name"] == "Ada Lovelace"
    assert ada["support"]["openTicketCount"] == 2
    assert len(errors) == 1
    assert errors[0]["path"][:2] == ["customer", "billing"]
    assert errors[0]["extensions"] == {
        "code": "UPSTREAM_TIMEOUT",
        "source": "BILLING",
        "retryable": True,
    }


async def test_a_record_missing_upstream_is_reported_not_hidden(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    data, errors = await run(
        schema, systems, store, '{ customer(id: "ghost") { profile { name } } }'
    )
    assert data["customer"]["profile"] is None
    assert [e["extensions"]["code"] for e in errors] == ["UPSTREAM_NOT_FOUND"]


async def test_open_ticket_count_counts_tickets_not_solved_or_closed(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = """{ customer(id: "barbara") { billing { delinquent invoices { overdue status } }
      support { openTicketCount all: tickets(first: 100) { id }
        waiting: tickets(first: 100, status: [WAITING_ON_CUSTOMER]) { status } } } }"""
    data, errors = await run(schema, systems, store, query)
    assert errors == []
    barbara = data["customer"]
    assert barbara["support"]["openTicketCount"] == 40
    assert len(barbara["support"]["all"]) == 100
    assert {t["status"] for t in barbara["support"]["waiting"]} == {"WAITING_ON_CUSTOMER"}
    assert barbara["billing"]["delinquent"] is True
    assert [i["overdue"] for i in barbara["billing"]["invoices"]] == [True, True]


@pytest.mark.parametrize("phone", ["(415) 555-0101", "+14155550101", "415.555.0101"])
async def test_a_phone_in_any_format_finds_the_customer(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore, phone: str
) -> None:
    query = "query($p: String!) { customerByPhone(phone: $p) { displayName } }"
    data, errors = await run(schema, systems, store, query, p=phone)
    assert errors == []
    assert data["customerByPhone"] == {"displayName": "Grace Hopper"}


async def test_an_email_in_another_case_finds_the_customer(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = '{ customerByEmail(email: "  Ada.Lovelace@EXAMPLE.com ") { id } }'
    data, _ = await run(schema, systems, store, query)
    assert data["customerByEmail"] == {"id": "ada"}


async def test_an_unknown_phone_is_null_not_an_error(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    data, errors = await run(
        schema, systems, store, '{ customerByPhone(phone: "+1 202 555 0199") { id } }'
    )
    assert (data, errors) == ({"customerByPhone": None}, [])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('{ customerByPhone(phone: "not a phone") { id } }', "phone is not a possible phone"),
        ('{ customerByEmail(email: "nobody") { id } }', "email is not an email address"),
        (
            '{ customer(id: "ada") { billing { invoices(first: 101) { id } } } }',
            "first must be between 1 and 100",
        ),
        (
            '{ customer(id: "ada") { support { tickets(first: 0) { id } } } }',
            "first must be between 1 and 100",
        ),
    ],
    ids=["phone", "email", "invoices-first", "tickets-first"],
)
async def test_bad_input_gets_a_clear_error(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore, query: str, message: str
) -> None:
    _, errors = await run(schema, systems, store, query)
    assert len(errors) == 1
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert message in errors[0]["message"]


async def test_an_ivr_contact_id_finds_the_customer_the_ivr_verified(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = '{ customerBySourceId(source: IVR, id: "contact-ada-0001") { id } }'
    data, errors = await run(schema, systems, store, query)
    assert errors == []
    assert data["customerBySourceId"] == {"id": "ada"}


async def test_an_unknown_ivr_contact_is_no_customer_and_no_outage(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = '{ customerBySourceId(source: IVR, id: "contact-nobody-9999") { id } }'
    data, errors = await run(schema, systems, store, query)
    assert errors == []
    assert data["customerBySourceId"] is None


async def test_a_source_record_id_finds_its_customer(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = '{ customerBySourceId(source: BILLING, id: "cus_barbara") { displayName } }'
    data, _ = await run(schema, systems, store, query)
    assert data["customerBySourceId"] == {"displayName": "Barbara Liskov"}


async def test_an_unexpected_failure_is_masked(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    systems.crm.errors["get_contacts"] = RuntimeError("secret detail ada.lovelace@example.com")  # type: ignore[assignment]
    data, errors = await run(schema, systems, store, '{ customer(id: "ada") { profile { name } } }')
    assert data["customer"]["profile"] is None
    assert errors[0]["message"] == "Internal server error."
    assert errors[0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}


async def test_a_query_that_does_not_validate_gets_a_code(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    _, errors = await run(schema, systems, store, '{ customer(id: "ada") { nope } }')
    assert errors[0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


@pytest.mark.parametrize(
    ("billing_selection", "expected"),
    [
        ("balance { amount } delinquent", {"get_customer": 1}),
        ("subscriptions { id status }", {"list_subscriptions": 1}),
        ("meta { source } subscriptions { id }", {"get_customer_with_subscriptions": 1}),
        # Named and inline fragments are followed.
        (
            "...Money ... on BillingAccount { subscriptions { id } }",
            {"get_customer_with_subscriptions": 1},
        ),
        ("invoices(first: 2) { id }", {"list_invoices": 1}),
    ],
)
async def test_billing_reads_only_what_the_selection_needs(
    schema: strawberry.Schema,
    systems: FakeSystems,
    store: MemoryStore,
    billing_selection: str,
    expected: dict[str, int],
) -> None:
    query = (
        f'query {{ customer(id: "ada") {{ billing {{ {billing_selection} }} }} }}'
        " fragment Money on BillingAccount { balance { amount } }"
        if "...Money" in billing_selection
        else f'query {{ customer(id: "ada") {{ billing {{ {billing_selection} }} }} }}'
    )
    data, errors = await run(schema, systems, store, query)
    assert errors == []
    assert data["customer"]["billing"]
    assert dict(systems.billing.calls) == expected


async def test_the_combined_billing_read_serves_the_same_panel(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    together = '{ customer(id: "ada") { billing { balance { amount } subscriptions { id } } } }'
    apart_balance = '{ customer(id: "ada") { billing { balance { amount } } } }'
    apart_subscriptions = '{ customer(id: "ada") { billing { subscriptions { id } } } }'
    both, _ = await run(schema, systems, store, together)
    balance, _ = await run(schema, systems, store, apart_balance)
    subscriptions, _ = await run(schema, systems, store, apart_subscriptions)
    assert both["customer"]["billing"] == {
        **balance["customer"]["billing"],
        **subscriptions["customer"]["billing"],
    }
    assert both["customer"]["billing"]["subscriptions"]
