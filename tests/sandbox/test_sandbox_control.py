"""Faults and stats: /_sandbox routes, every fault kind in each vendor's shape, counting."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pydantic
import pytest

from sandbox.control import SystemControl
from sandbox.records import Dataset
from sandbox.server import Sandbox, create_sandbox_app

ClientFor = Callable[..., httpx.AsyncClient]

#: One cheap, always-successful request per system.
PROBES = {
    "billing": "/v1/customers/cus_ada",
    "crm": "/crm/v3/objects/contacts/1001",
    "support": "/api/v2/users/show_many?ids=9001",
    "ivr": "/contacts/contact-ada-0001/attributes",
}
SYSTEMS = tuple(PROBES)

DEFAULT_FAULTS = {
    "latency_ms": 0.0,
    "jitter_ms": 0.0,
    "error_rate": 0.0,
    "error_status": 500,
    "rate_limit_retry_after": None,
    "hang": False,
    "malformed_json": False,
    "contract": False,
}


async def set_faults(client: httpx.AsyncClient, **faults: Any) -> None:
    response = await client.post("/_sandbox/faults", json=faults)
    assert response.status_code == 200, response.text


async def wait_for_in_flight(control: SystemControl, count: int) -> None:
    """Until ``count`` requests are inside the system (so a hang has really begun)."""
    for _ in range(1000):
        if control.in_flight >= count:
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"expected {count} requests in flight, saw {control.in_flight}")


# --- the faults resource ------------------------------------------------------------------


async def test_faults_start_empty(billing: httpx.AsyncClient) -> None:
    response = await billing.get("/_sandbox/faults")

    assert response.status_code == 200
    assert response.json() == DEFAULT_FAULTS


async def test_posting_faults_replaces_the_whole_set(billing: httpx.AsyncClient) -> None:
    await set_faults(billing, latency_ms=5, hang=False)
    await set_faults(billing, error_rate=0.25)

    assert (await billing.get("/_sandbox/faults")).json() == {**DEFAULT_FAULTS, "error_rate": 0.25}


async def test_deleting_faults_clears_them(billing: httpx.AsyncClient) -> None:
    await set_faults(billing, error_rate=1, error_status=503)

    response = await billing.delete("/_sandbox/faults")

    assert response.json() == DEFAULT_FAULTS
    assert (await billing.get(PROBES["billing"])).status_code == 200


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"not json", "JSON"),
        (b"[]", "object"),
        (b'{"error_rate": 2}', "error_rate"),
        (b'{"error_status": 418}', "error_status"),
        (b'{"hang": "yes"}', "hang"),
        (b'{"latency_ms": -1}', "latency_ms"),
        (b'{"rate_limit_retry_after": 1.5}', "rate_limit_retry_after"),
        (b'{"surprise": true}', "surprise"),
    ],
)
async def test_a_body_that_is_not_a_faults_object_is_refused(
    billing: httpx.AsyncClient, body: bytes, named: str
) -> None:
    response = await billing.post("/_sandbox/faults", content=body)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid faults"
    assert named in response.json()["message"]
    assert (await billing.get("/_sandbox/faults")).json() == DEFAULT_FAULTS


# --- each fault kind ------------------------------------------------------------------------


async def test_latency_delays_every_answer(billing: httpx.AsyncClient, sandbox: Sandbox) -> None:
    await set_faults(billing, latency_ms=30)

    response = await billing.get(PROBES["billing"])

    assert response.status_code == 200
    (entry,) = sandbox.controls["billing"].log
    assert entry["ended"] - entry["started"] >= 0.03


def test_jitter_stays_between_zero_and_its_bound(sandbox: Sandbox) -> None:
    draws = [sandbox.controls["crm"].jitter(20) for _ in range(200)]

    assert all(0 <= draw <= 20 for draw in draws)
    assert len(set(draws)) > 100


async def test_jitter_is_added_to_latency(billing: httpx.AsyncClient, sandbox: Sandbox) -> None:
    await set_faults(billing, latency_ms=10, jitter_ms=5)

    await billing.get(PROBES["billing"])

    (entry,) = sandbox.controls["billing"].log
    assert entry["ended"] - entry["started"] >= 0.01


def _billing_error(body: Any) -> str:
    return str(body["error"]["type"])


def _crm_error(body: Any) -> str:
    return str(body["category"])


def _support_error(body: Any) -> str:
    return str(body["error"])


def _ivr_error(body: Any) -> str:
    return str(body["__type"])


ERROR_KIND: dict[str, Callable[[Any], str]] = {
    "billing": _billing_error,
    "crm": _crm_error,
    "support": _support_error,
    "ivr": _ivr_error,
}
SERVER_ERRORS = {
    ("billing", 500): "api_error",
    ("billing", 503): "api_error",
    ("crm", 500): "INTERNAL_ERROR",
    ("crm", 503): "SERVICE_UNAVAILABLE",
    ("support", 500): "InternalServerError",
    ("support", 503): "ServiceUnavailable",
    ("ivr", 500): "InternalServiceException",
    ("ivr", 503): "ServiceUnavailableException",
}
RATE_LIMIT_ERRORS = {
    "billing": "rate_limit_error",
    "crm": "RATE_LIMITS",
    "support": "APIRateLimitExceeded",
    "ivr": "ThrottlingException",
}


@pytest.mark.parametrize(("system", "status"), list(SERVER_ERRORS))
async def test_error_rate_one_fails_every_request_in_the_vendor_shape(
    client_for: ClientFor, system: str, status: int
) -> None:
    async with client_for(system) as client:
        await set_faults(client, error_rate=1.0, error_status=status)
        responses = [await client.get(PROBES[system]) for _ in range(3)]

    assert [r.status_code for r in responses] == [status] * 3
    assert {ERROR_KIND[system](r.json()) for r in responses} == {SERVER_ERRORS[system, status]}


async def test_error_rate_half_fails_some_requests_and_not_others(
    support: httpx.AsyncClient,
) -> None:
    await set_faults(support, error_rate=0.5)

    statuses = [(await support.get(PROBES["support"])).status_code for _ in range(60)]

    assert set(statuses) == {200, 500}


@pytest.mark.parametrize("system", SYSTEMS)
async def test_rate_limit_answers_429_with_retry_after_in_the_vendor_shape(
    client_for: ClientFor, system: str
) -> None:
    async with client_for(system) as client:
        await set_faults(client, rate_limit_retry_after=7)
        response = await client.get(PROBES[system])

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert ERROR_KIND[system](response.json()) == RATE_LIMIT_ERRORS[system]


async def test_malformed_json_answers_200_with_a_body_that_is_not_json(
    ivr: httpx.AsyncClient,
) -> None:
    await set_faults(ivr, malformed_json=True)

    response = await ivr.get(PROBES["ivr"])

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)


@pytest.mark.parametrize("system", SYSTEMS)
async def test_contract_fault_answers_200_with_json_of_the_wrong_shape(
    client_for: ClientFor, system: str
) -> None:
    async with client_for(system) as client:
        await set_faults(client, contract=True)
        response = await client.get(PROBES[system])

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "unexpected"
    assert body["id"] is None


async def test_hang_holds_requests_until_faults_are_cleared(
    billing: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    await set_faults(billing, hang=True)
    hung = asyncio.create_task(billing.get(PROBES["billing"]))
    await wait_for_in_flight(sandbox.controls["billing"], 1)
    await asyncio.sleep(0.02)
    assert not hung.done()

    await billing.delete("/_sandbox/faults")
    response = await asyncio.wait_for(hung, timeout=5)

    assert response.status_code == 200
    assert response.json()["id"] == "cus_ada"


async def test_a_hung_request_keeps_its_body_for_when_it_is_released(
    crm: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    await set_faults(crm, hang=True)
    hung = asyncio.create_task(
        crm.post("/crm/v3/objects/contacts/batch/read", json={"inputs": [{"id": "1007"}]})
    )
    await wait_for_in_flight(sandbox.controls["crm"], 1)

    await set_faults(crm, latency_ms=1)
    response = await asyncio.wait_for(hung, timeout=5)

    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == ["1007"]


async def test_hanging_requests_end_when_the_sandbox_closes(
    support: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    await set_faults(support, hang=True)
    hung = asyncio.create_task(support.get(PROBES["support"]))
    await wait_for_in_flight(sandbox.controls["support"], 1)

    sandbox.close()
    response = await asyncio.wait_for(hung, timeout=5)

    assert response.status_code == 200


async def test_a_hung_request_abandoned_by_its_client_is_logged_499(
    ivr: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    await set_faults(ivr, hang=True)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(ivr.get(PROBES["ivr"]), timeout=0.05)

    (entry,) = sandbox.controls["ivr"].log
    assert entry["status"] == 499


async def test_faults_of_one_system_leave_the_others_alone(client_for: ClientFor) -> None:
    async with client_for("billing") as billing, client_for("crm") as crm:
        await set_faults(billing, error_rate=1.0)

        assert (await billing.get(PROBES["billing"])).status_code == 500
        assert (await crm.get(PROBES["crm"])).status_code == 200
        assert (await crm.get("/_sandbox/faults")).json() == DEFAULT_FAULTS


async def test_faults_apply_before_the_key_is_checked(client_for: ClientFor) -> None:
    async with client_for("billing", authenticated=False) as client:
        await set_faults(client, rate_limit_retry_after=1)
        response = await client.get(PROBES["billing"])

    assert response.status_code == 429


@pytest.mark.parametrize("path", ["/openapi.json", "/_sandbox/faults", "/_sandbox/stats"])
async def test_sandbox_routes_are_never_faulted_nor_keyed(client_for: ClientFor, path: str) -> None:
    async with client_for("crm", authenticated=False) as client:
        await set_faults(client, error_rate=1.0, rate_limit_retry_after=3, malformed_json=True)
        response = await client.get(path)

    assert response.status_code == 200
    assert isinstance(response.json(), dict)


# --- stats ------------------------------------------------------------------------------


async def test_stats_count_requests_by_method_and_route_template(
    billing: httpx.AsyncClient,
) -> None:
    for customer in ("cus_ada", "cus_grace", "cus_nobody"):
        await billing.get(f"/v1/customers/{customer}")
    await billing.get("/v1/customers", params={"limit": 1})

    stats = (await billing.get("/_sandbox/stats")).json()

    assert stats["requests"] == {"GET /v1/customers/{id}": 3, "GET /v1/customers": 1}


async def test_stats_log_route_status_times_and_request_id(
    support: httpx.AsyncClient,
) -> None:
    await support.get("/api/v2/users/123/tickets/requested", headers={"X-Request-Id": "req-7"})

    (entry,) = (await support.get("/_sandbox/stats")).json()["log"]

    assert entry["route"] == "GET /api/v2/users/{id}/tickets/requested"
    assert entry["status"] == 404
    assert entry["request_id"] == "req-7"
    assert entry["started"] <= entry["ended"]


async def test_refused_and_unknown_requests_are_counted_too(client_for: ClientFor) -> None:
    async with client_for("ivr", authenticated=False) as client:
        await client.get(PROBES["ivr"])
        await client.get("/no/such/route", headers={"x-api-key": "ivr-sandbox-key"})
        stats = (await client.get("/_sandbox/stats")).json()

    assert stats["requests"] == {
        "GET /contacts/{contact_id}/attributes": 1,
        "GET /no/such/route": 1,
    }
    assert [entry["status"] for entry in stats["log"]] == [401, 404]


async def test_sandbox_routes_are_not_counted(crm: httpx.AsyncClient) -> None:
    await crm.get("/openapi.json")
    await crm.get("/_sandbox/faults")

    stats = (await crm.get("/_sandbox/stats")).json()
    assert (stats["requests"], stats["log"]) == ({}, [])


async def test_deleting_stats_resets_counts_and_log(crm: httpx.AsyncClient) -> None:
    await crm.get(PROBES["crm"])

    response = await crm.delete("/_sandbox/stats")

    assert (response.json()["requests"], response.json()["log"]) == ({}, [])
    stats = (await crm.get("/_sandbox/stats")).json()
    assert (stats["requests"], stats["log"]) == ({}, [])


async def test_each_system_keeps_its_own_stats(client_for: ClientFor) -> None:
    async with client_for("billing") as billing, client_for("ivr") as ivr:
        await billing.get(PROBES["billing"])
        ivr_stats = (await ivr.get("/_sandbox/stats")).json()

    assert ivr_stats["requests"] == {}


async def test_concurrent_requests_overlap_in_the_log(
    billing: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    await set_faults(billing, latency_ms=40)

    await asyncio.gather(*(billing.get(PROBES["billing"]) for _ in range(3)))

    log = list(sandbox.controls["billing"].log)
    assert len(log) == 3
    assert max(entry["started"] for entry in log) < min(entry["ended"] for entry in log)


# --- faults from the factory ----------------------------------------------------------------


async def test_factory_faults_apply_to_the_chosen_systems_only(dataset: Dataset) -> None:
    app = create_sandbox_app(dataset=dataset, error_rate=1.0, fault_systems=["billing"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        billing = await client.get(
            f"/billing{PROBES['billing']}", headers={"Authorization": "Bearer sk_test_scv_sandbox"}
        )
        crm = await client.get(
            f"/crm{PROBES['crm']}", headers={"Authorization": "Bearer pat-sandbox-crm"}
        )

    assert billing.status_code == 500
    assert crm.status_code == 200


def test_factory_refuses_unknown_systems(dataset: Dataset) -> None:
    with pytest.raises(ValueError, match="payroll"):
        create_sandbox_app(dataset=dataset, fault_systems=["payroll"])


def test_factory_refuses_bad_fault_values(dataset: Dataset) -> None:
    with pytest.raises(pydantic.ValidationError):
        create_sandbox_app(dataset=dataset, error_status=418)
