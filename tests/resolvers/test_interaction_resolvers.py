"""The interaction fields of the graph: who may call which, and what the service's answers
and refusals look like to the client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry

from app.http.errors import PresentErrors
from kernel.access import Principal, VerificationLevel
from kernel.identity import CustomerId
from kernel.interactions import (
    Actor,
    GrantView,
    InteractionRefused,
    InteractionState,
    InteractionView,
    KnowledgeAnswers,
)
from resolvers.context import Sources, new_context
from resolvers.schema import build_schema
from tests.fake_systems import named_customers
from tests.resolvers.memory_store import named_store

VIEW = InteractionView(
    interaction_id="i-1",
    contact_id="c-1",
    customer_id=CustomerId("ada"),
    state=InteractionState.ACTIVE,
    agent="agent-1",
    level=VerificationLevel.MEDIUM,
    method="PIN",
    result="AUTHENTICATED",
    verified_at=datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
    verified_by="IVR",
)


class RecordingService:
    """An ``InteractionService`` that answers ``VIEW`` and remembers what it was asked."""

    def __init__(self, refusal: InteractionRefused | None = None) -> None:
        self.calls: list[tuple[str, str, tuple[Any, ...]]] = []
        self.refusal = refusal

    def _answer(self, name: str, actor: Actor, *args: Any) -> InteractionView:
        self.calls.append((name, actor.principal.subject, args))
        if self.refusal is not None:
            raise self.refusal
        return VIEW

    async def submit_handoff(self, actor: Actor, handoff: str) -> InteractionView:
        return self._answer("submit_handoff", actor, handoff)

    async def claim(self, actor: Actor, contact_id: str) -> GrantView:
        return GrantView(interaction=self._answer("claim", actor, contact_id), token="tok")

    async def transfer(self, actor: Actor, contact_id: str, to_agent: str) -> InteractionView:
        return self._answer("transfer", actor, contact_id, to_agent)

    async def end(self, actor: Actor, contact_id: str) -> InteractionView:
        return self._answer("end", actor, contact_id)

    async def verify_caller(
        self, actor: Actor, contact_id: str, answers: KnowledgeAnswers
    ) -> InteractionView:
        return self._answer("verify_caller", actor, contact_id, answers)

    async def get(self, actor: Actor, contact_id: str) -> InteractionView | None:
        return self._answer("get", actor, contact_id)

    async def waiting(self, actor: Actor, first: int) -> list[InteractionView]:
        return [self._answer("waiting", actor, first)]


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema(extensions=[PresentErrors])


async def run(
    schema: strawberry.Schema,
    service: RecordingService,
    role: str,
    query: str,
    **variables: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    systems = named_customers()
    sources = Sources.from_adapters(systems.by_source)
    context = new_context(
        Principal(subject=f"{role}-1", role=role),
        named_store(),
        sources,
        default_region="US",
        interactions=service,
    )
    result = await schema.execute(query, variable_values=variables, context_value=context)
    errors: list[dict[str, Any]] = [dict(e.formatted) for e in result.errors or []]
    return result.data or {}, errors


CLAIM = """mutation { claimInteraction(contactId: "c-1") {
  token interaction { contactId agent state verification { level method result by } }
} }"""


async def test_agent_claims_and_gets_the_grant(schema: strawberry.Schema) -> None:
    service = RecordingService()

    data, errors = await run(schema, service, "agent", CLAIM)

    assert errors == []
    grant = data["claimInteraction"]
    assert grant["token"] == "tok"
    assert grant["interaction"]["verification"] == {
        "level": "MEDIUM",
        "method": "PIN",
        "result": "AUTHENTICATED",
        "by": "IVR",
    }
    assert service.calls == [("claim", "agent-1", ("c-1",))]


@pytest.mark.parametrize("role", ["ivr", "analyst"])
async def test_only_desk_roles_may_claim(schema: strawberry.Schema, role: str) -> None:
    service = RecordingService()

    _, errors = await run(schema, service, role, CLAIM)

    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert service.calls == []


@pytest.mark.parametrize("role", ["agent", "supervisor", "analyst"])
async def test_only_the_ivr_may_submit_a_handoff(schema: strawberry.Schema, role: str) -> None:
    service = RecordingService()

    _, errors = await run(
        schema, service, role, 'mutation { submitHandoff(handoff: "x") { contactId } }'
    )

    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert service.calls == []


async def test_ivr_submits_a_handoff(schema: strawberry.Schema) -> None:
    service = RecordingService()

    data, errors = await run(
        schema, service, "ivr", 'mutation { submitHandoff(handoff: "jws") { contactId } }'
    )

    assert (data, errors) == ({"submitHandoff": {"contactId": "c-1"}}, [])
    assert service.calls == [("submit_handoff", "ivr-1", ("jws",))]


async def test_refusal_reaches_the_client_with_its_code(schema: strawberry.Schema) -> None:
    service = RecordingService(
        InteractionRefused("INTERACTION_HELD_BY_ANOTHER_AGENT", "held by another agent")
    )

    _, errors = await run(schema, service, "agent", CLAIM)

    assert errors[0]["extensions"]["code"] == "INTERACTION_HELD_BY_ANOTHER_AGENT"
    assert errors[0]["message"] == "held by another agent"


async def test_verify_caller_hands_the_answers_to_the_service(schema: strawberry.Schema) -> None:
    service = RecordingService()

    _, errors = await run(
        schema,
        service,
        "agent",
        'mutation { verifyCaller(contactId: "c-1", answers: {postcode: "SW1Y 4JH", '
        'dateOfBirth: "1815-12-10"}) { state } }',
    )

    assert errors == []
    (name, _, (contact_id, answers)) = service.calls[0]
    assert (name, contact_id, answers.postcode) == ("verify_caller", "c-1", "SW1Y 4JH")


async def test_transfer_names_the_next_agent(schema: strawberry.Schema) -> None:
    service = RecordingService()

    _, errors = await run(
        schema,
        service,
        "agent",
        'mutation { transferInteraction(contactId: "c-1", toAgent: "agent-2") { agent } }',
    )

    assert errors == []
    assert service.calls == [("transfer", "agent-1", ("c-1", "agent-2"))]


async def test_interaction_query_resolves_the_customer(schema: strawberry.Schema) -> None:
    data, errors = await run(
        schema,
        RecordingService(),
        "agent",
        'query { interaction(contactId: "c-1") { state customer { displayName } } }',
    )

    assert errors == []
    assert data["interaction"]["state"] == "ACTIVE"
    assert data["interaction"]["customer"] is not None


WAITING = "{ waitingCalls(first: 5) { contactId state verification { level method } } }"


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_desk_roles_read_the_waiting_calls(schema: strawberry.Schema, role: str) -> None:
    service = RecordingService()

    data, errors = await run(schema, service, role, WAITING)

    assert errors == []
    assert data["waitingCalls"] == [
        {
            "contactId": "c-1",
            "state": "ACTIVE",
            "verification": {"level": "MEDIUM", "method": "PIN"},
        }
    ]
    assert service.calls == [("waiting", f"{role}-1", (5,))]


@pytest.mark.parametrize("role", ["ivr", "analyst"])
async def test_other_roles_may_not_read_the_waiting_calls(
    schema: strawberry.Schema, role: str
) -> None:
    service = RecordingService()

    _, errors = await run(schema, service, role, WAITING)

    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert service.calls == []
