"""Each tenant's own webhooks: ``POST /webhooks/<tenant>/<source>``, checked with the
tenant's own secrets and applied to the tenant's own store, cache and read model.

A tenant's accounts at its vendors send their webhooks to its own endpoints (the sandbox's
globex account to ``/webhooks/globex/<system>``); the plain ``/webhooks/<source>`` stays the
default tenant's. A delivery is checked with the secret of the tenant's own section of the
source (``SCV_TENANTS__<TENANT>__<SOURCE>__WEBHOOK_SECRET``): another tenant's secret never
signs it, and a source the tenant has no section for has no route (404). Its events are
recorded in the tenant's webhook ledger, move the tenant's lookup keys, invalidate the
tenant's own cache entries, re-read the tenant's facts, and tell the tenant's customers'
subscribers. The receiver is the default tenant's (``receiver.WebhookReceiver``), given the
tenant's ``TenantWebhooks`` (the lifespan's ``tenant_webhooks``) in place of the lifespan's
state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from adapters.settings import SourceSettings
from app.analytics.refresh import FactsUpdater
from app.secrets.files import SecretFiles
from app.store.customers import Store
from app.webhooks.metrics import WebhookMetrics
from app.webhooks.receiver import (
    ChangeListener,
    EventFollower,
    RecordInvalidator,
    WebhookReceiver,
)
from app.webhooks.settings import WebhookSettings
from kernel.models import Source
from kernel.tenancy import TenantId


@dataclass(frozen=True, slots=True)
class TenantWebhooks:
    """What one tenant's webhooks are applied to (named as the lifespan's state names the
    default tenant's)."""

    store: Store
    #: The tenant's own namespace of the response cache.
    cache: RecordInvalidator
    facts_updater: FactsUpdater | None = None
    live: ChangeListener | None = None
    event_followers: Sequence[EventFollower] = ()


def tenant_webhook_routes(
    settings: WebhookSettings,
    sections: Mapping[TenantId, Mapping[Source, SourceSettings]],
    *,
    default_region: str,
    metrics: WebhookMetrics,
    invalidator: RecordInvalidator | None = None,
    secret_files: SecretFiles | None = None,
) -> list[Route]:
    """``POST /webhooks/<tenant>/<source>`` for each tenant in ``sections`` (its own source
    sections) and each of its sources that sends webhooks. ``invalidator`` replaces each
    tenant's cache (tests). With ``secret_files``, a tenant's webhook secrets follow their
    files (``SCV_TENANTS__<TENANT>__<SOURCE>__WEBHOOK_SECRET``), as the default tenant's do."""
    routes: list[Route] = []
    for tenant, own in sections.items():
        receiver = WebhookReceiver(
            settings,
            default_region=default_region,
            metrics=metrics,
            invalidator_for=_invalidator(tenant, invalidator),
            sections=own,
            tenant=tenant,
            scope_of=_scope(tenant),
        )
        if secret_files is not None:
            for source, section in own.items():
                path = ("tenants", tenant, source.value.lower())
                secret_files.watch(path, section, partial(receiver.use_section, source))
        routes += receiver.routes()
    return routes


def _scope(tenant: TenantId) -> Callable[[Request], Any]:
    def of(request: Request) -> TenantWebhooks:
        scopes: Mapping[TenantId, TenantWebhooks] = request.state.tenant_webhooks
        return scopes[tenant]

    return of


def _invalidator(
    tenant: TenantId, override: RecordInvalidator | None
) -> Callable[[Request], RecordInvalidator]:
    def of(request: Request) -> RecordInvalidator:
        if override is not None:
            return override
        scopes: Mapping[TenantId, TenantWebhooks] = request.state.tenant_webhooks
        return scopes[tenant].cache

    return of
