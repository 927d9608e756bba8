"""The sources as one mapping by source: a panel finds its adapter (typed by its port's key)
and keeps its loaders without fields of its own."""

from __future__ import annotations

import pytest
from strawberry.dataloader import DataLoader

from adapters.billing.port import PORT as BILLING
from adapters.billing.port import BillingAdapter
from adapters.orders.port import PORT as ORDERS
from adapters.orders.port import OrdersAdapter
from kernel.models import Source, SupportUserId
from resolvers.context import Sources
from resolvers.loaders import Loaders, each_concurrently
from tests.fake_systems import named_customers
from tests.resolvers.memory_store import MemoryStore


def loaders_of(sources: Sources) -> Loaders:
    return Loaders(store=MemoryStore(), sources=sources.by_source)


def test_every_source_s_adapter_is_found_by_its_source() -> None:
    systems = named_customers()
    sources = Sources.from_adapters(systems.by_source)

    for source, adapter in systems.by_source.items():
        assert sources.port(source) is adapter


def test_a_source_s_port_key_finds_its_adapter_typed() -> None:
    systems = named_customers()
    sources = Sources.from_adapters(systems.by_source)

    billing: BillingAdapter = sources.port(BILLING)
    orders: OrdersAdapter = sources.port(ORDERS)

    assert billing is systems.billing
    assert orders is systems.orders


def test_a_set_of_sources_holds_only_the_adapters_it_was_built_with() -> None:
    systems = named_customers()
    without_orders = {s: a for s, a in systems.by_source.items() if s is not Source.ORDERS}
    sources = Sources.from_adapters(without_orders)

    assert Source.BILLING in sources
    assert Source.ORDERS not in sources
    with pytest.raises(LookupError, match="no adapter for the source ORDERS"):
        sources.port(ORDERS)


async def test_loaders_of_a_set_without_a_source_fail_only_its_panels() -> None:
    systems = named_customers()
    without_billing = {s: a for s, a in systems.by_source.items() if s is not Source.BILLING}
    loaders = loaders_of(Sources.from_adapters(without_billing))

    tickets = await loaders.tickets.load(SupportUserId("9001"))

    assert tickets.items
    with pytest.raises(LookupError, match="no adapter for the source BILLING"):
        _ = loaders.billing_customers


async def test_a_keyed_loader_is_built_once_per_request_and_batches() -> None:
    systems = named_customers()
    loaders = loaders_of(Sources.from_adapters(systems.by_source))
    built: list[int] = []
    batches: list[list[str]] = []

    def build() -> DataLoader[str, str]:
        built.append(1)

        async def load(keys: list[str]) -> list[str]:
            batches.append(keys)
            return [key.upper() for key in keys]

        return DataLoader(load)

    first = loaders.keyed("orders.orders", build)
    second = loaders.keyed("orders.orders", build)
    answers = [await first.load("a"), await second.load("b")]

    assert first is second
    assert built == [1]
    assert answers == ["A", "B"]


async def test_each_concurrently_hands_back_one_keys_failure_as_its_own() -> None:
    async def fetch(key: str) -> str:
        if key == "bad":
            raise LookupError(key)
        return key

    load = each_concurrently(fetch, limit=2)
    answers = await load(["ok", "bad"])

    assert answers[0] == "ok"
    assert isinstance(answers[1], LookupError)


@pytest.mark.parametrize("source", list(Source))
def test_a_missing_adapter_is_refused_by_name(source: Source) -> None:
    systems = named_customers()
    others = {s: a for s, a in systems.by_source.items() if s is not source}
    sources = Sources.from_adapters(others)

    with pytest.raises(LookupError, match=f"no adapter for the source {source.value}"):
        sources.port(source)
