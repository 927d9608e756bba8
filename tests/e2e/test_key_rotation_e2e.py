"""Every key the gateway holds rotates under load with no failed request.

A gateway of its own (its own data directory, so the demo keys it rotates are its own; the
response cache off, so every query reaches billing) serves clients that query in a loop:
half keep the bearer token and interaction grant they started with, half take the newest,
and a vendor posts webhooks. Meanwhile, one after the other, as an operator would:

1. the demo issuer's key rotates (``scv keys rotate --kind bearer``'s function);
2. the interaction-token key rotates, and a new call is claimed with the new key;
3. the IVR platform publishes a new handoff key, and signs with it once the gateway has
   fetched its keys again;
4. the CRM's webhook secret rotates through ``SCV_SECRETS_DIR``: new and previous both
   valid, the vendor moves to the new one, the previous is withdrawn;
5. billing's API key rotates through ``SCV_SECRETS_DIR``: billing (a key-checking proxy
   in front of the sandbox, the boundary under test) accepts both keys, the gateway's file
   changes, and once the load is over billing revokes the old key.

Every request sent must succeed: the test counts those that did not, and that count must be
zero. A correctness assertion; the waits only let each step take effect, nothing is timed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.interactions.handoff import HANDOFF_TYPE
from app.interactions.tokens import demo_key_directory as interaction_key_directory
from app.main import create_app
from app.security.demo_keys import DemoKeys, ensure_demo_keys, mint_token, rotate_demo_keys
from app.security.key_files import public_jwk
from app.security.settings import AuthSettings
from sandbox.billing.system import API_KEY as SANDBOX_BILLING_KEY
from sandbox.webhooks import DEFAULT_SECRETS, signed_headers
from tests.e2e.harness import Stack, serve, stop

pytestmark = pytest.mark.e2e

QUERY = """query($e: String!) { customerByEmail(email: $e) {
  id profile { name } billing { delinquent } support { openTicketCount } } }"""
IN_CALL = """query($c: ID!) { interaction(contactId: $c) {
  state customer { displayName billing { delinquent } } } }"""
CLAIM = "mutation($c: ID!) { claimInteraction(contactId: $c) { token } }"
CLIENTS = 4
#: The stack's bearer-token settings (the demo issuer's).
AUTH = AuthSettings()
NEW_WEBHOOK_SECRET = "hubspot-client-secret-rotated"
NEW_BILLING_KEY = "sk_test_scv_rotated"


@dataclass
class Load:
    """What the clients sent, and every request that failed (with why)."""

    answered: int = 0
    #: Webhook deliveries accepted (a part of ``answered``).
    webhooks: int = 0
    failures: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Credentials:
    """What clients send: the first and the newest bearer token and interaction grant."""

    first_keys: DemoKeys
    newest_keys: DemoKeys
    first_grant: tuple[str, str]
    newest_grant: tuple[str, str]
    webhook_secret: str = DEFAULT_SECRETS["crm"]


class IvrKeys:
    """The IVR platform's handoff signing keys: its JWKS lists every key published, the
    newest of the signing ones signs. The sandbox IVR plays the calls; its handoffs are
    signed again here, with these keys (the boundary under test)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, ec.EllipticCurvePrivateKey]] = []
        self.signing = 0
        self.fetches = 0
        self.publish()

    def publish(self) -> None:
        """A new key in the JWKS (not signing yet: the gateway learns it first)."""
        self.published.append(
            (f"ivr-{len(self.published)}", ec.generate_private_key(ec.SECP256R1()))
        )

    def sign(self, handoff: str) -> str:
        claims = jwt.decode(handoff, options={"verify_signature": False})
        kid, key = self.published[self.signing]
        return jwt.encode(claims, key, algorithm="ES256", headers={"typ": HANDOFF_TYPE, "kid": kid})

    async def jwks(self, request: Request) -> Response:
        self.fetches += 1
        keys = [
            {**public_jwk(key.public_key()), "kid": kid, "alg": "ES256", "use": "sig"}
            for kid, key in self.published
        ]
        return JSONResponse({"keys": keys})


class Billing:
    """Billing as the vendor runs it: a key check (the keys it accepts now) in front of the
    sandbox's billing API."""

    def __init__(self, sandbox_url: str, http: httpx.AsyncClient, ivr: IvrKeys) -> None:
        self.accepted = {SANDBOX_BILLING_KEY}
        self.seen: list[str] = []
        self._sandbox = f"{sandbox_url}/billing"
        self._http = http
        self.app = Starlette(
            routes=[
                # The IVR platform's JWKS, served beside billing by the same test server.
                Route("/ivr-jwks", ivr.jwks, methods=["GET"]),
                Route("/{path:path}", self.forward, methods=["GET", "POST"]),
            ]
        )

    async def forward(self, request: Request) -> Response:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.seen.append(key)
        if key not in self.accepted:
            error = {"type": "invalid_request_error", "message": "Invalid API Key provided"}
            return JSONResponse({"error": error}, status_code=401)
        answer = await self._http.request(
            request.method,
            f"{self._sandbox}/{request.path_params['path']}",
            params=request.query_params,
            content=await request.body(),
            headers={
                "Authorization": f"Bearer {SANDBOX_BILLING_KEY}",
                "Content-Type": request.headers.get("content-type", "application/json"),
            },
        )
        return Response(answer.content, answer.status_code, media_type="application/json")


