"""The sandbox process: the registered HTTP systems mounted on one Starlette app, served by
uvicorn, and the others (a database) created at start.

``create_sandbox_app`` builds the app (in-process tests use it with httpx's ASGI transport);
``run_sandbox`` serves it; ``build_sandbox_server`` gives a uvicorn server to run inside an
existing event loop (end-to-end tests). ``app.state.sandbox`` is the ``Sandbox``: the
dataset and each system's ``SystemControl``, for code that needs to reach behind HTTP.
"""

from __future__ import annotations

import asyncio
import gc
import shlex
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from sandbox.accounts import ACCOUNTS, SandboxAccount, tenants_environment
from sandbox.control import FaultSettings, SystemControl
from sandbox.data.generate import generate_dataset
from sandbox.entry import HttpSystem, SandboxServers
from sandbox.records import Dataset
from sandbox.registry import HTTP_SYSTEMS, SANDBOX_SYSTEMS, gateway_environment
from sandbox.responses import JsonResponse
from sandbox.webhook_control import webhook_routes
from sandbox.webhooks import DeliveryPolicy, WebhookOutbox

#: The systems served over HTTP, by name (the registry's, ``sandbox/registry.py``).
SYSTEMS = HTTP_SYSTEMS
_HTTP: dict[str, HttpSystem] = {each.name: each.http for each in SANDBOX_SYSTEMS if each.http}


@dataclass(frozen=True, slots=True)
class Sandbox:
    """What the sandbox app serves: the data and each system's faults and stats."""

    dataset: Dataset
    controls: dict[str, SystemControl]
    #: Where billing, CRM and support send their webhooks, and how those went.
    outbox: WebhookOutbox
    #: The other accounts (``sandbox/accounts.py``), by name: each its data, controls and
    #: outbox, served under ``/accounts/<name>/<system>``.
    accounts: dict[str, Sandbox] = field(default_factory=dict)

    def close(self) -> None:
        """Release every hanging request, for good (the process is shutting down)."""
        for control in self.controls.values():
            control.close()
        for account in self.accounts.values():
            account.close()

    async def drain(self) -> None:
        """Wait until every webhook of every account emitted so far is delivered or given up."""
        await self.outbox.drain()
        for account in self.accounts.values():
            await account.outbox.drain()


def create_sandbox_app(
    seed: int = 42,
    customers: int = 2000,
    latency_ms: float = 0,
    jitter_ms: float = 0,
    error_rate: float = 0.0,
    error_status: int = 500,
    rate_limit_retry_after: int | None = None,
    hang: bool = False,
    malformed_json: bool = False,
    *,
    fault_systems: Iterable[str] = SYSTEMS,
    dataset: Dataset | None = None,
    webhook_url: str | None = None,
    webhook_secrets: Mapping[str, str] | None = None,
    webhook_policy: DeliveryPolicy | None = None,
) -> Starlette:
    """Every registered HTTP system under ``/<name>`` (``/billing``, ``/crm``, ...).

    The fault arguments start ``fault_systems`` with those faults (the others with none);
    ``dataset`` reuses already generated data instead of generating it from ``seed`` and
    ``customers``. Bad fault values raise ``pydantic.ValidationError``. Changes made through
    the write endpoints are posted as webhooks to ``<webhook_url>/<system>`` (also settable
    at run time: ``POST /_sandbox/webhooks``), signed with ``webhook_secrets`` (by system;
    the defaults match the gateway's default settings).
    """
    faults = FaultSettings.model_validate(
        {
            "latency_ms": float(latency_ms),
            "jitter_ms": float(jitter_ms),
            "error_rate": float(error_rate),
            "error_status": error_status,
            "rate_limit_retry_after": rate_limit_retry_after,
            "hang": hang,
            "malformed_json": malformed_json,
        }
    )
    faulted = set(fault_systems)
    unknown = faulted - set(SYSTEMS)
    if unknown:
        raise ValueError(f"unknown systems {sorted(unknown)}; choose from {SYSTEMS}")
    data = dataset if dataset is not None else generate_dataset(seed, customers)
    outbox = WebhookOutbox(url=webhook_url, policy=webhook_policy or DeliveryPolicy())
    outbox.secrets.update(webhook_secrets or {})
    sandbox = Sandbox(
        dataset=data,
        controls={
            name: SystemControl(
                name,
                _HTTP[name].errors,
                faults if name in faulted else None,
                seed=data.seed,
                outbox=outbox,
            )
            for name in SYSTEMS
        },
        outbox=outbox,
        accounts={account.name: _account(account, data.seed, outbox) for account in ACCOUNTS},
    )

    async def index(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JsonResponse({"systems": {name: f"{base}/{name}" for name in SYSTEMS}})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        sandbox.close()
        await outbox.aclose()
        for account in sandbox.accounts.values():
            await account.outbox.aclose()

    app = Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            *webhook_routes(outbox),
            *(
                Mount(f"/{name}", app=_HTTP[name].create_app(data, sandbox.controls[name]))
                for name in SYSTEMS
            ),
            *(
                Mount(
                    f"{account.path}/{name}",
                    app=_HTTP[name].create_app(
                        sandbox.accounts[account.name].dataset,
                        sandbox.accounts[account.name].controls[name],
                        api_key=key,
                    ),
                )
                for account in ACCOUNTS
                for name, key in account.api_keys.items()
            ),
        ],
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    return app


def _account(account: SandboxAccount, seed: int, outbox: WebhookOutbox) -> Sandbox:
    """Another account's own data, controls (no faults) and outbox."""
    own = outbox.for_account(account.name, account.webhook_secrets)
    return Sandbox(
        dataset=account.dataset(seed),
        controls={
            name: SystemControl(name, _HTTP[name].errors, None, seed=seed, outbox=own)
            for name in account.api_keys
        },
        outbox=own,
    )


