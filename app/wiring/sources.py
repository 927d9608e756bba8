"""Building every registered source's adapter, each opened by its registry entry (an HTTP
client, a database engine: whatever it holds is owned and closed by the caller's stack).

Every adapter's calls go through its source's ``app.resilience.policy.SourceResilience``
(retries, circuit breaker, bulkhead). The adapters are built by iterating the source
registry (``adapters.registry.SOURCES``); ``Sources`` is the bundle the resolvers see.
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
from resolvers.context import Sources


async def build_adapters(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    transports: Mapping[Source, httpx.AsyncBaseTransport] | None = None,
    resilience: Resilience | None = None,
    secret_files: SecretFiles | None = None,
) -> dict[Source, object]:
    """Each registered source's adapter; what they hold closes when ``stack`` closes.

    ``resilience`` holds the sources' policies (the app's, so that its metrics and
    ``/readyz`` see them); by default a new one from ``settings``. With ``secret_files``,
    each adapter is told of its section's secrets when their files change.
    """
    transports = transports or {}
    policies = resilience or resilience_for(settings)
    adapters: dict[Source, object] = {}
    for spec in SOURCES:
        section = settings.source(spec.source)
        connection = Connection(
            policy=policies.policy(spec.source),
            http_transport=transports.get(spec.source),
            watch_section=section_watch(secret_files, (spec.name,), section),
        )
        adapters[spec.source] = await stack.enter_async_context(spec.connect(section, connection))
    return adapters


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
) -> Sources:
    """The adapters for ``settings`` as the resolvers' ``Sources``; see ``build_adapters``."""
    adapters = await build_adapters(settings, stack, transports=transports, resilience=resilience)
    return Sources.from_adapters(adapters)


#: Why a source is left out of what the registry connected (``connected``).
OFF = "its rollout mode is OFF"
NOT_CONFIGURED = "not configured"


def connected(
    settings: Settings,
    sources: Sources,
    modes: Mapping[Source, RolloutMode] | None = None,
) -> tuple[Sources, dict[Source, str]]:
    """Of ``sources``, those that are on and configured; and why each other one is not.

    A source is off when its rollout mode is OFF (``modes``, a supervisor's changes, win
    over its section's ``rollout.mode``); not configured when its section names no place
    to reach it (``SourceSettings.is_configured``). What reads every source in bulk (the
    identity sync) reads these and says which it skipped.
    """
    modes = modes or {}
    kept: dict[Source, object] = {}
    why_not: dict[Source, str] = {}
    for source, adapter in sources.by_source.items():
        section = settings.source(source)
        if modes.get(source, section.rollout.mode) is RolloutMode.OFF:
            why_not[source] = OFF
        elif not section.is_configured():
            why_not[source] = NOT_CONFIGURED
        else:
            kept[source] = adapter
    return Sources.from_adapters(kept), why_not