def check(load: Load, what: str, response: httpx.Response) -> None:
    if response.status_code != 200:
        load.failures.append(f"{what}: {response.status_code} {response.text[:200]}")
        return
    body = response.json()
    if body.get("errors"):
        load.failures.append(f"{what}: {body['errors']}")
        return
    load.answered += 1


async def agent(url: str, credentials: Credentials, newest: bool, load: Load) -> None:
    async with httpx.AsyncClient(timeout=30.0) as http:
        while not load.stop.is_set():
            # A token minted now, so that no verified token is remembered across a rotation:
            # the first key's tokens must verify after it as the gateway's keys say.
            keys = credentials.newest_keys if newest else credentials.first_keys
            bearer = mint_token(keys, AUTH, subject="agent-1", role="agent")
            contact, grant = credentials.newest_grant if newest else credentials.first_grant
            auth = {"Authorization": f"Bearer {bearer}"}
            check(
                load,
                "query",
                await http.post(
                    f"{url}/graphql",
                    json={"query": QUERY, "variables": {"e": "ada.lovelace@example.com"}},
                    headers=auth,
                ),
            )
            check(
                load,
                "in call",
                await http.post(
                    f"{url}/graphql",
                    json={"query": IN_CALL, "variables": {"c": contact}},
                    headers={**auth, "X-Interaction-Token": grant},
                ),
            )


async def vendor(url: str, credentials: Credentials, load: Load) -> None:
    """HubSpot posting property changes of a contact, signed with its secret of the moment."""
    async with httpx.AsyncClient(timeout=30.0) as http:
        for event_id in itertools.count(1):
            if load.stop.is_set():
                return
            response = await deliver(http, url, credentials.webhook_secret, event_id)
            if response.status_code != 200:
                load.failures.append(f"webhook: {response.status_code} {response.text[:200]}")
            else:
                load.answered += 1
                load.webhooks += 1


