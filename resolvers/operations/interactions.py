"""Interactions (calls) in the graph: the IVR's handoff, and the agent's claim, transfer, end
and knowledge check, each a mutation; ``interaction(contactId)`` reads one and
``waitingCalls`` the queue of calls an agent could take.

The rules live in the app's ``InteractionService`` (``kernel/interactions.py``,
a Protocol); these resolvers check the role, call it, and shape its answers. Its refusals
are ``InteractionRefused`` (a ``GatewayError``), so their codes reach the client.
"""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from kernel.access import VerificationLevel
from kernel.client_errors import Forbidden, GatewayError
from kernel.interactions import (
    Actor,
    InteractionRefused,
    InteractionService,
    InteractionState,
    InteractionView,
    KnowledgeAnswers,
)
from resolvers.tenant_boundary import audit_crossing
from resolvers.types.common import Info
from resolvers.types.customer import Customer

# Registered in place, as resolvers/types/common.py does with the adapters' enums: one definition.
strawberry.enum(VerificationLevel, description="How strongly the caller's identity was verified.")
strawberry.enum(InteractionState, description="Where an interaction is in its life.")

#: Roles that take calls: agents, and supervisors who step in.
DESK_ROLES = frozenset({"agent", "supervisor"})
#: The machine client that hands verified callers over.
IVR_ROLE = "ivr"


# --- GraphQL types ------------------------------------------------------------------------


@strawberry.type(description="How the caller was verified, and by whom.")
class Verification:
    level: VerificationLevel
    method: str | None
    result: str | None
    verified_at: datetime | None
    by: str | None = strawberry.field(description="The IVR, or the agent who asked.")


@strawberry.type(description="One contact (call) with a customer; it survives transfers.")
class Interaction:
    view: strawberry.Private[InteractionView]
    contact_id: strawberry.ID
    verification: Verification
    agent: strawberry.ID | None = strawberry.field(description="The agent who holds it now.")
    state: InteractionState

    @classmethod
    def from_view(cls, view: InteractionView) -> Interaction:
        return cls(
            view=view,
            contact_id=strawberry.ID(view.contact_id),
            verification=Verification(
                level=view.level,
                method=view.method,
                result=view.result,
                verified_at=view.verified_at,
                by=view.verified_by,
            ),
            agent=strawberry.ID(view.agent) if view.agent is not None else None,
            state=view.state,
        )

    @strawberry.field(description="The customer the caller was verified as.")
    async def customer(self, info: Info) -> Customer | None:
        record = await info.context.loaders.customers.load(self.view.customer_id)
        return Customer.from_record(record) if record is not None else None


@strawberry.type(description="A claimed interaction and its token (send as X-Interaction-Token).")
class InteractionGrant:
    interaction: Interaction
    token: str


@strawberry.input(description="The caller's answers to knowledge questions.")
class KbaAnswers:
    postcode: str | None = None
    date_of_birth: date | None = None


# --- resolvers ----------------------------------------------------------------------------


def _service(info: Info, roles: frozenset[str]) -> tuple[InteractionService, Actor]:
    context = info.context
    if context.principal.role not in roles:
        raise Forbidden(f"role {context.principal.role} may not do this")
    if context.interactions is None:
        raise GatewayError("interactions are not available")
    actor = Actor(
        principal=context.principal,
        request_id=context.request_id,
        client_address=context.client_address,
        audit=context.audit,
    )
    return context.interactions, actor


async def _refused_step(info: Info, contact_id: str, step: str) -> None:
    """A step the service refused: if the contact id is only another tenant's call, the
    attempt goes on that tenant's trail (the refusal is the one a missing call gets)."""
    await audit_crossing(info.context, "interaction", contact_id, step=step)


async def interaction(info: Info, contact_id: strawberry.ID) -> Interaction | None:
    """``Query.interaction``: agents and supervisors read any interaction's state."""
    service, actor = _service(info, DESK_ROLES)
    view = await service.get(actor, str(contact_id))
    if view is None:
        await _refused_step(info, str(contact_id), "READ")
        return None
    return Interaction.from_view(view)


async def waiting_calls(info: Info, first: int = 20) -> list[Interaction]:
    """``Query.waitingCalls``: the queue an agent's desk shows, for agents and supervisors."""
    service, actor = _service(info, DESK_ROLES)
    return [Interaction.from_view(view) for view in await service.waiting(actor, first)]


@strawberry.type
class InteractionMutation:
    @strawberry.mutation(description="The IVR hands a verified caller over (ivr clients).")
    async def submit_handoff(self, info: Info, handoff: str) -> Interaction:
        service, actor = _service(info, frozenset({IVR_ROLE}))
        return Interaction.from_view(await service.submit_handoff(actor, handoff))

    @strawberry.mutation(description="Take a waiting call; the grant's token acts within it.")
    async def claim_interaction(self, info: Info, contact_id: strawberry.ID) -> InteractionGrant:
        service, actor = _service(info, DESK_ROLES)
        try:
            grant = await service.claim(actor, str(contact_id))
        except InteractionRefused:
            await _refused_step(info, str(contact_id), "CLAIM")
            raise
        return InteractionGrant(
            interaction=Interaction.from_view(grant.interaction), token=grant.token
        )

    @strawberry.mutation(description="Hand your call to another agent; the verification stays.")
    async def transfer_interaction(
        self, info: Info, contact_id: strawberry.ID, to_agent: strawberry.ID
    ) -> Interaction:
        service, actor = _service(info, DESK_ROLES)
        try:
            view = await service.transfer(actor, str(contact_id), str(to_agent))
        except InteractionRefused:
            await _refused_step(info, str(contact_id), "TRANSFER")
            raise
        return Interaction.from_view(view)

    @strawberry.mutation(description="End your call; its history stays.")
    async def end_interaction(self, info: Info, contact_id: strawberry.ID) -> Interaction:
        service, actor = _service(info, DESK_ROLES)
        try:
            view = await service.end(actor, str(contact_id))
        except InteractionRefused:
            await _refused_step(info, str(contact_id), "END")
            raise
        return Interaction.from_view(view)

    @strawberry.mutation(
        description="Verify the caller by knowledge answers when the IVR could not; "
        "the expected answers are never shown, and attempts are limited."
    )
    async def verify_caller(
        self, info: Info, contact_id: strawberry.ID, answers: KbaAnswers
    ) -> Interaction:
        service, actor = _service(info, DESK_ROLES)
        given = KnowledgeAnswers(postcode=answers.postcode, date_of_birth=answers.date_of_birth)
        try:
            view = await service.verify_caller(actor, str(contact_id), given)
        except InteractionRefused:
            await _refused_step(info, str(contact_id), "VERIFY")
            raise
        return Interaction.from_view(view)
