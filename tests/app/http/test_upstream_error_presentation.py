"""How a failed source leaves the gateway: one error with its code, source and retryable."""

from __future__ import annotations

import pytest
from graphql import GraphQLError

from app.http.errors import present_error
from kernel.errors import (
    CircuitOpen,
    UpstreamBusy,
    UpstreamContractError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kernel.models import Source

PATH = ["customerByEmail", "billing", "delinquent"]


def failed(original: Exception) -> GraphQLError:
    try:
        raise original
    except Exception as exc:
        return GraphQLError("boom", path=PATH, original_error=exc)


@pytest.mark.parametrize(
    ("error", "code", "retryable"),
    [
        (UpstreamTimeout(Source.BILLING, "no answer within the timeout"), "UPSTREAM_TIMEOUT", True),
        (UpstreamUnavailable(Source.CRM, "answered HTTP 503"), "UPSTREAM_UNAVAILABLE", True),
        (
            UpstreamRateLimited(Source.SUPPORT, "answered HTTP 429", retry_after=3),
            "UPSTREAM_RATE_LIMITED",
            True,
        ),
        (CircuitOpen(Source.BILLING, "circuit breaker is open"), "CIRCUIT_OPEN", True),
        (UpstreamBusy(Source.CRM, "too many calls under way"), "UPSTREAM_BUSY", True),
        (
            UpstreamContractError(Source.SUPPORT, "ticket page payload failed validation"),
            "UPSTREAM_CONTRACT",
            False,
        ),
    ],
)
def test_each_upstream_failure_is_presented_with_code_source_and_retryable(
    error: UpstreamError, code: str, retryable: bool
) -> None:
    presented = present_error(failed(error))
    assert presented.path == PATH
    assert presented.extensions == {
        "code": code,
        "source": error.source.value,
        "retryable": retryable,
    }


def test_the_presented_error_carries_no_stack_trace_nor_cause() -> None:
    presented = present_error(failed(CircuitOpen(Source.BILLING, "circuit breaker is open")))
    assert presented.original_error is None
    assert "Traceback" not in presented.message
    assert set(presented.formatted) <= {"message", "locations", "path", "extensions"}


def test_a_record_the_source_does_not_have_is_not_called_an_outage() -> None:
    from kernel.errors import UpstreamNotFound

    presented = present_error(failed(UpstreamNotFound(Source.BILLING, "customer is deleted")))
    assert presented.message == "billing has no such record for this panel: customer is deleted"
    assert presented.extensions == {
        "code": "UPSTREAM_NOT_FOUND",
        "source": "BILLING",
        "retryable": False,
    }
