"""How many analysts' calls to one source may be under way: a limit that follows the load.

The analysts' share of a source is work-conserving: they get whatever concurrency agents
leave, and lose it as soon as agents need it. ``AdaptiveLimit`` is the number; it is an AIMD
limit driven by a latency gradient, the design of Netflix's ``concurrency-limits``
(``AIMDLimit``, ``Gradient2Limit``) and of Envoy's adaptive concurrency filter (the
gradient of a sampled latency over its no-load minimum):

- after each analyst's call that went well, two latency ratios are read: the agents'
  latency to the source over its baseline (``app.resilience.agent_latency``: the agents
  feel the analysts, whether through the source, the machine's CPU or the gateway), held
  to ``tolerance``, and the analysts' own latency to it over its no-load baseline (the
  system slowing down under the load), held to ``source_tolerance``. While neither is over
  its tolerance the limit grows by one call per limit's worth of samples (additive, about
  one per round trip); otherwise it shrinks by the gradient ``tolerance / ratio`` of the
  worse (at most halving, at most once per round trip, so that one slow burst is not
  counted many times over);
- a call that failed the way an overloaded system fails (a timeout, a 5xx, a 429) halves it.

Latency is an exponentially weighted average (the recent level) over a baseline that is the
lowest recent level seen in a sliding window, so the baseline forgets a quieter past
(``baseline_window_seconds``) instead of adapting to the load it should detect, as a plain
long average would.

Written here rather than taken from a library: the Python packages that implement AIMD or
adaptive concurrency (``ace-concurrency``, ``adaptive-concurrency``, ``aimd-limiter``, at
0.1 releases) adapt to their own calls' latency or errors only, while this limit must also
follow another traffic class's latency (the agents'), take an injected clock (the tests run
it on a fake one), and feed the analysts' queue that refuses by deadline
(``app.resilience.analyst_lane``). The arithmetic is a few lines; the policy is the point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from adapters.settings import FairShareSettings

__all__ = ["AdaptiveLimit", "LatencyTrend"]


@dataclass(slots=True)
class LatencyTrend:
    """A latency's recent level (an EWMA) and its baseline (the lowest level in a window).

    The window is kept as two halves, so that the minimum forgets a value between one and
    two half-windows after it was seen, with no list of samples to keep.
    """

    window_seconds: float
    smoothing: float = 0.2
    recent: float | None = None
    _minimum: float = math.inf
    _previous_minimum: float = math.inf
    _half_started: float | None = None

    def observe(self, now: float, seconds: float) -> None:
        """Take one latency sample measured at ``now``."""
        self.recent = (
            seconds
            if self.recent is None
            else self.recent + self.smoothing * (seconds - self.recent)
        )
        half = self.window_seconds / 2
        if self._half_started is None:
            self._half_started = now
        elif now - self._half_started >= half:
            # A whole window went by without a sample: the old minimum says nothing now.
            stale = now - self._half_started >= self.window_seconds
            self._previous_minimum = math.inf if stale else self._minimum
            self._minimum = math.inf
            self._half_started = now
        self._minimum = min(self._minimum, self.recent)

    @property
    def baseline(self) -> float | None:
        """The lowest recent level within the window; None before any sample."""
        lowest = min(self._minimum, self._previous_minimum)
        return None if math.isinf(lowest) else lowest

    @property
    def ratio(self) -> float:
        """How many times its baseline the recent level is (1.0 without samples)."""
        baseline = self.baseline
        if self.recent is None or baseline is None or baseline <= 0:
            return 1.0
        return self.recent / baseline


class AdaptiveLimit:
    """The analysts' concurrency limit of one source, moved by latency and failures."""

    def __init__(self, settings: FairShareSettings, ceiling: int) -> None:
        self._settings = settings
        self.floor = min(settings.min_limit, ceiling)
        self.ceiling = ceiling
        self._value = float(min(max(settings.initial_limit, self.floor), ceiling))
        self.own = LatencyTrend(settings.baseline_window_seconds)
        self._last_decrease: float | None = None
        #: The agents' latency ratio last read (for metrics; the source's is ``own.ratio``).
        self.agents_ratio = 1.0

    @property
    def value(self) -> int:
        """Analysts' calls that may be under way at once now."""
        return max(self.floor, min(self.ceiling, int(self._value)))

    def succeeded(self, now: float, seconds: float, agents_ratio: float) -> None:
        """An analyst's call answered in ``seconds``; agents' latency is ``agents_ratio`` of
        its baseline (1.0 when unknown)."""
        self.own.observe(now, seconds)
        self.agents_ratio = agents_ratio
        # Each signal over its own tolerance: agents must barely feel the analysts, while the
        # analysts' own latency also carries their process's queueing (it runs at a lower
        # CPU priority), so only a system really slowing down should count.
        excess = max(
            agents_ratio / self._settings.tolerance,
            self.own.ratio / self._settings.source_tolerance,
        )
        if excess <= 1.0:
            self._value = min(float(self.ceiling), self._value + 1.0 / max(self._value, 1.0))
            return
        self._decrease(now, max(0.5, 1.0 / excess))

    def overloaded(self, now: float) -> None:
        """An analyst's call failed as an overloaded system fails: halve the limit."""
        self._decrease(now, self._settings.backoff_ratio)

    def _decrease(self, now: float, factor: float) -> None:
        # Once per round trip: the samples of one slow moment arrive together, and each
        # of them cutting the limit again would take it to the floor for one hiccup.
        round_trip = self.own.recent or 0.0
        if self._last_decrease is not None and now - self._last_decrease < round_trip:
            return
        self._last_decrease = now
        self._value = max(float(self.floor), self._value * factor)
