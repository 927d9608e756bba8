"""Exports end to end: startExport over GraphQL, the job in the gateway, GET /exports/{id}.

Each test runs gateways of its own on a database of its own (synced from the session's
sandbox, read model filled), so that no other gateway's export workers take its jobs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from app.exports.settings import ExportSettings
from app.main import create_app
from app.security.demo_keys import mint_token
from app.settings import Settings
from resolvers.extensions.masking import mask_name
from tests.conftest import scratch_database
from tests.e2e.harness import Stack, serve, stop, sync_store

START = """mutation($fields: [ExportField!]!, $format: ExportFormat!) {
  startExport(fields: $fields, format: $format) {
    id state format rowsDone totalRows createdAt finishedAt error downloadPath
  }
}"""
STATUS = """query($id: ID!) { exportStatus(id: $id) { id state rowsDone totalRows error } }"""

FIELDS = ["CUSTOMER_ID", "DISPLAY_NAME", "LINKED_SOURCES"]
#: Small batches, so that a job of a few hundred customers has many steps to stop between.
EXPORTS = ExportSettings(batch_size=10, poll_seconds=0.05, heartbeat_seconds=1.0)
#: Bounded polls for a job's progress (a ceiling on waiting, not a measure of speed).
MAX_POLLS = 400


@pytest.fixture
async def export_settings(stack: Stack, database_url: str) -> AsyncIterator[Settings]:
    """Settings of a database of this test's own, synced, with its read model filled."""
    async with scratch_database(database_url, "e2e_exports") as url:
        settings = stack.settings.model_copy(
            update={"database_url": SecretStr(url), "exports": EXPORTS}
        )
        await sync_store(settings, with_facts=True)
        yield settings


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[str]:
    """A gateway of its own on ``settings``' database, for the body; its URL."""
    server, task, port = await serve(create_app(settings))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop(server, task)


def token(stack: Stack, role: str, subject: str) -> str:
    return mint_token(stack.keys, stack.settings.auth, subject=subject, role=role)


async def graphql(
    http: httpx.AsyncClient, url: str, bearer: str, document: str, **variables: Any
) -> dict[str, Any]:
    response = await http.post(
        f"{url}/graphql",
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


async def start_export(
    http: httpx.AsyncClient, url: str, bearer: str, export_format: str = "NDJSON"
) -> dict[str, Any]:
    data = await graphql(http, url, bearer, START, fields=FIELDS, format=export_format)
    job: dict[str, Any] = data["startExport"]
    return job


async def wait_for(
    http: httpx.AsyncClient, url: str, bearer: str, job_id: str, *, done: Any
) -> dict[str, Any]:
    """The job's status once ``done(status)`` holds (polled, at most ``MAX_POLLS`` times)."""
    for _ in range(MAX_POLLS):
        status: dict[str, Any] = (await graphql(http, url, bearer, STATUS, id=job_id))[
            "exportStatus"
        ]
        if done(status):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"export never reached the awaited state: {status}")


async def customer_names(settings: Settings) -> dict[str, str]:
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        rows = await conn.fetch("select id, display_name from customers")
    finally:
        await conn.close()
    return {row["id"]: row["display_name"] for row in rows}


async def download(http: httpx.AsyncClient, url: str, bearer: str, job_id: str) -> httpx.Response:
    return await http.get(f"{url}/exports/{job_id}", headers={"Authorization": f"Bearer {bearer}"})


async def test_an_analysts_export_is_masked_complete_and_its_download_audited(
    stack: Stack, export_settings: Settings
) -> None:
    analyst = token(stack, "analyst", "analyst-1")
    names = await customer_names(export_settings)
    await stack.reset_sandbox()
    async with gateway(export_settings) as url:
        job = await start_export(stack.http, url, analyst)
        assert job["state"] in {"QUEUED", "RUNNING"}
        assert job["downloadPath"] == f"/exports/{job['id']}"
        done = await wait_for(
            stack.http, url, analyst, job["id"], done=lambda s: s["state"] == "SUCCEEDED"
        )
        response = await download(stack.http, url, analyst, job["id"])
        exposition = (await stack.http.get(f"{url}/metrics")).text.splitlines()

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert 'scv_export_jobs{state="SUCCEEDED"} 1.0' in exposition
    assert f"scv_export_rows_total {float(len(names))}" in exposition
    assert 'scv_export_downloads_total{status="served"} 1.0' in exposition
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert done["rowsDone"] == done["totalRows"] == len(lines) == len(names)
    assert sorted(line["customerId"] for line in lines) == sorted(names)
    for line in lines:
        assert line["displayName"] == mask_name(names[line["customerId"]])
    assert "Ada L." in {line["displayName"] for line in lines}
    assert "Lovelace" not in response.text
    # The read model answers exports: not one call to any system.
    for system in ("billing", "crm", "support", "ivr"):
        assert (await stack.stats(system))["requests"] == {}
    assert await read_entries(export_settings, job["id"]) == [
        ("analyst-1", "analyst", ["Customer.displayName"], True, "masked")
    ]


async def read_entries(settings: Settings, job_id: str) -> list[tuple[Any, ...]]:
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        rows = await conn.fetch(
            "select subject, role, fields, masked, outcome from audit_trail "
            "where kind = 'READ' and detail like $1",
            f"export {job_id}:%",
        )
    finally:
        await conn.close()
    return [tuple(row.values()) for row in rows]


