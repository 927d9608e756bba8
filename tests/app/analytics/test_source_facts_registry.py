"""A source's facts in the read model come from its registry entry, and from nothing else.

A test registry is the gateway's own with one entry changed: the support system declares a
fact of its own (``FactsSpec``: urgent tickets, the newest urgent one, and a filter). With
no other code, the whole refresh runs its pass, the store keeps and filters it, the webhook
updater re-reads it, a GraphQL type made from the declarations serves it and its filter,
and an export job's filter keeps it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import strawberry

from adapters.registry import SOURCES, SourceSpec
from adapters.support.port import SupportAdapter
from app.analytics.refresh import FactsUpdater, refresh_facts
from app.analytics.settings import CustomersSettings
from app.exports.format import filter_from_json, filter_to_json
from app.identity.settings import IdentitySettings
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from app.store.facts import PostgresFactsStore
from app.store.facts_writer import FactsWriter
from kernel.customer_facts import CustomerFacts, CustomerFilter, CustomerOrder
from kernel.identity import CustomerId
from kernel.models import Source, SupportUserId, Ticket
from kernel.source_facts import FactFlag, FactKind, FactsSpec, FactValues, SourceFact
from resolvers.types.facts import (
    declared_facts,
    source_fact_fields,
    source_fact_values,
    source_flag_fields,
    source_flags_of,
    source_taken_at_fields,
    source_taken_at_values,
)
from tests.builders import ticket
from tests.fake_systems import FakeSystems, named_customers

NOW = datetime(2025, 3, 1, tzinfo=UTC)
URGENT_AT = datetime(2024, 2, 2, tzinfo=UTC)
FLAG = "SUPPORT.has_urgent_tickets"


def urgent_facts(tickets: Sequence[Any]) -> FactValues:
    urgent = [t for t in tickets if isinstance(t, Ticket) and t.priority == "urgent"]
    return {
        "urgent_ticket_count": len(urgent),
        "last_urgent_at": max((t.created_at for t in urgent), default=None),
    }


def every_ticket(support: SupportAdapter) -> AsyncIterator[list[tuple[SupportUserId, Ticket]]]:
    return support.iter_tickets()


async def users_tickets(support: SupportAdapter, user: str) -> tuple[Ticket, ...]:
    return (await support.list_requested_tickets(SupportUserId(user))).items


URGENT = FactsSpec(
    facts=(
        SourceFact("urgent_ticket_count", FactKind.COUNT, "Tickets marked urgent."),
        SourceFact("last_urgent_at", FactKind.LATEST_TIME, "When the newest urgent was opened."),
    ),
    description="Urgent tickets.",
    records="tickets",
    read_all=every_ticket,
    read_one=users_tickets,
    compute=urgent_facts,
    flags=(FactFlag("has_urgent_tickets", "urgent_ticket_count", "Some ticket is urgent."),),
)

#: The gateway's registry, but the support system's entry declares facts of its own.
REGISTRY: tuple[SourceSpec, ...] = tuple(
    dataclasses.replace(spec, facts=URGENT) if spec.source is Source.SUPPORT else spec
    for spec in SOURCES
)


#: A graph of the test registry's declarations alone (the gateway's is resolvers/types/facts.py).
DECLARED = declared_facts(REGISTRY)


@strawberry.type
@source_taken_at_fields(DECLARED)
class TakenAt:
    pass


@strawberry.type
@source_fact_fields(DECLARED)
class Facts:
    taken_at: TakenAt


@strawberry.input
@source_flag_fields(DECLARED)
class Filter:
    pass


@strawberry.type
class Query:
    @strawberry.field
    async def customers(self, info: strawberry.Info, filter: Filter) -> list[Facts]:
        selection = CustomerFilter(source_flags=source_flags_of(DECLARED, filter))
        read_model: PostgresFactsStore = info.context
        page = await read_model.page_customers(selection, CustomerOrder(), 50, None)
        return [
            Facts(
                taken_at=TakenAt(**source_taken_at_values(DECLARED, row)),
                **source_fact_values(DECLARED, row),
            )
            for row in page.rows
        ]


def systems() -> FakeSystems:
    """The named customers (page size 100: Barbara's 150 tickets come on two pages), three
    of Barbara's tickets urgent, one on each side of the page break, and one of Ada's."""
    fakes = named_customers()
    barbara = fakes.support.tickets["9007"]
    for n in (0, 50, 120):
        barbara[n] = barbara[n].model_copy(update={"priority": "urgent"})
    fakes.support.tickets["9001"].append(
        ticket("70009", "Locked out", priority="urgent", created_at=URGENT_AT)
    )
    return fakes


async def refreshed(store: Store, fakes: FakeSystems) -> None:
    await sync_identities(store, fakes.by_source, IdentitySettings(), full=True)
    await refresh_facts(
        FactsWriter(store.pool, store.tenant),
        fakes.billing,
        fakes.crm,
        fakes.support,
        fakes.ivr,
        CustomersSettings(),
        "GB",
        clock=lambda: NOW,
        adapters=fakes.by_source,
        registry=REGISTRY,
    )


async def facts_of(store: Store, crm_id: str) -> CustomerFacts:
    customer = await store.find_by_source_id(Source.CRM, crm_id)
    assert customer is not None
    return (await PostgresFactsStore(store.pool).get_facts([customer]))[customer]


async def test_a_sources_declared_facts_are_refreshed_and_kept(store: Store) -> None:
    await refreshed(store, systems())

    ada, barbara, grace = [await facts_of(store, crm) for crm in ("1001", "1007", "1002")]
    assert ada.source_facts[Source.SUPPORT].values == {
        "urgent_ticket_count": 1,
        "last_urgent_at": URGENT_AT,
    }
    assert ada.source_facts[Source.SUPPORT].taken_at == NOW
    # Added up over the two pages of Barbara's tickets.
    assert barbara.source_facts[Source.SUPPORT].values["urgent_ticket_count"] == 3
    # Grace's support user has no tickets: the facts of none, not nothing.
    assert grace.source_facts[Source.SUPPORT].values == {
        "urgent_ticket_count": 0,
        "last_urgent_at": None,
    }
    # The fixed columns are as before.
    assert barbara.open_ticket_count == 40


async def test_a_sources_declared_filter_selects_customers(store: Store) -> None:
    await refreshed(store, systems())
    facts = PostgresFactsStore(store.pool)

    async def selected(holds: bool) -> set[CustomerId]:
        wanted = CustomerFilter(source_flags=frozenset({(FLAG, holds)}))
        page = await facts.page_customers(wanted, CustomerOrder(), 50, None)
        assert await facts.count_customers_matching(wanted) == len(page.rows)
        return {row.customer_id for row in page.rows}

    ada, barbara, grace = [
        (await facts_of(store, crm)).customer_id for crm in ("1001", "1007", "1002")
    ]
    assert await selected(True) == {ada, barbara}
    without = await selected(False)
    assert grace in without
    assert not without & {ada, barbara}


async def test_the_updater_rereads_a_sources_declared_facts(store: Store) -> None:
    fakes = systems()
    await refreshed(store, fakes)
    fakes.support.tickets["9001"].clear()
    later = NOW + timedelta(days=1)
    updater = FactsUpdater(
        store,
        FactsWriter(store.pool, store.tenant),
        fakes.billing,
        fakes.crm,
        fakes.support,
        adapters=fakes.by_source,
        registry=REGISTRY,
        clock=lambda: later,
    )

    assert await updater.refresh_record(Source.SUPPORT, "9001")

    ada = await facts_of(store, "1001")
    assert ada.source_facts[Source.SUPPORT].values["urgent_ticket_count"] == 0
    assert ada.source_facts[Source.SUPPORT].taken_at == later
    wanted = CustomerFilter(source_flags=frozenset({(FLAG, True)}))
    page = await PostgresFactsStore(store.pool).page_customers(wanted, CustomerOrder(), 50, None)
    assert ada.customer_id not in {row.customer_id for row in page.rows}


async def test_a_graphql_type_made_from_the_declarations_serves_them(store: Store) -> None:
    await refreshed(store, systems())
    schema = strawberry.Schema(query=Query)

    result = await schema.execute(
        "{ customers(filter: { hasUrgentTickets: true }) "
        "{ urgentTicketCount lastUrgentAt takenAt { support } } }",
        context_value=PostgresFactsStore(store.pool),
    )

    assert result.errors is None
    assert result.data is not None
    assert sorted(row["urgentTicketCount"] for row in result.data["customers"]) == [1, 3]
    assert {row["takenAt"]["support"] for row in result.data["customers"]} == {NOW.isoformat()}


def test_an_export_jobs_filter_keeps_a_sources_declared_filter() -> None:
    kept = CustomerFilter(delinquent=True, source_flags=frozenset({(FLAG, False)}))

    assert filter_from_json(filter_to_json(kept)) == kept


def test_two_sources_declaring_one_fact_name_are_refused() -> None:
    twice = tuple(
        dataclasses.replace(spec, facts=URGENT)
        if spec.source in (Source.SUPPORT, Source.BILLING)
        else spec
        for spec in SOURCES
    )

    with pytest.raises(ValueError, match="urgent_ticket_count"):
        declared_facts(twice)
