"""A rolling restart loses no request: a worker told to stop (SIGTERM) drains what it holds.

``scv serve`` with two workers, under load from clients that keep their connections open
(as browsers and load balancers do); each worker in turn is sent SIGTERM while requests
are under way, and uvicorn's supervisor starts its replacement. Every request sent meanwhile
must be answered: the test counts the ones that were not (a connection dropped, a 5xx),
and that count must be zero. A correctness assertion: nothing here is timed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import SYSTEMS, Stack

pytestmark = pytest.mark.e2e

QUERY = """query($e: String!) { customerByEmail(email: $e) {
  id billing { delinquent } support { openTicketCount } } }"""
CLIENTS = 8
#: How a worker is told to stop (what a process manager sends).
RETIRE = signal.SIGTERM


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def workers_of(supervisor: int) -> set[int]:
    """The worker processes uvicorn's supervisor runs now (its spawned children)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    found: set[int] = set()
    for child in children:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in command:
            found.add(int(child))
    return found


@dataclass
class Load:
    """Clients sending the query in a loop; what went wrong, if anything."""

    sent: int = 0
    answered: int = 0
    failures: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def in_flight(self) -> int:
        return self.sent - self.answered - len(self.failures)


async def client(url: str, token: str, load: Load) -> None:
    async with httpx.AsyncClient(timeout=30.0) as http:
        while not load.stop.is_set():
            load.sent += 1
            try:
                response = await http.post(
                    f"{url}/graphql",
                    json={"query": QUERY, "variables": {"e": "ada.lovelace@example.com"}},
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError as exc:
                load.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code != 200 or response.json().get("data") is None:
                load.failures.append(f"{response.status_code}: {response.text[:200]}")
                continue
            load.answered += 1


async def until(condition: object, what: str) -> None:
    for _ in range(2400):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
async def two_workers(clean_sandbox: Stack) -> AsyncIterator[tuple[Stack, str, int]]:
    stack = clean_sandbox
    assert stack.settings.database_url is not None
    port = free_port()
    env = {
        **os.environ,
        "SCV_DEMO": "true",
        "SCV_PORT": str(port),
        "SCV_WORKERS": "2",
        "SCV_DATA_DIR": str(stack.settings.data_dir),
        "SCV_DATABASE_URL": stack.settings.database_url.get_secret_value(),
        "SCV_LOG_LEVEL": "WARNING",
        # Every request reaches the (slowed) sandbox, and the load is no one's overspending.
        "SCV_CACHE__ENABLED": "false",
        "SCV_LIMITS__BUDGET_ENABLED": "false",
        **{
            f"SCV_{system.upper()}__BASE_URL": f"{stack.sandbox_url}/{system}" for system in SYSTEMS
        },
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    gateway = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited
        [sys.executable, "-m", "app.cli", "serve"], env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5.0) as http:

            async def ready() -> bool:
                try:
                    return (await http.get(f"{url}/healthz")).status_code == 200
                except httpx.HTTPError:
                    return False

            for _ in range(600):
                if gateway.poll() is not None:
                    raise AssertionError(f"scv serve exited with {gateway.returncode}")
                if await ready() and len(workers_of(gateway.pid)) == 2:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("scv serve did not start two workers")
        yield stack, url, gateway.pid
    finally:
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(gateway.pid, signal.SIGKILL)
            gateway.wait()


async def test_a_worker_restarted_under_load_loses_no_request(
    two_workers: tuple[Stack, str, int],
) -> None:
    stack, url, supervisor = two_workers
    # Slow answers, so that requests are under way on the worker when it is told to stop.
    await stack.set_faults("billing", latency_ms=300)
    load = Load()
    clients = [asyncio.create_task(client(url, stack.token, load)) for _ in range(CLIENTS)]
    try:
        await until(lambda: load.answered >= 2 * CLIENTS, "the load under way")
        # Each worker in turn, as a rolling restart does: whichever holds the clients'
        # connections is told to stop while their requests are under way.
        for retired in sorted(workers_of(supervisor)):
            await until(lambda: load.in_flight >= CLIENTS // 2, "requests in flight")
            os.kill(retired, RETIRE)
            await until(
                lambda: (
                    retired not in workers_of(supervisor)  # noqa: B023 - awaited here
                    and len(workers_of(supervisor)) == 2
                ),
                "the worker replaced",
            )
            answered = load.answered
            await until(lambda: load.answered >= answered + 2 * CLIENTS, "more answers")  # noqa: B023
    finally:
        load.stop.set()
        await asyncio.gather(*clients)
    assert load.failures == []
    assert load.answered == load.sent


async def test_sighup_replaces_every_worker_and_loses_no_request(
    two_workers: tuple[Stack, str, int],
) -> None:
    stack, url, supervisor = two_workers
    await stack.set_faults("billing", latency_ms=300)
    load = Load()
    clients = [asyncio.create_task(client(url, stack.token, load)) for _ in range(CLIENTS)]
    try:
        await until(lambda: load.answered >= 2 * CLIENTS, "the load under way")
        original = workers_of(supervisor)
        await until(lambda: load.in_flight >= CLIENTS // 2, "requests in flight")
        # uvicorn's supervisor: each worker replaced in turn, the new one ready first.
        os.kill(supervisor, signal.SIGHUP)
        await until(
            lambda: not workers_of(supervisor) & original and len(workers_of(supervisor)) == 2,
            "every worker replaced",
        )
        answered = load.answered
        await until(lambda: load.answered >= answered + 2 * CLIENTS, "more answers")
    finally:
        load.stop.set()
        await asyncio.gather(*clients)
    assert load.failures == []
    assert load.answered == load.sent
