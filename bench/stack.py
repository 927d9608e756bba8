"""The stack under test: embedded PostgreSQL, the sandbox and the gateway, as real processes.

The gateway runs as ``scv serve`` in production mode (no demo features, a real key file for
bearer tokens, ``SCV_WORKERS`` processes), exactly as an operator would run it; the sandbox
answers every upstream call after a fixed latency, so each scenario has a known floor.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.security.demo_keys import PUBLIC_KEY_FILE, DemoKeys, ensure_demo_keys, mint_token
from app.security.settings import AuthSettings
from app.store.embedded import start_embedded_postgres
from bench import procstat
from sandbox.entry import SandboxServers
from sandbox.registry import HTTP_SYSTEMS
from sandbox.registry import gateway_environment as sandbox_environment

#: The sandbox's systems served over HTTP (their stats and faults are per system).
SYSTEMS = HTTP_SYSTEMS
INTERACTION_KEY_FILE = "interaction-signing-key.pem"


def write_interaction_key(path: Path) -> None:
    """The EC P-256 key that signs interaction tokens, as an operator would provide it."""
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class StackConfig:
    data_dir: Path
    customers: int
    latency_ms: float
    workers: int
    seed: int = 42
    #: Settings of the gateway (and sync) beyond the stack's own, e.g. for bench.fair_share.
    gateway_env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Stack:
    config: StackConfig
    database_url: str
    sandbox_url: str
    gateway_url: str
    gateway: subprocess.Popen[bytes]
    keys: DemoKeys

    def token(self, role: str = "agent", subject: str = "bench-agent") -> str:
        return mint_token(
            self.keys, AuthSettings(), subject=subject, role=role, ttl_seconds=4 * 3600
        )

    def gateway_pids(self) -> list[int]:
        """The gateway's processes: the supervisor and, with several workers, each worker."""
        return procstat.tree(self.gateway.pid)

    def worker_pids(self) -> list[int]:
        """The processes that serve requests.

        With one worker that is the gateway process itself; with several, uvicorn's
        supervisor only starts and watches them (and multiprocessing adds a resource
        tracker): the workers are the children started by ``spawn_main``.
        """
        pids = self.gateway_pids()
        workers = [pid for pid in pids[1:] if "spawn_main" in procstat.command_line(pid)]
        return workers or pids[:1]

    def gateway_cpu_seconds(self) -> float:
        return sum(procstat.cpu_seconds(pid) for pid in self.gateway_pids())

    def upstream_calls(self, client: httpx.Client) -> int:
        total = 0
        for system in SYSTEMS:
            stats = client.get(f"{self.sandbox_url}/{system}/_sandbox/stats").json()
            total += sum(stats["requests"].values())
        return total

    def reset_upstream_stats(self, client: httpx.Client) -> None:
        for system in SYSTEMS:
            client.delete(f"{self.sandbox_url}/{system}/_sandbox/stats")

    def set_faults(self, client: httpx.Client, system: str, **faults: object) -> None:
        """Replace ``system``'s faults, keeping the stack's fixed latency."""
        body = {"latency_ms": self.config.latency_ms, **faults}
        client.post(f"{self.sandbox_url}/{system}/_sandbox/faults", json=body).raise_for_status()


#: Each system's call rate in the benchmarks: far above what one machine can send.
SANDBOX_CALLS_PER_SECOND = 100_000


