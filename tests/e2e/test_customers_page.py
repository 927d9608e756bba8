"""Pages of customers end to end: the read model filled from the sandbox by the facts
refresh, ``customers`` over HTTP, and the calls a page of 100 makes at each system."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import pytest

from app.analytics.refresh import FactsRefreshReport, refresh_facts_from
from app.analytics.settings import CustomersSettings
from app.security.demo_keys import mint_token
from app.store.customers import Store
from app.store.facts_writer import FactsWriter
from app.wiring.sources import build_sources
from kernel.models import Source
from tests.e2e.harness import Stack
from tests.e2e.resilience_harness import gateway

pytestmark = pytest.mark.e2e

PANELS = """query($first: Int, $orderBy: CustomerOrder) {
  customers(first: $first, orderBy: $orderBy) {
    edges { node { id links { source }
      profile { name } billing { balance { amount } } support { openTicketCount } } }
  }
}"""

DELINQUENT_WITH_TICKETS = """query($after: String) {
  customers(first: 100, after: $after, filter: { delinquent: true, minOpenTickets: 3 }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id facts { delinquent openTicketCount ageSeconds takenAt { billing } } } }
  }
}"""


@pytest.fixture(scope="module")
async def facts_refreshed(stack: Stack) -> FactsRefreshReport:
    """The read model filled once from the sandbox, as ``scv sync`` does after linking."""
    settings = stack.settings
    assert settings.database_url is not None
    async with AsyncExitStack() as resources:
        store = await Store.connect(settings.database_url.get_secret_value(), pool_size=2)
        resources.push_async_callback(store.close)
        sources = await build_sources(settings, resources)
        return await refresh_facts_from(
            FactsWriter(store.pool, store.tenant),
            sources,
            # The sandbox's calls are of mid-2024: look back far enough to meet them.
            CustomersSettings(call_lookback_days=3650),
            settings.identity.default_region,
        )


def token_for(stack: Stack, role: str) -> str:
    return mint_token(stack.keys, stack.settings.auth, subject=f"{role}-1", role=role)


async def analyst_data(stack: Stack, document: str, **variables: Any) -> dict[str, Any]:
    response = await stack.query(document, token=token_for(stack, "analyst"), **variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


async def requests_at(stack: Stack, system: str) -> dict[str, int]:
    counts: dict[str, int] = (await stack.stats(system))["requests"]
    return counts


async def test_the_refresh_read_every_systems_bulk_listing(
    facts_refreshed: FactsRefreshReport, stack: Stack
) -> None:
    assert facts_refreshed.crm_contacts > 0
    assert facts_refreshed.billing_customers > 0
    assert facts_refreshed.subscriptions > 0
    assert facts_refreshed.tickets > 0
    assert facts_refreshed.calls > 0


async def test_delinquent_customers_with_3_open_tickets_cost_no_upstream_call(
    facts_refreshed: FactsRefreshReport, clean_sandbox: Stack
) -> None:
    data = await analyst_data(clean_sandbox, DELINQUENT_WITH_TICKETS)

    page = data["customers"]
    assert page["totalCount"] == len(page["edges"]) > 0
    for edge in page["edges"]:
        facts = edge["node"]["facts"]
        assert facts["delinquent"] is True
        assert facts["openTicketCount"] >= 3
        assert facts["takenAt"]["billing"] is not None
    for system in ("billing", "crm", "support", "ivr"):
        assert await requests_at(clean_sandbox, system) == {}, system


async def test_a_facts_only_page_is_served_while_every_system_hangs(
    facts_refreshed: FactsRefreshReport, clean_sandbox: Stack
) -> None:
    # Fair share shares only upstream calls: a page from the read model alone waits for no
    # analysts' lane and no call rate, so systems that answer nobody cannot hold it up.
    for system in ("billing", "crm", "support", "ivr"):
        await clean_sandbox.set_faults(system, hang=True)

    data = await analyst_data(clean_sandbox, DELINQUENT_WITH_TICKETS)

    assert data["customers"]["edges"]
    for system in ("billing", "crm", "support", "ivr"):
        assert await requests_at(clean_sandbox, system) == {}, system


async def test_a_page_of_100_with_panels_costs_one_crm_batch_and_one_call_per_record(
    facts_refreshed: FactsRefreshReport, clean_sandbox: Stack
) -> None:
    # Fewest open tickets first: Barbara (150 tickets, two pages of them) is not on it,
    # so each support user costs exactly one ticket list.
    order = {"field": "OPEN_TICKETS", "direction": "ASC"}

    data = await analyst_data(clean_sandbox, PANELS, first=100, orderBy=order)

    nodes = [edge["node"] for edge in data["customers"]["edges"]]
    assert len(nodes) == 100
    linked = {
        source: sum(1 for n in nodes if any(lk["source"] == source for lk in n["links"]))
        for source in ("CRM", "BILLING", "SUPPORT")
    }
    assert min(linked.values()) > 0
    assert await requests_at(clean_sandbox, "crm") == {
        "POST /crm/v3/objects/contacts/batch/read": 1
    }
    assert await requests_at(clean_sandbox, "billing") == {
        "GET /v1/customers/{id}": linked["BILLING"]
    }
    assert await requests_at(clean_sandbox, "support") == {
        "GET /api/v2/users/{id}/tickets/requested": linked["SUPPORT"]
    }
    assert await requests_at(clean_sandbox, "ivr") == {}


async def test_a_page_re_reading_the_rollout_still_costs_one_crm_batch(
    facts_refreshed: FactsRefreshReport, clean_sandbox: Stack
) -> None:
    # A gateway re-reading the sources' rollout from PostgreSQL on every request
    # (SCV_ROLLOUT__REFRESH_SECONDS=0; with the default 5 s, the first request after a quiet
    # spell): every panel of the page waits for that one read, and must then resume in the
    # same turn of the loop, so that the page's CRM contacts still share one batch read.
    settings = clean_sandbox.settings
    rereading = settings.model_copy(
        update={"rollout": settings.rollout.model_copy(update={"refresh_seconds": 0.0})}
    )
    order = {"field": "OPEN_TICKETS", "direction": "ASC"}
    async with gateway(clean_sandbox, rereading) as own:
        response = await clean_sandbox.http.post(
            f"{own.url}/graphql",
            json={"query": PANELS, "variables": {"first": 100, "orderBy": order}},
            headers={"Authorization": f"Bearer {token_for(clean_sandbox, 'analyst')}"},
        )

    body = response.json()
    assert "errors" not in body, body["errors"]
    nodes = [edge["node"] for edge in body["data"]["customers"]["edges"]]
    assert sum(1 for n in nodes if n["profile"] is not None) > 1
    assert await requests_at(clean_sandbox, "crm") == {
        "POST /crm/v3/objects/contacts/batch/read": 1
    }


async def test_paging_through_a_filter_gives_each_customer_once(
    facts_refreshed: FactsRefreshReport, stack: Stack
) -> None:
    document = """query($after: String) { customers(first: 7, after: $after,
        filter: { linkedTo: [BILLING] }) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }"""
    seen: list[str] = []
    after: str | None = None
    total = None
    while True:
        page = (await analyst_data(stack, document, after=after))["customers"]
        total = page["totalCount"]
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert len(seen) == len(set(seen)) == total


async def test_an_agent_may_not_list_customers(
    facts_refreshed: FactsRefreshReport, stack: Stack
) -> None:
    response = await stack.query(DELINQUENT_WITH_TICKETS, token=token_for(stack, "agent"))

    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_a_bad_cursor_is_bad_input(facts_refreshed: FactsRefreshReport, stack: Stack) -> None:
    response = await stack.query(
        DELINQUENT_WITH_TICKETS, token=token_for(stack, "analyst"), after="bm90LWEtY3Vyc29y"
    )

    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["BAD_USER_INPUT"]


async def test_a_customer_node_reads_its_facts_by_id(
    facts_refreshed: FactsRefreshReport, stack: Stack
) -> None:
    document = """query($id: ID!) { customer(id: $id) { facts { linkedSources country } } }"""
    ada_record = (await analyst_data(stack, DELINQUENT_WITH_TICKETS))["customers"]["edges"][0]

    data = await analyst_data(stack, document, id=ada_record["node"]["id"])

    assert Source.BILLING.value in data["customer"]["facts"]["linkedSources"]
