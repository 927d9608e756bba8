"""The ticket backlog in /metrics: ``scv_ticket_backlog{status, age_bucket}`` gauges, read from
the store by the scrape handler (a collector cannot await), as the last facts refresh left it.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class TicketBacklogCollector(Collector):
    """Open tickets by canonical status and age bucket: the last reading."""

    def __init__(self) -> None:
        #: (status, age bucket, tickets), as the scrape handler last read them.
        self.reading: list[tuple[str, str, int]] = []

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "scv_ticket_backlog",
            "Open tickets by canonical status and age bucket (UNDER_1D, D1_3, D3_7, OVER_7D), "
            "as the last facts refresh found them",
            labels=["status", "age_bucket"],
        )
        for status, bucket, tickets in self.reading:
            family.add_metric([status, bucket], tickets)
        yield family
