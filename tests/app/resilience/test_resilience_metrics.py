"""The resilience layer's metrics reach /metrics: retries, breaker, bulkhead, by source."""

from __future__ import annotations

import re

import pytest

from app.resilience.policy import resilience_for
from app.settings import Settings
from app.wiring.metrics import GatewayMetrics
from kernel.errors import UpstreamUnavailable
from kernel.models import Source


def sample(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


def watched() -> tuple[GatewayMetrics, Settings]:
    metrics = GatewayMetrics.create(multiproc_dir="")
    return metrics, Settings()


def test_every_source_shows_its_breaker_state_and_bulkhead_in_use() -> None:
    metrics, settings = watched()
    resilience = resilience_for(settings, events=metrics.resilience)
    metrics.resilience.watch(resilience.sources.values())
    text = metrics.exposition().decode()
    for source in Source:
        assert sample(text, "scv_breaker_state", source=source.value, state="closed") == 1
        assert sample(text, "scv_breaker_state", source=source.value, state="open") == 0
        assert sample(text, "scv_bulkhead_in_use", source=source.value) == 0


async def test_an_opened_breaker_shows_as_open_with_its_transition_counted() -> None:
    metrics, settings = watched()
    resilience = resilience_for(settings, events=metrics.resilience)
    metrics.resilience.watch(resilience.sources.values())
    crm = resilience.policy(Source.CRM)
    threshold = settings.crm.breaker.consecutive_failures

    async def failing() -> object:
        raise UpstreamUnavailable(Source.CRM, "answered HTTP 503")

    for _ in range(threshold):
        with pytest.raises(UpstreamUnavailable):
            await crm.call(failing, idempotent=False)
    text = metrics.exposition().decode()
    assert sample(text, "scv_breaker_state", source="CRM", state="open") == 1
    assert sample(text, "scv_breaker_state", source="BILLING", state="closed") == 1
    transitions = sample(
        text, "scv_breaker_transitions_total", source="CRM", from_state="closed", to_state="open"
    )
    assert transitions == 1


def test_retries_and_bulkhead_rejections_are_counted_by_source() -> None:
    metrics, _ = watched()
    metrics.resilience.retried(Source.SUPPORT, "UPSTREAM_TIMEOUT")
    metrics.resilience.bulkhead_rejected(Source.BILLING)
    text = metrics.exposition().decode()
    assert (
        sample(text, "scv_upstream_retries_total", source="SUPPORT", reason="UPSTREAM_TIMEOUT") == 1
    )
    assert sample(text, "scv_bulkhead_rejections_total", source="BILLING") == 1
