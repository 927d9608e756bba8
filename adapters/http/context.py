"""What the request under way tells every upstream call: its deadline, headers and observer.

Context variables, so that ``app/`` sets them once per incoming request and every call
``UpstreamHttp`` makes within it (in whatever task) sees them, without the adapter
Protocols having to carry them and without adapters importing ``app/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextvars import Context, ContextVar, copy_context

from kernel.models import Source

#: Headers added to every upstream request made in the current context, such as
#: ``X-Request-Id``: the app sets them per incoming request without the adapter
#: Protocols having to carry them.
outbound_headers: ContextVar[Mapping[str, str] | None] = ContextVar(
    "outbound_headers", default=None
)

#: Told of every upstream request made in the current context, once it is over: the
#: source, the seconds it took, and the error code it raised (None when it succeeded).
#: The app sets one per incoming request to feed metrics, health and the access log;
#: a callback rather than an import keeps adapters/ free of app/.
UpstreamObserver = Callable[[Source, float, str | None], None]
upstream_observer: ContextVar[UpstreamObserver | None] = ContextVar(
    "upstream_observer", default=None
)

#: The observer's error code for a request that did not finish: cancelled (a deadline, a
#: sibling panel failing) or stopped by a defect, neither of which the source caused.
ABORTED = "ABORTED"


class Deadline:
    """The ``time.monotonic()`` by which the request under way must be answered.

    Mutable on purpose: every task a request spawns copies its context and so shares this
    one object, and ``expire`` once the answer has gone tells each straggler (a field that
    graphql-core left running after a sibling's error nulled their parent) to start no
    new call and no retry for a client that is no longer waiting.
    """

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now."""
        return cls(time.monotonic() + seconds)

    def left(self) -> float:
        """Seconds left (negative once past)."""
        return self.at - time.monotonic()

    def expire(self) -> None:
        """End it now: the request has been answered."""
        self.at = min(self.at, time.monotonic())


#: The deadline of the request under way. The app sets one per incoming request; None
#: (outside a request, such as the identity sync) means no cap beyond each call's timeouts.
request_deadline: ContextVar[Deadline | None] = ContextVar("request_deadline", default=None)


class RequestFailures:
    """The upstream failures seen so far by the request under way, by source.

    Mutable and shared, like ``Deadline``: every task of the request sees the one object.
    The resilience layer keeps here the first real failure of each source, so that a
    breaker this very request opened (its retries and its sibling panels fail fast) does
    not hide that cause behind ``CIRCUIT_OPEN``: the request reports what happened to it.
    """

    __slots__ = ("_first",)

    def __init__(self) -> None:
        self._first: dict[Source, Exception] = {}

    def note(self, source: Source, failure: Exception) -> None:
        """Remember ``failure`` unless the request already saw one from ``source``."""
        self._first.setdefault(source, failure)

    def first(self, source: Source) -> Exception | None:
        """The first failure of ``source`` in this request, if there was one."""
        return self._first.get(source)


#: The failures of the request under way; the app sets one per incoming request (None
#: outside a request: every failure then stands for itself).
request_failures: ContextVar[RequestFailures | None] = ContextVar("request_failures", default=None)


def detached_context() -> Context:
    """A copy of the current context holding its own copy of the request's deadline.

    For work a request spawns that others may await too (a shared, single-flight fetch):
    it keeps the request's end time, but the request being answered does not expire it.
    """
    context = copy_context()
    deadline = context.get(request_deadline)
    if deadline is not None:
        context.run(request_deadline.set, Deadline(deadline.at))
    return context


def time_left() -> float | None:
    """Seconds left before the request's deadline (negative once past); None with no deadline."""
    deadline = request_deadline.get()
    return None if deadline is None else deadline.left()