async def test_only_the_owner_or_a_supervisor_reads_an_export(
    stack: Stack, export_settings: Settings
) -> None:
    owner = token(stack, "analyst", "analyst-1")
    async with gateway(export_settings) as url:
        job = await start_export(stack.http, url, owner, "CSV")
        await wait_for(stack.http, url, owner, job["id"], done=lambda s: s["state"] == "SUCCEEDED")
        other = token(stack, "analyst", "analyst-2")
        other_status = await graphql(stack.http, url, other, STATUS, id=job["id"])
        by_other = await download(stack.http, url, other, job["id"])
        by_agent = await download(stack.http, url, token(stack, "agent", "agent-1"), job["id"])
        by_supervisor = await download(
            stack.http, url, token(stack, "supervisor", "boss"), job["id"]
        )
        unknown = await download(stack.http, url, owner, "00000000-0000-4000-8000-000000000000")
        anonymous = await stack.http.get(f"{url}/exports/{job['id']}")

    assert other_status == {"exportStatus": None}
    assert (by_other.status_code, by_other.json()["errors"][0]["extensions"]["code"]) == (
        404,
        "NOT_FOUND",
    )
    assert by_agent.status_code == 403
    assert by_supervisor.status_code == 200
    assert by_supervisor.headers["content-type"] == "text/csv; charset=utf-8"
    assert by_supervisor.text.startswith("customerId,displayName,linkedSources\r\n")
    assert unknown.status_code == 404
    assert anonymous.status_code == 401


async def test_an_agent_may_not_start_an_export(stack: Stack, export_settings: Settings) -> None:
    agent = token(stack, "agent", "agent-1")
    async with gateway(export_settings) as url:
        response = await stack.http.post(
            f"{url}/graphql",
            json={"query": START, "variables": {"fields": FIELDS, "format": "NDJSON"}},
            headers={"Authorization": f"Bearer {agent}"},
        )

    body = response.json()
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert await job_count(export_settings) == 0


async def job_count(settings: Settings) -> int:
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        count: int = await conn.fetchval("select count(*) from export_jobs")
    finally:
        await conn.close()
    return count


async def test_an_unfinished_export_is_not_served(stack: Stack, export_settings: Settings) -> None:
    analyst = token(stack, "analyst", "analyst-1")
    # No worker in this gateway: the job stays queued.
    idle = export_settings.model_copy(
        update={"exports": EXPORTS.model_copy(update={"enabled": False})}
    )
    async with gateway(idle) as url:
        job = await start_export(stack.http, url, analyst)
        response = await download(stack.http, url, analyst, job["id"])

    assert response.status_code == 409
    assert response.json()["errors"][0]["extensions"]["code"] == "EXPORT_NOT_FINISHED"
    assert await read_entries(export_settings, job["id"]) == []


async def test_an_export_interrupted_by_a_restart_completes_with_every_row_exactly_once(
    stack: Stack, export_settings: Settings
) -> None:
    analyst = token(stack, "analyst", "analyst-1")
    names = await customer_names(export_settings)
    assert export_settings.database_url is not None
    locks = await asyncpg.connect(export_settings.database_url.get_secret_value())
    try:
        async with gateway(export_settings) as url:
            # Hold the job between two batches, deterministically: first at its first chunk
            # (the chunks table locked), then, once that chunk is in, before its next read
            # (the read model locked).
            chunks_locked = locks.transaction()
            await chunks_locked.start()
            await locks.execute("lock table export_chunks in share mode")
            job = await start_export(stack.http, url, analyst)
            await waiting_on_lock(locks, "export_chunks")
            facts_conn = await asyncpg.connect(export_settings.database_url.get_secret_value())
            facts_locked = facts_conn.transaction()
            await facts_locked.start()
            await facts_conn.execute("lock table customer_facts in access exclusive mode")
            await chunks_locked.commit()
            midway = await wait_for(
                stack.http, url, analyst, job["id"], done=lambda s: s["rowsDone"] > 0
            )
            await waiting_on_lock(locks, "customer_facts")
        # The gateway has stopped: its worker handed the job back, mid-way.
        after_stop = await job_row(locks, job["id"])
        await facts_locked.rollback()
        await facts_conn.close()
        async with gateway(export_settings) as url:
            done = await wait_for(
                stack.http, url, analyst, job["id"], done=lambda s: s["state"] == "SUCCEEDED"
            )
            response = await download(stack.http, url, analyst, job["id"])
    finally:
        await locks.close()

    assert midway["state"] == "RUNNING"
    assert after_stop == ("QUEUED", EXPORTS.batch_size)
    assert done["rowsDone"] == done["totalRows"] == len(names)
    ids = [json.loads(line)["customerId"] for line in response.text.splitlines()]
    assert len(ids) == len(set(ids)) == len(names)
    assert set(ids) == set(names)


async def waiting_on_lock(conn: asyncpg.Connection, table: str) -> None:
    """Return once some session waits for a lock on ``table`` (polled, boundedly)."""
    for _ in range(MAX_POLLS):
        waiting = await conn.fetchval(
            "select count(*) from pg_locks where not granted and relation = $1::regclass", table
        )
        if waiting:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"nobody ever waited for {table}")


async def job_row(conn: asyncpg.Connection, job_id: str) -> tuple[str, int]:
    row = await conn.fetchrow("select state, rows_done from export_jobs where id = $1", job_id)
    assert row is not None
    return row["state"], row["rows_done"]
