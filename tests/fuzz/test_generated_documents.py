"""Generated documents over the whole schema, over HTTP to a real gateway, as every principal.

Whatever the document, the variables and who asks: no 5xx, every error in the GraphQL shape
with a code, no INTERNAL_SERVER_ERROR (the stack is healthy, so any is a defect or a client
mistake misnamed), and no named customer's personal data in the answer of a principal who
may not see it unmasked (unless the request itself carried it).

``make test`` runs ``FUZZ_EXAMPLES`` (300) examples; ``make test-fuzz`` 5,000.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.documents import Request, requests
from tests.fuzz.keys import SECRETS, FuzzStack

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))


@dataclass(frozen=True, slots=True)
class Asker:
    """Who sends a request, and whose personal data they may see unmasked."""

    role: str
    grant: bool = False
    purpose: bool = False
    may_see: tuple[str, ...] = ()


ASKERS = (
    Asker("agent"),
    Asker("agent", grant=True, may_see=("ada",)),
    Asker("supervisor"),
    Asker("supervisor", purpose=True, may_see=tuple(SECRETS)),
    Asker("analyst"),
    Asker("ivr"),
)


#: What clients accept: the spec's media type (4xx for request errors), JSON, or nothing said.
ACCEPTS = ("application/graphql-response+json", "application/json", None)


def _headers(stack: FuzzStack, asker: Asker, accept: str | None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {stack.tokens[asker.role]}"}
    if accept is not None:
        headers["Accept"] = accept
    if asker.grant:
        headers["X-Interaction-Token"] = stack.grant
    if asker.purpose:
        headers["X-Purpose"] = "fuzzing the gateway"
    return headers


def _leaks(request: Request, answer: str, asker: Asker) -> list[str]:
    sent = json.dumps(request.json(), ensure_ascii=False).lower()
    return [
        secret
        for customer, secrets in SECRETS.items()
        if customer not in asker.may_see
        for secret in secrets
        # A value the client sent may come back (a validation message quotes it).
        if secret in answer and secret.lower() not in sent
    ]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # Each example is an HTTP round trip, and a generated document may be large: neither is
    # a fault of the test.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(data=st.data())
async def test_no_request_is_a_server_error(fuzz_stack: FuzzStack, data: st.DataObject) -> None:
    asker = data.draw(st.sampled_from(ASKERS), label="asker")
    accept = data.draw(st.sampled_from(ACCEPTS), label="accept")
    request = data.draw(requests(fuzz_stack.keys), label="request")
    response = await fuzz_stack.http.post(
        fuzz_stack.graphql_url, json=request.json(), headers=_headers(fuzz_stack, asker, accept)
    )
    assert response.status_code < 500, response.text
    media_type = accept or "application/json"
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8", response.text
    body = response.json()
    assert "data" in body or "errors" in body, body
    if response.status_code != 200:
        # Only a request that never executed may be 4xx, and then it has no data at all.
        assert "data" not in body, body
        assert all("path" not in error for error in body["errors"]), body
    codes = [error.get("extensions", {}).get("code") for error in body.get("errors", [])]
    assert None not in codes, body
    assert "INTERNAL_SERVER_ERROR" not in codes, body
    assert _leaks(request, response.text, asker) == [], body
