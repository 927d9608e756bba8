"""``scv status``: one screen of a running gateway's health, from ``/readyz`` and ``/metrics``.

Pure functions: they take the two documents (the parsed ``/readyz`` body and the ``/metrics``
text) and return rows and text, so they are tested without a gateway; ``app.cli.commands`` fetches
the documents and prints. Latency percentiles come from the upstream histogram, so they
cover everything since the gateway (or, with several workers, the metrics directory)
started; the state and error rate come from ``/readyz``'s 5-minute window, which says how a
source is doing now.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

__all__ = [
    "SourceRow",
    "StatusReport",
    "SyncStatus",
    "histogram_quantile",
    "render_status",
    "status_report",
]

UPSTREAM_HISTOGRAM = "scv_upstream_request_duration_seconds"
SYNC_RUN_ID = "scv_sync_last_run_id"
SYNC_OUTCOME = "scv_sync_last_run_outcome"
SYNC_FINISHED = "scv_sync_last_run_finished_timestamp_seconds"

#: What a cell shows when there is nothing to compute it from.
NO_DATA = "-"
#: The cache hit ratio of a source the cache has not been asked about (the IVR, never cached).
NOT_APPLICABLE = "n/a"
#: The response cache's lookups counter (``app.cache.metrics``), as its family is named.
CACHE_LOOKUPS = "scv_cache_lookups"
#: Lookups answered without asking the source (``result`` label values).
CACHE_SERVED = frozenset({"hit", "stale", "stale_if_error", "not_found"})


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One source's line of the status table."""

    source: str
    #: ``ok``, ``degraded`` (errors in the last 5 minutes) or ``unknown`` (no requests);
    #: ``open`` or ``probing`` while the source's circuit breaker is open or half-open.
    state: str
    p50_ms: float | None
    p99_ms: float | None
    #: Errors / requests over the last 5 minutes; None when there were no requests.
    error_rate: float | None
    #: Lookups the cache answered / all lookups, since start; None when there were none.
    cache_hit_ratio: float | None = None


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """The latest identity sync as the gateway's metrics describe it."""

    run_id: int
    outcome: str | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything ``scv status`` prints."""

    ready: bool
    store: Mapping[str, Any]
    sources: tuple[SourceRow, ...]
    sync: SyncStatus | None


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """The ``q`` quantile of a histogram's cumulative ``(upper bound, count)`` buckets.

    The same estimate as PromQL's ``histogram_quantile``: find the bucket the rank falls in
    and interpolate linearly within it (from 0 for the first bucket). A rank in the ``+Inf``
    bucket answers the highest finite bound, as nothing better is known. None when the
    histogram is empty.
    """
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        return None
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for index, (upper_bound, count) in enumerate(ordered):
        if count >= rank:
            if math.isinf(upper_bound):
                return ordered[index - 1][0] if index > 0 else None
            if count == lower_count:
                return upper_bound
            share = (rank - lower_count) / (count - lower_count)
            return lower_bound + (upper_bound - lower_bound) * share
        lower_bound, lower_count = upper_bound, count
    return None


def status_report(readyz: Mapping[str, Any], metrics_text: str) -> StatusReport:
    """The report for a ``/readyz`` body and a ``/metrics`` exposition."""
    families = {family.name: family for family in text_string_to_metric_families(metrics_text)}
    buckets = _upstream_buckets(families.get(UPSTREAM_HISTOGRAM))
    hit_ratios = _cache_hit_ratios(families.get(CACHE_LOOKUPS))
    windows: Mapping[str, Any] = readyz.get("sources") or {}
    # Sources /readyz knows of, then any the metrics name that it does not.
    names = list(windows) + sorted(set(buckets) - set(windows))
    rows = []
    for name in names:
        window = windows.get(name) or {}
        rate = window.get("error_rate_5m")
        error_rate = float(rate) if isinstance(rate, int | float) else None
        source_buckets = buckets.get(name, [])
        rows.append(
            SourceRow(
                source=name,
                state=_state(error_rate, window.get("breaker")),
                p50_ms=_ms(histogram_quantile(0.5, source_buckets)),
                p99_ms=_ms(histogram_quantile(0.99, source_buckets)),
                error_rate=error_rate,
                cache_hit_ratio=hit_ratios.get(name),
            )
        )
    return StatusReport(
        ready=readyz.get("status") == "ready",
        store=readyz.get("store") or {},
        sources=tuple(rows),
        sync=_sync_status(families),
    )


def render_status(report: StatusReport, url: str, *, now: datetime | None = None) -> str:
    """``report`` as the text ``scv status`` prints: a header, a table, the last sync."""
    now = now or datetime.now(UTC)
    store = report.store
    lines = [
        f"gateway {url}: {'ready' if report.ready else 'UNREADY'}"
        f" (store reachable: {_yes_no(store.get('reachable'))},"
        f" migrated: {_yes_no(store.get('migrated'))})",
        "",
    ]
    header = ("source", "state", "p50 ms", "p99 ms", "errors 5m", "cache hits")
    table = [header] + [
        (
            row.source,
            row.state,
            _number(row.p50_ms),
            _number(row.p99_ms),
            _percent(row.error_rate),
            NOT_APPLICABLE if row.cache_hit_ratio is None else _percent(row.cache_hit_ratio),
        )
        for row in report.sources
    ]
    lines.extend(_table(table))
    lines.append("")
    lines.append(_sync_line(report.sync, now))
    return "\n".join(lines) + "\n"


# --- helpers -------------------------------------------------------------------------------


def _upstream_buckets(family: Any) -> dict[str, list[tuple[float, float]]]:
    buckets: dict[str, list[tuple[float, float]]] = {}
    if family is None:
        return buckets
    for sample in family.samples:
        if sample.name.endswith("_bucket") and "le" in sample.labels:
            source = sample.labels.get("source", "")
            buckets.setdefault(source, []).append((float(sample.labels["le"]), sample.value))
    return buckets


def _cache_hit_ratios(family: Any) -> dict[str, float]:
    served: dict[str, float] = {}
    total: dict[str, float] = {}
    if family is None:
        return {}
    for sample in family.samples:
        if sample.name.endswith("_total"):
            source = sample.labels.get("source", "")
            total[source] = total.get(source, 0.0) + sample.value
            if sample.labels.get("result") in CACHE_SERVED:
                served[source] = served.get(source, 0.0) + sample.value
    return {source: served.get(source, 0.0) / count for source, count in total.items() if count}


def _state(error_rate: float | None, breaker: object = None) -> str:
    # A breaker that is not closed says more than the error rate: calls are being shed.
    if breaker == "open":
        return "open"
    if breaker == "half_open":
        return "probing"
    if error_rate is None:
        return "unknown"
    return "degraded" if error_rate > 0 else "ok"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _sync_status(families: Mapping[str, Any]) -> SyncStatus | None:
    run_id = _single_value(families.get(SYNC_RUN_ID))
    if run_id is None:
        return None
    outcome = None
    family = families.get(SYNC_OUTCOME)
    if family is not None:
        for sample in family.samples:
            if sample.value == 1:
                outcome = sample.labels.get("outcome")
    finished = _single_value(families.get(SYNC_FINISHED))
    return SyncStatus(
        run_id=int(run_id),
        outcome=outcome,
        finished_at=datetime.fromtimestamp(finished, UTC) if finished is not None else None,
    )


def _single_value(family: Any) -> float | None:
    if family is None or not family.samples:
        return None
    return float(family.samples[0].value)


def _sync_line(sync: SyncStatus | None, now: datetime) -> str:
    if sync is None:
        return "last sync: none recorded"
    line = f"last sync: run {sync.run_id}, {sync.outcome or 'outcome unknown'}"
    if sync.finished_at is None:
        return line + ", not finished"
    age = max(0, int((now - sync.finished_at).total_seconds()))
    return f"{line}, finished {sync.finished_at.isoformat(timespec='seconds')} ({_age(age)} ago)"


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 2 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _yes_no(value: object) -> str:
    return "yes" if value is True else "no"


def _number(value: float | None) -> str:
    return NO_DATA if value is None else f"{value:.1f}"


def _percent(value: float | None) -> str:
    return NO_DATA if value is None else f"{value * 100:.1f}%"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
