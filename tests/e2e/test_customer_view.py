"""The named customers, queried end to end: gateway -> real HTTP -> sandbox systems.

Queried as the demo agent without an interaction, so names come back masked (first name
and initial); tests/e2e/test_masking_audit.py reads them unmasked.
"""

from __future__ import annotations

import pytest

from app.demo.runner import WHOLE_VIEW_QUERY
from kernel.models import Source
from tests.e2e.harness import Stack

pytestmark = pytest.mark.e2e

BY_PHONE = "query($p: String!) { customerByPhone(phone: $p) { id displayName } }"
BY_EMAIL = """query($e: String!) { customerByEmail(email: $e) {
  id displayName links { source externalId matchedBy }
  profile { name email } billing { delinquent } support { openTicketCount } } }"""

#: The upstream routes the whole view needs: one call each.
WHOLE_VIEW_ROUTES = {
    # The customer comes with her subscriptions (expand[]=data.customer): no customer read.
    "billing": {
        "GET /v1/subscriptions": 1,
        "GET /v1/invoices": 1,
    },
    "crm": {"POST /crm/v3/objects/contacts/batch/read": 1},
    "support": {"GET /api/v2/users/{id}/tickets/requested": 1},
    "ivr": {},
}


async def test_ada_whole_view_has_every_panel(clean_sandbox: Stack) -> None:
    data = await clean_sandbox.data(WHOLE_VIEW_QUERY, email="ada.lovelace@example.com")
    ada = data["customerByEmail"]
    assert ada["displayName"] == "Ada L."
    assert {link["source"] for link in ada["links"]} == {"CRM", "BILLING", "SUPPORT", "ORDERS"}
    assert ada["profile"]["phone"]
    assert ada["profile"]["meta"]["source"] == "CRM"
    assert [s["status"] for s in ada["billing"]["subscriptions"]] == ["ACTIVE"]
    assert {i["status"] for i in ada["billing"]["invoices"]} == {"PAID"}
    assert ada["billing"]["meta"]["source"] == "BILLING"
    assert ada["support"]["openTicketCount"] == 2
    assert {t["sourceStatus"] for t in ada["support"]["tickets"]} == {"open", "pending", "solved"}
    # From the legacy orders database (PostgreSQL, through its read-only role).
    orders = ada["orders"]
    assert [(o["status"], o["sourceStatus"]) for o in orders["orders"]] == [
        ("BACKORDERED", "BO"),
        ("SHIPPED", "SHP"),
    ]
    assert orders["openOrderCount"] == 2
    assert orders["orders"][1]["shipment"]["carrier"] == "Royal Mail"
    assert orders["orders"][1]["total"] == {"amount": "101.97", "currency": "GBP"}
    assert orders["meta"]["source"] == "ORDERS"


async def test_ada_whole_view_makes_exactly_one_call_per_source_resource(
    clean_sandbox: Stack,
) -> None:
    await clean_sandbox.data(WHOLE_VIEW_QUERY, email="ada.lovelace@example.com")
    for system, expected in WHOLE_VIEW_ROUTES.items():
        assert (await clean_sandbox.stats(system))["requests"] == expected, system


async def test_the_panels_upstream_requests_overlap_in_time(clean_sandbox: Stack) -> None:
    # With 150 ms per upstream answer, calls made one after another could not overlap.
    for system in ("billing", "crm", "support"):
        await clean_sandbox.set_faults(system, latency_ms=150)
    await clean_sandbox.data(WHOLE_VIEW_QUERY, email="ada.lovelace@example.com")
    log = [
        entry
        for system in ("billing", "crm", "support")
        for entry in (await clean_sandbox.stats(system))["log"]
    ]
    assert len(log) == 4
    assert max(e["started"] for e in log) < min(e["ended"] for e in log)


@pytest.mark.parametrize("phone", ["(415) 555-0101", "+14155550101", "415.555.0101"])
async def test_grace_is_found_by_each_systems_phone_format(stack: Stack, phone: str) -> None:
    data = await stack.data(BY_PHONE, p=phone)
    assert data["customerByPhone"]["displayName"] == "Grace H."


async def test_grace_three_phone_formats_are_one_customer(stack: Stack) -> None:
    ids = {
        (await stack.data(BY_PHONE, p=phone))["customerByPhone"]["id"]
        for phone in ("(415) 555-0101", "+14155550101", "415.555.0101")
    }
    assert len(ids) == 1


async def test_dijkstra_in_the_crm_only_has_empty_panels_and_no_errors(stack: Stack) -> None:
    data = await stack.data(BY_EMAIL, e="edsger.dijkstra@example.com")
    edsger = data["customerByEmail"]
    assert edsger["profile"]["name"] == "Edsger D."
    assert (edsger["billing"], edsger["support"]) == (None, None)
    assert [link["source"] for link in edsger["links"]] == ["CRM"]


