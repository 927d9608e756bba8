"""``integrationKpis`` end to end: sync runs from the store, each source's calls from the
gateway's own traffic to the real sandbox, for supervisors and platform operators only."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from adapters.registry import SOURCES
from adapters.support.port import PORT as SUPPORT
from app.cli.commands import main
from app.security.demo_keys import mint_token
from app.store.backlog import BacklogPass, TicketBacklogStore
from app.store.customers import Store
from app.wiring.sources import build_sources
from kernel.models import FINISHED_TICKET_STATUSES, Source
from sandbox.webhooks import DEFAULT_SECRETS, signed_headers
from tests.e2e.harness import Stack

pytestmark = pytest.mark.e2e

KPIS = """query($since: DateTime) { integrationKpis(since: $since) {
  syncRuns { outcome runs } syncSuccessRate
  sources { source mode calls availability errorRate latencyP99Seconds } } }"""
PROFILE = 'query { customerByEmail(email: "ada.lovelace@example.com") { profile { name } } }'


def token(stack: Stack, role: str) -> str:
    return mint_token(stack.keys, stack.settings.auth, subject=f"{role}-1", role=role)


@pytest.mark.parametrize("role", ["operator", "supervisor"])
async def test_operators_and_supervisors_read_the_kpis(clean_sandbox: Stack, role: str) -> None:
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    await clean_sandbox.data(PROFILE)

    response = await clean_sandbox.query(KPIS, token=token(clean_sandbox, role), since=since)
    kpis = response.json()["data"]["integrationKpis"]

    # The session's stack was synced once, at its start.
    assert next(r["runs"] for r in kpis["syncRuns"] if r["outcome"] == "succeeded") >= 1
    assert kpis["syncSuccessRate"] == 1.0
    crm = next(s for s in kpis["sources"] if s["source"] == "CRM")
    assert crm["mode"] == "ON"
    assert crm["calls"] >= 1
    assert 0 <= crm["errorRate"] <= 1
    assert {s["source"] for s in kpis["sources"]} >= {"CRM", "BILLING", "SUPPORT", "ORDERS"}


TODAY = """query($since: DateTime) { integrationKpis(since: $since) {
  sources { source calls availability errorRate }
  sourcesTrend { day source calls availability errorRate } } }"""


async def crm_today(stack: Stack) -> tuple[int, int, int]:
    """CRM's calls today, failed and unavailable ones, as integrationKpis counts them."""
    since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    response = await stack.query(TODAY, token=token(stack, "operator"), since=since.isoformat())
    kpis = response.json()["data"]["integrationKpis"]
    crm = next(s for s in kpis["sources"] if s["source"] == "CRM")
    days = [d for d in kpis["sourcesTrend"] if d["source"] == "CRM"]
    assert [d["day"] for d in days] == ([since.date().isoformat()] if crm["calls"] else [])
    assert [(d["calls"], d["errorRate"]) for d in days] == (
        [(crm["calls"], crm["errorRate"])] if crm["calls"] else []
    )
    calls = crm["calls"]
    if not calls:
        return 0, 0, 0
    return calls, round(crm["errorRate"] * calls), round((1 - crm["availability"]) * calls)


async def test_a_failing_source_shows_in_its_availability(clean_sandbox: Stack) -> None:
    calls, errors, unavailable = await crm_today(clean_sandbox)
    await clean_sandbox.set_faults("crm", error_rate=1.0, error_status=503)
    for _ in range(3):
        await clean_sandbox.query(PROFILE)

    # The day's counts, from the store: the answering process adds its own before reading.
    assert await crm_today(clean_sandbox) == (calls + 3, errors + 3, unavailable + 3)


@pytest.mark.parametrize(
    ("role", "since", "code"),
    [
        ("agent", None, "FORBIDDEN"),
        ("analyst", None, "FORBIDDEN"),
        ("operator", "2999-01-01T00:00:00+00:00", "BAD_USER_INPUT"),
    ],
)
async def test_refusals(stack: Stack, role: str, since: str | None, code: str) -> None:
    response = await stack.query(KPIS, token=token(stack, role), since=since)
    assert response.json()["errors"][0]["extensions"]["code"] == code


BACKLOG = """query($since: DateTime) { integrationKpis(since: $since) {
  backlog { status ageBucket tickets } backlogTrend { day status ageBucket tickets } } }"""


def bucket(age: timedelta) -> str:
    days = age / timedelta(days=1)
    return "UNDER_1D" if days < 1 else "D1_3" if days < 3 else "D3_7" if days < 7 else "OVER_7D"


