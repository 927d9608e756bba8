"""Secrets stay secret: a whole run of a gateway, and no configured secret in its logs, its
``/metrics`` or any answer it gave.

A gateway of its own, configured with a secret of every kind: a database URL with a password
(the run-time role's), the cache's encryption key, each source's API key and webhook
secret (a previous one too), the orders database's reader URL, and its own signing keys
(demo issuer, interaction tokens) under its data directory. The scenario: start, sync,
queries that succeed and queries refused (no token, a bad token, a malformed document, an
unknown customer, a bad interaction token), webhooks accepted and refused, an IVR handoff
claimed and read, a replayed handoff, a source failing, the probes. Every log record of the
gateway (at DEBUG, the JSON lines it would write), the ``/metrics`` text and every answer's
status line, headers and body are searched for every secret value (and each line of a PEM
key's body, and each URL's password).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from pydantic import BaseModel, SecretStr

from app.cli.ivr_call import play_ivr_call
from app.main import create_app
from app.observability.logs import JsonFormatter
from app.security.demo_keys import ensure_demo_keys, mint_token
from app.settings import Settings
from app.store.roles import grant_runtime_role, role_url
from sandbox.webhooks import DEFAULT_SECRETS, signed_headers
from tests.e2e.harness import Stack, serve, stop, sync_store

pytestmark = pytest.mark.e2e

ROLE = "scv_gateway_secrets"
DATABASE_PASSWORD = "pg-password-not-for-logs-7f3a"
CACHE_KEY = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
PREVIOUS_WEBHOOK_SECRET = "previous-hubspot-secret-91c2"

VIEW = """query($e: String!) { customerByEmail(email: $e) {
  id profile { name email } billing { delinquent } support { openTicketCount } } }"""
CLAIM = "mutation($c: ID!) { claimInteraction(contactId: $c) { token } }"
IN_CALL = """query($c: ID!) { interaction(contactId: $c) {
  state customer { displayName billing { delinquent } } } }"""


class Capture(logging.Handler):
    """Every record of the gateway as its JSON log line (the sandbox's records left out:
    it is the outside world, running in the same process only for the test)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("sandbox"):
            self.lines.append(self.format(record))