async def test_liskov_is_delinquent_with_forty_open_tickets(stack: Stack) -> None:
    query = """{ customerByEmail(email: "barbara.liskov@example.com") {
      billing { delinquent subscriptions { status } invoices(first: 20) { status overdue } }
      support { openTicketCount tickets(first: 100) { id } } } }"""
    barbara = (await stack.data(query))["customerByEmail"]
    assert barbara["billing"]["delinquent"] is True
    assert "PAST_DUE" in {s["status"] for s in barbara["billing"]["subscriptions"]}
    overdue = [i for i in barbara["billing"]["invoices"] if i["overdue"]]
    assert len(overdue) == 2
    assert barbara["support"]["openTicketCount"] == 40
    assert len(barbara["support"]["tickets"]) == 100


async def test_turing_is_linked_across_systems_despite_his_emails(stack: Stack) -> None:
    for email in ("alan.turing@example.com", "ALAN.TURING@EXAMPLE.COM", "alan@turing.example"):
        alan = (await stack.data(BY_EMAIL, e=email))["customerByEmail"]
        assert alan["displayName"] == "Alan T."
        links = {link["source"]: link["matchedBy"] for link in alan["links"]}
        assert links == {"CRM": "anchor", "BILLING": "email", "SUPPORT": "xref"}


async def test_katherine_two_crm_contacts_stay_two_customers(stack: Stack) -> None:
    query = """query($id: ID!) { customerBySourceId(source: CRM, id: $id) { id } }"""
    first = (await stack.data(query, id="1004"))["customerBySourceId"]["id"]
    second = (await stack.data(query, id="1005"))["customerBySourceId"]["id"]
    assert first != second
    by_email = (await stack.data(BY_EMAIL, e="katherine.johnson@example.com"))["customerByEmail"]
    assert by_email["id"] in {first, second}
    support = '{ customerBySourceId(source: SUPPORT, id: "9004") { id } }'
    assert (await stack.data(support))["customerBySourceId"]["id"] == first


async def test_the_ivr_contact_finds_ada(stack: Stack) -> None:
    query = '{ customerBySourceId(source: IVR, id: "contact-ada-0001") { displayName } }'
    assert (await stack.data(query))["customerBySourceId"] == {"displayName": "Ada L."}


async def test_an_unknown_ivr_contact_is_null_not_an_outage(stack: Stack) -> None:
    query = '{ customerBySourceId(source: IVR, id: "contact-nobody-0000") { id } }'
    response = await stack.query(query)
    assert response.json() == {"data": {"customerBySourceId": None}}


async def test_a_failing_billing_system_costs_only_the_billing_panel(clean_sandbox: Stack) -> None:
    await clean_sandbox.set_faults("billing", error_rate=1.0, error_status=503)
    response = await clean_sandbox.query(WHOLE_VIEW_QUERY, email="ada.lovelace@example.com")
    assert response.status_code == 200
    body = response.json()
    ada = body["data"]["customerByEmail"]
    assert ada["billing"] is None
    assert ada["profile"]["name"] == "Ada L."
    assert ada["support"]["openTicketCount"] == 2
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["path"][:2] == ["customerByEmail", "billing"]
    assert error["extensions"]["source"] == "BILLING"
    assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert "127.0.0.1" not in response.text
    assert "sk_test" not in response.text


async def test_the_first_sync_accounts_for_every_record_it_saw(stack: Stack) -> None:
    report = stack.sync_report
    crm, billing, support, orders = (
        report.for_source(s) for s in (Source.CRM, Source.BILLING, Source.SUPPORT, Source.ORDERS)
    )
    # Every CRM contact anchors a customer; every other record links or creates one.
    assert crm.seen == crm.customers_created > 0
    for counts in (billing, support, orders):
        assert counts.seen == counts.linked_new + counts.customers_created > 0
        assert counts.already_linked == 0
    # The legacy database's orphans (twelve references of no one) are customers of their own.
    assert orders.customers_created == 12
    created = sum(c.customers_created for c in (crm, billing, support, orders))
    assert report.total_customers == created
    assert "CRM" in report.format_table()


async def test_healthz_answers_without_a_token(stack: Stack) -> None:
    response = await stack.http.get(f"{stack.gateway_url}/healthz")
    assert response.json() == {"status": "ok"}


async def test_graphiql_is_served_in_demo_mode(stack: Stack) -> None:
    response = await stack.http.get(f"{stack.gateway_url}/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