async def test_open_tickets_appear_by_status_and_age_and_in_the_trend(
    clean_sandbox: Stack,
) -> None:
    # What a facts refresh's ticket pass does, over the sandbox's tickets as they are now.
    url = clean_sandbox.settings.database_url
    assert url is not None
    expected: Counter[tuple[str, str]] = Counter()
    taken_at = datetime.now(UTC)
    async with AsyncExitStack() as resources:
        store = await Store.connect(url.get_secret_value(), pool_size=2)
        resources.push_async_callback(store.close)
        sources = await build_sources(clean_sandbox.settings, resources)
        backlog = BacklogPass(TicketBacklogStore(store.pool, store.tenant), Source.SUPPORT)
        async for page in sources.port(SUPPORT).iter_tickets():
            tickets = [ticket for _, ticket in page]
            backlog.see(tickets)
            expected.update(
                (t.status.value, bucket(taken_at - t.created_at))
                for t in tickets
                if t.status not in FINISHED_TICKET_STATUSES
            )
        await backlog.apply(taken_at)
    assert expected, "the sandbox has open tickets"

    response = await clean_sandbox.query(
        BACKLOG, token=token(clean_sandbox, "operator"), since=taken_at.isoformat()
    )
    kpis = response.json()["data"]["integrationKpis"]

    got = {(c["status"], c["ageBucket"]): c["tickets"] for c in kpis["backlog"]}
    assert got == dict(expected)
    today = taken_at.date().isoformat()
    trend = {(c["status"], c["ageBucket"]): c["tickets"] for c in kpis["backlogTrend"]}
    assert {c["day"] for c in kpis["backlogTrend"]} == {today}
    assert trend == dict(expected)
    metrics = (await clean_sandbox.http.get(f"{clean_sandbox.gateway_url}/metrics")).text
    (status, age), count = expected.most_common(1)[0]
    assert f'scv_ticket_backlog{{age_bucket="{age}",status="{status}"}} {float(count)}' in metrics


async def test_scv_readiness_against_the_running_gateway(
    clean_sandbox: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    await clean_sandbox.data(PROFILE)
    # The command is synchronous; the gateway runs on this loop: run it beside it.
    try:
        await asyncio.to_thread(
            main, ["readiness", "--url", clean_sandbox.gateway_url, "--min-link-rate", "0"]
        )
        code = 0
    except SystemExit as exited:
        code = int(exited.code or 0)
    out = capsys.readouterr().out

    for spec in SOURCES:
        assert f"{spec.source.value:<10} link_rate" in out
    crm_link = next(line for line in out.splitlines() if line.startswith("CRM        link_rate"))
    assert crm_link.split()[2].endswith("%")  # measured from the stack's sync
    assert code == (1 if "LAUNCH BLOCKER" in out else 0)


FIGURES = """query($since: DateTime) { integrationKpis(since: $since) {
  recordVolume { source failed duplicates day }
  recordVolumeTrend { source failed duplicates day }
  eventLatency { source events p50Seconds p99Seconds day }
  eventLatencyTrend { source events p50Seconds p99Seconds day } } }"""


async def test_signed_webhooks_show_their_latency_and_the_sync_its_record_volume(
    clean_sandbox: Stack,
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    url = f"{clean_sandbox.gateway_url}/webhooks/crm"
    for event_id in (910_001, 910_002):
        body = orjson.dumps(
            [
                {
                    "eventId": event_id,
                    "subscriptionId": 1,
                    "portalId": 2,
                    "appId": 3,
                    "occurredAt": int(time.time() * 1000),
                    "subscriptionType": "contact.propertyChange",
                    "attemptNumber": 0,
                    "objectId": 1001,
                    "propertyName": "firstname",
                    "propertyValue": "Ada",
                    "changeSource": "CRM_UI",
                }
            ]
        )
        headers = signed_headers("crm", DEFAULT_SECRETS["crm"], url, body, time.time())
        response = await clean_sandbox.http.post(url, content=body, headers=headers)
        assert response.status_code == 200, response.text

    response = await clean_sandbox.query(
        FIGURES, token=token(clean_sandbox, "supervisor"), since=since.isoformat()
    )
    kpis = response.json()["data"]["integrationKpis"]

    (crm,) = [e for e in kpis["eventLatency"] if e["source"] == "CRM"]
    assert crm["events"] == 2
    assert 0 <= crm["p50Seconds"] <= crm["p99Seconds"]
    assert crm["day"] is None
    (crm_day,) = [e for e in kpis["eventLatencyTrend"] if e["source"] == "CRM"]
    assert (crm_day["events"], crm_day["day"]) == (2, since.date().isoformat())
    # The stack's sync runs: every source they read, its failed and duplicate records counted
    # (the sandbox's may be none; tests/app/kpis makes some), the window's sum of its days.
    response = await clean_sandbox.query(
        FIGURES,
        token=token(clean_sandbox, "supervisor"),
        since=(since - timedelta(days=1)).isoformat(),
    )
    figures = response.json()["data"]["integrationKpis"]
    volume = figures["recordVolume"]
    assert {v["source"] for v in volume} >= {"CRM", "BILLING", "SUPPORT"}
    for v in volume:
        days = [d for d in figures["recordVolumeTrend"] if d["source"] == v["source"]]
        assert v["failed"] == sum(d["failed"] for d in days)
        assert v["duplicates"] == sum(d["duplicates"] for d in days)


async def test_the_data_quality_duplicate_candidates_are_kept_per_day(stack: Stack) -> None:
    report = await stack.query(
        "{ dataQuality { duplicateCandidates } }", token=token(stack, "supervisor")
    )
    candidates = report.json()["data"]["dataQuality"]["duplicateCandidates"]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    response = await stack.query(
        """query($since: DateTime) { integrationKpis(since: $since) {
             duplicateCandidatesTrend { day candidates } } }""",
        token=token(stack, "operator"),
        since=(today - timedelta(days=2)).isoformat(),
    )

    trend = response.json()["data"]["integrationKpis"]["duplicateCandidatesTrend"]
    assert trend[-1] == {"day": today.date().isoformat(), "candidates": candidates}
