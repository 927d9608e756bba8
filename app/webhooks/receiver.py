"""Freshness from webhooks: ``POST /webhooks/<source>`` for each source that sends them.

A vendor tells the gateway that a record changed; the gateway forgets what it cached of
that record (in every process, through the ``RecordInvalidator``) and, when the event sets
an email or phone, moves the record's lookup key in the store, so the next query finds the
customer by the new value and no longer by the old one.

These routes are not behind the bearer token: the vendor's signature is the
authentication, checked as the source's registry entry says (``adapters/<source>/webhooks.py``,
with the secret of the source's own settings section). Per delivery:

1. body larger than ``max_body_bytes``: 413; signature missing, wrong or outside the
   timestamp tolerance: 401; a body that is not the vendor's shape: 400. Nothing changes.
2. each event, in one transaction of the store (``WebhookLedger``): recorded by (source,
   event id), so a duplicate is processed once, also across gateway processes; its key
   changes applied unless a newer event already set that field (out of order: skipped);
   then the record invalidated. A failure rolls the event back and answers 503, so the
   vendor's retry processes it.
3. the analysts' read model re-read, then each follower of applied events told (the
   ticket backlog: ``app.kpis.backlog``); a store failure there answers 503 too.
4. 200 with counts only. Bodies are never logged (they hold personal data).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.entry import SourceSpec, WebhookSpec
from adapters.registry import with_webhooks
from adapters.settings import SignedWebhooksSettings, SourceSettings
from app.http.responses import error_response
from app.store.customers import Store
from app.store.webhooks import KeyUpdate, WebhookLedger
from app.webhooks.metrics import WebhookMetrics
from app.webhooks.settings import WebhookSettings
from kernel.models import Source
from kernel.normalize import normalize_email, normalize_phone
from kernel.tenancy import TenantId
from kernel.webhooks import (
    KeyChange,
    MalformedEvent,
    SignatureRejected,
    VendorEvent,
    WebhookDelivery,
)

if TYPE_CHECKING:
    from app.analytics.refresh import FactsUpdater

logger = logging.getLogger(__name__)

#: The codes of a refused delivery, in the GraphQL error shape every endpoint answers in
#: (``{"errors": [{"message", "extensions": {"code"}}]}``).
TOO_LARGE = "WEBHOOK_TOO_LARGE"
SIGNATURE_INVALID = "WEBHOOK_SIGNATURE_INVALID"
MALFORMED = "WEBHOOK_MALFORMED"
#: The store failed: the vendor retries the delivery later (503).
UNAVAILABLE = "WEBHOOK_UNAVAILABLE"

Outcome = Literal["processed", "stale", "duplicate"]


class RecordInvalidator(Protocol):
    """Forgets every cached entry of one source record, in every gateway process."""

    async def invalidate_record(self, source: Source, record_id: str) -> None:
        """Drop what is cached of ``record_id`` of ``source``; raise if that failed."""
        ...


class ChangeListener(Protocol):
    """Told of each vendor event applied (live changes: ``app.live``), after it committed."""

    async def record_changed(
        self, source: Source, record_id: str, at: datetime, received_at: float
    ) -> None:
        """``record_id`` of ``source`` changed at ``at`` (the vendor's time); the gateway
        heard it at ``received_at`` (epoch seconds). Never raises."""
        ...

    def out_of_order(self, source: Source) -> None:
        """An event older than one already applied for its record: nothing is told of it."""
        ...


class EventFollower(Protocol):
    """Told of each delivery's events once applied (``request.state.event_followers``)."""

    async def follow(self, events: Sequence[VendorEvent]) -> None:
        """Bring what it keeps up to date; raises only if the vendor should retry."""
        ...


class BodyTooLarge(Exception):
    """The body is over the limit; reading stopped there."""


@dataclass(frozen=True, slots=True)
class Vendor:
    """How one source's webhooks are checked and read, with the secrets they may be signed
    with (the current one, then during a rotation the previous one)."""

    source: Source
    path: str
    webhooks: WebhookSpec
    #: Held as ``SecretStr``: a ``Vendor`` shown (a repr, a debugger) shows no secret.
    secrets: tuple[SecretStr, ...]


class WebhookReceiver:
    """One webhook route per source that sends them, over the store in the request's state."""

    def __init__(
        self,
        settings: WebhookSettings,
        *,
        default_region: str,
        metrics: WebhookMetrics,
        invalidator_for: Callable[[Request], RecordInvalidator],
        sections: Mapping[Source, SourceSettings] | None = None,
        demo: bool = False,
        clock: Callable[[], float] = time.time,
        tenant: TenantId | None = None,
        scope_of: Callable[[Request], Any] | None = None,
    ) -> None:
        """``invalidator_for`` finds the invalidator for a request: the cache is opened in
        the app's lifespan, after the routes exist. ``sections`` are the sources' settings
        (their signing secrets); a source not in it has its section's defaults.

        With ``tenant``, the routes are that tenant's (``/webhooks/<tenant>/<source>``), one
        per source it has a section of in ``sections`` (no other: another tenant's secret
        never signs its events), and ``scope_of`` finds, for a request, what its events are
        applied to (its ``store``, ``live``, ``facts_updater``, ``event_followers``); by
        default the lifespan's state, the default tenant's.
        """
        self._tenant = tenant
        self._scope_of: Callable[[Request], Any] = scope_of or (lambda request: request.state)
        self._vendors = tuple(
            _vendor(spec, (sections or {}).get(spec.source), tenant)
            for spec in with_webhooks()
            if tenant is None or spec.source in (sections or {})
        )
        defaults = [vendor for vendor in self._vendors if vendor.secret_is_default]
        if defaults and not demo:
            # The sandbox's secrets are public: anyone could sign events with them.
            logger.warning(
                "webhook secrets left at the sandbox's public defaults; set them",
                extra={
                    "settings": [
                        f"SCV_{vendor.vendor.source.value}__WEBHOOK_SECRET" for vendor in defaults
                    ]
                },
            )
        # Each source's secrets as they are now: a secret file replaced changes them
        # (``use_section``) while the routes, made once, keep their vendor.
        self._secrets = {v.vendor.source: v.vendor.secrets for v in self._vendors}
        self._settings = settings
        self._default_region = default_region
        self._metrics = metrics
        self._invalidator_for = invalidator_for
        self._clock = clock

    def use_section(self, source: Source, section: SourceSettings) -> None:
        """Check ``source``'s deliveries with the secrets of ``section`` from now on."""
        if isinstance(section, SignedWebhooksSettings) and source in self._secrets:
            self._secrets[source] = section.webhook_secrets()

    def routes(self) -> list[Route]:
        """``POST /webhooks/<source>`` for each source whose registry entry has webhooks."""
        return [
            Route(v.vendor.path, self._endpoint(v.vendor), methods=["POST"]) for v in self._vendors
        ]

    def _endpoint(self, vendor: Vendor) -> Callable[[Request], Awaitable[Response]]:
        async def receive(request: Request) -> Response:
            return await self.receive(request, vendor)

        return receive

    async def receive(self, request: Request, vendor: Vendor) -> Response:
        """Check, read and apply one delivery of ``vendor``."""
        received_at = self._clock()
        source = vendor.source
        self._metrics.received.labels(source.value).inc()
        try:
            body = await _read_body(request, self._settings.max_body_bytes)
        except BodyTooLarge:
            return self._reject(source, "too_large", 413, "body too large", TOO_LARGE)
        delivery = WebhookDelivery(
            method=request.method,
            uri=self._signed_uri(request),
            headers=request.headers,
            body=body,
        )
        rejected = self._verify(delivery, vendor)
        if rejected is not None:
            return self._reject(
                source, rejected.reason, 401, "invalid webhook signature", SIGNATURE_INVALID
            )
        try:
            events = vendor.webhooks.parse(body)
        except MalformedEvent:
            return self._reject(source, "malformed", 400, "malformed webhook body", MALFORMED)
        scope = self._scope_of(request)
        store: Store = scope.store
        ledger = WebhookLedger(store, clock=self._now)
        invalidator = self._invalidator_for(request)
        listener: ChangeListener | None = getattr(scope, "live", None)
        outcomes: list[Outcome] = []
        for event in events:
            try:
                outcome = await self.apply(
                    ledger, invalidator, event, listener, received_at=received_at
                )
                outcomes.append(outcome)
            except Exception:
                self._metrics.failed.labels(source.value).inc()
                logger.warning(
                    "webhook event failed; the vendor will retry it",
                    extra={"source": source.value, "event_id": event.event_id},
                    exc_info=True,
                )
                return _unavailable()
            if outcome == "processed" and listener is not None and event.record_id is not None:
                # After the commit: a subscriber that re-queries finds the change.
                await listener.record_changed(
                    source, event.record_id, event.occurred_at, received_at
                )
        if not await self._refresh_facts(request, events):
            return _unavailable()
        followers: Sequence[EventFollower] = getattr(scope, "event_followers", ())
        for follower in followers:
            try:
                await follower.follow(events)
            except Exception as exc:
                # The type only: a store error's text may quote the values it was given.
                logger.warning(
                    "a follower of webhook events failed; the vendor will retry",
                    extra={"source": source.value, "error": type(exc).__name__},
                )
                return _unavailable()
        return JSONResponse(
            {
                "received": len(events),
                "processed": outcomes.count("processed") + outcomes.count("stale"),
                "duplicates": outcomes.count("duplicate"),
            }
        )

    async def apply(
        self,
        ledger: WebhookLedger,
        invalidator: RecordInvalidator,
        event: VendorEvent,
        listener: ChangeListener | None = None,
        *,
        received_at: float | None = None,
    ) -> Outcome:
        """Process ``event`` once: its key changes (unless out of date), then invalidation.

        ``received_at`` (epoch seconds, default now): when its delivery arrived; the store
        keeps it and when the event was applied (the event latency KPI).

        "stale": older than an event already applied for its record (recorded, invalidated,
        but no live change is told of it: it would take a subscriber back in time)."""
        source = event.source
        newest: KeyUpdate = "applied"
        received = self._clock() if received_at is None else received_at
        async with ledger.event(
            source,
            event.event_id,
            event.event_type,
            event.occurred_at,
            received_at=datetime.fromtimestamp(received, UTC),
        ) as write:
            if write is None:
                self._metrics.duplicates.labels(source.value).inc()
                return "duplicate"
            if event.record_id is not None:
                for change in event.key_changes:
                    value = self._normalise(change)
                    update = await write.set_key(
                        event.record_id, change.kind, value, event.occurred_at
                    )
                    if update == "stale":
                        self._metrics.stale_updates.labels(source.value).inc()
                newest = await write.advance_record(event.record_id, event.occurred_at)
                # Inside the transaction: if it fails, the event is not recorded as processed
                # and the vendor's retry invalidates again (invalidating twice is harmless).
                await invalidator.invalidate_record(source, event.record_id)
        applied = self._clock()
        self._metrics.observe_processed(
            source, applied - event.occurred_at.timestamp(), applied_after=applied - received
        )
        logger.info(
            "webhook event processed",
            extra={
                "source": source.value,
                "event_id": event.event_id,
                "event_type": event.event_type,
                "record_id": event.record_id,
            },
        )
        if newest == "stale":
            if listener is not None:
                listener.out_of_order(source)
            return "stale"
        return "processed"

    async def _refresh_facts(self, request: Request, events: list[VendorEvent]) -> bool:
        """Re-read the changed records' facts for the analysts' read model.

        After every event is applied, duplicates included: a vendor's retry after a 503
        here finds its events already processed and must still refresh. A system that does
        not answer is logged and counted by the updater and costs nothing here; only the
        store failing (False) makes the vendor retry.
        """
        updater: FactsUpdater | None = getattr(self._scope_of(request), "facts_updater", None)
        if updater is None:
            return True
        records = dict.fromkeys((e.source, e.record_id) for e in events if e.record_id is not None)
        for source, record_id in records:
            try:
                await updater.refresh_record(source, record_id)
            except Exception as exc:
                # The type only: a store error's text may quote the values it was given.
                logger.warning(
                    "customer facts could not be written; the vendor will retry",
                    extra={"source": source.value, "error": type(exc).__name__},
                )
                return False
        return True

    def _verify(self, delivery: WebhookDelivery, vendor: Vendor) -> SignatureRejected | None:
        """None when one of the source's secrets signed ``delivery``; else the first
        secret's refusal (the current secret's reason is the one worth counting)."""
        first: SignatureRejected | None = None
        for secret in self._secrets.get(vendor.source, vendor.secrets):
            try:
                vendor.webhooks.verify(
                    delivery,
                    secret.get_secret_value(),
                    now=self._clock(),
                    tolerance=self._settings.tolerance_seconds,
                )
            except SignatureRejected as exc:
                first = first or exc
            else:
                return None
        return first

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _normalise(self, change: KeyChange) -> str | None:
        if change.kind == "email":
            return normalize_email(change.value)
        return normalize_phone(change.value, self._default_region)

    def _reject(
        self, source: Source, reason: str, status: int, message: str, code: str
    ) -> Response:
        self._metrics.rejected.labels(source.value, reason).inc()
        return error_response(status, code, message)

    def _signed_uri(self, request: Request) -> str:
        """The URI the vendor called (HubSpot signs it): the public URL when configured,
        as it differs behind a proxy."""
        public = self._settings.public_base_url
        if public is None:
            return str(request.url)
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{public.rstrip('/')}{request.url.path}{query}"


@dataclass(frozen=True, slots=True)
class _ConfiguredVendor:
    vendor: Vendor
    secret_is_default: bool


def _vendor(
    spec: SourceSpec, section: SourceSettings | None, tenant: TenantId | None = None
) -> _ConfiguredVendor:
    """The route of ``spec``'s webhooks (``tenant``'s when named), signed with the secret
    of its settings section."""
    assert spec.webhooks is not None
    own = section if section is not None else spec.settings_model.model_validate({})
    if not isinstance(own, SignedWebhooksSettings):
        raise TypeError(f"{spec.name}: webhooks need a SignedWebhooksSettings section")
    path = f"/webhooks/{spec.name}" if tenant is None else f"/webhooks/{tenant}/{spec.name}"
    vendor = Vendor(spec.source, path, spec.webhooks, own.webhook_secrets())
    return _ConfiguredVendor(vendor, own.webhook_secret_is_default())


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, or ``BodyTooLarge`` as soon as it passes ``limit`` (never read further)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_invalidator(
    override: RecordInvalidator | None,
) -> Callable[[Request], RecordInvalidator]:
    """What webhooks invalidate through: ``override``, or the lifespan's response cache."""

    def for_request(request: Request) -> RecordInvalidator:
        if override is not None:
            return override
        cache: RecordInvalidator = request.state.cache
        return cache

    return for_request


def _unavailable() -> Response:
    return error_response(503, UNAVAILABLE, "temporarily unavailable; retry the delivery")
