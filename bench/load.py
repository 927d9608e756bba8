"""The load process: sends GraphQL requests at a fixed arrival rate or concurrency.

Run as ``python -m bench.load`` with a JSON spec on stdin; prints one JSON result on stdout.
It runs in its own process so that its CPU is never counted as the gateway's.

Open loop (``rate``): request *i* is due at ``start + i / rate`` whether or not earlier ones
have answered, and its latency counts from when it was due, so a gateway that falls behind
shows it in the percentiles (no coordinated omission). Closed loop (``concurrency``): that
many clients send back to back, for the most requests per second.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from adapters.http.transport import AiohttpTransport

#: Error codes of the gateway shedding load: a cost budget spent, a source's share full.
REFUSALS = frozenset({"RATE_LIMITED", "UPSTREAM_BUSY"})

#: Bodies are encoded once with orjson: this process's CPU is the machine's too.
JSON_BODY = {"Content-Type": "application/json"}


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    partial: int = 0
    failed: int = 0
    #: Answers refused in whole or part by the gateway's load shedding (REFUSALS).
    refused: int = 0
    samples: list[str] = field(default_factory=list)

    def note(self, started: float, response: httpx.Response | None, error: str | None) -> None:
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if response is None or response.status_code != 200:
            self.failed += 1
            if response is not None and response.status_code == 429:
                self.refused += 1
            detail = error or f"HTTP {response.status_code if response else '?'}"
            if len(self.samples) < 5:
                self.samples.append(detail)
            return
        body = orjson.loads(response.content)
        codes = {str(e.get("extensions", {}).get("code")) for e in body.get("errors") or ()}
        if codes & REFUSALS:
            self.refused += 1
        if body.get("errors"):
            if body.get("data") is None:
                self.failed += 1
            else:
                self.partial += 1
            if len(self.samples) < 5:
                self.samples.append(str(body["errors"][0].get("extensions", {}).get("code")))
        else:
            self.ok += 1


async def _send(
    client: httpx.AsyncClient,
    url: str,
    body: Any,
    started: float,
    outcome: Outcome,
    headers: dict[str, str] | None = None,
) -> None:
    try:
        response = await client.post(
            url, content=orjson.dumps(body), headers={**JSON_BODY, **(headers or {})}
        )
    except httpx.HTTPError as exc:
        outcome.note(started, None, type(exc).__name__)
    else:
        outcome.note(started, response, None)


def _as(spec: dict[str, Any], i: int) -> dict[str, str] | None:
    """Request ``i``'s own bearer token when the spec spreads requests over several
    principals (``tokens``): a per-principal cost budget would refuse one principal sending
    what a room of agents sends."""
    tokens = spec.get("tokens")
    return {"Authorization": f"Bearer {tokens[i % len(tokens)]}"} if tokens else None


async def open_loop(client: httpx.AsyncClient, spec: dict[str, Any], outcome: Outcome) -> int:
    url, bodies, rate = spec["url"], spec["bodies"], float(spec["rate"])
    total = int(rate * float(spec["duration"]))
    start = time.perf_counter()
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body = bodies[i % len(bodies)]
        tasks.append(asyncio.create_task(_send(client, url, body, due, outcome, _as(spec, i))))
    await asyncio.gather(*tasks)
    return total


async def closed_loop(client: httpx.AsyncClient, spec: dict[str, Any], outcome: Outcome) -> int:
    url, bodies = spec["url"], spec["bodies"]
    total = int(spec["requests"])
    counter = iter(range(total))
    # Optional: no new request after this many seconds (a background load of fixed length).
    stop_at = time.perf_counter() + float(spec.get("duration", "inf"))
    sent = 0

    async def worker() -> None:
        nonlocal sent
        for i in counter:
            if time.perf_counter() >= stop_at:
                return
            sent += 1
            body = bodies[i % len(bodies)]
            await _send(client, url, body, time.perf_counter(), outcome, _as(spec, i))

    await asyncio.gather(*(worker() for _ in range(int(spec["concurrency"]))))
    return sent


CLAIM = """mutation Claim($contact: ID!) {
  claimInteraction(contactId: $contact) { token interaction { customer { id } } }
}"""


async def _call_flow(
    client: httpx.AsyncClient, spec: dict[str, Any], phone: str, outcome: Outcome
) -> None:
    """One call: the sandbox IVR verifies the caller (not timed: it is not the gateway),
    then the gateway's part, timed as one: the handoff, the agent's claim, the whole view
    with the interaction token."""
    played = await client.post(f"{spec['sandbox_url']}/ivr/_sandbox/calls", json={"phone": phone})
    if played.status_code != 201:
        outcome.note(time.perf_counter(), None, f"sandbox call {played.status_code}")
        return
    started = time.perf_counter()
    ivr = {"Authorization": f"Bearer {spec['ivr_token']}"}
    handed = await client.post(
        f"{spec['gateway_url']}/ivr/handoffs", json=played.json(), headers=ivr
    )
    if handed.status_code != 201:
        outcome.note(started, handed, f"handoff {handed.status_code}")
        return
    contact = handed.json()["interaction"]["contactId"]
    claim_body = {"query": CLAIM, "variables": {"contact": contact}, "operationName": "Claim"}
    claimed = await client.post(spec["url"], json=claim_body)
    grant = (claimed.json().get("data") or {}).get("claimInteraction")
    if claimed.status_code != 200 or not grant:
        outcome.note(started, claimed, f"claim {claimed.status_code}")
        return
    view = {
        "query": spec["view"],
        "variables": {"id": grant["interaction"]["customer"]["id"]},
        "operationName": "WholeView",
    }
    answer = await client.post(
        spec["url"], json=view, headers={"X-Interaction-Token": grant["token"]}
    )
    outcome.note(started, answer, None)


async def flows(client: httpx.AsyncClient, spec: dict[str, Any], outcome: Outcome) -> int:
    phones = spec["phones"]
    total = min(int(spec["requests"]), len(phones))
    counter = iter(range(total))

    async def caller() -> None:
        for i in counter:
            await _call_flow(client, spec, phones[i], outcome)

    await asyncio.gather(*(caller() for _ in range(int(spec["concurrency"]))))
    return total


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    outcome = Outcome()
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    headers = {"Authorization": f"Bearer {spec['token']}", **spec.get("headers", {})}
    # The gateway's own aiohttp transport: httpx's default one costs this process two to three
    # times the CPU per request, CPU the gateway, the sandbox and PostgreSQL then lack (the
    # 100,000 requests of the memory soak are bound by the two cores).
    transport = AiohttpTransport(max_connections=256)
    async with httpx.AsyncClient(
        limits=limits, headers=headers, timeout=30.0, transport=transport
    ) as client:
        started = time.perf_counter()
        if spec["mode"] == "rate":
            sent = await open_loop(client, spec, outcome)
        elif spec["mode"] == "flow":
            sent = await flows(client, spec, outcome)
        else:
            sent = await closed_loop(client, spec, outcome)
        elapsed = time.perf_counter() - started
    return {
        "sent": sent,
        "ok": outcome.ok,
        "partial": outcome.partial,
        "failed": outcome.failed,
        "refused": outcome.refused,
        "error_samples": outcome.samples,
        "elapsed_s": elapsed,
        "latencies_ms": outcome.latencies_ms,
    }


def main() -> None:
    spec = json.load(sys.stdin)
    result = asyncio.run(run(spec))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
