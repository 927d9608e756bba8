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

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import httpx

from adapters.billing import linking as billing_linking
from adapters.billing import webhooks as billing_webhooks
from adapters.billing import writes as billing_writes
from adapters.billing.cached import BillingLifetimes, CachedBillingAdapter
from adapters.billing.client import HttpBillingAdapter, billing_auth_headers
from adapters.billing.settings import BillingSettings
from adapters.connection import Connection
from adapters.crm import linking as crm_linking
from adapters.crm import webhooks as crm_webhooks
from adapters.crm import writes as crm_writes
from adapters.crm.cached import CachedCrmAdapter, CrmLifetimes
from adapters.crm.client import HttpCrmAdapter, crm_auth_headers
from adapters.crm.settings import CrmSettings
from adapters.http.client import CallPolicy, build_client
from adapters.ivr.client import HttpIvrAdapter, ivr_auth_headers
from adapters.ivr.settings import IvrSettings
from adapters.orders import facts as orders_facts
from adapters.orders import linking as orders_linking
from adapters.orders.cached import CachedOrdersAdapter, OrdersLifetimes
from adapters.orders.client import open_orders_adapter
from adapters.orders.settings import OrdersSettings, orders_in_sandbox
from adapters.settings import (
    HttpSourceSettings,
    SandboxPlace,
    SignedWebhooksSettings,
    SourceSettings,
)
from adapters.support import linking as support_linking
from adapters.support import webhooks as support_webhooks
from adapters.support import writes as support_writes
from adapters.support.cached import CachedSupportAdapter, SupportLifetimes
from adapters.support.client import HttpSupportAdapter, support_auth_headers
from adapters.support.settings import SupportSettings
from kernel.cache import LifetimeSection, ReadThrough
from kernel.linking import LinkPass, LinkRecord, SourceCursor
from kernel.models import Source
from kernel.source_facts import FactsSpec
from kernel.webhooks import VendorEvent, WebhookDelivery
from kernel.writes import SourceWrite, WriteKind

SettingsT = TypeVar("SettingsT", bound=SourceSettings)
HttpSettingsT = TypeVar("HttpSettingsT", bound=HttpSourceSettings)
HttpSettingsT_contra = TypeVar("HttpSettingsT_contra", bound=HttpSourceSettings, contravariant=True)


#: Opens a source's adapter for its section: entering yields the adapter, leaving closes what
#: it holds (an HTTP client, a database engine's pool).
Connector = Callable[[SourceSettings, Connection], AbstractAsyncContextManager[object]]


class AdapterFactory(Protocol[HttpSettingsT_contra]):
    """Builds an HTTP source's adapter over its client (the adapters' own constructors)."""

    def __call__(
        self,
        settings: HttpSettingsT_contra,
        client: httpx.AsyncClient,
        *,
        policy: CallPolicy | None,
    ) -> object: ...


