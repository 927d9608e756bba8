"""``python -m bench.live``: live changes, from a vendor's webhook to 100 subscribers.

The stack as an operator runs it (``bench.stack``: embedded PostgreSQL, the sandbox, a sync,
``scv serve`` in production mode, one worker). 100 subscribers, each on a WebSocket of its
own (graphql-transport-ws, as Apollo Client or urql would open one), follow Ada's
``customerUpdated``; then signed CRM webhooks (HubSpot's signature, as the sandbox sends
them) are posted to the gateway one after another. Per event and subscriber, the latency is
from just before the webhook's POST to the moment the subscriber read the event off its
socket: p50 and p99 over every (event, subscriber) pair. The gateway's own histogram
(``scv_live_event_latency_seconds``: webhook received to subscriber handed the event) is
reported beside it.

Memory: the worker's resident set before any subscriber, after the 100 (each with its own
connection), and after 1,000 more subscriptions over 50 connections (20 each): the growth
per subscriber and per subscription. Figures are printed and written to
``bench/results/live-<time>.json`` and ``.md``; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench import procstat
from bench.stack import Stack, StackConfig, running_stack
from sandbox.webhooks import DEFAULT_SECRETS, signed_headers

RESULTS = Path(__file__).parent / "results"
ADA_EMAIL = "ada.lovelace@example.com"
ADA_CRM_ID = 1001
SUBSCRIBE = """subscription($id: ID!) { customerUpdated(customerId: $id) { sources at } }"""


async def open_connection(stack: Stack, subject: str) -> ClientConnection:
    url = stack.gateway_url.replace("http://", "ws://") + "/graphql"
    connection = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    token = stack.token(subject=subject)
    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
    await connection.send(orjson.dumps(init).decode())
    ack = orjson.loads(await connection.recv())
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"connection refused: {ack}")
    return connection


async def subscribe(connection: ClientConnection, operation: str, customer_id: str) -> None:
    message = {
        "id": operation,
        "type": "subscribe",
        "payload": {"query": SUBSCRIBE, "variables": {"id": customer_id}},
    }
    await connection.send(orjson.dumps(message).decode())


async def wait_open(http: httpx.AsyncClient, stack: Stack, count: int) -> None:
    """Until the gateway reports ``count`` open subscriptions (its own gauge)."""
    for _ in range(600):
        text = (await http.get(f"{stack.gateway_url}/metrics")).text
        for line in text.splitlines():
            if (
                line.startswith('scv_live_subscriptions_open{field="customerUpdated"}')
                and float(line.split()[-1]) >= count
            ):
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{count} subscriptions did not open")


class Arrivals:
    """When each event (by its ``at``) reached each subscriber; ``all_in`` once all have."""

    def __init__(self, expected: int) -> None:
        self.times: dict[str, list[float]] = {}
        self.expected = expected
        self.received = 0
        self.all_in = asyncio.Event()

    async def receive(self, connection: ClientConnection) -> None:
        async for raw in connection:
            message = orjson.loads(raw)
            if message.get("type") == "next":
                at = message["payload"]["data"]["customerUpdated"]["at"]
                self.times.setdefault(at, []).append(time.time())
                self.received += 1
                if self.received >= self.expected:
                    self.all_in.set()


def crm_event(event_id: int, at: float) -> bytes:
    return orjson.dumps(
        [
            {
                "eventId": event_id,
                "subscriptionId": 1,
                "portalId": 1,
                "appId": 1,
                "occurredAt": int(at * 1000),
                "subscriptionType": "contact.propertyChange",
                "attemptNumber": 0,
                "objectId": ADA_CRM_ID,
                "propertyName": "jobtitle",
                "propertyValue": f"job {event_id}",
                "changeSource": "CRM_UI",
            }
        ]
    )


def worker_rss_kib(stack: Stack) -> int:
    return sum(procstat.memory_kib(pid)[0] for pid in stack.worker_pids())


async def server_latency(http: httpx.AsyncClient, stack: Stack) -> dict[str, float]:
    """The gateway's own histogram: its mean, and the share of events under 10 and 50 ms."""
    text = (await http.get(f"{stack.gateway_url}/metrics")).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("scv_live_event_latency_seconds") and "customerUpdated" in line:
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    count = values.get('scv_live_event_latency_seconds_count{field="customerUpdated"}', 0.0)
    total = values.get('scv_live_event_latency_seconds_sum{field="customerUpdated"}', 0.0)

    def under(bound: str) -> float:
        key = f'scv_live_event_latency_seconds_bucket{{field="customerUpdated",le="{bound}"}}'
        return round(values.get(key, 0.0) / count, 3) if count else 0.0

    return {
        "events": count,
        "mean_ms": round(total / count * 1000, 2) if count else 0.0,
        "share_under_10ms": under("0.01"),
        "share_under_50ms": under("0.05"),
    }