def base_environment(data_dir: Path, database_url: str, sandbox_url: str) -> dict[str, str]:
    """This process's environment without any ``SCV_`` setting, then production mode, the
    store and every sandbox system (``sandbox.registry.gateway_environment``): what the
    gateway and ``scv sync`` both run with.

    The sandbox's databases are on the store's server (``sandbox_arguments``), read through
    their read-only roles.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCV_")}
    env.update(SCV_DEMO="false", SCV_DATA_DIR=str(data_dir), SCV_DATABASE_URL=database_url)
    env.update(sandbox_environment(sandbox_url, SandboxServers(database_url=database_url)))
    for system in SYSTEMS:
        # The sandbox is no vendor and has no rate limit: the benchmarks measure the
        # gateway, not the vendors' published limits (docs/limits.md), so lift them.
        env[f"SCV_{system.upper()}__RATE_LIMIT__PER_SECOND"] = str(SANDBOX_CALLS_PER_SECOND)
    return env


def sandbox_arguments(database_url: str) -> list[str]:
    """The sandbox's flags that create its systems kept in a database on ``database_url``'s
    server (``base_environment`` points the gateway at them)."""
    return ["--database-server", database_url]


def gateway_environment(
    config: StackConfig, database_url: str, sandbox_url: str, port: int
) -> dict[str, str]:
    """``base_environment`` and the gateway's own: its port, workers, keys and metrics."""
    env = base_environment(config.data_dir, database_url, sandbox_url)
    env.update(
        SCV_PORT=str(port),
        SCV_WORKERS=str(config.workers),
        SCV_AUTH__PUBLIC_KEY_FILE=str(config.data_dir / PUBLIC_KEY_FILE),
        SCV_INTERACTIONS__SIGNING_KEY_FILE=str(config.data_dir / INTERACTION_KEY_FILE),
        PROMETHEUS_MULTIPROC_DIR=str(config.data_dir / "metrics"),
        # The benchmark measures latency: one token sends every request, and a page of 50
        # with panels costs about 1,900, so the analysts' budget (60,000 a minute) would
        # refuse page_of_50 after some 30 pages. The budget is tested in tests/app.
        SCV_LIMITS__BUDGET_ENABLED="false",
    )
    env.update(config.gateway_env)
    return env


def wait_for(
    url: str, process: subprocess.Popen[bytes] | None, what: str, seconds: float = 60
) -> None:
    """Wait until ``url`` answers 200; fail if ``process`` (when given) exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url} within {seconds:.0f} s")


def log_tail(path: Path, lines: int = 30) -> str:
    """The end of the stack's log, to show why a process stopped."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_stack(config: StackConfig) -> Iterator[Stack]:
    """PostgreSQL, sandbox (with ``latency_ms`` on every call), a sync, then the gateway."""
    with (config.data_dir / "bench.log").open("ab") as log:
        yield from _run(config, log)


def _run(config: StackConfig, log: IO[bytes]) -> Iterator[Stack]:
    (config.data_dir / "metrics").mkdir(parents=True, exist_ok=True)
    keys = ensure_demo_keys(config.data_dir)
    write_interaction_key(config.data_dir / INTERACTION_KEY_FILE)
    database_url = start_embedded_postgres(config.data_dir)
    sandbox_port, gateway_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    env = gateway_environment(config, database_url, sandbox_url, gateway_port)
    print(f"starting the sandbox ({config.customers} customers, {config.latency_ms:g} ms per call)")
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(sandbox_port),
            "--seed",
            str(config.seed),
            "--customers",
            str(config.customers),
            "--latency-ms",
            str(config.latency_ms),
            *sandbox_arguments(database_url),
        ],
        stdout=log,
        stderr=log,
    )
    gateway: subprocess.Popen[bytes] | None = None
    try:
        try:
            wait_for(f"{sandbox_url}/", sandbox, "the sandbox")
            print("syncing identities")
            subprocess.run(
                [sys.executable, "-m", "app.cli", "sync"],
                env=env,
                check=True,
                stdout=log,
                stderr=log,
            )
            print(f"starting the gateway ({config.workers} worker(s), production mode)")
            gateway = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve"], env=env, stdout=log, stderr=log
            )
            wait_for(f"{gateway_url}/readyz", gateway, "the gateway")
        except (RuntimeError, subprocess.CalledProcessError):
            log.flush()
            print(log_tail(config.data_dir / "bench.log"), file=sys.stderr)
            raise
        yield Stack(config, database_url, sandbox_url, gateway_url, gateway, keys)
    finally:
        if gateway is not None:
            stop_process(gateway)
        stop_process(sandbox)


@contextmanager
def own_gateway(stack: Stack, env: Mapping[str, str], log_name: str) -> Iterator[Stack]:
    """``stack`` with a gateway of its own, run with ``env`` on top of the stack's settings
    (on the same store and sandbox), for a scenario that needs settings the others must not
    see; stopped on leaving."""
    port = free_port()
    config = replace(stack.config, gateway_env={**stack.config.gateway_env, **env})
    gateway_env = gateway_environment(config, stack.database_url, stack.sandbox_url, port)
    url = f"http://127.0.0.1:{port}"
    with (stack.config.data_dir / log_name).open("ab") as log:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"], env=gateway_env, stdout=log, stderr=log
        )
        try:
            wait_for(f"{url}/readyz", gateway, "the scenario's gateway")
            yield replace(stack, config=config, gateway_url=url, gateway=gateway)
        finally:
            stop_process(gateway)
