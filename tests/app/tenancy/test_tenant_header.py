"""The GraphQL endpoint picks a request's tenant before GraphQL runs, from the token's tenants
claim and the tenant header, and refuses it in GraphQL's shape when it cannot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from app.http.authenticated import AuthenticatedGraphQL
from app.http.state import GatewayState
from app.security.auth import KeyRing, TokenVerifier, claimed_tenants
from app.security.demo_keys import DemoKeys, ensure_demo_keys, mint_token
from app.security.settings import AuthSettings
from app.tenancy.settings import TenancySettings
from kernel.tenancy import TenantId

ACME, GLOBEX = TenantId("acme"), TenantId("globex")


class _SeesTenant:
    """Stands in for strawberry: notes the tenant the request acts for."""

    def __init__(self) -> None:
        self.seen: list[TenantId | None] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append(scope["state"]["tenant"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


class Endpoint:
    def __init__(self, keys: DemoKeys, tenancy: TenancySettings, auth: AuthSettings) -> None:
        self.keys, self.auth = keys, auth
        self.inner = _SeesTenant()
        self.refusals: list[str] = []
        self.endpoint = AuthenticatedGraphQL(
            self.inner,  # type: ignore[arg-type]
            ide_enabled=False,
            count_refusal=self.refusals.append,
        )
        self.state = GatewayState(
            store=None,  # type: ignore[arg-type]
            sources=None,  # type: ignore[arg-type]
            verifier=TokenVerifier(auth, KeyRing(static_key=keys.public_pem)),
            default_region="GB",
            tenancy=tenancy,
        )

    async def post(
        self, *, role: str = "agent", tenants: tuple[str, ...] = (), header: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        token = mint_token(self.keys, self.auth, subject=f"{role}-1", role=role, tenants=tenants)
        headers = [(b"authorization", f"Bearer {token}".encode())]
        if header is not None:
            headers.append((self.state.tenancy.header.encode(), header.encode()))
        scope: dict[str, Any] = {
            "type": "http",
            "method": "POST",
            "path": "/graphql",
            "headers": headers,
            "query_string": b"",
            "state": {"gateway": self.state},
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(message)

        await self.endpoint(scope, receive, send)
        body = b"".join(message.get("body", b"") for message in sent[1:])
        return sent[0]["status"], json.loads(body)


@pytest.fixture
def keys(tmp_path: Path) -> DemoKeys:
    return ensure_demo_keys(tmp_path)


@pytest.fixture
def two_tenants(keys: DemoKeys) -> Endpoint:
    return Endpoint(keys, TenancySettings(tenants=(ACME, GLOBEX)), AuthSettings())


async def test_a_single_tenant_gateway_serves_tokens_without_the_claim(keys: DemoKeys) -> None:
    endpoint = Endpoint(keys, TenancySettings(), AuthSettings())
    assert (await endpoint.post())[0] == 200
    assert endpoint.inner.seen == [ACME]


async def test_a_token_of_one_tenant_acts_for_it(two_tenants: Endpoint) -> None:
    assert (await two_tenants.post(tenants=("globex",)))[0] == 200
    assert two_tenants.inner.seen == [GLOBEX]


async def test_a_token_of_two_tenants_names_one_in_the_header(two_tenants: Endpoint) -> None:
    assert (await two_tenants.post(tenants=("acme", "globex"), header="globex"))[0] == 200
    assert two_tenants.inner.seen == [GLOBEX]


@pytest.mark.parametrize(
    ("tenants", "header", "status", "code"),
    [
        (("acme", "globex"), None, 400, "TENANT_REQUIRED"),
        (("acme",), "globex", 403, "TENANT_FORBIDDEN"),
        (("acme",), "initech", 403, "TENANT_FORBIDDEN"),
        ((), None, 403, "TENANT_FORBIDDEN"),
    ],
    ids=["ambiguous", "not-allowed", "unknown", "none"],
)
async def test_a_request_that_cannot_act_for_a_tenant_is_refused_before_graphql(
    two_tenants: Endpoint,
    tenants: tuple[str, ...],
    header: str | None,
    status: int,
    code: str,
) -> None:
    answer = await two_tenants.post(tenants=tenants, header=header)
    assert answer[0] == status
    (error,) = answer[1]["errors"]
    assert error["extensions"] == {"code": code}
    assert "tenant" in error["message"]
    assert two_tenants.inner.seen == []
    assert two_tenants.refusals == [code]


async def test_the_tenants_claim_is_configurable(keys: DemoKeys) -> None:
    auth = AuthSettings(tenants_claim="https://scv.example/clients")
    endpoint = Endpoint(keys, TenancySettings(tenants=(ACME, GLOBEX)), auth)
    assert (await endpoint.post(tenants=("globex",)))[0] == 200
    assert endpoint.inner.seen == [GLOBEX]


@pytest.mark.parametrize(
    ("claim", "tenants"),
    [
        (["acme", "globex"], {ACME, GLOBEX}),
        ("acme globex", {ACME, GLOBEX}),
        (["acme", 7, {"x": 1}, "Not A Tenant"], {ACME}),
        ({"acme": True}, set()),
        (None, set()),
    ],
)
def test_the_claim_grants_only_tenant_names(claim: object, tenants: set[TenantId]) -> None:
    assert claimed_tenants(claim) == tenants
