"""Building every registered source's adapter, each opened by its registry entry (an HTTP
client, a database engine: whatever it holds is owned and closed by the caller's stack).

Every adapter's calls go through its source's ``app.resilience.policy.SourceResilience``
(retries, circuit breaker, bulkhead). The adapters are built by iterating the source
registry (``adapters.registry.SOURCES``); ``Sources`` is the bundle the resolvers see.

Each served tenant has a set of its own (``build_adapters(..., tenant=...)``): the default
tenant's from the top-level sections, another tenant's from its own sections
(``SCV_TENANTS__<TENANT>__<SOURCE>__...``), with policies of their own; a source the tenant
has no section for is not in its set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any

import httpx

from adapters.connection import Connection
from adapters.registry import SOURCES
from adapters.settings import SourceSettings
from app.resilience.policy import Resilience, resilience_for
from app.secrets.files import SecretFiles
from app.settings import Settings
from kernel.models import Source
from kernel.rollout import RolloutMode
from kernel.tenancy import TenantId
from resolvers.context import Sources


def tenant_sections(settings: Settings, tenant: TenantId) -> dict[Source, SourceSettings]:
    """``tenant``'s own section of each source it has (``Settings.tenant_source``)."""
    sections: dict[Source, SourceSettings] = {}
    for spec in SOURCES:
        section = settings.tenant_source(tenant, spec.source)
        if section is not None:
            sections[spec.source] = section
    return sections


async def build_adapters(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    transports: Mapping[Source, httpx.AsyncBaseTransport] | None = None,
    resilience: Resilience | None = None,
    tenant: TenantId | None = None,
    secret_files: SecretFiles | None = None,
) -> dict[Source, object]:
    """Each registered source's adapter of ``tenant`` (the default tenant unless named);
    what they hold closes when ``stack`` closes.

    ``resilience`` holds the default tenant's policies (the app's, so that its metrics and
    ``/readyz`` see them); by default a new one from ``settings``. Another tenant's
    adapters get policies of their own, from its sections. With ``secret_files``, each
    adapter is told of its section's secrets when their files change (another tenant's
    section by its path, ``SCV_TENANTS__<TENANT>__<SOURCE>__API_KEY``).
    """
    transports = transports or {}
    tenant = tenant or settings.tenancy.default_tenant
    sections = tenant_sections(settings, tenant)
    policies = resilience or resilience_for(settings)
    if tenant != settings.tenancy.default_tenant:
        policies = policies.for_sections(sections)
    adapters: dict[Source, object] = {}
    for spec in SOURCES:
        section = sections.get(spec.source)
        if section is None:
            continue
        connection = Connection(
            policy=policies.policy(spec.source),
            http_transport=transports.get(spec.source),
            watch_section=section_watch(
                secret_files, section_path(settings, tenant, spec.name), section
            ),
        )
        adapters[spec.source] = await stack.enter_async_context(spec.connect(section, connection))
    return adapters


def section_path(settings: Settings, tenant: TenantId, name: str) -> tuple[str, ...]:
    """Where ``tenant``'s section of the source ``name`` is in the settings (its secret
    files' names): ``("billing",)``, or ``("tenants", "globex", "billing")``."""
    if tenant == settings.tenancy.default_tenant:
        return (name,)
    return ("tenants", tenant, name)


def section_watch(
    secret_files: SecretFiles | None, path: tuple[str, ...], section: SourceSettings
) -> Callable[[Callable[[Any], None]], None] | None:
    """How an adapter registers for its section's changed secrets (None: without files)."""
    if secret_files is None:
        return None

    def watch(listener: Callable[[Any], None]) -> None:
        secret_files.watch(path, section, listener)

    return watch


async def build_sources(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    transports: Mapping[Source, httpx.AsyncBaseTransport] | None = None,
    resilience: Resilience | None = None,
    tenant: TenantId | None = None,
) -> Sources:
    """``tenant``'s adapters as the resolvers' ``Sources``; see ``build_adapters``."""
    adapters = await build_adapters(
        settings, stack, transports=transports, resilience=resilience, tenant=tenant
    )
    return Sources.from_adapters(adapters)


#: Why a source is left out of what the registry connected (``connected``).
OFF = "its rollout mode is OFF"
NOT_CONFIGURED = "not configured"
NOT_THE_TENANTS = "the tenant has no section for it (SCV_TENANTS__<TENANT>__<SOURCE>__...)"


def connected(
    settings: Settings,
    sources: Sources,
    modes: Mapping[Source, RolloutMode] | None = None,
    tenant: TenantId | None = None,
) -> tuple[Sources, dict[Source, str]]:
    """Of ``sources``, those that are on and configured; and why each other one is not.

    A source is off when its rollout mode is OFF (``modes``, a supervisor's changes, win
    over its section's ``rollout.mode``); not configured when its section names no place
    to reach it (``SourceSettings.is_configured``). What reads every source in bulk (the
    identity sync) reads these and says which it skipped. A source ``tenant`` (the default
    one unless named) has no section for is not connected for it.
    """
    modes = modes or {}
    tenant = tenant or settings.tenancy.default_tenant
    kept: dict[Source, object] = {}
    why_not: dict[Source, str] = {}
    for spec in SOURCES:
        if settings.tenant_source(tenant, spec.source) is None:
            why_not[spec.source] = NOT_THE_TENANTS
    for source, adapter in sources.by_source.items():
        section = settings.tenant_source(tenant, source)
        if section is None:
            why_not[source] = NOT_THE_TENANTS
        elif modes.get(source, section.rollout.mode) is RolloutMode.OFF:
            why_not[source] = OFF
        elif not section.is_configured():
            why_not[source] = NOT_CONFIGURED
        else:
            kept[source] = adapter
    return Sources.from_adapters(kept), why_not
