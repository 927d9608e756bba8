"""The facts a source's registry entry declares are export columns, made from the entry: the
orders database's ``orderCount`` ... ``ordersTakenAt``, and a test registry's own."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from adapters.registry import SOURCES
from app.exports.format import COLUMNS, header_chunk, render_batch, source_columns
from app.exports.jobs import CANNOT_RESUME, Exports, ExportWorker
from app.exports.metrics import ExportMetrics
from app.exports.settings import ExportSettings
from app.store.customers import Store
from app.store.exports import ExportStore
from kernel.access import Principal
from kernel.client_errors import BadUserInput
from kernel.customer_facts import CustomerFacts, CustomerFilter
from kernel.exports import ExportField, ExportFormat, ExportState
from kernel.models import Source
from kernel.source_facts import FactKind, FactsSpec, SourceFact, SourceFactsRow
from tests.app.memory_facts import MemoryFacts, customer_facts

AT = datetime(2024, 5, 20, tzinfo=UTC)
ORDER_COLUMNS = ["orderCount", "openOrderCount", "lastOrderAt", "ordersTakenAt"]


def with_orders() -> list[CustomerFacts]:
    known = customer_facts(1)
    orders = SourceFactsRow({"order_count": 3, "open_order_count": 1, "last_order_at": AT}, AT)
    return [dataclasses.replace(known, source_facts={Source.ORDERS: orders}), customer_facts(2)]


def test_the_orders_entrys_facts_are_columns_null_where_it_does_not_know_the_customer() -> None:
    fields = [ExportField.CUSTOMER_ID, *ORDER_COLUMNS]

    lines = [
        json.loads(line)
        for line in render_batch(with_orders(), fields, ExportFormat.NDJSON, "GB").splitlines()
    ]

    assert lines == [
        {
            "customerId": "cus-000001",
            "orderCount": 3,
            "openOrderCount": 1,
            "lastOrderAt": AT.isoformat(),
            "ordersTakenAt": AT.isoformat(),
        },
        {
            "customerId": "cus-000002",
            "orderCount": None,
            "openOrderCount": None,
            "lastOrderAt": None,
            "ordersTakenAt": None,
        },
    ]
    assert (
        header_chunk(fields, ExportFormat.CSV)
        == "customerId,orderCount,openOrderCount,lastOrderAt,ordersTakenAt\r\n"
    )


def test_a_sources_declared_fact_is_a_column_of_its_entry_alone() -> None:
    escalations = FactsSpec(
        facts=(SourceFact("escalation_count", FactKind.COUNT, "Tickets escalated."),),
        description="Escalations.",
        records="tickets",
        read_all=lambda support: support.iter_tickets(),
        read_one=lambda support, ref: support.list_requested_tickets(ref),
        compute=lambda tickets: {"escalation_count": len(tickets)},
    )
    registry = [
        dataclasses.replace(spec, facts=escalations) if spec.source is Source.SUPPORT else spec
        for spec in SOURCES
    ]

    columns = source_columns(registry)

    assert {"escalationCount", "supportTakenAt", *ORDER_COLUMNS} <= set(columns)
    assert "escalationCount" not in COLUMNS
    row = dataclasses.replace(
        customer_facts(1),
        source_facts={Source.SUPPORT: SourceFactsRow({"escalation_count": 4}, AT)},
    )
    assert columns["escalationCount"].read(row) == 4


async def test_a_column_no_export_has_is_refused_and_queues_nothing(store: Store) -> None:
    registry = CollectorRegistry()
    exports = Exports(
        ExportStore(store), ExportSettings(), ExportMetrics.create(registry, registry)
    )
    analyst = Principal(subject="analyst-1", role="analyst")

    with pytest.raises(BadUserInput, match="escalationCount"):
        await exports.start_export(
            analyst, CustomerFilter(), ["customerId", "escalationCount"], ExportFormat.NDJSON
        )

    async with store.pool.acquire() as conn:
        assert await conn.fetchval("select count(*) from export_jobs") == 0


async def test_a_queued_jobs_column_no_source_declares_any_more_fails_it_visibly(
    store: Store,
) -> None:
    registry = CollectorRegistry()
    metrics = ExportMetrics.create(registry, registry)
    settings = ExportSettings()
    analyst = Principal(subject="analyst-1", role="analyst")
    job = await Exports(ExportStore(store), settings, metrics).start_export(
        analyst, CustomerFilter(), ["customerId", "orderCount"], ExportFormat.NDJSON
    )
    # As if the orders entry had stopped declaring the fact while the job waited.
    async with store.pool.acquire() as conn:
        await conn.execute(
            "update export_jobs set fields = '{customerId,escalationCount}' where id = $1", job.id
        )

    worker = ExportWorker(
        ExportStore(store), MemoryFacts([]), settings, metrics, default_region="GB"
    )
    await worker.run_once()

    failed = await Exports(ExportStore(store), settings, metrics).get_export(job.id)
    assert failed is not None
    assert (failed.state, failed.error) == (ExportState.FAILED, CANNOT_RESUME)