async def measure(stack: Stack, subscribers: int, events: int, extra: int) -> dict[str, Any]:
    async with AsyncExitStack() as resources, httpx.AsyncClient(timeout=30.0) as http:
        found = await http.post(
            f"{stack.gateway_url}/graphql",
            json={
                "query": "query($e: String!) { customerByEmail(email: $e) { id } }",
                "variables": {"e": ADA_EMAIL},
            },
            headers={"Authorization": f"Bearer {stack.token()}"},
        )
        ada = found.json()["data"]["customerByEmail"]["id"]
        rss_before = worker_rss_kib(stack)

        arrivals = Arrivals(events * subscribers)
        readers: list[asyncio.Task[None]] = []
        for n in range(subscribers):
            connection = await open_connection(stack, f"bench-agent-{n}")
            resources.push_async_callback(connection.close)
            await subscribe(connection, "1", ada)
            readers.append(asyncio.create_task(arrivals.receive(connection)))
        await wait_open(http, stack, subscribers)
        await asyncio.sleep(1.0)
        rss_subscribers = worker_rss_kib(stack)

        url = f"{stack.gateway_url}/webhooks/crm"
        sent: dict[str, float] = {}
        base = time.time() - events  # occurredAt grows with each event, all in the past
        for n in range(events):
            at = base + n
            body = crm_event(100_000 + n, at)
            headers = signed_headers("crm", DEFAULT_SECRETS["crm"], url, body, time.time())
            key = datetime.fromtimestamp(int(at * 1000) / 1000, UTC).isoformat()
            sent[key] = time.time()
            response = await http.post(url, content=body, headers=headers)
            response.raise_for_status()
            await asyncio.sleep(0.05)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrivals.all_in.wait(), 30)

        latencies = sorted(
            (arrived - sent[key]) * 1000
            for key, times in arrivals.times.items()
            if key in sent
            for arrived in times
        )

        # 1,000 more subscriptions over 50 connections, 20 each (the per-principal limit).
        connections_extra = extra // 20
        for n in range(connections_extra):
            connection = await open_connection(stack, f"bench-desk-{n}")
            resources.push_async_callback(connection.close)
            for operation in range(20):
                await subscribe(connection, str(operation + 1), ada)
        await wait_open(http, stack, subscribers + connections_extra * 20)
        await asyncio.sleep(1.0)
        rss_extra = worker_rss_kib(stack)
        gateway_view = await server_latency(http, stack)
        for reader in readers:
            reader.cancel()

    def percentile(share: float) -> float:
        if not latencies:
            return float("nan")
        return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))], 2)

    return {
        "subscribers": subscribers,
        "events": events,
        "deliveries_expected": events * subscribers,
        "deliveries_received": len(latencies),
        "latency_ms": {
            "p50": percentile(0.50),
            "p99": percentile(0.99),
            "max": round(latencies[-1], 2) if latencies else None,
            "mean": round(statistics.fmean(latencies), 2) if latencies else None,
        },
        "gateway_histogram": gateway_view,
        "memory_kib": {
            "worker_rss_before": rss_before,
            "worker_rss_with_subscribers": rss_subscribers,
            "worker_rss_with_extra": rss_extra,
            "per_subscriber_with_its_connection": round(
                (rss_subscribers - rss_before) / subscribers, 1
            ),
            "per_subscription_20_per_connection": round(
                (rss_extra - rss_subscribers) / (connections_extra * 20), 1
            ),
        },
    }


def write(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"live-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    latency, memory = result["latency_ms"], result["memory_kib"]
    lines = [
        f"# Live changes: webhook to {result['subscribers']} subscribers",
        "",
        f"{result['events']} CRM webhooks, {result['deliveries_received']} of "
        f"{result['deliveries_expected']} deliveries received.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| latency p50 (webhook POST to subscriber) | {latency['p50']} ms |",
        f"| latency p99 | {latency['p99']} ms |",
        f"| gateway's own mean (webhook received to handed over) | "
        f"{result['gateway_histogram']['mean_ms']} ms |",
        f"| memory per subscriber, its own WebSocket | "
        f"{memory['per_subscriber_with_its_connection']} KiB |",
        f"| memory per subscription, 20 per WebSocket | "
        f"{memory['per_subscription_20_per_connection']} KiB |",
    ]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--extra", type=int, default=1000, help="subscriptions, 20 a connection")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scv-bench-live-") as tmp:
        config = StackConfig(data_dir=Path(tmp), customers=50, latency_ms=0, workers=1)
        with running_stack(config) as stack:
            result = asyncio.run(measure(stack, args.subscribers, args.events, args.extra))
    result["recorded_at"] = datetime.now(UTC).isoformat()
    path = write(result)
    print(json.dumps(result, indent=2))
    print(f"wrote bench/results/{path.name} and .md")


if __name__ == "__main__":
    main()
