"""Tenant isolation, judged: every query, mutation and subscription of the schema, sent as
each role of globex aimed at acme's customers, calls, exports and writes, over HTTP and
WebSocket to a real gateway on a real PostgreSQL.

For each root field (``tests/tenancy/operations.py`` reads them from schema.graphql, so a
new field is probed without anyone listing it):

- nothing of acme comes back: no acme customer id, email, phone, surname, call, export or
  write id in the answer (the values the request itself sent aside);
- the answer is exactly the answer to the same operation aimed at keys nobody has;
- nothing of acme changes: acme's rows in every tenant-scoped table are the same after;
- the attempts are audited: each lookup that named an acme customer, call, export or write,
  and each step or write aimed at one, is on acme's audit trail (``denied``), as globex's
  principal's, and nothing else of globex's is.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from app.security.demo_keys import mint_token
from tests.e2e.live_client import live_client
from tests.tenancy.conftest import (
    ACME,
    GLOBEX,
    ROLES,
    SURNAMES,
    TenantsStack,
    audit_rows,
    tenant_rows,
)
from tests.tenancy.operations import MISSING, Operation, operations, secrets_of

pytestmark = pytest.mark.e2e

#: The roles that may subscribe to something (the others are refused alike).
SUBSCRIBERS = ("agent", "supervisor", "analyst")
#: How many of acme's customers each field is aimed at in turn.
AIMS = 2


def _headers(role: str) -> dict[str, str]:
    # A supervisor stating a purpose sees personal fields unmasked: the widest answer.
    return {"X-Purpose": "tenant isolation probe"} if role == "supervisor" else {}


def _normalised(text: str, variables: dict[str, Any]) -> str:
    """``text`` with the values the request sent replaced by their variables' names."""
    for name, value in sorted(variables.items(), key=lambda item: -len(str(item[1]))):
        if isinstance(value, str) and value:
            text = re.sub(re.escape(value), f"<{name}>", text, flags=re.IGNORECASE)
    return text


#: Values that differ between any two requests (times, request ids, trail positions).
_VOLATILE = re.compile(r"^(at|cursor|endCursor|requestId|[a-z]+At)$")


def _shape(text: str, variables: dict[str, Any]) -> Any:
    """An answer as compared with another: the values sent, and volatile ones, left out."""
    try:
        answer = orjson.loads(_normalised(text, variables))
    except orjson.JSONDecodeError:
        return _normalised(text, variables)
    return _without_volatile(answer)


