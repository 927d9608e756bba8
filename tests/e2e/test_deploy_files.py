"""deploy/: the alert rules and the dashboard load, and use only metrics the gateway exposes.

A rule or panel over a metric that does not exist never fires and never draws, silently:
every ``scv_`` name in their PromQL is checked against a running gateway's ``/metrics``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import Stack

pytestmark = pytest.mark.e2e

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "scv-dashboard.json"
METRIC_NAME = re.compile(r"\bscv_[a-z0-9_]+")

#: The series names each metric type puts in an exposition (and so in PromQL), by suffix.
SERIES_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "gauge": ("",),
}


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from dashboard_panels(panel.get("panels", []))


def dashboard_expressions() -> list[str]:
    board = dashboard()
    expressions = [
        target["expr"]
        for panel in dashboard_panels(board["panels"])
        for target in panel.get("targets", [])
    ]
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            expressions.append(query["query"])
    return expressions


def exposed_series(exposition: str) -> set[str]:
    """Every series name that PromQL may select, from the families' names and types."""
    return {
        family.name + suffix
        for family in text_string_to_metric_families(exposition)
        for suffix in SERIES_SUFFIXES.get(family.type, ("",))
    }


def test_every_alert_rule_is_complete() -> None:
    rules = alert_rules()
    assert rules
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert METRIC_NAME.search(rule["expr"]), rule["alert"]
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


def test_the_alert_rules_name_what_is_still_to_come() -> None:
    text = ALERTS.read_text()
    for feature in ("circuit breaker", "webhooks", "audit"):
        assert feature in text


def test_every_dashboard_panel_has_a_query_and_a_unique_id() -> None:
    panels = list(dashboard_panels(dashboard()["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert all(target["expr"] for target in panel["targets"]), panel["title"]


def test_the_series_suffixes_follow_the_metric_type() -> None:
    exposition = (
        "# TYPE scv_a counter\nscv_a_total 1\n"
        '# TYPE scv_b histogram\nscv_b_bucket{le="+Inf"} 1\nscv_b_count 1\nscv_b_sum 1\n'
        "# TYPE scv_c gauge\nscv_c 1\n"
    )
    series = exposed_series(exposition)
    assert {"scv_a_total", "scv_b_bucket", "scv_b_count", "scv_b_sum", "scv_c"} <= series
    assert not {"scv_a", "scv_b", "scv_c_total"} & series


@pytest.mark.parametrize(
    ("path", "expressions"),
    [
        ("alerts", lambda: [rule["expr"] for rule in alert_rules()]),
        ("dashboard", dashboard_expressions),
    ],
)
async def test_every_metric_referenced_exists_in_the_gateways_metrics(
    stack: Stack, path: str, expressions: Any
) -> None:
    response = await stack.http.get(f"{stack.gateway_url}/metrics")
    assert response.status_code == 200
    series = exposed_series(response.text)
    referenced = {name for expr in expressions() for name in METRIC_NAME.findall(expr)}
    assert referenced, path
    assert referenced <= series, sorted(referenced - series)