def system_urls(host: str, port: int) -> dict[str, str]:
    """The base URL of each system when served on ``host:port``."""
    shown = f"[{host}]" if ":" in host else host
    return {name: f"http://{shown}:{port}/{name}" for name in SYSTEMS}


class SandboxServer(uvicorn.Server):
    """A uvicorn server that announces the systems' URLs and frees hanging requests on exit.

    uvicorn waits for in-flight requests before it shuts the app down, so requests hung by
    the ``hang`` fault must be released first or shutdown would wait forever.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        sandbox: Sandbox,
        on_started: Callable[[dict[str, str]], None] | None = None,
    ) -> None:
        super().__init__(config)
        self.sandbox = sandbox
        self.on_started = on_started
        self.urls: dict[str, str] = {}

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start serving, then announce where each system is."""
        await super().startup(sockets=sockets)
        if not self.started:
            return
        port = self.config.port
        for server in self.servers:
            for bound in server.sockets:
                port = int(bound.getsockname()[1])
        self.urls = system_urls(self.config.host, port)
        if self.on_started is not None:
            self.on_started(self.urls)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Release hanging requests, then shut down as uvicorn does."""
        self.sandbox.close()
        await super().shutdown(sockets=sockets)


def build_sandbox_server(
    app: Starlette,
    host: str = "127.0.0.1",
    port: int = 8100,
    *,
    log_level: str = "warning",
    on_started: Callable[[dict[str, str]], None] | None = None,
) -> SandboxServer:
    """A server for ``app`` (from ``create_sandbox_app``); ``port=0`` picks a free port.

    After ``await server.serve()`` has started, ``server.urls`` holds each system's URL.
    """
    sandbox = getattr(app.state, "sandbox", None)
    if not isinstance(sandbox, Sandbox):
        raise TypeError("app must come from create_sandbox_app")
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=log_level in ("info", "debug", "trace"),
        lifespan="on",
    )
    return SandboxServer(config, sandbox, on_started)


def print_urls(urls: dict[str, str]) -> None:
    """One line per system: its name and base URL."""
    for name, url in urls.items():
        print(f"{name:<8} {url}", flush=True)


def announcer(
    servers: SandboxServers, environment_file: Path | None = None
) -> Callable[[dict[str, str]], None]:
    """What the sandbox prints once it serves: each HTTP system's URL (``print_urls``), then
    the gateway's environment that points it at every registered system, then the settings
    that serve each other account as a tenant of its own (also written, one ``KEY=VALUE`` a
    line, to ``environment_file`` when given)."""

    def announce(urls: dict[str, str]) -> None:
        print_urls(urls)
        name, url = next(iter(urls.items()))
        http_url = url.removesuffix(f"/{name}")
        environment = gateway_environment(http_url, servers)
        print("gateway environment (scv serve, scv sync):", flush=True)
        for key, value in environment.items():
            print(f"  {key}={value}", flush=True)
        print("and its other accounts, each a tenant of its own (docs/tenancy.md):", flush=True)
        tenants = tenants_environment(http_url)
        for key, value in tenants.items():
            print(f"  {key}={shlex.quote(value)}", flush=True)
        if environment_file is not None:
            lines = "".join(f"{key}={value}\n" for key, value in tenants.items())
            environment_file.write_text(lines, encoding="utf-8")

    return announce


async def prepare_systems(dataset: Dataset, servers: SandboxServers) -> None:
    """Create what each registered system keeps outside HTTP on ``servers``; print each."""
    for system in SANDBOX_SYSTEMS:
        for line in await system.prepare(dataset, servers):
            print(f"{system.name:<8} {line}", flush=True)


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 8100,
    seed: int = 42,
    customers: int = 2000,
    latency_ms: float = 0,
    jitter_ms: float = 0,
    error_rate: float = 0.0,
    error_status: int = 500,
    rate_limit_retry_after: int | None = None,
    hang: bool = False,
    malformed_json: bool = False,
    *,
    fault_systems: Iterable[str] = SYSTEMS,
    log_level: str = "warning",
    webhook_url: str | None = None,
    webhook_secrets: Mapping[str, str] | None = None,
    servers: SandboxServers | None = None,
    environment_file: Path | None = None,
) -> None:
    """Generate the data, create every registered system that is not served over HTTP on
    ``servers`` (a PostgreSQL server, a folder for files: those it is given), serve the
    others until interrupted, and print where each is (and write the other accounts'
    tenant settings to ``environment_file``)."""
    app = create_sandbox_app(
        seed,
        customers,
        latency_ms,
        jitter_ms,
        error_rate,
        error_status,
        rate_limit_retry_after,
        hang,
        malformed_json,
        fault_systems=fault_systems,
        webhook_url=webhook_url,
        webhook_secrets=webhook_secrets,
    )
    dataset = app.state.sandbox.dataset
    servers = servers or SandboxServers()
    asyncio.run(prepare_systems(dataset, servers))
    tables = dataset.tables()
    # Sorted now rather than on the first request of a benchmark: the listings that walk a
    # whole system (identity sync, IVR polling). The others sort on first use.
    for http in _HTTP.values():
        for name in http.listings:
            tables[name].order()
    # The dataset lives as long as the process: keep the collector from rescanning it.
    gc.collect()
    gc.freeze()
    announce = announcer(servers, environment_file)
    build_sandbox_server(app, host, port, log_level=log_level, on_started=announce).run()
