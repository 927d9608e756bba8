"""What a source's entry in the registry declares, and the two ways to make one.

``SourceSpec`` is one registered source: its settings section, how its adapter is opened and
closed (``connect``), where the demo's sandbox keeps it, its webhooks, its cached reads, its
part in identity linking, and the writes it takes. ``http_source_spec`` makes the entry of a
source reached over HTTP, ``source_spec`` that of any other; both check at registration that
the parts of an entry belong together. ``adapters/registry.py`` lists the entries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import httpx

from adapters.connection import Connection
from adapters.http.client import CallPolicy, build_client
from adapters.settings import (
    HttpSourceSettings,
    SandboxPlace,
    SignedWebhooksSettings,
    SourceSettings,
)
from kernel.cache import LifetimeSection, ReadThrough
from kernel.linking import LinkPass, LinkRecord, SourceCursor
from kernel.models import Source
from kernel.source_facts import FactsSpec
from kernel.webhooks import VendorEvent, WebhookDelivery
from kernel.writes import SourceWrite

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
class DesktopPanel:
    """How a source's panel shows on the agent desktop (``/desktop``): the page lays out one
    panel per entry that has one, and asks for each what its entry says.

    A source's own panel module (``adapters/<source>/desktop.py``) declares it.
    """

    #: Its field on ``Customer`` in the GraphQL schema (also the panel's id on the page).
    field: str
    title: str
    #: What the panel says when the source has no record of the customer.
    none: str
    #: What the desktop asks of the panel: a GraphQL selection, its ``meta`` added.
    selection: str
    #: Where it shows among the panels, lowest first.
    place: int


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
    #: How a person names the system itself (``The CRM``): the desktop's messages.
    display_name: str
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
    #: None: it has no panel of its own on the agent desktop (the IVR's calls).
    desktop: DesktopPanel | None = None
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
    display_name: str,
    settings_model: type[SettingsT],
    connect: Callable[[SettingsT, Connection], AbstractAsyncContextManager[object]],
    in_sandbox: Callable[[SettingsT, SandboxPlace], SettingsT],
    webhooks: WebhookSpec | None = None,
    cache: CacheSpec | None = None,
    linking: LinkingSpec | None = None,
    writes: tuple[SourceWrite, ...] = (),
    desktop: DesktopPanel | None = None,
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
        display_name=display_name,
        settings_model=settings_model,
        connect=lambda section, connection: connect(own(section), connection),
        in_sandbox=lambda section, place: in_sandbox(own(section), place),
        webhooks=webhooks,
        cache=cache,
        linking=linking,
        writes=writes,
        desktop=desktop,
        facts=facts,
    )


def http_source_spec(
    source: Source,
    *,
    system_of_record_for: str,
    record_noun: str,
    display_name: str,
    settings_model: type[HttpSettingsT],
    adapter: AdapterFactory[HttpSettingsT],
    auth_headers: Callable[[HttpSettingsT], dict[str, str]],
    webhooks: WebhookSpec | None = None,
    cache: CacheSpec | None = None,
    linking: LinkingSpec | None = None,
    writes: tuple[SourceWrite, ...] = (),
    desktop: DesktopPanel | None = None,
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
        display_name=display_name,
        settings_model=settings_model,
        connect=connect,
        in_sandbox=in_sandbox,
        webhooks=webhooks,
        cache=cache,
        linking=linking,
        writes=writes,
        desktop=desktop,
        facts=facts,
    )
