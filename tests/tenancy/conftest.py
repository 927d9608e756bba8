"""Two tenants on one gateway, each with its own sandbox accounts: acme the sandbox's
default account, globex its own (Hedy Lamarr, and its own Grace Hopper).

A stack of its own (sandbox, PostgreSQL, a sync of each tenant from its own accounts, the
gateway serving acme and globex): the isolation suite sends every operation of the schema
as globex's principals, aimed at acme's customers, calls, exports and writes, and must not
change what other tests read. Live linking is on: globex's live lookups search globex's own
accounts only. Grace Hopper's email, phone and surname are left out of the probes' keys:
she is globex's customer too (the same person, globex's own records), so globex finding
its own Grace is no leak. Budgets are off so that hundreds of probes reach the resolvers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from app.cli.commands import with_sandbox_port
from app.cli.ivr_call import play_ivr_call
from app.demo.runner import run_sync
from app.demo.sandbox_tenants import with_sandbox_tenants
from app.main import create_app
from app.security.demo_keys import DemoKeys, ensure_demo_keys, mint_token
from app.settings import Settings
from kernel.tenancy import TenantId
from sandbox.accounts import tenants_environment
from sandbox.server import create_sandbox_app
from tests.conftest import scratch_database
from tests.e2e.harness import serve, stop, sync_store
from tests.e2e.resilience_harness import for_shared_stack
from tests.fuzz.keys import NAMED_EMAILS
from tests.tenancy.operations import TenantKeys

ACME, GLOBEX = TenantId("acme"), TenantId("globex")
#: The roles a principal of the other tenant probes with.
ROLES = ("agent", "supervisor", "analyst", "ivr", "operator")
#: The person both tenants know (the same email, each tenant's own records).
SHARED_EMAIL = "grace.hopper@example.com"
#: The named customers' emails, phones (E.164) and surnames the probes aim at: acme's own
#: (not the shared person's, globex's customer too).
PROBED_EMAILS = tuple(email for email in NAMED_EMAILS if email != SHARED_EMAIL)
PHONES = ("+442079460018",)
SURNAMES = ("Lovelace", "Turing", "Liskov")

IDS = "query($e: String!) { customerByEmail(email: $e) { id links { source externalId } } }"
CLAIM = "mutation($c: ID!) { claimInteraction(contactId: $c) { token } }"
EXPORT = "mutation { startExport(fields: [CUSTOMER_ID, DISPLAY_NAME]) { id } }"
EXPORT_STATE = "query($id: ID!) { exportStatus(id: $id) { state } }"
NOTE = """mutation($c: ID!, $k: String!) {
  addCustomerNote(customerId: $c, body: "acme's own note", idempotencyKey: $k) { id status }
}"""
WRITE_STATE = "query($id: ID!) { writeStatus(id: $id) { status } }"


@dataclass
class TenantsStack:
    """Handles on the two-tenant stack."""

    http: httpx.AsyncClient
    gateway_url: str
    sandbox_url: str
    database_url: str
    settings: Settings
    keys: DemoKeys
    #: acme's records: what globex's principals aim at.
    acme: TenantKeys
    #: An acme agent's grant for acme's call (``X-Interaction-Token``).
    acme_grant: str

    def token(self, role: str, tenant: TenantId, subject: str | None = None) -> str:
        return mint_token(
            self.keys,
            self.settings.auth,
            subject=subject or f"{role}-{tenant}",
            role=role,
            tenants=[tenant],
        )

    async def post(
        self, document: str, variables: dict[str, Any], token: str, **headers: str
    ) -> httpx.Response:
        return await self.http.post(
            f"{self.gateway_url}/graphql",
            json={"query": document, "variables": variables},
            headers={"Authorization": f"Bearer {token}", **headers},
        )

    async def data(self, document: str, variables: dict[str, Any], token: str) -> Any:
        response = await self.post(document, variables, token)
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]


@pytest.fixture(scope="session")
async def tenants_stack(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[TenantsStack]:
    sandbox_server, sandbox_task, sandbox_port = await serve(
        create_sandbox_app(seed=21, customers=30)
    )
    data_dir: Path = tmp_path_factory.mktemp("scv_tenants")
    async with scratch_database(database_url, "tenants") as url:
        settings = for_shared_stack(
            with_sandbox_port(
                Settings(
                    demo=True,
                    data_dir=data_dir,
                    database_url=SecretStr(url),
                ),
                sandbox_port,
            )
        )
        # globex's own accounts, as the sandbox says them (sandbox/accounts.py).
        settings = with_sandbox_tenants(
            settings, tenants_environment(f"http://127.0.0.1:{sandbox_port}")
        )
        settings = settings.model_copy(
            update={"limits": settings.limits.model_copy(update={"budget_enabled": False})}
        )
        # acme's customers (the default tenant's sync), then globex's from its own accounts.
        await sync_store(settings, with_facts=True)
        await run_sync(settings, full=True, tenant=GLOBEX)
        gateway_server, gateway_task, gateway_port = await serve(create_app(settings))
        keys = ensure_demo_keys(data_dir)
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        async with httpx.AsyncClient(timeout=30.0) as http:
            stack = TenantsStack(
                http=http,
                gateway_url=gateway_url,
                sandbox_url=f"http://127.0.0.1:{sandbox_port}",
                database_url=url,
                settings=settings,
                keys=keys,
                acme=TenantKeys((), (), (), (), (), (), ()),
                acme_grant="",
            )
            await _acme_records(stack)
            yield stack
        await stop(gateway_server, gateway_task)
    await stop(sandbox_server, sandbox_task)


async def _acme_records(stack: TenantsStack) -> None:
    """acme's customers, a call claimed by an acme agent, an export and a write of acme's."""
    agent = stack.token("agent", ACME, "agent-acme")
    customer_ids: list[str] = []
    records: list[tuple[str, str]] = []
    for email in NAMED_EMAILS:
        customer = (await stack.data(IDS, {"e": email}, agent))["customerByEmail"]
        customer_ids.append(customer["id"])
        records.extend((link["source"], link["externalId"]) for link in customer["links"])
    call = await play_ivr_call(
        stack.http,
        ivr_url=f"{stack.sandbox_url}/ivr",
        gateway_url=stack.gateway_url,
        ivr_token=stack.token("ivr", ACME),
        call={"customer": "ada"},
    )
    grant = (await stack.data(CLAIM, {"c": call.contact_id}, agent))["claimInteraction"]["token"]
    analyst = stack.token("analyst", ACME, "analyst-acme")
    export_id = (await stack.data(EXPORT, {}, analyst))["startExport"]["id"]
    response = await stack.post(
        NOTE,
        {"c": customer_ids[0], "k": "acme-note-1"},
        agent,
        **{"X-Interaction-Token": grant},
    )
    written = response.json()["data"]["addCustomerNote"]
    # Settled before the probes, so that acme's rows change no more on their own.
    await _until(lambda: _export_done(stack, analyst, export_id))
    await _until(lambda: _write_done(stack, agent, written["id"]))
    stack.acme = TenantKeys(
        customer_ids=tuple(customer_ids),
        emails=PROBED_EMAILS,
        phones=PHONES,
        records=tuple(records),
        contact_ids=(call.contact_id,),
        export_ids=(export_id,),
        write_ids=(written["id"],),
    )
    stack.acme_grant = grant


async def _export_done(stack: TenantsStack, token: str, export_id: str) -> bool:
    state = (await stack.data(EXPORT_STATE, {"id": export_id}, token))["exportStatus"]["state"]
    return bool(state in {"SUCCEEDED", "FAILED"})


async def _write_done(stack: TenantsStack, token: str, write_id: str) -> bool:
    status = (await stack.data(WRITE_STATE, {"id": write_id}, token))["writeStatus"]["status"]
    return bool(status != "PENDING")


async def _until(done: Any, attempts: int = 200) -> None:
    for _ in range(attempts):
        if await done():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("acme's export or write did not settle")


#: acme's rows in every tenant-scoped table but the audit trail (which the probes append
#: to, by design: each attempt on an acme customer goes on acme's trail).
TENANT_TABLES = (
    "customers",
    "identity_links",
    "lookup_keys",
    "identity_decisions",
    "identity_review",
    "interactions",
    "interaction_events",
    "customer_facts",
    "export_jobs",
    "webhook_events",
    "webhook_record_versions",
    "writes",
    "sync_cursors",
    "sync_runs",
)


async def tenant_rows(database_url: str, tenant: TenantId) -> dict[str, str]:
    """Each table's rows of ``tenant``, as one digest per table."""
    conn = await asyncpg.connect(database_url)
    try:
        return {
            table: await conn.fetchval(
                f"select md5(coalesce(string_agg(t::text, '|' order by t::text), ''))"
                f" from {table} as t where tenant = $1",
                tenant,
            )
            for table in TENANT_TABLES
        }
    finally:
        await conn.close()


async def audit_rows(database_url: str, tenant: TenantId) -> list[asyncpg.Record]:
    """``tenant``'s audit trail, oldest first."""
    conn = await asyncpg.connect(database_url)
    try:
        return list(
            await conn.fetch(
                "select id, kind, subject, role, customer_id, outcome, detail from audit_trail"
                " where tenant = $1 order by id",
                tenant,
            )
        )
    finally:
        await conn.close()
