"""What the tests of per-source resilience share: its events recorded, injected sleeps, an
upstream that answers in turn, a policy from settings, a request's deadline, the breaker's state."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from adapters.http.context import Deadline, request_deadline
from adapters.settings import BreakerSettings, BulkheadSettings, RetrySettings, SourceSettings
from app.resilience.events import BreakerState
from app.resilience.policy import SourceResilience
from kernel.errors import UpstreamError, UpstreamUnavailable
from kernel.models import Source

SOURCE = Source.BILLING


class Events:
    """Records what the policy reports, as the metrics would count it."""

    def __init__(self) -> None:
        self.retries: list[str] = []
        self.transitions: list[tuple[str, str]] = []
        self.rejections = 0

    def retried(self, source: Source, error_code: str) -> None:
        self.retries.append(error_code)

    def breaker_changed(self, source: Source, old: str, new: str) -> None:
        self.transitions.append((old, new))

    def bulkhead_rejected(self, source: Source) -> None:
        self.rejections += 1


class Sleeps:
    """An injected sleep that records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Upstream:
    """An attempt that answers with each of ``outcomes`` in turn; counts its calls."""

    def __init__(self, *outcomes: Any) -> None:
        self._outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self) -> Any:
        self.calls += 1
        outcome = self._outcomes[min(self.calls, len(self._outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def unavailable() -> UpstreamUnavailable:
    return UpstreamUnavailable(SOURCE, "answered HTTP 503")


def policy(
    *,
    retry: RetrySettings | None = None,
    breaker: BreakerSettings | None = None,
    bulkhead: BulkheadSettings | None = None,
    events: Events | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleeps: Sleeps | None = None,
) -> SourceResilience:
    settings = SourceSettings(
        retry=retry or RetrySettings(),
        breaker=breaker or BreakerSettings(),
        bulkhead=bulkhead or BulkheadSettings(),
    )
    return SourceResilience(SOURCE, settings, events=events, clock=clock, sleep=sleeps or Sleeps())


@contextmanager
def deadline_in(seconds: float) -> Iterator[None]:
    token = request_deadline.set(Deadline.after(seconds))
    try:
        yield
    finally:
        request_deadline.reset(token)


NO_RETRIES = RetrySettings(retries=0)


def state(resilience: SourceResilience) -> BreakerState:
    """The breaker's state, read afresh (a call, so that type checkers do not narrow it)."""
    return resilience.breaker.state


async def fail(resilience: SourceResilience, error: UpstreamError, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(type(error)):
            await resilience.call(Upstream(error), idempotent=True)


async def succeed(resilience: SourceResilience, times: int = 1) -> None:
    for _ in range(times):
        assert await resilience.call(Upstream("ok"), idempotent=True) == "ok"
