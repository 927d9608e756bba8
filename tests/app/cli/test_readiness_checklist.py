"""``scv readiness``'s checklist from a /metrics text: measured items, blockers, unknowns."""

from __future__ import annotations

from app.cli.readiness import Thresholds, readiness_report, render_readiness

METRICS = """\
# TYPE scv_taxonomy_unmapped_words gauge
scv_taxonomy_unmapped_words{source="SUPPORT",field="status"} 2
scv_taxonomy_unmapped_words{source="SUPPORT",field="priority"} 0
scv_taxonomy_unmapped_words{source="CRM",field="lifecycle"} 0
# TYPE scv_sync_last_run_records gauge
scv_sync_last_run_records{source="CRM",count="seen"} 100
scv_sync_last_run_records{source="CRM",count="ambiguous"} 5
scv_sync_last_run_records{source="CRM",count="linked_new"} 95
scv_sync_last_run_records{source="SUPPORT",count="seen"} 10
scv_sync_last_run_records{source="SUPPORT",count="skipped_invalid"} 2
# TYPE scv_upstream_requests counter
scv_upstream_requests_total{source="CRM",outcome="ok"} 99
scv_upstream_requests_total{source="CRM",outcome="UPSTREAM_TIMEOUT"} 1
scv_upstream_requests_total{source="CRM",outcome="ABORTED"} 50
scv_upstream_requests_total{source="SUPPORT",outcome="ok"} 9
scv_upstream_requests_total{source="SUPPORT",outcome="UPSTREAM_UNAVAILABLE"} 1
# TYPE scv_rollout_shadow_comparisons counter
scv_rollout_shadow_comparisons_total{source="SUPPORT",outcome="agree",reason="match"} 18
scv_rollout_shadow_comparisons_total{source="SUPPORT",outcome="disagree",reason="no_record"} 2
"""


def test_each_item_is_measured_and_judged() -> None:
    items = readiness_report(METRICS, ["CRM", "SUPPORT", "ORDERS"], Thresholds())
    table = {(i.source, i.item): (i.value, i.blocker) for i in items}

    assert table[("CRM", "mapping_coverage")] == (1.0, False)
    assert table[("CRM", "unmapped_words")] == (0, False)
    assert table[("CRM", "link_rate")] == (0.95, False)
    # Cancelled calls are no sign of the source.
    assert table[("CRM", "error_rate")] == (0.01, False)
    assert table[("SUPPORT", "mapping_coverage")] == (0.5, True)
    assert table[("SUPPORT", "unmapped_words")] == (2, True)
    assert table[("SUPPORT", "link_rate")] == (0.8, True)
    assert table[("SUPPORT", "error_rate")] == (0.1, True)
    assert table[("SUPPORT", "shadow_agreement")] == (0.9, True)
    # Nothing measured yet: shown, and blocking nothing.
    assert table[("ORDERS", "link_rate")] == (None, False)
    assert table[("CRM", "shadow_agreement")] == (None, False)


def test_thresholds_move_the_verdict() -> None:
    loose = Thresholds(
        min_mapping_coverage=0.5,
        max_unmapped_words=2,
        min_link_rate=0.8,
        max_error_rate=0.1,
        min_shadow_agreement=0.9,
    )
    items = readiness_report(METRICS, ["SUPPORT"], loose)
    assert not any(item.blocker for item in items)


def test_the_text_marks_blockers() -> None:
    text = render_readiness(readiness_report(METRICS, ["SUPPORT"], Thresholds()), "http://gw")
    assert "SUPPORT    unmapped_words" in text
    assert "LAUNCH BLOCKER" in text
    assert text.endswith("5 launch blocker(s)\n")
