"""The source registry: one entry per source, each entry's parts belonging together."""

from __future__ import annotations

import pytest

from adapters.billing.settings import BillingSettings
from adapters.connection import Connection
from adapters.crm.settings import CrmSettings
from adapters.entry import WebhookSpec, http_source_spec
from adapters.ivr.client import HttpIvrAdapter, ivr_auth_headers
from adapters.ivr.settings import IvrSettings
from adapters.orders.settings import OrdersSettings
from adapters.registry import (
    SOURCES,
    linked,
    linking_of,
    on_desktop,
    spec_of,
    with_webhooks,
)
from adapters.settings import SandboxPlace, SignedWebhooksSettings
from kernel.models import Source


def test_every_source_is_registered_once() -> None:
    assert sorted(spec.source for spec in SOURCES) == sorted(Source)


def test_a_source_is_found_by_its_name() -> None:
    for spec in SOURCES:
        assert spec_of(spec.source) is spec
        assert spec.name == spec.source.value.lower()


def test_sources_with_webhooks_keep_their_signing_secret_in_their_own_section() -> None:
    assert [spec.source for spec in with_webhooks()] == [
        Source.BILLING,
        Source.CRM,
        Source.SUPPORT,
    ]
    for spec in with_webhooks():
        assert issubclass(spec.settings_model, SignedWebhooksSettings)


async def test_an_entry_opens_its_adapter_from_its_own_section() -> None:
    spec = spec_of(Source.IVR)
    async with spec.connect(IvrSettings(), Connection()) as adapter:
        assert isinstance(adapter, HttpIvrAdapter)


def test_an_entry_refuses_another_sources_section() -> None:
    spec = spec_of(Source.BILLING)

    with pytest.raises(TypeError, match="billing: settings are a CrmSettings"):
        spec.connect(CrmSettings(), Connection())
    with pytest.raises(TypeError, match="billing: settings are a CrmSettings"):
        spec.in_sandbox(CrmSettings(), SandboxPlace("http://sandbox"))
    assert spec.connect(BillingSettings(), Connection())


def test_an_entry_points_its_section_at_the_sandbox() -> None:
    place = SandboxPlace("http://127.0.0.1:9", database_url="postgresql://postgres:@/postgres")
    billing = spec_of(Source.BILLING).in_sandbox(BillingSettings(), place)
    orders = spec_of(Source.ORDERS).in_sandbox(OrdersSettings(), place)

    assert isinstance(billing, BillingSettings)
    assert billing.base_url == "http://127.0.0.1:9/billing"
    assert isinstance(orders, OrdersSettings)
    assert orders.url is not None
    assert orders.url.get_secret_value().startswith("postgresql+asyncpg://scv_orders_reader:")


def test_webhooks_need_a_section_with_a_signing_secret() -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("not called")

    with pytest.raises(TypeError, match="webhooks need a SignedWebhooksSettings"):
        http_source_spec(
            Source.IVR,
            system_of_record_for="calls",
            record_noun="IVR contact",
            display_name="The IVR",
            settings_model=IvrSettings,
            adapter=HttpIvrAdapter,
            auth_headers=ivr_auth_headers,
            webhooks=WebhookSpec(verify=never, parse=lambda body: []),
        )


def test_desktop_panels_have_fields_and_places_of_their_own() -> None:
    panels = on_desktop()

    assert len({panel.field for panel in panels}) == len(panels)
    assert [panel.place for panel in panels] == sorted({panel.place for panel in panels})
    assert all(panel.selection.strip() and panel.none for panel in panels)


def test_linked_sources_are_read_anchors_first_and_name_only_linked_sources() -> None:
    order = linked()
    linked_sources = {spec.source for spec in order}
    policies = [spec.linking for spec in order if spec.linking is not None]

    assert [policy.rank for policy in policies] == sorted(policy.rank for policy in policies)
    assert policies[0].anchors
    for policy in policies:
        assert policy.names is None or policy.names in linked_sources


def test_a_source_whose_records_are_not_linked_says_so() -> None:
    with pytest.raises(KeyError, match="not linked to customers"):
        linking_of(Source.IVR)
