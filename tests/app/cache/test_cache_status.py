"""``scv status`` reads the response cache's hit ratio per source from ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from app.cli.status import render_status, status_report
from app.wiring.metrics import GatewayMetrics

READYZ = {"status": "ready", "store": {}, "sources": {"BILLING": {}, "IVR": {}}}


def test_the_hit_ratio_counts_what_the_cache_answered_over_every_lookup() -> None:
    metrics = GatewayMetrics.create(CollectorRegistry(), multiproc_dir="")
    lookups = metrics.cache.lookups
    lookups.labels("BILLING", "customer", "hit").inc(5)
    lookups.labels("BILLING", "invoices", "stale").inc(1)
    lookups.labels("BILLING", "customer", "miss").inc(2)
    report = status_report(READYZ, metrics.exposition().decode())
    ratios = {row.source: row.cache_hit_ratio for row in report.sources}
    assert ratios == {"BILLING": 0.75, "IVR": None}


def test_a_source_the_cache_was_not_asked_about_shows_not_applicable() -> None:
    metrics = GatewayMetrics.create(CollectorRegistry(), multiproc_dir="")
    report = status_report(READYZ, metrics.exposition().decode())
    [ivr] = [line for line in render_status(report, "http://gw").splitlines() if "IVR" in line]
    assert ivr.split()[-1] == "n/a"
