"""GraphQL over HTTP as the spec has it, over real HTTP: the media type a client accepts,
its status codes, and every refusal in GraphQL's error shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.harness import Stack

pytestmark = pytest.mark.e2e

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
ADA = "ada.lovelace@example.com"
VIEW = "query($e: String!) { customerByEmail(email: $e) { displayName } }"


async def post(
    stack: Stack, body: Any, accept: str | None, *, content: bytes | None = None, **headers: str
) -> httpx.Response:
    sent = {"Authorization": f"Bearer {stack.token}", **headers}
    if accept is not None:
        sent["Accept"] = accept
    if content is not None:
        return await stack.http.post(f"{stack.gateway_url}/graphql", content=content, headers=sent)
    return await stack.http.post(f"{stack.gateway_url}/graphql", json=body, headers=sent)


def code_of(response: httpx.Response) -> str:
    [error] = response.json()["errors"]
    code: str = error["extensions"]["code"]
    return code


@pytest.mark.parametrize(
    ("accept", "served"),
    [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE}", JSON),
        (f"{JSON};q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (JSON, JSON),
        ("*/*", JSON),
        (None, JSON),
    ],
)
async def test_the_answer_is_in_the_media_type_the_client_prefers(
    stack: Stack, accept: str | None, served: str
) -> None:
    response = await post(stack, {"query": VIEW, "variables": {"e": ADA}}, accept)

    assert response.status_code == 200
    assert response.headers["content-type"] == f"{served}; charset=utf-8"
    assert response.json()["data"]["customerByEmail"]["displayName"] == "Ada L."


REQUEST_ERRORS = {
    "parse": ({"query": "{ customerByEmail(email: "}, "GRAPHQL_PARSE_FAILED"),
    "validation": ({"query": "{ customerByEmail { id } }"}, "GRAPHQL_VALIDATION_FAILED"),
    "variable coercion": ({"query": VIEW, "variables": {"e": 42}}, "BAD_USER_INPUT"),
    "several operations, no operationName": (
        {"query": "query A { dataQuality { generatedAt } } query B { waitingCalls { state } }"},
        "OPERATION_RESOLUTION_FAILURE",
    ),
    "an unknown operationName": (
        {"query": "query A { waitingCalls { state } }", "operationName": "B"},
        "OPERATION_RESOLUTION_FAILURE",
    ),
}


@pytest.mark.parametrize("case", REQUEST_ERRORS)
async def test_a_request_error_is_4xx_without_data_under_graphql_response_json(
    stack: Stack, case: str
) -> None:
    body, code = REQUEST_ERRORS[case]
    response = await post(stack, body, GRAPHQL_RESPONSE)

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == f"{GRAPHQL_RESPONSE}; charset=utf-8"
    assert "data" not in response.json()
    assert code_of(response) == code


@pytest.mark.parametrize("case", REQUEST_ERRORS)
async def test_a_request_error_stays_200_under_application_json(stack: Stack, case: str) -> None:
    body, code = REQUEST_ERRORS[case]
    response = await post(stack, body, JSON)

    assert response.status_code == 200, response.text
    assert response.json()["data"] is None
    assert code_of(response) == code


async def test_the_named_operation_of_several_is_the_one_that_runs(stack: Stack) -> None:
    document = (
        "query A { waitingCalls(first: 1) { state } } query B { dataQuality { generatedAt } }"
    )
    response = await post(stack, {"query": document, "operationName": "A"}, GRAPHQL_RESPONSE)

    assert response.status_code == 200
    assert response.json() == {"data": {"waitingCalls": []}}


async def test_a_field_error_once_execution_started_is_200_with_data(stack: Stack) -> None:
    # An agent may not read the data-quality report: a field's error, not the request's.
    document = "{ waitingCalls(first: 1) { state } dataQuality { generatedAt } }"
    response = await post(stack, {"query": document}, GRAPHQL_RESPONSE)

    assert response.status_code == 200
    body = response.json()
    assert "data" in body
    assert code_of(response) == "FORBIDDEN"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "BAD_REQUEST"),
        (b"query=%7B__typename%7D", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"),
        (b'{"query": 42}', "application/json", 400, "BAD_REQUEST"),
    ],
    ids=["not-json", "unsupported-content-type", "query-not-a-string"],
)
@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_a_refused_http_request_is_json_in_the_graphql_shape(
    stack: Stack, content: bytes, content_type: str, status: int, code: str, accept: str
) -> None:
    response = await post(stack, None, accept, content=content, **{"Content-Type": content_type})

    assert response.status_code == status
    assert response.headers["content-type"] == f"{accept}; charset=utf-8"
    assert code_of(response) == code
    assert response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/no-such-route", 404, "NOT_FOUND"),
        ("PUT", "/graphql", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/webhooks/crm", 405, "METHOD_NOT_ALLOWED"),
    ],
)
async def test_a_route_or_method_the_gateway_lacks_is_json_in_the_graphql_shape(
    stack: Stack, method: str, path: str, status: int, code: str
) -> None:
    response = await stack.http.request(method, f"{stack.gateway_url}{path}")

    assert response.status_code == status
    assert response.headers["content-type"] == f"{JSON}; charset=utf-8"
    assert code_of(response) == code
