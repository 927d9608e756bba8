"""Building the four adapters: one HTTP client each, owned and closed by the caller's stack.

Every adapter's calls go through its source's ``app.resilience.policy.SourceResilience`` (retries,
circuit breaker, bulkhead).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack

import httpx

from adapters.billing.client import HttpBillingAdapter, billing_auth_headers
from adapters.crm.client import HttpCrmAdapter, crm_auth_headers
from adapters.http.client import build_client
from adapters.ivr.client import HttpIvrAdapter, ivr_auth_headers
from adapters.settings import SourceSettings
from adapters.support.client import HttpSupportAdapter, support_auth_headers
from app.resilience.policy import Resilience, resilience_for
from app.settings import Settings
from kernel.models import Source
from resolvers.context import Sources


async def build_sources(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    transports: Mapping[Source, httpx.AsyncBaseTransport] | None = None,
    resilience: Resilience | None = None,
) -> Sources:
    """The adapters for ``settings``; their clients close when ``stack`` closes.

    ``resilience`` holds the sources' policies (the app's, so that its metrics and
    ``/readyz`` see them); by default a new one from ``settings``.
    """
    transports = transports or {}
    policies = resilience or resilience_for(settings)

    async def client(
        source: Source, section: SourceSettings, headers: Mapping[str, str]
    ) -> httpx.AsyncClient:
        return await stack.enter_async_context(
            build_client(section, headers, transport=transports.get(source))
        )

    return Sources(
        billing=HttpBillingAdapter(
            settings.billing,
            await client(Source.BILLING, settings.billing, billing_auth_headers(settings.billing)),
            policy=policies.policy(Source.BILLING),
        ),
        crm=HttpCrmAdapter(
            settings.crm,
            await client(Source.CRM, settings.crm, crm_auth_headers(settings.crm)),
            policy=policies.policy(Source.CRM),
        ),
        support=HttpSupportAdapter(
            settings.support,
            await client(Source.SUPPORT, settings.support, support_auth_headers(settings.support)),
            policy=policies.policy(Source.SUPPORT),
        ),
        ivr=HttpIvrAdapter(
            settings.ivr,
            await client(Source.IVR, settings.ivr, ivr_auth_headers(settings.ivr)),
            policy=policies.policy(Source.IVR),
        ),
    )
