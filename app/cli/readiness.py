"""``scv readiness``: per source, the integration-readiness checklist, from a running
gateway's ``/metrics``, with every item under its threshold flagged as a launch blocker.

Pure functions, like ``app.cli.status``: they take the ``/metrics`` text and the thresholds
and return rows and text; ``app.cli.commands`` fetches and prints (exit status 1 with a
blocker, so that a pipeline can stop a launch). An item with nothing to measure it by
shows ``-`` and blocks nothing: it is not yet known.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["ReadinessItem", "Thresholds", "readiness_report", "render_readiness"]

NO_DATA = "-"
#: Sync counts of records that were not linked to a customer.
NOT_LINKED = ("ambiguous", "skipped_invalid")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where each item becomes a launch blocker (``scv readiness --help`` has the defaults)."""

    min_mapping_coverage: float = 1.0
    max_unmapped_words: int = 0
    min_link_rate: float = 0.9
    max_error_rate: float = 0.05
    min_shadow_agreement: float = 0.95


@dataclass(frozen=True, slots=True)
class ReadinessItem:
    """One measured item of one source, and whether it blocks the launch."""

    source: str
    item: str
    value: float | None
    threshold: str
    blocker: bool

    def shown(self) -> str:
        if self.value is None:
            return NO_DATA
        return f"{self.value:.0f}" if self.item == "unmapped_words" else f"{self.value:.1%}"


def _samples(metrics_text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            found[sample.name].append((sample.labels, sample.value))
    return found


def _by_source(
    samples: Iterable[tuple[dict[str, str], float]], label: str | None = None
) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for labels, value in samples:
        if "source" in labels:
            table[labels["source"]][labels.get(label, "") if label else ""] += value
    return table


def readiness_report(
    metrics_text: str, sources: Iterable[str], limits: Thresholds
) -> list[ReadinessItem]:
    """Each of ``sources``' items, measured from ``metrics_text``."""
    samples = _samples(metrics_text)
    unmapped = _by_source(samples["scv_taxonomy_unmapped_words"], "field")
    records = _by_source(samples["scv_sync_last_run_records"], "count")
    calls = _by_source(samples["scv_upstream_requests_total"], "outcome")
    shadow = _by_source(samples["scv_rollout_shadow_comparisons_total"], "outcome")
    items: list[ReadinessItem] = []
    for source in sources:
        fields = unmapped.get(source, {})
        coverage = sum(1 for n in fields.values() if n == 0) / len(fields) if fields else None
        words = sum(fields.values()) if fields else None
        seen = records.get(source, {}).get("seen", 0.0)
        not_linked = sum(records.get(source, {}).get(name, 0.0) for name in NOT_LINKED)
        link_rate = (seen - not_linked) / seen if seen else None
        outcomes = calls.get(source, {})
        counted = sum(n for outcome, n in outcomes.items() if outcome != "ABORTED")
        failed = counted - outcomes.get("ok", 0.0)
        error_rate = failed / counted if counted else None
        compared = shadow.get(source, {})
        judged = compared.get("agree", 0.0) + compared.get("disagree", 0.0)
        agreement = compared.get("agree", 0.0) / judged if judged else None
        items += [
            _item(source, "mapping_coverage", coverage, limits.min_mapping_coverage, low=True),
            _item(source, "unmapped_words", words, limits.max_unmapped_words, low=False),
            _item(source, "link_rate", link_rate, limits.min_link_rate, low=True),
            _item(source, "error_rate", error_rate, limits.max_error_rate, low=False),
            _item(source, "shadow_agreement", agreement, limits.min_shadow_agreement, low=True),
        ]
    return items


def _item(source: str, item: str, value: float | None, limit: float, *, low: bool) -> ReadinessItem:
    # ``low``: the item blocks when under its limit; otherwise when over it.
    blocker = value is not None and (value < limit if low else value > limit)
    return ReadinessItem(source, item, value, f"{'>=' if low else '<='} {limit:g}", blocker)


def render_readiness(items: list[ReadinessItem], url: str) -> str:
    """The checklist as text, one line per item, blockers marked."""
    lines = [f"integration readiness of {url}", ""]
    lines.append(f"{'source':<10} {'item':<18} {'value':>8}  {'needs':<8}  verdict")
    for item in items:
        verdict = (
            "LAUNCH BLOCKER" if item.blocker else ("not measured" if item.value is None else "ok")
        )
        lines.append(
            f"{item.source:<10} {item.item:<18} {item.shown():>8}  {item.threshold:<8}  {verdict}"
        )
    blockers = sum(1 for item in items if item.blocker)
    lines += ["", f"{blockers} launch blocker(s)" if blockers else "no launch blockers"]
    return "\n".join(lines) + "\n"
