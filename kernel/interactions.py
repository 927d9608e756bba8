"""The interaction service as the resolvers see it: a Protocol, its values and its refusal.

The rules (who may claim, what a transfer keeps, how many knowledge attempts) live in the
app (``app/interactions/service.py`` implements ``InteractionService``); resolvers import neither
``app`` nor the database, so this module is all they know of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from kernel.access import AuditSink, Principal, VerificationLevel
from kernel.client_errors import GatewayError
from kernel.identity import CustomerId
from kernel.tenancy import TenantId


class InteractionState(StrEnum):
    WAITING = "WAITING"  # handed off by the IVR, not claimed yet
    ACTIVE = "ACTIVE"  # held by an agent
    ENDED = "ENDED"
    EXPIRED = "EXPIRED"  # past its lifetime unended; nothing works on it any more


@dataclass(frozen=True, slots=True)
class InteractionView:
    """An interaction as the service reports it; ``state`` already accounts for expiry."""

    interaction_id: str
    contact_id: str
    customer_id: CustomerId
    state: InteractionState
    agent: str | None
    level: VerificationLevel
    method: str | None
    result: str | None
    verified_at: datetime | None
    verified_by: str | None
    #: The tenant whose call it is: live changes reach that tenant's subscribers only.
    tenant: TenantId | None = None


@dataclass(frozen=True, slots=True)
class GrantView:
    """A claimed interaction and the token that lets its agent act within it."""

    interaction: InteractionView
    token: str


@dataclass(frozen=True, slots=True)
class KnowledgeAnswers:
    """What the caller told the agent; checked inside the gateway, never echoed."""

    postcode: str | None = None
    date_of_birth: date | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who performs a step, and where its audit entry goes."""

    principal: Principal
    request_id: str | None = None
    client_address: str | None = None
    audit: AuditSink | None = None


class InteractionRefused(GatewayError):
    """A step the rules do not allow; ``code`` says which rule, ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class InteractionService(Protocol):
    """Opens interactions from IVR handoffs and moves them through their life."""

    async def submit_handoff(self, actor: Actor, handoff: str) -> InteractionView:
        """Verify a signed IVR handoff and open its interaction (``ivr`` principals)."""
        ...

    async def claim(self, actor: Actor, contact_id: str) -> GrantView:
        """Bind a waiting interaction to the actor (or renew its grant if it holds it)."""
        ...

    async def transfer(self, actor: Actor, contact_id: str, to_agent: str) -> InteractionView:
        """Hand the actor's interaction to another agent, verification and all."""
        ...

    async def end(self, actor: Actor, contact_id: str) -> InteractionView:
        """End the actor's interaction; its history stays."""
        ...

    async def verify_caller(
        self, actor: Actor, contact_id: str, answers: KnowledgeAnswers
    ) -> InteractionView:
        """Check the caller's answers against the systems of record; attempts are limited."""
        ...

    async def get(self, actor: Actor, contact_id: str) -> InteractionView | None:
        """The interaction of an IVR contact, if there is one."""
        ...

    async def waiting(self, actor: Actor, first: int) -> list[InteractionView]:
        """The calls the actor could take now, oldest first, at most ``first``: handed over
        by the IVR and claimed by nobody, or transferred to the actor and not claimed since;
        none expired."""
        ...
