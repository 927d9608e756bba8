"""``integrationKpis`` end to end: sync runs from the store, each source's calls from the
gateway's own traffic to the real sandbox, for supervisors and platform operators only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.security.demo_keys import mint_token
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
    assert {"outcome": "succeeded", "runs": 1} in kpis["syncRuns"]
    assert kpis["syncSuccessRate"] == 1.0
    crm = next(s for s in kpis["sources"] if s["source"] == "CRM")
    assert crm["mode"] == "ON"
    assert crm["calls"] >= 1
    assert 0 <= crm["errorRate"] <= 1
    assert {s["source"] for s in kpis["sources"]} >= {"CRM", "BILLING", "SUPPORT", "ORDERS"}


async def test_a_failing_source_shows_in_its_availability(clean_sandbox: Stack) -> None:
    since = datetime.now(UTC).isoformat()
    await clean_sandbox.set_faults("crm", error_rate=1.0, error_status=503)
    for _ in range(3):
        await clean_sandbox.query(PROFILE)

    response = await clean_sandbox.query(KPIS, token=token(clean_sandbox, "operator"), since=since)
    crm = next(
        s for s in response.json()["data"]["integrationKpis"]["sources"] if s["source"] == "CRM"
    )
    assert crm["calls"] == 3
    assert crm["availability"] == 0.0
    assert crm["errorRate"] == 1.0


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