async def deliver(http: httpx.AsyncClient, url: str, secret: str, event_id: int) -> httpx.Response:
    now = time.time()
    body = orjson.dumps(
        [
            {
                "eventId": 9_000_000 + event_id,
                "subscriptionId": 1,
                "portalId": 2,
                "appId": 3,
                "occurredAt": int(now * 1000),
                "subscriptionType": "contact.propertyChange",
                "attemptNumber": 0,
                "objectId": 999_999,
                "propertyName": "lifecyclestage",
                "propertyValue": "customer",
                "changeSource": "CRM_UI",
            }
        ]
    )
    target = f"{url}/webhooks/crm"
    return await http.post(
        target, content=body, headers=signed_headers("crm", secret, target, body, now)
    )


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for ``condition`` (a step taking effect), giving up after a generous while."""
    for _ in range(600):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def progress(load: Load, requests: int = 10, webhooks: int = 0) -> None:
    """Let ``requests`` more requests (and ``webhooks`` more deliveries among them) be
    answered under the current keys."""
    target, deliveries = load.answered + requests, load.webhooks + webhooks

    async def done() -> bool:
        reached = load.answered >= target and load.webhooks >= deliveries
        return reached or bool(load.failures)

    await until(done, f"{requests} more requests answered")


async def claim(stack: Stack, url: str, data_dir: Path, ivr: IvrKeys) -> tuple[str, str]:
    """A new call for Ada handed to the gateway at ``url`` (its handoff signed with the IVR's
    key of the moment), claimed by agent-1: its contact and grant."""
    keys = ensure_demo_keys(data_dir)
    played = await stack.http.post(
        f"{stack.sandbox_url}/ivr/_sandbox/calls",
        json={"customer": "ada", "auth_method": "PIN", "auth_result": "AUTHENTICATED"},
    )
    assert played.status_code == 201, played.text
    ivr_token = mint_token(keys, stack.settings.auth, subject="ivr-sandbox", role="ivr")
    posted = await stack.http.post(
        f"{url}/ivr/handoffs",
        json={"handoff": ivr.sign(played.json()["handoff"])},
        headers={"Authorization": f"Bearer {ivr_token}"},
    )
    assert posted.status_code == 201, posted.text
    contact = str(posted.json()["interaction"]["contactId"])
    agent_token = mint_token(keys, stack.settings.auth, subject="agent-1", role="agent")
    response = await stack.http.post(
        f"{url}/graphql",
        json={"query": CLAIM, "variables": {"c": contact}},
        headers={"Authorization": f"Bearer {agent_token}"},
    )
    assert response.status_code == 200, response.text
    return contact, response.json()["data"]["claimInteraction"]["token"]


async def test_every_key_rotates_under_load_with_no_failed_request(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, secrets_dir = tmp_path / "scv", tmp_path / "secrets"
    secrets_dir.mkdir()
    monkeypatch.setenv("SCV_SECRETS_DIR", str(secrets_dir))
    ivr = IvrKeys()
    billing = Billing(stack.sandbox_url, stack.http, ivr)
    billing_server, billing_task, billing_port = await serve(billing.app)
    settings = stack.settings.model_copy(
        update={
            "data_dir": data_dir,
            "cache": stack.settings.cache.model_copy(update={"enabled": False}),
            "secrets": stack.settings.secrets.model_copy(update={"reload_seconds": 0.1}),
            "billing": stack.settings.billing.model_copy(
                update={"base_url": f"http://127.0.0.1:{billing_port}"}
            ),
            # The IVR's keys are fetched again once this old, at the next handoff.
            "handoff": stack.settings.handoff.model_copy(
                update={
                    "jwks_url": f"http://127.0.0.1:{billing_port}/ivr-jwks",
                    "jwks_max_age_seconds": 0.5,
                }
            ),
        }
    )
    gateway_server, gateway_task, port = await serve(create_app(settings))
    url = f"http://127.0.0.1:{port}"
    try:
        first = ensure_demo_keys(data_dir)
        grant = await claim(stack, url, data_dir, ivr)
        credentials = Credentials(first, first, grant, grant)
        load = Load()
        tasks = [
            *(
                asyncio.create_task(agent(url, credentials, n % 2 == 1, load))
                for n in range(CLIENTS)
            ),
            asyncio.create_task(vendor(url, credentials, load)),
        ]
        await progress(load)

        # 1. The demo issuer's key.
        credentials.newest_keys, _ = rotate_demo_keys(data_dir)
        await progress(load)

        # 2. The interaction-token key; the next claim is signed with the new one.
        interaction_key_directory(data_dir).rotate()
        credentials.newest_grant = await claim(stack, url, data_dir, ivr)
        await progress(load)

        # 3. The IVR's handoff key: published, learned by the gateway, then signing.
        ivr.publish()
        fetched = ivr.fetches

        async def learned() -> bool:
            await claim(stack, url, data_dir, ivr)  # still signed with the first key
            return ivr.fetches > fetched

        await until(learned, "the gateway fetched the IVR's keys again")
        ivr.signing = 1
        credentials.newest_grant = await claim(stack, url, data_dir, ivr)
        await progress(load)

        # 4. The CRM's webhook secret: both valid, the vendor moves, the previous withdrawn.
        (secrets_dir / "SCV_CRM__WEBHOOK_SECRET").write_text(NEW_WEBHOOK_SECRET)
        (secrets_dir / "SCV_CRM__WEBHOOK_SECRET_PREVIOUS").write_text(DEFAULT_SECRETS["crm"])
        probe = itertools.count(1)

        async def accepts(secret: str) -> bool:
            answer = await deliver(stack.http, url, secret, 8_000_000 + next(probe))
            return answer.status_code == 200

        await until(lambda: accepts(NEW_WEBHOOK_SECRET), "the new webhook secret accepted")
        # The vendor still signs with the previous secret for a while, then moves.
        await progress(load, webhooks=3)
        credentials.webhook_secret = NEW_WEBHOOK_SECRET
        await progress(load, webhooks=3)
        (secrets_dir / "SCV_CRM__WEBHOOK_SECRET_PREVIOUS").unlink()

        async def refuses_old() -> bool:
            return not await accepts(DEFAULT_SECRETS["crm"])

        await until(refuses_old, "the previous webhook secret withdrawn")
        await progress(load)

        # 5. Billing's API key: billing takes both, the gateway's file changes.
        billing.accepted.add(NEW_BILLING_KEY)
        (secrets_dir / "SCV_BILLING__API_KEY").write_text(NEW_BILLING_KEY)

        async def new_key_used() -> bool:
            return NEW_BILLING_KEY in billing.seen

        await until(new_key_used, "billing called with the new key")
        await progress(load)

        load.stop.set()
        await asyncio.gather(*tasks)
        assert load.failures == []
        assert load.answered > 0

        # The old billing key revoked: the gateway no longer needs it.
        bearer = mint_token(credentials.newest_keys, AUTH, subject="agent-1", role="agent")
        billing.accepted = {NEW_BILLING_KEY}
        response = await stack.http.post(
            f"{url}/graphql",
            json={"query": QUERY, "variables": {"e": "ada.lovelace@example.com"}},
            headers={"Authorization": f"Bearer {bearer}"},
        )
        body: dict[str, Any] = response.json()
        assert response.status_code == 200, body
        assert "errors" not in body, body
        assert body["data"]["customerByEmail"]["billing"] is not None
    finally:
        await stop(gateway_server, gateway_task)
        await stop(billing_server, billing_task)
