"""The analysts' adaptive limit, on a fake clock: it takes what agents leave and gives it back."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.settings import FairShareSettings
from app.resilience.adaptive_limit import AdaptiveLimit, LatencyTrend
from app.resilience.agent_latency import AgentLatency
from kernel.models import Source

ROUND_TRIP = 0.020


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def limit(**settings: float) -> AdaptiveLimit:
    return AdaptiveLimit(FairShareSettings(**settings), ceiling=20)  # type: ignore[arg-type]


def calm(
    subject: AdaptiveLimit, clock: FakeClock, samples: int, seconds: float = ROUND_TRIP
) -> None:
    """``samples`` analysts' calls answering in ``seconds`` while agents feel nothing."""
    for _ in range(samples):
        clock.advance(seconds)
        subject.succeeded(clock(), seconds, agents_ratio=1.0)


def test_the_limit_grows_to_its_ceiling_while_nobody_feels_the_analysts() -> None:
    clock, subject = FakeClock(), limit(initial_limit=2)

    calm(subject, clock, 400)

    assert subject.value == 20


def test_the_limit_grows_about_one_call_per_limits_worth_of_samples() -> None:
    clock, subject = FakeClock(), limit(initial_limit=4)

    calm(subject, clock, 6)

    assert subject.value == 5


def test_agents_feeling_the_analysts_shrinks_the_limit_by_the_gradient() -> None:
    clock, subject = FakeClock(), limit(initial_limit=16, tolerance=1.1)
    calm(subject, clock, 1)

    clock.advance(ROUND_TRIP)
    subject.succeeded(clock(), ROUND_TRIP, agents_ratio=1.375)

    # tolerance / ratio = 0.8
    assert subject.value == int(16 * 0.8)


def test_a_large_gradient_at_most_halves_the_limit() -> None:
    clock, subject = FakeClock(), limit(initial_limit=16)
    calm(subject, clock, 1)

    clock.advance(ROUND_TRIP)
    subject.succeeded(clock(), ROUND_TRIP, agents_ratio=10.0)

    assert subject.value == 8


def test_one_slow_moment_shrinks_the_limit_once_per_round_trip() -> None:
    clock, subject = FakeClock(), limit(initial_limit=16)
    calm(subject, clock, 1)
    clock.advance(ROUND_TRIP)

    for _ in range(5):
        subject.succeeded(clock(), ROUND_TRIP, agents_ratio=3.0)

    assert subject.value == 8


def test_the_limit_never_goes_under_its_floor() -> None:
    clock, subject = FakeClock(), limit(initial_limit=4, min_limit=2)

    for _ in range(20):
        clock.advance(1.0)
        subject.succeeded(clock(), ROUND_TRIP, agents_ratio=5.0)

    assert subject.value == 2


def test_the_limit_comes_back_once_agents_are_quiet_again() -> None:
    clock, subject = FakeClock(), limit(initial_limit=16)
    calm(subject, clock, 1)
    for _ in range(5):
        clock.advance(1.0)
        subject.succeeded(clock(), ROUND_TRIP, agents_ratio=5.0)
    assert subject.value == 1

    calm(subject, clock, 200)

    assert subject.value == 20


def test_the_source_slowing_down_shrinks_the_limit_with_agents_quiet() -> None:
    clock, subject = FakeClock(), limit(initial_limit=16)
    calm(subject, clock, 20)
    before = subject.value

    calm(subject, clock, 10, seconds=4 * ROUND_TRIP)

    assert subject.value < before
    assert subject.own.ratio > 2.0


def test_an_overloaded_source_halves_the_limit() -> None:
    clock, subject = FakeClock(), limit(initial_limit=16)

    subject.overloaded(clock())

    assert subject.value == 8


def test_with_adaptation_off_the_limit_is_its_ceiling_whatever_happens() -> None:
    clock = FakeClock()
    subject = AdaptiveLimit(FairShareSettings(initial_limit=20, min_limit=20), ceiling=20)

    subject.overloaded(clock())
    subject.succeeded(clock(), ROUND_TRIP, agents_ratio=9.0)

    assert subject.value == 20


def test_a_latencys_baseline_forgets_a_quieter_past_after_its_window() -> None:
    clock, trend = FakeClock(), LatencyTrend(window_seconds=10.0, smoothing=1.0)
    trend.observe(clock(), 0.010)
    for _ in range(30):
        clock.advance(1.0)
        trend.observe(clock(), 0.030)

    assert trend.baseline == pytest.approx(0.030)
    assert trend.ratio == pytest.approx(1.0)


def test_a_latencys_ratio_is_its_recent_level_over_its_baseline() -> None:
    clock, trend = FakeClock(), LatencyTrend(window_seconds=60.0, smoothing=1.0)
    trend.observe(clock(), 0.020)
    clock.advance(1.0)
    trend.observe(clock(), 0.030)

    assert trend.ratio == pytest.approx(1.5)


def agents_slowing(latency: AgentLatency, clock: FakeClock) -> None:
    for seconds in (0.020,) * 2 + (0.060,) * 30:
        clock.advance(0.2)
        latency.observe(Source.BILLING, seconds)


def test_agents_latency_ratio_is_read_in_the_process_that_measures_it() -> None:
    clock = FakeClock()
    latency = AgentLatency(clock=clock)

    agents_slowing(latency, clock)

    assert latency.ratio(Source.BILLING, quiet_seconds=1.0) > 1.5
    assert latency.ratio(Source.CRM, quiet_seconds=1.0) == 1.0


def test_quiet_agents_are_no_signal() -> None:
    clock = FakeClock()
    latency = AgentLatency(clock=clock)
    agents_slowing(latency, clock)

    clock.advance(5.0)

    assert latency.ratio(Source.BILLING, quiet_seconds=1.0) == 1.0


def test_agents_processes_publish_their_ratio_to_the_analysts_processes(tmp_path: Path) -> None:
    clock = FakeClock()
    agents = AgentLatency(tmp_path, clock=clock, wall_clock=clock)
    analysts = AgentLatency(tmp_path, publish=False, clock=clock, wall_clock=clock)
    agents_slowing(agents, clock)

    assert analysts.ratio(Source.BILLING, quiet_seconds=1.0) > 1.5
    # A process that only reads writes nothing.
    assert len(list(tmp_path.iterdir())) == 1
    agents.close()


def test_a_stopped_agents_process_stops_being_a_signal(tmp_path: Path) -> None:
    clock = FakeClock()
    agents = AgentLatency(tmp_path, clock=clock, wall_clock=clock)
    analysts = AgentLatency(tmp_path, publish=False, clock=clock, wall_clock=clock)
    agents_slowing(agents, clock)
    agents.close()

    clock.advance(5.0)

    assert analysts.ratio(Source.BILLING, quiet_seconds=1.0) == 1.0
