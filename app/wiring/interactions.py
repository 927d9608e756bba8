"""Builds the interaction service for ``create_app``: the IVR's JWKS, the handoff verifier,
the gateway's interaction-token key, and the service over store and adapters."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import AsyncExitStack

import httpx

from adapters.crm.port import PORT as CRM
from adapters.ivr.port import PORT as IVR
from adapters.settings import HttpSourceSettings
from app.interactions.handoff import HandoffVerifier
from app.interactions.metrics import InteractionMetrics
from app.interactions.service import InteractionDependencies, Interactions, StepListener
from app.interactions.tokens import InteractionTokens, interaction_keys
from app.security.auth import KeyRing, published_jwks
from app.settings import Settings
from app.store.customers import Store
from kernel.access import AuditSink
from kernel.linking import LiveLinker
from kernel.models import Source
from kernel.tenancy import TenantId
from resolvers.context import Sources

#: The JWKS of the IVR platform, relative to its base URL, unless ``handoff.jwks_url`` says.
IVR_JWKS_PATH = "/.well-known/jwks.json"


def ivr_jwks_url(settings: Settings) -> str:
    """Where the IVR's signing keys are published."""
    if settings.handoff.jwks_url is not None:
        return settings.handoff.jwks_url
    return settings.http_source(Source.IVR).base_url.rstrip("/") + IVR_JWKS_PATH


def _jwks_key_ring(client: httpx.AsyncClient, jwks_url: str, settings: Settings) -> KeyRing:
    """The IVR's signing keys, fetched from ``jwks_url`` (and again as the handoff settings
    say)."""
    return KeyRing(
        fetch_jwks=published_jwks(client, jwks_url),
        refetch_interval=settings.handoff.jwks_refetch_seconds,
        max_age=settings.handoff.jwks_max_age_seconds,
    )


async def tenant_handoffs(
    settings: Settings, stack: AsyncExitStack
) -> dict[TenantId, HandoffVerifier]:
    """Each other served tenant's handoff verifier: its own IVR account signs its calls, so
    its keys are that account's JWKS (``<its IVR base URL>/.well-known/jwks.json``). A tenant
    without an IVR has none (its calls are refused: no IVR confirms them)."""
    client = await stack.enter_async_context(httpx.AsyncClient(timeout=5.0))
    verifiers: dict[TenantId, HandoffVerifier] = {}
    for tenant in settings.tenancy.tenants:
        section = settings.tenant_source(tenant, Source.IVR)
        if tenant == settings.tenancy.default_tenant or not isinstance(section, HttpSourceSettings):
            continue
        jwks_url = section.base_url.rstrip("/") + IVR_JWKS_PATH
        verifiers[tenant] = HandoffVerifier(
            settings.handoff, _jwks_key_ring(client, jwks_url, settings)
        )
    return verifiers


async def build_interactions(
    settings: Settings,
    stack: AsyncExitStack,
    store: Store,
    sources: Sources,
    *,
    transports: Mapping[Source, httpx.AsyncBaseTransport] | None = None,
    metrics: InteractionMetrics | None = None,
    audit: AuditSink | None = None,
    live_linker: LiveLinker[Sources] | None = None,
    on_step: StepListener | None = None,
) -> Interactions:
    """The service; ``sources`` should be uncached, so a handoff is confirmed at the source.

    With ``live_linker``, a handoff naming a customer the store does not know yet is looked
    up in the systems (through ``sources``) before it is refused as unknown.
    """
    jwks_url = ivr_jwks_url(settings)
    # The IVR's transport (tests) serves its JWKS too when the URL is the derived one.
    transport = (transports or {}).get(Source.IVR) if settings.handoff.jwks_url is None else None
    client = await stack.enter_async_context(httpx.AsyncClient(timeout=5.0, transport=transport))

    keys = _jwks_key_ring(client, jwks_url, settings)
    signing_keys = await asyncio.to_thread(
        interaction_keys, settings.interactions, demo=settings.demo, data_dir=settings.data_dir
    )
    return Interactions(
        InteractionDependencies(
            store=store,
            ivr=sources.port(IVR),
            crm=sources.port(CRM),
            handoffs=HandoffVerifier(settings.handoff, keys),
            tokens=InteractionTokens(signing_keys, settings.interactions),
            live_linker=live_linker,
            sources=sources,
        ),
        settings.interactions,
        settings.handoff.level_rules,
        default_region=settings.identity.default_region,
        audit=audit,
        metrics=metrics,
        on_step=on_step,
    )
