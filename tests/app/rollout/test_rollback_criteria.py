"""Rollback criteria as code: figures over a window (a fake clock), breaches, one phase back.

The store is faked at its port (``tests/app/rollout/test_source_rollouts.py``'s); the same
criteria over the real sandbox and PostgreSQL are in tests/e2e/test_rollout_e2e.py.
"""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from adapters.settings import RollbackSettings
from app.rollout.metrics import RolloutMetrics
from app.rollout.rollback import ROLLBACK, RollbackWatch, breaches
from app.rollout.service import SourceRollouts
from app.rollout.window import SourceWindows, WindowFigures, p99
from kernel.models import Source
from kernel.rollout import RolloutMode, SourceRollout
from tests.app.rollout.memory_rollout import Clock, MemoryRolloutStore

LIMITS = RollbackSettings(window_seconds=60, minimum_calls=10, minimum_comparisons=10)


def figures(**values: float) -> WindowFigures:
    base: dict[str, float] = {
        "calls": 100,
        "errors": 0,
        "contract_errors": 0,
        "latency_p99_seconds": 0.1,
        "comparisons": 0,
        "disagreements": 0,
    }
    base.update(values)
    return WindowFigures(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mode", "found", "criteria"),
    [
        (RolloutMode.ON, figures(), []),
        (RolloutMode.ON, figures(errors=21), ["error_rate"]),
        (RolloutMode.ON, figures(errors=20), []),
        # Too few calls for a rate: a single failure is no trend.
        (RolloutMode.PILOT, figures(calls=5, errors=5), []),
        (RolloutMode.PILOT, figures(contract_errors=6), ["contract_errors"]),
        (RolloutMode.ON, figures(latency_p99_seconds=2.5), ["latency_p99"]),
        (RolloutMode.SHADOW, figures(comparisons=10, disagreements=3), ["disagreement_rate"]),
        (RolloutMode.SHADOW, figures(comparisons=9, disagreements=9), []),
        # Disagreement judges shadow only; OFF has nothing left to move back to.
        (RolloutMode.ON, figures(comparisons=10, disagreements=10), []),
        (RolloutMode.OFF, figures(errors=100), []),
    ],
)
def test_what_breaches(mode: RolloutMode, found: WindowFigures, criteria: list[str]) -> None:
    assert [b.criterion for b in breaches(mode, found, LIMITS)] == criteria


def test_disabled_criteria_never_breach() -> None:
    off = LIMITS.model_copy(update={"enabled": False})
    assert breaches(RolloutMode.ON, figures(errors=100), off) == []


def test_the_window_forgets_what_is_older_and_cancelled_calls() -> None:
    clock = Clock()
    windows = SourceWindows(clock)
    windows.observe_call(Source.CRM, 0.5, "UPSTREAM_UNAVAILABLE")
    clock.now = 30
    windows.observe_call(Source.CRM, 0.1, None)
    windows.observe_call(Source.CRM, 0.2, "ABORTED")
    windows.observe_call(Source.CRM, 0.3, "UPSTREAM_CONTRACT")

    assert windows.figures(Source.CRM, 60) == WindowFigures(3, 2, 1, 0.5, 0, 0, unavailable=1)
    clock.now = 61
    assert windows.figures(Source.CRM, 60) == WindowFigures(2, 1, 1, 0.3, 0, 0, unavailable=0)
    assert windows.figures(Source.BILLING, 60) == WindowFigures(0, 0, 0, None, 0, 0)


def test_p99_by_nearest_rank() -> None:
    assert p99([float(n) for n in range(1, 101)]) == 99.0
    assert p99([3.0]) == 3.0
    assert p99([]) is None


async def test_a_breach_moves_the_source_back_one_phase_once_and_is_counted() -> None:
    clock, store = Clock(), MemoryRolloutStore()
    windows = SourceWindows(clock)
    rollouts = SourceRollouts(
        {source: SourceRollout(source, RolloutMode.ON) for source in Source},
        store,
        clock=clock,
        windows=windows,
    )
    registry = CollectorRegistry()
    metrics = RolloutMetrics.create(registry)
    watch = RollbackWatch(rollouts, windows, dict.fromkeys(Source, LIMITS), metrics)
    # The first check (as the process starts) sees each source's rollout; it judges none.
    windows.observe_call(Source.ORDERS, 0.1, "UPSTREAM_UNAVAILABLE")
    assert await watch.check() == {}
    for n in range(10):
        windows.observe_call(Source.ORDERS, 0.1, "UPSTREAM_UNAVAILABLE" if n < 3 else None)

    assert await watch.check() == {Source.ORDERS: RolloutMode.PILOT}
    kept = store.rows[Source.ORDERS]
    assert (kept.mode, kept.changed_by) == (RolloutMode.PILOT, ROLLBACK.subject)
    assert kept.reason == "error_rate 0.3 > 0.2"
    labels = {"source": "ORDERS", "from_mode": "ON", "to_mode": "PILOT"}
    sample = registry.get_sample_value(
        "scv_rollout_rollbacks_total", {**labels, "criterion": "error_rate"}
    )
    assert sample == 1.0
    # The pilot is judged on its own traffic: the same failures do not move it again.
    assert await watch.check() == {}
    assert store.rows[Source.ORDERS].mode is RolloutMode.PILOT
