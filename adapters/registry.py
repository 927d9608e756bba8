"""The source registry: every system of record the gateway knows, one entry each.

An entry names what the rest of the gateway needs of a source without knowing its vendor
or how it is reached: its settings section (``SCV_<NAME>__...``), how to open its adapter
(``connect``: over an HTTP client for an API, over a database engine for a database; the
caller sees only an async context manager that yields the adapter and closes what it
holds), where the demo's sandbox keeps it, how its webhooks are checked and read, which of
its reads the response cache keeps for how long, and how its records are read and linked
to customers. The settings, the resilience policies, the adapters, their cached wrappers, the
cache's lifetimes, the webhook routes and the identity sync's passes are built by iterating
``SOURCES``; code outside ``adapters/`` never names a particular source to do so.

Adding a source is a folder under ``adapters/`` and one entry here (docs/architecture.md).
Hand-written rather than entry points: the sources are part of this code base, and a plain
tuple is what mypy, import-linter and a reader can all follow.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.billing import desktop as billing_desktop
from adapters.billing import linking as billing_linking
from adapters.billing import webhooks as billing_webhooks
from adapters.billing import writes as billing_writes
from adapters.billing.cached import BillingLifetimes, CachedBillingAdapter
from adapters.billing.client import HttpBillingAdapter, billing_auth_headers
from adapters.billing.settings import BillingSettings
from adapters.crm import desktop as crm_desktop
from adapters.crm import linking as crm_linking
from adapters.crm import webhooks as crm_webhooks
from adapters.crm import writes as crm_writes
from adapters.crm.cached import CachedCrmAdapter, CrmLifetimes
from adapters.crm.client import HttpCrmAdapter, crm_auth_headers
from adapters.crm.settings import CrmSettings
from adapters.entry import (
    CacheSpec,
    DesktopPanel,
    LinkingSpec,
    SourceSpec,
    WebhookSpec,
    http_source_spec,
    source_spec,
)
from adapters.ivr.client import HttpIvrAdapter, ivr_auth_headers
from adapters.ivr.settings import IvrSettings
from adapters.orders import desktop as orders_desktop
from adapters.orders import facts as orders_facts
from adapters.orders import linking as orders_linking
from adapters.orders.cached import CachedOrdersAdapter, OrdersLifetimes
from adapters.orders.client import open_orders_adapter
from adapters.orders.settings import OrdersSettings, orders_in_sandbox
from adapters.support import desktop as support_desktop
from adapters.support import linking as support_linking
from adapters.support import webhooks as support_webhooks
from adapters.support import writes as support_writes
from adapters.support.cached import CachedSupportAdapter, SupportLifetimes
from adapters.support.client import HttpSupportAdapter, support_auth_headers
from adapters.support.settings import SupportSettings
from kernel.models import Source
from kernel.writes import SourceWrite, WriteKind

#: Every source, in the order panels, metrics and ``/readyz`` list them.
SOURCES: tuple[SourceSpec, ...] = (
    http_source_spec(
        Source.BILLING,
        system_of_record_for="money: balance, subscriptions, invoices, cards",
        record_noun="billing customer",
        display_name="Billing",
        desktop=billing_desktop.PANEL,
        settings_model=BillingSettings,
        adapter=HttpBillingAdapter,
        auth_headers=billing_auth_headers,
        webhooks=WebhookSpec(billing_webhooks.verify_delivery, billing_webhooks.parse_stripe),
        cache=CacheSpec(BillingLifetimes, CachedBillingAdapter),
        linking=LinkingSpec(
            rank=1,
            anchors=False,
            names=None,
            plan_pass=billing_linking.plan_pass,
            search=billing_linking.search,
            get=billing_linking.get,
        ),
        writes=billing_writes.WRITES,
    ),
    http_source_spec(
        Source.CRM,
        system_of_record_for="name and contact details",
        record_noun="CRM contact",
        display_name="The CRM",
        desktop=crm_desktop.PANEL,
        settings_model=CrmSettings,
        adapter=HttpCrmAdapter,
        auth_headers=crm_auth_headers,
        webhooks=WebhookSpec(crm_webhooks.verify_delivery, crm_webhooks.parse_hubspot),
        cache=CacheSpec(CrmLifetimes, CachedCrmAdapter),
        linking=LinkingSpec(
            rank=0,
            anchors=True,
            names=Source.BILLING,
            plan_pass=crm_linking.plan_pass,
            search=crm_linking.search,
            get=crm_linking.get,
        ),
        writes=crm_writes.WRITES,
    ),
    http_source_spec(
        Source.SUPPORT,
        system_of_record_for="tickets",
        record_noun="support user",
        display_name="Support",
        desktop=support_desktop.PANEL,
        settings_model=SupportSettings,
        adapter=HttpSupportAdapter,
        auth_headers=support_auth_headers,
        webhooks=WebhookSpec(support_webhooks.verify_delivery, support_webhooks.parse_zendesk),
        cache=CacheSpec(SupportLifetimes, CachedSupportAdapter),
        linking=LinkingSpec(
            rank=2,
            anchors=False,
            names=Source.CRM,
            plan_pass=support_linking.plan_pass,
            search=support_linking.search,
            get=support_linking.get,
        ),
        writes=support_writes.WRITES,
    ),
    http_source_spec(
        Source.IVR,
        system_of_record_for="calls, and how each caller was verified",
        record_noun="IVR contact",
        display_name="The IVR",
        settings_model=IvrSettings,
        adapter=HttpIvrAdapter,
        auth_headers=ivr_auth_headers,
    ),
    source_spec(
        Source.ORDERS,
        system_of_record_for="orders and shipments",
        record_noun="orders customer reference",
        display_name="Orders",
        desktop=orders_desktop.PANEL,
        settings_model=OrdersSettings,
        connect=open_orders_adapter,
        in_sandbox=orders_in_sandbox,
        cache=CacheSpec(OrdersLifetimes, CachedOrdersAdapter),
        linking=LinkingSpec(
            rank=3,
            anchors=False,
            names=Source.BILLING,
            plan_pass=orders_linking.plan_pass,
            search=orders_linking.search,
            get=orders_linking.get,
        ),
        facts=orders_facts.FACTS,
    ),
)

_BY_SOURCE: Mapping[Source, SourceSpec] = {spec.source: spec for spec in SOURCES}


def spec_of(source: Source) -> SourceSpec:
    """The registry entry of ``source``."""
    return _BY_SOURCE[source]


def linked() -> tuple[SourceSpec, ...]:
    """The sources whose records are linked to customers, in their linking order (rank)."""
    specs = [spec for spec in SOURCES if spec.linking is not None]
    return tuple(sorted(specs, key=lambda spec: spec.linking.rank if spec.linking else 0))


def linking_of(source: Source) -> LinkingSpec:
    """The linking policy of ``source``; ``KeyError`` for a source whose records are not
    linked."""
    linking = spec_of(source).linking
    if linking is None:
        raise KeyError(f"the records of {source.value} are not linked to customers")
    return linking


def fallback_order() -> tuple[Source, ...]:
    """Whose value of a fact is believed when its system of record has none: the linked
    sources in their linking order, then the others (contact details are the CRM's trade,
    then billing's, then support's)."""
    return tuple(spec.source for spec in linked()) + tuple(
        spec.source for spec in SOURCES if spec.linking is None
    )


def on_desktop() -> tuple[DesktopPanel, ...]:
    """The panels the agent desktop shows, in their place."""
    panels = [spec.desktop for spec in SOURCES if spec.desktop is not None]
    return tuple(sorted(panels, key=lambda panel: panel.place))


def display_names() -> dict[Source, str]:
    """How a person names each system (``The CRM``)."""
    return {spec.source: spec.display_name for spec in SOURCES}


def record_nouns() -> dict[Source, str]:
    """How each source's records are named for a person (``CRM contact``)."""
    return {spec.source: spec.record_noun for spec in SOURCES}


def cached() -> tuple[SourceSpec, ...]:
    """The sources whose reads the response cache keeps, in registry order."""
    return tuple(spec for spec in SOURCES if spec.cache is not None)


def with_webhooks() -> tuple[SourceSpec, ...]:
    """The sources that send signed webhooks, in registry order."""
    return tuple(spec for spec in SOURCES if spec.webhooks is not None)


def with_facts() -> tuple[SourceSpec, ...]:
    """The sources whose records bring facts of their own to the read model, in registry
    order."""
    return tuple(spec for spec in SOURCES if spec.facts is not None)


def writer_of(kind: WriteKind) -> tuple[Source, SourceWrite]:
    """The system of record a kind of write goes to, and how it is written there."""
    for spec in SOURCES:
        for write in spec.writes:
            if write.kind is kind:
                return spec.source, write
    raise LookupError(f"no source takes the write {kind.value}")