def _without_volatile(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: "<volatile>" if _VOLATILE.match(key) else _without_volatile(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_without_volatile(item) for item in node]
    return node


def _leaks(text: str, op: Operation, secrets: list[str]) -> list[str]:
    """The acme values in an answer that the request did not send itself."""
    answer = _normalised(text, op.variables).lower()
    return [secret for secret in secrets if secret.lower() in answer]


async def test_nothing_of_another_tenant_comes_back_or_changes_over_http(
    tenants_stack: TenantsStack,
) -> None:
    stack = tenants_stack
    secrets = secrets_of(stack.acme, SURNAMES)
    rows_before = await tenant_rows(stack.database_url, ACME)
    trail_before = {row["id"] for row in await audit_rows(stack.database_url, ACME)}
    leaks: list[str] = []
    unlike_missing: list[str] = []
    probed: set[str] = set()
    for nth in range(AIMS):
        aimed_ops = operations(stack.acme, nth)
        missing_ops = operations(MISSING, nth)
        for role in ROLES:
            token = stack.token(role, GLOBEX)
            for aimed, missing in zip(aimed_ops, missing_ops, strict=True):
                if aimed.root == "Subscription":
                    continue
                probed.add(aimed.coordinate)
                answer = await stack.post(aimed.document, aimed.variables, token, **_headers(role))
                leaks.extend(
                    f"{role} {aimed.coordinate}: {secret}"
                    for secret in _leaks(answer.text, aimed, secrets)
                )
                if not aimed.sent:
                    continue
                control = await stack.post(
                    missing.document, missing.variables, token, **_headers(role)
                )
                if (answer.status_code, _shape(answer.text, aimed.variables)) != (
                    control.status_code,
                    _shape(control.text, missing.variables),
                ):
                    unlike_missing.append(
                        f"{role} {aimed.coordinate}: {answer.text} / {control.text}"
                    )

    assert leaks == []
    assert unlike_missing == []
    # Every Query and Mutation field was probed (the schema's, not a list of ours).
    assert {op.coordinate for op in operations(MISSING) if op.root != "Subscription"} == probed
    assert await tenant_rows(stack.database_url, ACME) == rows_before
    new_entries = [
        row for row in await audit_rows(stack.database_url, ACME) if row["id"] not in trail_before
    ]
    # Every new entry on acme's trail is a refused attempt of globex's, and each kind of
    # lookup that named an acme customer left one.
    assert new_entries
    assert {row["outcome"] for row in new_entries} == {"denied"}
    assert {row["subject"].rsplit("-", 1)[-1] for row in new_entries} == {GLOBEX}
    # An export is no one customer's: its entries name none.
    assert set(stack.acme.customer_ids) >= {
        row["customer_id"] for row in new_entries if row["customer_id"] is not None
    }
    for kind in ("id", "email", "phone", "record", "interaction", "export", "write"):
        assert any(f"by {kind} from tenant globex" in row["detail"] for row in new_entries), kind
    # Each probe of acme's call by a step, and each write naming an acme customer, is
    # audited as the step it was (the claim, transfer, end, knowledge check, write).
    steps = {row["kind"] for row in new_entries}
    assert {"READ", "CLAIM", "TRANSFER", "END", "VERIFY", "WRITE"} <= steps, steps


IVR_CALL = {"customer": "grace"}
TRANSFER = """mutation($c: ID!) {
  transferInteraction(contactId: $c, toAgent: "agent-acme-2") { state }
}"""


async def test_nothing_of_another_tenant_comes_back_over_websocket(
    tenants_stack: TenantsStack,
) -> None:
    """Each subscription, aimed at acme's customer or call (and at nobody's), as globex's
    principals; an acme subscriber beside them is the control: once acme's call steps and a
    new acme call reached it, globex's subscriptions must have heard nothing."""
    from app.cli.ivr_call import play_ivr_call

    stack = tenants_stack
    secrets = secrets_of(stack.acme, SURNAMES)
    aimed_ops = [op for op in operations(stack.acme) if op.root == "Subscription"]
    missing_ops = [op for op in operations(MISSING) if op.root == "Subscription"]
    assert aimed_ops
    acme_agent = stack.token("agent", ACME, "agent-acme")
    async with live_client(stack.gateway_url, acme_agent) as control:
        control_ops = {
            op.coordinate: await control.subscribe(op.document, **op.variables)
            for op in aimed_ops
            if op.field_name != "customerUpdated"
        }
        heard: dict[str, list[dict[str, Any]]] = {}
        unlike_missing: list[str] = []
        clients = []
        for role in SUBSCRIBERS:
            client_cm = live_client(stack.gateway_url, stack.token(role, GLOBEX))
            client = await client_cm.__aenter__()
            clients.append((client_cm, client))
            for aimed, missing in zip(aimed_ops, missing_ops, strict=True):
                first = await client.subscribe(aimed.document, **aimed.variables)
                heard[f"{role} {aimed.coordinate}"] = []
                if aimed.field_name == "customerUpdated":
                    # Refused at once, as a customer nobody has is.
                    other = await client.subscribe(missing.document, **missing.variables)
                    got, expected = await client.next(first), await client.next(other)
                    # The operations' own ids aside: the same message type and payload.
                    got.pop("id", None)
                    expected.pop("id", None)
                    if _shape(orjson.dumps(got).decode(), aimed.variables) != _shape(
                        orjson.dumps(expected).decode(), missing.variables
                    ):
                        unlike_missing.append(f"{role} {aimed.coordinate}: {got} / {expected}")
                else:
                    heard[f"{role} {aimed.coordinate}"] = [{"operation": first}]
        try:
            # acme's call steps (a transfer) and a new acme call comes in.
            (contact_id,) = stack.acme.contact_ids
            await stack.post(
                TRANSFER,
                {"c": contact_id},
                acme_agent,
                **{"X-Interaction-Token": stack.acme_grant},
            )
            await play_ivr_call(
                stack.http,
                ivr_url=f"{stack.sandbox_url}/ivr",
                gateway_url=stack.gateway_url,
                ivr_token=stack.token("ivr", ACME),
                call=IVR_CALL,
            )
            for operation in control_ops.values():
                message = await control.next(operation)
                assert message["type"] == "next", message
            # Every globex connection has read what was sent to it by the time it answers.
            for _, client in clients:
                await client.round_trip()
            leaks: list[str] = []
            for (_, client), role in zip(clients, SUBSCRIBERS, strict=True):
                for key, entry in heard.items():
                    if not key.startswith(f"{role} ") or not entry:
                        continue
                    messages = client.pending(entry[0]["operation"])
                    # A refusal (the role's) is no leak; an event of acme's is.
                    leaks.extend(
                        f"{key}: {message}"
                        for message in messages
                        if message["type"] == "next" and message["payload"].get("data") is not None
                    )
                    for message in messages:
                        text = orjson.dumps(message).decode().lower()
                        leaks.extend(f"{key}: {s}" for s in secrets if s.lower() in text)
        finally:
            for client_cm, _ in clients:
                await client_cm.__aexit__(None, None, None)
    assert unlike_missing == []
    assert leaks == []


async def test_requests_are_counted_by_the_tenant_they_act_for(
    tenants_stack: TenantsStack,
) -> None:
    stack = tenants_stack
    query = "{ __typename }"
    await stack.post(query, {}, stack.token("agent", GLOBEX))
    both = mint_token(
        stack.keys,
        stack.settings.auth,
        subject="agent-both",
        role="agent",
        tenants=["acme", "globex"],
    )
    refused = await stack.post(query, {}, both)
    assert refused.status_code == 400
    metrics = (await stack.http.get(f"{stack.gateway_url}/metrics")).text.splitlines()

    def counted(tenant: str, outcome: str) -> bool:
        prefix = f'scv_tenant_graphql_requests_total{{outcome="{outcome}",tenant="{tenant}"}}'
        return any(line.startswith(prefix) for line in metrics)

    assert counted("globex", "ok")
    assert counted("none", "failed") or counted("none", "errors")


async def test_the_ivr_of_another_tenant_cannot_hand_over_a_call_of_ours(
    tenants_stack: TenantsStack,
) -> None:
    """The handoff endpoint (outside GraphQL) files a call in its IVR's tenant: globex's IVR
    handing over a call of acme's caller finds no such customer, and acme has no new call."""
    from app.cli.ivr_call import IvrCallError, play_ivr_call

    stack = tenants_stack
    before = await tenant_rows(stack.database_url, ACME)
    with pytest.raises(IvrCallError):
        await play_ivr_call(
            stack.http,
            ivr_url=f"{stack.sandbox_url}/ivr",
            gateway_url=stack.gateway_url,
            ivr_token=stack.token("ivr", GLOBEX),
            call={"customer": "barbara"},
        )
    after = await tenant_rows(stack.database_url, ACME)
    assert (after["interactions"], after["interaction_events"]) == (
        before["interactions"],
        before["interaction_events"],
    )
