"""Webhooks the sandbox systems send when their data changes, signed as each vendor signs.

Billing signs as Stripe (``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``),
the CRM as HubSpot's v3 signature (base64 HMAC-SHA256 of method + URI + body + timestamp in
ms, with ``X-HubSpot-Request-Timestamp``), support as Zendesk (base64 HMAC-SHA256 of
timestamp + body, with ``X-Zendesk-Webhook-Signature-Timestamp``).

Delivery happens in the background once the write has answered: one ``asyncio`` task per
webhook, retried with exponential backoff on a transport error or a non-2xx answer, as the
vendors retry. Each attempt is signed afresh (a new timestamp), as Stripe does, so a retry
an hour later still passes a receiver's timestamp tolerance. Retries use ``stamina``
rather than a hand-written loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import stamina

#: The systems that send webhooks (the IVR does not).
WEBHOOK_SYSTEMS = ("billing", "crm", "support")

#: The signing secrets the sandbox uses unless told otherwise; the gateway's default
#: settings hold the same values, so the demo needs no configuration.
DEFAULT_SECRETS: Mapping[str, str] = {
    "billing": "whsec_scv_sandbox",
    "crm": "scv-sandbox-hubspot-client-secret",
    "support": "scv-sandbox-zendesk-signing-secret",
}


def stripe_signature(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` header for ``body`` sent at ``timestamp`` (Unix seconds)."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def hubspot_signature(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int) -> str:
    """HubSpot's ``X-HubSpot-Signature-v3``: over method, full URI, body and timestamp (ms)."""
    signed = method.encode() + uri.encode() + body + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def zendesk_signature(secret: str, body: bytes, timestamp: str) -> str:
    """Zendesk's ``X-Zendesk-Webhook-Signature``: over the timestamp header, then the body."""
    signed = timestamp.encode() + body
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def signed_headers(system: str, secret: str, url: str, body: bytes, now: float) -> dict[str, str]:
    """The headers that sign ``body``, posted to ``url`` at ``now``, as ``system``'s vendor."""
    headers = {"Content-Type": "application/json"}
    if system == "billing":
        headers["Stripe-Signature"] = stripe_signature(secret, body, int(now))
    elif system == "crm":
        timestamp_ms = int(now * 1000)
        headers["X-HubSpot-Signature-v3"] = hubspot_signature(
            secret, "POST", url, body, timestamp_ms
        )
        headers["X-HubSpot-Request-Timestamp"] = str(timestamp_ms)
    elif system == "support":
        timestamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        headers["X-Zendesk-Webhook-Signature"] = zendesk_signature(secret, body, timestamp)
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = timestamp
    else:
        raise ValueError(f"{system} sends no webhooks")
    return headers


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How hard a webhook is pushed: attempts, backoff between them, time per attempt."""

    attempts: int = 5
    wait_initial: float = 0.5
    wait_max: float = 10.0
    attempt_timeout: float = 5.0


@dataclass(slots=True)
class DeliveryCounts:
    """What one system's webhooks came to (shown in its ``/_sandbox/stats``)."""

    #: Webhooks the system's changes produced.
    emitted: int = 0
    #: Webhooks not sent because no target URL was set.
    dropped: int = 0
    #: HTTP attempts made (retries included).
    attempts: int = 0
    #: Webhooks the receiver accepted (a 2xx), after however many attempts.
    delivered: int = 0
    #: Webhooks given up on after the last attempt failed.
    failed: int = 0

    def as_json(self) -> dict[str, int]:
        """The counts as a JSON object."""
        return {
            "emitted": self.emitted,
            "dropped": self.dropped,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "failed": self.failed,
        }


class DeliveryRefused(Exception):
    """The receiver answered something other than 2xx: worth another attempt."""

    def __init__(self, status: int) -> None:
        super().__init__(f"webhook answered {status}")
        self.status = status


@dataclass
class WebhookOutbox:
    """Where the sandbox's webhooks go, the secrets that sign them, and their deliveries.

    ``url`` is the receiver's base URL: each system posts to ``<url>/<system>``
    (``http://127.0.0.1:8000/webhooks/crm``). None: webhooks are counted as dropped.
    ``transport`` replaces the HTTP transport (tests deliver in-process).
    """

    url: str | None = None
    secrets: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SECRETS))
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    transport: httpx.AsyncBaseTransport | None = None
    counts: dict[str, DeliveryCounts] = field(
        default_factory=lambda: {system: DeliveryCounts() for system in WEBHOOK_SYSTEMS}
    )
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _client: httpx.AsyncClient | None = None
    #: Another account's outbox (``for_account``): the account's name and the outbox whose
    #: receiver URL and transport it follows.
    account: str | None = None
    follows: WebhookOutbox | None = None

    def for_account(self, account: str, secrets: Mapping[str, str]) -> WebhookOutbox:
        """The outbox of another account of the systems: signed with its own ``secrets``,
        posted to ``<url>/<account>/<system>`` of the receiver this one posts to (set now
        or later), counted apart."""
        return WebhookOutbox(
            secrets=dict(secrets), policy=self.policy, account=account, follows=self
        )

    def target(self, system: str) -> str | None:
        """The URL ``system`` posts its webhooks to, if any."""
        url = self.follows.url if self.follows is not None else self.url
        if url is None:
            return None
        account = f"/{self.account}" if self.account is not None else ""
        return f"{url.rstrip('/')}{account}/{system}"

    def emit(self, system: str, payload: Any) -> None:
        """Send ``payload`` (JSON) as ``system``'s webhook, in the background."""
        counts = self.counts[system]
        counts.emitted += 1
        target = self.target(system)
        if target is None:
            counts.dropped += 1
            return
        body = orjson.dumps(payload)
        task = asyncio.get_running_loop().create_task(self._deliver(system, target, body))
        # The loop keeps only weak references to tasks: hold them until they finish.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every webhook emitted so far is delivered or given up on."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Abandon deliveries still under way and close the HTTP client."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def reset_counts(self, system: str) -> None:
        """Forget ``system``'s delivery counts (deliveries under way still count)."""
        self.counts[system] = DeliveryCounts()

    def stats(self, system: str) -> dict[str, int]:
        """``system``'s delivery counts."""
        return self.counts[system].as_json()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            transport = self.follows.transport if self.follows is not None else self.transport
            self._client = httpx.AsyncClient(
                transport=transport, timeout=self.policy.attempt_timeout
            )
        return self._client

    async def _deliver(self, system: str, url: str, body: bytes) -> None:
        policy = self.policy
        try:
            for attempt in stamina.retry_context(
                on=(httpx.HTTPError, DeliveryRefused),
                attempts=policy.attempts,
                timeout=None,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
            ):
                with attempt:
                    self.counts[system].attempts += 1
                    headers = signed_headers(system, self.secrets[system], url, body, time.time())
                    response = await self._http().post(url, content=body, headers=headers)
                    if not response.is_success:
                        raise DeliveryRefused(response.status_code)
        except (httpx.HTTPError, DeliveryRefused):
            self.counts[system].failed += 1
        else:
            self.counts[system].delivered += 1