def secret_values(model: BaseModel) -> Iterator[str]:
    """Every ``SecretStr`` value held anywhere in ``model`` (its sections, nested)."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            yield value.get_secret_value()
        elif isinstance(value, BaseModel):
            yield from secret_values(value)


def needles(secret: str) -> Iterator[str]:
    """What of ``secret`` must never be seen: itself, a URL's password, a PEM's body lines."""
    yield secret
    if "://" in secret:
        password = urlsplit(secret).password
        if password:
            yield password
    if "-----BEGIN" in secret:
        yield from (line for line in secret.splitlines() if len(line) >= 40)


async def test_no_secret_reaches_logs_metrics_or_answers(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert stack.settings.database_url is not None
    owner_url = stack.settings.database_url.get_secret_value()
    await grant_runtime_role(owner_url, ROLE, DATABASE_PASSWORD)
    crm = stack.settings.crm.model_copy(
        update={"webhook_secret_previous": SecretStr(PREVIOUS_WEBHOOK_SECRET)}
    )
    settings: Settings = stack.settings.model_copy(
        update={
            "data_dir": tmp_path / "scv",
            "database_url": SecretStr(role_url(owner_url, ROLE, DATABASE_PASSWORD)),
            "cache": stack.settings.cache.model_copy(
                update={"encryption_key": SecretStr(CACHE_KEY)}
            ),
            "crm": crm,
        }
    )
    capture = Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    level = root.level
    root.setLevel(logging.DEBUG)
    answers: list[str] = []

    def keep(response: httpx.Response) -> httpx.Response:
        answers.append(f"{response.status_code} {response.headers} {response.text}")
        return response

    try:
        await sync_store(settings)
        server, task, port = await serve(create_app(settings))
        url = f"http://127.0.0.1:{port}"
        keys = ensure_demo_keys(settings.data_dir)
        agent = mint_token(keys, settings.auth, subject="agent-1", role="agent")
        bearer = {"Authorization": f"Bearer {agent}"}
        http = stack.http
        try:

            async def graphql(
                document: str, headers: dict[str, str] | None = None, **variables: Any
            ) -> httpx.Response:
                return keep(
                    await http.post(
                        f"{url}/graphql",
                        json={"query": document, "variables": variables},
                        headers=bearer if headers is None else headers,
                    )
                )

            # Queries, answered and refused.
            assert (await graphql(VIEW, e="ada.lovelace@example.com")).status_code == 200
            await graphql(VIEW, e="nobody@example.com")
            await graphql("{ customerByEmail(email: ", e="x")
            await graphql("{ noSuchField }")
            await graphql(VIEW, headers={}, e="ada.lovelace@example.com")
            await graphql(VIEW, headers={"Authorization": "Bearer not-a-jwt"}, e="x@example.com")
            await graphql(
                VIEW, headers={**bearer, "X-Interaction-Token": agent}, e="ada.lovelace@example.com"
            )
            # A source failing: its panel's error in the answer.
            await stack.set_faults("billing", error_rate=1.0)
            try:
                await graphql(VIEW, e="grace.hopper@example.com")
            finally:
                await stack.reset_sandbox()

            # Webhooks: accepted (current and previous secret), refused, malformed.
            target = f"{url}/webhooks/crm"
            for n, secret in enumerate(
                (DEFAULT_SECRETS["crm"], PREVIOUS_WEBHOOK_SECRET, "wrong-secret")
            ):
                body = orjson.dumps(
                    [
                        {
                            "eventId": 7_000_000 + n,
                            "subscriptionId": 1,
                            "portalId": 2,
                            "appId": 3,
                            "occurredAt": int(time.time() * 1000),
                            "subscriptionType": "contact.propertyChange",
                            "attemptNumber": 0,
                            "objectId": 999_998,
                            "propertyName": "lifecyclestage",
                            "propertyValue": "customer",
                            "changeSource": "CRM_UI",
                        }
                    ]
                )
                headers = signed_headers("crm", secret, target, body, time.time())
                keep(await http.post(target, content=body, headers=headers))
            malformed = b'{"not": "a list"}'
            keep(
                await http.post(
                    target,
                    content=malformed,
                    headers=signed_headers(
                        "crm", DEFAULT_SECRETS["crm"], target, malformed, time.time()
                    ),
                )
            )

            # A handoff, claimed and read within; then replayed.
            ivr_token = mint_token(keys, settings.auth, subject="ivr-sandbox", role="ivr")
            call = await play_ivr_call(
                http,
                ivr_url=f"{stack.sandbox_url}/ivr",
                gateway_url=url,
                ivr_token=ivr_token,
                call={"customer": "ada", "auth_method": "PIN", "auth_result": "AUTHENTICATED"},
            )
            claimed = await graphql(CLAIM, c=call.contact_id)
            grant = claimed.json()["data"]["claimInteraction"]["token"]
            await graphql(
                IN_CALL, headers={**bearer, "X-Interaction-Token": grant}, c=call.contact_id
            )
            await graphql(
                IN_CALL, headers={**bearer, "X-Interaction-Token": "x.y.z"}, c=call.contact_id
            )
            keep(
                await http.post(
                    f"{url}/ivr/handoffs",
                    content=b"not-a-jws",
                    headers={"Authorization": f"Bearer {ivr_token}"},
                )
            )

            # The probes.
            for probe in ("/healthz", "/readyz", "/metrics"):
                keep(await http.get(f"{url}{probe}"))
        finally:
            await stop(server, task)
    finally:
        root.removeHandler(capture)
        root.setLevel(level)

    secrets = {
        *secret_values(settings),
        *(path.read_text() for path in settings.data_dir.iterdir() if path.suffix == ".pem"),
        (settings.data_dir / "pg-gateway-role-password").read_text()
        if (settings.data_dir / "pg-gateway-role-password").exists()
        else DATABASE_PASSWORD,
    }
    assert DATABASE_PASSWORD in {n for s in secrets for n in needles(s)}
    assert any("PRIVATE KEY" in secret for secret in secrets)
    seen = "\n".join([*capture.lines, *answers])
    assert len(capture.lines) > 10
    assert any(answer.startswith("200") and "scv_" in answer for answer in answers)  # /metrics
    found = sorted({needle[:6] + "..." for s in secrets for needle in needles(s) if needle in seen})
    assert found == [], f"secrets seen in logs, /metrics or answers: {found}"
