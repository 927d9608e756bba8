"""A source's own panel finds its adapter and keeps its loaders without fields of its own."""

from __future__ import annotations

import pytest
from strawberry.dataloader import DataLoader

from kernel.models import Source
from resolvers.context import Sources
from resolvers.loaders import Loaders, each_concurrently
from tests.fake_systems import named_customers
from tests.resolvers.memory_store import MemoryStore


def loaders_of(sources: Sources) -> Loaders:
    return Loaders(
        store=MemoryStore(), billing=sources.billing, crm=sources.crm, support=sources.support
    )


def test_every_source_s_adapter_is_found_by_its_source() -> None:
    systems = named_customers()
    orders = object()
    sources = Sources.from_adapters(
        {
            Source.BILLING: systems.billing,
            Source.CRM: systems.crm,
            Source.SUPPORT: systems.support,
            Source.IVR: systems.ivr,
        }
    )
    extended = Sources(
        billing=systems.billing,
        crm=systems.crm,
        support=systems.support,
        ivr=systems.ivr,
        by_source={**sources.by_source, Source.IVR: orders},
    )

    assert sources.port(Source.SUPPORT) is systems.support
    assert extended.port(Source.IVR) is orders


def test_a_bundle_built_by_hand_still_answers_for_its_named_sources() -> None:
    systems = named_customers()
    sources = Sources(
        billing=systems.billing, crm=systems.crm, support=systems.support, ivr=systems.ivr
    )

    assert sources.port(Source.BILLING) is systems.billing


async def test_a_keyed_loader_is_built_once_per_request_and_batches() -> None:
    systems = named_customers()
    loaders = loaders_of(
        Sources(billing=systems.billing, crm=systems.crm, support=systems.support, ivr=systems.ivr)
    )
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
    sources = Sources(
        billing=systems.billing, crm=systems.crm, support=systems.support, ivr=systems.ivr
    )
    # A source of its own field is taken away; one reached only through ``by_source`` (a
    # source's own panel) has none here to start with.
    if hasattr(sources, source.value.lower()):
        object.__setattr__(sources, source.value.lower(), None)

    with pytest.raises(LookupError, match=f"no adapter for the source {source.value}"):
        sources.port(source)
