"""A Prometheus metric's labelled series, each looked up once per process.

prometheus_client's ``labels()`` takes a lock and builds a tuple on every call; on the hot
paths (each upstream call, each request, each cache read) that was a visible share of a
request's Python calls (``make bench-calls``). The label values these metrics take are
bounded (sources, error codes, roles, results), so the series are kept in a dictionary by
their label values, as many as the registry itself holds. prometheus_client has no such
lookup of its own.
"""

from __future__ import annotations

from typing import Any


class Series:
    """``metric``'s child for given label values, found once: ``series(*labels)``."""

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *labels: str) -> Any:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self._metric.labels(*labels)
        return child
