"""``scv demo`` (what ``make run`` runs): PostgreSQL, the sandbox, a sync, the gateway.

The sandbox runs as a child process (it is the outside world, reached only over HTTP); the
sync and the gateway run here. Ctrl-C stops the gateway, then the sandbox; the embedded
PostgreSQL stops with this process and keeps its data under ``data_dir`` for the next run.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import socket
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import httpx
import uvicorn

from adapters.billing.port import PORT as BILLING
from adapters.crm.port import PORT as CRM
from adapters.support.port import PORT as SUPPORT
from app.analytics.refresh import (
    ChangedFactsReport,
    FactsRefreshReport,
    FactsUpdater,
    refresh_changed_facts,
    refresh_facts_from,
)
from app.demo.sandbox_tenants import (
    SANDBOX_TENANTS_FILE,
    read_environment_file,
    with_sandbox_tenants,
)
from app.identity.data_quality import print_data_quality
from app.identity.sync.progress import ProgressLine
from app.identity.sync.runner import sync_identities
from app.main import create_app
from app.security.demo_keys import ensure_demo_keys, mint_token
from app.settings import Settings
from app.store.customers import Store
from app.store.facts_writer import FactsWriter
from app.store.rollout import PostgresRolloutStore
from app.wiring.services import database_url
from app.wiring.sources import build_sources, connected
from kernel.tenancy import TenantId

DEMO_AGENT = "agent-1"
DEMO_CUSTOMER_EMAIL = "ada.lovelace@example.com"

#: The agent desktop's whole-customer query: one request, every panel.
WHOLE_VIEW_QUERY = """query WholeView($email: String!) {
  customerByEmail(email: $email) {
    id displayName
    links { source externalId matchedBy }
    profile { name email phone address { city country } meta { source fetchedAt } }
    billing {
      balance { amount currency } delinquent
      subscriptions { id status planName amount { amount currency } currentPeriodEnd }
      invoices(first: 5) { id number status amountDue { amount currency } dueDate overdue }
      meta { source fetchedAt }
    }
    support {
      openTicketCount
      tickets(first: 5) { id subject status sourceStatus priority updatedAt }
      meta { source fetchedAt }
    }
    orders {
      openOrderCount
      orders(first: 5) {
        number status sourceStatus placedAt total { amount currency }
        lines { sku description quantity } shipment { carrier trackingNumber status }
      }
      meta { source fetchedAt }
    }
  }
}"""


def start_sandbox(
    port: int,
    seed: int,
    customers: int,
    webhook_url: str | None = None,
    database_url: str | None = None,
    environment_file: Path | None = None,
) -> subprocess.Popen[bytes]:
    """The sandbox systems in a child process, once they answer.

    With ``webhook_url``, the sandbox posts its changes there as signed webhooks; with
    ``database_url`` (a PostgreSQL server), it first creates there every registered system
    it keeps in a database (``sandbox/registry.py``; the gateway's registry points each
    source's section there, ``in_sandbox``).
    """
    command = [
        sys.executable, "-m", "sandbox",
        "--port", str(port), "--seed", str(seed), "--customers", str(customers),
    ]  # fmt: skip
    if webhook_url is not None:
        command += ["--webhook-url", webhook_url]
    if database_url is not None:
        command += ["--database-server", database_url]
    if environment_file is not None:
        # Written once it serves: its other accounts' settings (each a tenant of its own).
        environment_file.unlink(missing_ok=True)
        command += ["--environment-file", str(environment_file)]
    process = subprocess.Popen(command)  # noqa: S603 - our own interpreter and module
    deadline = time.monotonic() + 30
    # The index answers once every registered system is created and served.
    probe = f"http://127.0.0.1:{port}/"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited with code {process.returncode}")
        try:
            written = environment_file is None or environment_file.is_file()
            if written and httpx.get(probe, timeout=1.0).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"the sandbox did not answer on port {port} within 30 s")


async def run_sync(
    settings: Settings,
    *,
    full: bool = False,
    identity_only: bool = False,
    tenant: TenantId | None = None,
) -> None:
    """One identity sync of ``tenant`` (the default tenant unless named; incremental where
    its cursors exist, unless ``full``), with a progress line, then the read model's refresh
    and the report; ``identity_only`` stops after the linking (``bench.identity_sync`` times
    it apart)."""
    progress = ProgressLine(sys.stderr, interval_seconds=settings.sync.progress_interval_seconds)
    async with AsyncExitStack() as stack:
        store = await Store.connect(
            await database_url(settings), pool_size=2, tenant=settings.tenancy.default_tenant
        )
        stack.push_async_callback(store.close)
        await store.migrate()
        # Migrated as the default tenant's (rows before tenancy are its), synced as the one asked.
        tenant = tenant or settings.tenancy.default_tenant
        store = store.for_tenant(tenant)
        # The tenant's own sources: its accounts, never another tenant's.
        sources = await build_sources(settings, stack, tenant=tenant)
        overrides = await PostgresRolloutStore(store).rollout_overrides()
        reading, why_not = connected(
            settings,
            sources,
            {source: each.mode for source, each in overrides.items()},
            tenant=tenant,
        )
        report = await sync_identities(
            store,
            reading.by_source,
            settings.identity,
            why_not=why_not,
            progress=progress,
            full=full,
            overlap=timedelta(seconds=settings.sync.overlap_seconds),
            batch_records=settings.sync.batch_records,
        )
        progress.finish()
        print(report.format_table())
        if identity_only:
            return
        # After the identity pass: the read model's facts follow the links it made. An
        # incremental run re-reads only the records it read; a full run (or one that read
        # too many to go record by record) refreshes every customer in bulk.
        writer = FactsWriter(store.pool, store.tenant)
        facts: FactsRefreshReport | ChangedFactsReport
        if report.changed is not None:
            updater = FactsUpdater(
                store,
                writer,
                sources.port(BILLING),
                sources.port(CRM),
                sources.port(SUPPORT),
                adapters=sources.by_source,
            )
            facts = await refresh_changed_facts(
                updater, writer, report.changed, settings.customers.panel_concurrency
            )
        else:
            facts = await refresh_facts_from(
                writer, sources, settings.customers, settings.identity.default_region
            )
        print(facts.format_line())
        # Last, so that the unmapped words the facts refresh met are in it.
        await print_data_quality(store, list(sources.by_source.values()))


def gateway_webhook_url(settings: Settings) -> str:
    """Where the sandbox reaches the gateway's webhooks (loopback when it listens on all)."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{settings.port}/webhooks"


def crm_change_example(sandbox_url: str) -> str:
    """A curl line that changes Ada's email in the CRM sandbox (a webhook tells the gateway)."""
    body = json.dumps({"properties": {"email": "ada@analytical-engine.example"}})
    return (
        f"curl -s -X PATCH {sandbox_url}/crm/crm/v3/objects/contacts/1001 \\\n"
        "    -H 'Authorization: Bearer pat-sandbox-crm' -H 'Content-Type: application/json' \\\n"
        f"    -d {shlex.quote(body)}"
    )


def banner(settings: Settings, token: str, sandbox_url: str | None = None) -> str:
    """What a newcomer needs to make the first request."""
    url = f"http://{settings.host}:{settings.port}/graphql"
    change = (
        ""
        if sandbox_url is None
        else f"""
Change Ada's email in the CRM sandbox: a signed webhook tells the gateway, and the next
customerByEmail(email: "ada@analytical-engine.example") finds her:
  {crm_change_example(sandbox_url)}
"""
    )
    # The curl example's body is built as JSON, so quoting can never go wrong.
    query = (
        f'{{ customerByEmail(email: "{DEMO_CUSTOMER_EMAIL}") {{ displayName '
        "billing { balance { amount currency } } support { openTicketCount } "
        "orders { openOrderCount } } }"
    )
    body = json.dumps({"query": query})
    return f"""
Single customer view gateway (demo)
  GraphQL + GraphiQL : {url}
  health             : http://{settings.host}:{settings.port}/healthz
  agent token ({DEMO_AGENT}, 12 h):
{token}

Try it:
  curl -s {url} \\
    -H "Authorization: Bearer {token}" \\
    -H 'Content-Type: application/json' \\
    -d {shlex.quote(body)}

The whole-customer query for Ada Lovelace is in README.md ("Your first query").
Named customers: ada.lovelace, grace.hopper, alan.turing, katherine.johnson,
edsger.dijkstra, barbara.liskov (all @example.com), in tenant acme (this token's).
A second tenant, globex, has its own sandbox accounts: hedy.lamarr@example.com lives only
there, and grace.hopper@example.com is globex's customer too (its own records). A token
for it: .venv/bin/scv token --role agent --tenant globex. Ctrl-C stops everything.

Personal fields come back masked (Ada L., a***@example.com) until the agent holds a
verified call for that customer. Play one: the sandbox IVR verifies Ada by PIN and hands
her over; the command prints how the agent claims the call, then send the grant's token
as the X-Interaction-Token header beside the bearer token:
  .venv/bin/scv ivr-call --customer ada
{change}"""


class AnnouncingServer(uvicorn.Server):
    """uvicorn's server, printing ``announcement`` once it accepts requests.

    Printed only after start-up (store connected, migrations applied, port bound), so the
    curl line it shows works the moment a newcomer can copy it.
    """

    def __init__(self, config: uvicorn.Config, announcement: str) -> None:
        super().__init__(config)
        self._announcement = announcement

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print(self._announcement, flush=True)


def run_demo(settings: Settings, *, sandbox_port: int, seed: int, customers: int) -> None:
    """Everything ``make run`` promises, in the foreground until Ctrl-C: the sandbox's
    default account as the default tenant (acme), each of its other accounts as a tenant of
    its own (globex), each synced from its own accounts."""
    owner = settings.database_migration_url or settings.database_url
    server = owner.get_secret_value() if owner else None
    tenants_file = settings.data_dir.resolve() / SANDBOX_TENANTS_FILE
    sandbox = start_sandbox(
        sandbox_port, seed, customers, gateway_webhook_url(settings), server, tenants_file
    )
    try:
        settings = with_sandbox_tenants(settings, read_environment_file(tenants_file))
        # Full: the sandbox was just started, perhaps with another seed or size, and its
        # generated records carry old times an incremental read would not pick up.
        for tenant in settings.tenancy.tenants:
            asyncio.run(run_sync(settings, full=True, tenant=tenant))
        keys = ensure_demo_keys(settings.data_dir)
        token = mint_token(
            keys,
            settings.auth,
            subject=DEMO_AGENT,
            role="agent",
            ttl_seconds=12 * 3600,
            tenants=[settings.tenancy.default_tenant],
        )
        config = uvicorn.Config(
            create_app(settings), host=settings.host, port=settings.port, log_level="warning"
        )
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        AnnouncingServer(config, banner(settings, token, sandbox_url)).run()
    finally:
        sandbox.terminate()
        try:
            sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandbox.kill()
