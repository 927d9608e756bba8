"""The one error tree of the gateway's upstream calls.

Every adapter raises only these (lower-level exceptions are translated in
``adapters.http.client`` and re-raised ``from exc``), and ``app/`` turns them into GraphQL
errors carrying ``extensions.code``, ``extensions.source`` and ``extensions.retryable``:

    UpstreamError(source)              base: something went wrong talking to ``source``
    ├── UpstreamUnavailable            timeout, connection failure, 5xx, 429: retryable
    │   ├── UpstreamTimeout            no answer within the timeout or the deadline
    │   ├── UpstreamRateLimited        429; carries ``retry_after`` seconds when given
    │   ├── CircuitOpen                not called: the source's circuit breaker is open
    │   └── UpstreamBusy               not called: the source's bulkhead stayed full
    ├── UpstreamRejected               4xx other than 404/429: our request or key is wrong
    ├── UpstreamNotFound               404: the system has no such record
    └── UpstreamContractError          the payload failed validation against the vendor shape

``CircuitOpen`` and ``UpstreamBusy`` are raised by the gateway's own resilience layer, not
by the source; they are retryable for the client (later, the source may be back) but never
retried by the gateway, which would only defeat their purpose of shedding load.

Messages never contain URLs, host names, keys or personal data: they may reach a client.
"""

from __future__ import annotations

from kernel.models import Source


class UpstreamError(Exception):
    """A call to one system of record failed; ``source`` says which."""

    code = "UPSTREAM_ERROR"
    retryable = False

    def __init__(self, source: Source, message: str) -> None:
        super().__init__(message)
        self.source = source
        self.message = message

    def __str__(self) -> str:
        return f"{self.source.value}: {self.message}"


class UpstreamUnavailable(UpstreamError):
    """The system did not answer usefully (5xx, connection failure); safe to retry reads."""

    code = "UPSTREAM_UNAVAILABLE"
    retryable = True


class UpstreamTimeout(UpstreamUnavailable):
    """No answer within the connect/read timeout or the request's deadline."""

    code = "UPSTREAM_TIMEOUT"


class UpstreamRateLimited(UpstreamUnavailable):
    """The system answered 429; ``retry_after`` is its Retry-After in seconds, if given."""

    code = "UPSTREAM_RATE_LIMITED"

    def __init__(self, source: Source, message: str, retry_after: float | None = None) -> None:
        super().__init__(source, message)
        self.retry_after = retry_after


class UpstreamRejected(UpstreamError):
    """A 4xx other than 404 and 429: the request, or our credentials, were refused."""

    code = "UPSTREAM_REJECTED"


class SourceNotConnected(UpstreamError):
    """The tenant the request acts for has no account of this system (no settings section
    of its own for it): nothing was called, and no other tenant's account answers instead."""

    code = "SOURCE_NOT_CONNECTED"


class UpstreamNotFound(UpstreamError):
    """The system has no record with the id we asked for."""

    code = "UPSTREAM_NOT_FOUND"


class UpstreamContractError(UpstreamError):
    """The system answered, but the payload does not have the vendor's shape."""

    code = "UPSTREAM_CONTRACT"


class CircuitOpen(UpstreamUnavailable):
    """The source has failed repeatedly: its circuit breaker answers at once, without a call."""

    code = "CIRCUIT_OPEN"


class UpstreamBusy(UpstreamUnavailable):
    """Every slot of the source's bulkhead stayed taken for as long as we could wait."""

    code = "UPSTREAM_BUSY"


class StoreUnavailable(Exception):
    """The gateway's own store (its PostgreSQL) could not be reached or went away.

    Not an ``UpstreamError``: the store is no source of records but where customers, links,
    interactions and the audit trail live. A field that needs it is null with
    ``STORE_UNAVAILABLE`` (retryable); the fields that do not are still served.
    """

    code = "STORE_UNAVAILABLE"
    retryable = True

    def __init__(self, message: str = "the customer store is unavailable") -> None:
        super().__init__(message)
        self.message = message
