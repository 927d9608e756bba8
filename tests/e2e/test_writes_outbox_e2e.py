"""Nothing lost: notes written while the CRM answers 503 wait in the outbox, survive a
gateway restart, and are each applied exactly once when the CRM is back; a write the CRM
never takes is FAILED with its reason after the configured tries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from app.main import create_app
from app.settings import Settings
from app.writes.settings import WritesSettings
from tests.e2e.harness import Stack, serve, stop
from tests.e2e.writes_kit import (
    ADD_NOTE,
    WRITE_STATUS,
    claimed_call,
    contact_of,
    graphql,
    new_key,
    notes_of,
    ok,
)

#: Tries every few hundredths of a second, so that the test waits little for the outbox.
FAST = WritesSettings(backoff_base_seconds=0.05, backoff_max_seconds=0.2, poll_seconds=0.05)
#: Generous: how often a test looks at the outbox before it fails (not what it measures).
MAX_POLLS = 1200


def _with_writes(stack: Stack, writes: WritesSettings) -> Settings:
    return stack.settings.model_copy(update={"writes": writes})


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[str]:
    """A gateway of its own over the shared store and sandbox: its URL while it runs."""
    server, task, port = await serve(create_app(settings))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop(server, task)


async def _status(stack: Stack, url: str, agent: str, write_id: str) -> dict[str, Any]:
    answer = ok(await graphql(stack, WRITE_STATUS, agent, url=url, id=write_id))
    status: dict[str, Any] = answer["writeStatus"]
    return status


async def _until(check: Callable[[], Any]) -> None:
    for _ in range(MAX_POLLS):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the outbox never got there")


async def test_notes_sent_while_the_crm_is_down_are_applied_once_after_a_restart(
    clean_sandbox: Stack,
) -> None:
    stack = clean_sandbox
    call = await claimed_call(stack, "ada", "MEDIUM")
    contact_id = (await contact_of(stack, call))["meta"]["sourceRecordId"]
    before = await notes_of(stack, contact_id)
    bodies = [f"Outage note {n}" for n in range(5)]
    settings = _with_writes(stack, FAST)
    await stack.set_faults("crm", error_rate=1.0, error_status=503)

    async with gateway(settings) as first:
        pending = [
            ok(
                await graphql(
                    stack,
                    ADD_NOTE,
                    call.agent,
                    call.token,
                    url=first,
                    id=call.customer_id,
                    body=body,
                    key=new_key(),
                )
            )["addCustomerNote"]
            for body in bodies
        ]
        assert {write["status"] for write in pending} == {"PENDING"}
        # The outbox keeps trying (and failing) while the CRM is down.
        await _until(lambda: _attempted(stack, first, call.agent, pending[0]["id"], at_least=3))
    # The gateway is gone; the CRM comes back; a new gateway over the same store delivers.
    await stack.set_faults("crm")
    async with gateway(settings) as second:

        async def all_applied() -> bool:
            statuses = [await _status(stack, second, call.agent, w["id"]) for w in pending]
            return all(status["status"] == "APPLIED" for status in statuses)

        await _until(all_applied)

    after = await notes_of(stack, contact_id)
    assert sorted(after) == sorted([*before, *bodies])


async def _attempted(stack: Stack, url: str, agent: str, write_id: str, at_least: int) -> bool:
    status = await _status(stack, url, agent, write_id)
    assert status["status"] == "PENDING", status
    return bool(status["attempts"] >= at_least)


async def test_a_note_the_crm_never_takes_fails_with_its_reason_after_the_tries(
    clean_sandbox: Stack,
) -> None:
    stack = clean_sandbox
    call = await claimed_call(stack, "ada", "MEDIUM")
    contact_id = (await contact_of(stack, call))["meta"]["sourceRecordId"]
    before = await notes_of(stack, contact_id)
    settings = _with_writes(stack, FAST.model_copy(update={"max_attempts": 3}))
    await stack.set_faults("crm", error_rate=1.0, error_status=503)

    async with gateway(settings) as url:
        write = ok(
            await graphql(
                stack,
                ADD_NOTE,
                call.agent,
                call.token,
                url=url,
                id=call.customer_id,
                body="Never delivered",
                key=new_key(),
            )
        )["addCustomerNote"]

        async def failed() -> bool:
            return (await _status(stack, url, call.agent, write["id"]))["status"] == "FAILED"

        await _until(failed)
        final = await _status(stack, url, call.agent, write["id"])
    await stack.set_faults("crm")

    assert final["reason"] == "UPSTREAM_UNAVAILABLE"
    # At least the configured tries: the shared gateway's own worker may have tried too.
    assert final["attempts"] >= 3
    assert await notes_of(stack, contact_id) == before