class WebhookVerifier(Protocol):
    """Checks one delivery's signature; raises ``kernel.webhooks.SignatureRejected``."""

    def __call__(
        self, delivery: WebhookDelivery, secret: str, *, now: float, tolerance: float
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """How a source's vendor signs its webhooks and what their bodies say.

    The signing secret is the source's own setting (``SCV_<NAME>__WEBHOOK_SECRET``): its
    section is a ``SignedWebhooksSettings``.
    """

    verify: WebhookVerifier
    parse: Callable[[bytes], list[VendorEvent]]


@dataclass(frozen=True, slots=True)
class CacheSpec:
    """Which of a source's reads the response cache keeps, and for how long by default."""

    #: One ``Lifetime`` per cached resource (``SCV_CACHE__<NAME>__<RESOURCE>__...``).
    lifetimes: type[LifetimeSection]
    #: The source's adapter reading through the cache (``adapters/<source>/cached.py``).
    wrap: Callable[[Any, ReadThrough], object]


@dataclass(frozen=True, slots=True)
class LinkingSpec:
    """How a source's records are linked to customers (``scv sync`` and live lookups).

    The functions take the source's adapter (its port) and speak ``kernel.linking``; they
    are the source's own (``adapters/<source>/linking.py``).
    """

    #: Passes run in this order, and a customer is named after its record of the lowest.
    rank: int
    #: Its records create customers and are never matched to one (the CRM's contacts).
    anchors: bool
    #: The source whose record ids this one's ``LinkRecord.xref`` names, if any.
    names: Source | None
    plan_pass: Callable[[Any, SourceCursor | None, datetime], LinkPass]
    search: Callable[[Any, str | None, str | None], Awaitable[list[LinkRecord]]]
    get: Callable[[Any, str], Awaitable[LinkRecord | None]]


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One registered source: what the gateway builds for it, and from which settings.

    Built by ``source_spec`` (or ``http_source_spec``), which checks at registration that
    the settings model and the connector belong together; an entry then takes any section
    and refuses one of another source's model.
    """

    source: Source
    #: The facts this source is the system of record for (docs and ``scv status``).
    system_of_record_for: str
    #: How a message names one of its records for a person (``billing customer``).
    record_noun: str
    settings_model: type[SourceSettings]
    #: Opens its adapter (and closes what the adapter holds).
    connect: Connector
    #: Its section pointed at ``scv demo``'s sandbox.
    in_sandbox: Callable[[SourceSettings, SandboxPlace], SourceSettings]
    webhooks: WebhookSpec | None = None
    #: None: never cached (the IVR's contacts belong to one live call).
    cache: CacheSpec | None = None
    #: None: its records are not linked to customers (the IVR's contacts are calls).
    linking: LinkingSpec | None = None
    #: The writes it takes, as the system of record of their facts (``adapters/<source>/
    #: writes.py``); none: the gateway never writes to it.
    writes: tuple[SourceWrite, ...] = ()
    #: The facts its records bring to the analysts' read model (``kernel.source_facts``);
    #: None: none of its own.
    facts: FactsSpec | None = None

    @property
    def name(self) -> str:
        """The section's name in settings and URLs: ``SCV_<NAME>__...``, ``/webhooks/<name>``."""
        return self.source.value.lower()


def _own(source: Source, model: type[SettingsT]) -> Callable[[SourceSettings], SettingsT]:
    """A check that a section is ``source``'s own model (another source's is refused)."""

    def own(section: SourceSettings) -> SettingsT:
        if not isinstance(section, model):
            raise TypeError(f"{source.value.lower()}: settings are a {type(section).__name__}")
        return section

    return own


def source_spec(
    source: Source,
    *,
    system_of_record_for: str,
    record_noun: str,
    settings_model: type[SettingsT],
    connect: Callable[[SettingsT, Connection], AbstractAsyncContextManager[object]],
    in_sandbox: Callable[[SettingsT, SandboxPlace], SettingsT],
    webhooks: WebhookSpec | None = None,
    cache: CacheSpec | None = None,
    linking: LinkingSpec | None = None,
    writes: tuple[SourceWrite, ...] = (),
    facts: FactsSpec | None = None,
) -> SourceSpec:
    """A registry entry of any kind of source, its parts type-checked together here, once."""
    if webhooks is not None and not issubclass(settings_model, SignedWebhooksSettings):
        raise TypeError(f"{source.value.lower()}: webhooks need a SignedWebhooksSettings section")
    own = _own(source, settings_model)
    return SourceSpec(
        source=source,
        system_of_record_for=system_of_record_for,
        record_noun=record_noun,
        settings_model=settings_model,
        connect=lambda section, connection: connect(own(section), connection),
        in_sandbox=lambda section, place: in_sandbox(own(section), place),
        webhooks=webhooks,
        cache=cache,
        linking=linking,
        writes=writes,
        facts=facts,
    )


def http_source_spec(
    source: Source,
    *,
    system_of_record_for: str,
    record_noun: str,
    settings_model: type[HttpSettingsT],
    adapter: AdapterFactory[HttpSettingsT],
    auth_headers: Callable[[HttpSettingsT], dict[str, str]],
    webhooks: WebhookSpec | None = None,
    cache: CacheSpec | None = None,
    linking: LinkingSpec | None = None,
    writes: tuple[SourceWrite, ...] = (),
    facts: FactsSpec | None = None,
) -> SourceSpec:
    """The entry of a source reached over HTTP: its adapter over a client of its own
    (``adapters.http.client.build_client``) that authenticates with ``auth_headers``."""
    name = source.value.lower()

    @asynccontextmanager
    async def connect(section: HttpSettingsT, connection: Connection) -> AsyncIterator[object]:
        headers = auth_headers(section)
        async with build_client(section, headers, transport=connection.http_transport) as client:
            if connection.watch_section is not None:

                def use_credentials(changed: object) -> None:
                    if isinstance(changed, settings_model):
                        client.use_headers(auth_headers(changed))

                connection.watch_section(use_credentials)
            yield adapter(section, client, policy=connection.policy)

    def in_sandbox(section: HttpSettingsT, place: SandboxPlace) -> HttpSettingsT:
        return section.model_copy(update={"base_url": f"{place.http_url}/{name}"})

    return source_spec(
        source,
        system_of_record_for=system_of_record_for,
        record_noun=record_noun,
        settings_model=settings_model,
        connect=connect,
        in_sandbox=in_sandbox,
        webhooks=webhooks,
        cache=cache,
        linking=linking,
        writes=writes,
        facts=facts,
    )


#: Every source, in the order panels, metrics and ``/readyz`` list them.
SOURCES: tuple[SourceSpec, ...] = (
    http_source_spec(
        Source.BILLING,
        system_of_record_for="money: balance, subscriptions, invoices, cards",
        record_noun="billing customer",
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
        settings_model=IvrSettings,
        adapter=HttpIvrAdapter,
        auth_headers=ivr_auth_headers,
    ),
    source_spec(
        Source.ORDERS,
        system_of_record_for="orders and shipments",
        record_noun="orders customer reference",
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
