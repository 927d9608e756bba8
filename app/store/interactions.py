"""The IVR interactions' rows and SQL: handoffs, claims, transfers, verification, history.

``InteractionRows`` (a part of ``Store``) runs these statements on the store's pool
(``open_interaction``, ``claim_interaction`` and the other steps), each step with its
``interaction_events`` row in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from kernel.identity import CustomerId
from kernel.tenancy import TenantId

__all__ = [
    "HandoffConflict",
    "InteractionEvent",
    "InteractionRow",
    "InteractionRows",
    "InteractionState",
    "NewInteraction",
    "waiting_interactions",
]

InteractionState = Literal["WAITING", "ACTIVE", "ENDED"]
InteractionStep = Literal["HANDOFF", "CLAIM", "TRANSFER", "END", "VERIFY"]
HandoffConflict = Literal["replayed", "contact_taken"]


@dataclass(frozen=True, slots=True)
class InteractionRow:
    """An interaction as stored; whether it has expired is the reader's to judge."""

    id: str
    contact_id: str
    customer_id: CustomerId
    state: InteractionState
    agent: str | None
    level: int
    method: str | None
    result: str | None
    score: float | None
    verified_at: datetime | None
    verified_by: str | None
    kba_attempts: int
    created_at: datetime
    expires_at: datetime
    tenant: TenantId | None = None


@dataclass(frozen=True, slots=True)
class NewInteraction:
    """An interaction to open from a verified handoff, and the handoff's ``(iss, jti)``."""

    id: str
    contact_id: str
    customer_id: CustomerId
    level: int
    method: str
    result: str
    score: float | None
    verified_at: datetime
    verified_by: str
    created_at: datetime
    expires_at: datetime
    issuer: str
    jti: str


@dataclass(frozen=True, slots=True)
class InteractionEvent:
    """One step of an interaction's history."""

    kind: InteractionStep
    actor: str
    detail: dict[str, Any]
    at: datetime


# Rows are read by column name, so ``returning *`` / ``select *`` stay correct as columns
# are added; the statements stay plain literals (no SQL is ever assembled from strings).

_HANDOFF_SEEN = "select exists (select 1 from ivr_handoff_jtis where issuer = $1 and jti = $2)"

_INSERT_HANDOFF_JTI = """
insert into ivr_handoff_jtis (issuer, jti, contact_id, received_at)
values ($1, $2, $3, $4)
on conflict do nothing
returning jti
"""

_INSERT_INTERACTION = """
insert into interactions (tenant, id, contact_id, customer_id, state, level, method, result,
                          score, verified_at, verified_by, created_at, updated_at, expires_at)
values ($12, $1, $2, $3, 'WAITING', $4, $5, $6, $7, $8, $9, $10, $10, $11)
on conflict (tenant, contact_id) do nothing
returning *
"""

_SELECT_INTERACTION_BY_CONTACT = "select * from interactions where contact_id = $1 and tenant = $2"
_SELECT_INTERACTION_BY_ID = "select * from interactions where id = $1 and tenant = $2"

# Each step is one conditional UPDATE: the condition is the rule (who may, in which state,
# before expiry), so two agents racing for one call cannot both win it.
_CLAIM_INTERACTION = """
update interactions set state = 'ACTIVE', agent = $2, updated_at = $3
 where contact_id = $1 and expires_at > $3 and tenant = $4
   and (state = 'WAITING' or (state = 'ACTIVE' and agent = $2))
returning *
"""

_TRANSFER_INTERACTION = """
update interactions set agent = $3, updated_at = $4
 where contact_id = $1 and state = 'ACTIVE' and expires_at > $4 and tenant = $5
   and ($2::text is null or agent = $2)
returning *
"""

_END_INTERACTION = """
update interactions set state = 'ENDED', updated_at = $3
 where contact_id = $1 and state <> 'ENDED' and expires_at > $3 and tenant = $4
   and ($2::text is null or agent = $2)
returning *
"""

_RECORD_KBA_ATTEMPT = """
update interactions
   set kba_attempts = kba_attempts + 1,
       level = case when $4 then greatest(level, $5) else level end,
       method = case when $4 then 'KBA' else method end,
       result = case when $4 then 'AUTHENTICATED' else result end,
       score = case when $4 then null else score end,
       verified_at = case when $4 then $3 else verified_at end,
       verified_by = case when $4 then $2 else verified_by end,
       updated_at = $3
 where contact_id = $1 and state = 'ACTIVE' and agent = $2 and expires_at > $3
   and kba_attempts < $6 and tenant = $7
returning *
"""

# The queue of calls an agent could take: every unclaimed call, and the calls transferred to
# this agent that it has not claimed since (a transfer leaves the call ACTIVE under its new
# holder; the holder's claim writes a CLAIM event after the TRANSFER one).
_SELECT_WAITING_INTERACTIONS = """
select i.*
  from interactions as i
 where i.expires_at > $2 and i.tenant = $4
   and (i.state = 'WAITING'
        or (i.state = 'ACTIVE' and i.agent = $1
            and (select e.kind from interaction_events as e
                  where e.interaction_id = i.id
                  order by e.id desc limit 1) = 'TRANSFER'))
 order by i.created_at, i.id
 limit $3
"""

_INSERT_INTERACTION_EVENT = """
insert into interaction_events (tenant, interaction_id, kind, actor, detail, at)
values ($6, $1, $2, $3, $4::jsonb, $5)
"""

_SELECT_INTERACTION_EVENTS = """
select kind, actor, detail, at from interaction_events
 where interaction_id = $1 and tenant = $2
 order by id
"""


class _ContactTaken(Exception):
    """Raised inside the handoff's transaction so that its jti row is rolled back too."""


def _interaction_row(row: asyncpg.Record) -> InteractionRow:
    return InteractionRow(
        id=row["id"],
        contact_id=row["contact_id"],
        customer_id=CustomerId(row["customer_id"]),
        state=row["state"],
        agent=row["agent"],
        level=row["level"],
        method=row["method"],
        result=row["result"],
        score=row["score"],
        verified_at=row["verified_at"],
        verified_by=row["verified_by"],
        kba_attempts=row["kba_attempts"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        tenant=TenantId(row["tenant"]),
    )


async def waiting_interactions(
    pool: asyncpg.Pool[asyncpg.Record], tenant: TenantId, agent: str, now: datetime, limit: int
) -> list[InteractionRow]:
    """The calls of ``tenant`` ``agent`` could claim at ``now``, oldest first, at most
    ``limit``: every unclaimed call, and those transferred to ``agent`` and not claimed by it
    since."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(_SELECT_WAITING_INTERACTIONS, agent, now, limit, tenant)
    return [_interaction_row(row) for row in rows]


class InteractionRows:
    """The interactions' reads and steps, one tenant's, as ``Store`` runs them on its pool
    (``Store`` is one: the interaction service reaches them through the store)."""

    _pool: asyncpg.Pool[asyncpg.Record]
    _tenant: TenantId

    async def handoff_seen(self, issuer: str, jti: str) -> bool:
        """Whether a handoff with this ``(iss, jti)`` was already accepted (a cheap pre-check)."""
        async with self._pool.acquire() as conn:
            seen: bool = await conn.fetchval(_HANDOFF_SEEN, issuer, jti)
        return seen

    async def open_interaction(
        self, new: NewInteraction, detail: Mapping[str, Any]
    ) -> InteractionRow | HandoffConflict:
        """Use the handoff's jti and open its interaction, both or neither.

        ``replayed`` when the jti was used before (of two concurrent submissions, exactly
        one gets past the primary key), ``contact_taken`` when the call already has one.
        """
        try:
            return await self._open_interaction(new, detail)
        except _ContactTaken:
            return "contact_taken"

    async def _open_interaction(
        self, new: NewInteraction, detail: Mapping[str, Any]
    ) -> InteractionRow | HandoffConflict:
        async with self._pool.acquire() as conn, conn.transaction():
            used = await conn.fetchval(
                _INSERT_HANDOFF_JTI, new.issuer, new.jti, new.contact_id, new.created_at
            )
            if used is None:
                return "replayed"
            row = await conn.fetchrow(
                _INSERT_INTERACTION,
                new.id,
                new.contact_id,
                new.customer_id,
                new.level,
                new.method,
                new.result,
                new.score,
                new.verified_at,
                new.verified_by,
                new.created_at,
                new.expires_at,
                self._tenant,
            )
            if row is None:
                # Rolls the jti back too: the same handoff stays refused for the same reason.
                raise _ContactTaken
            await conn.execute(
                _INSERT_INTERACTION_EVENT,
                new.id,
                "HANDOFF",
                new.verified_by,
                json.dumps(dict(detail)),
                new.created_at,
                self._tenant,
            )
            return _interaction_row(row)

    async def get_interaction(self, contact_id: str) -> InteractionRow | None:
        """The interaction of an IVR contact, in any state."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_SELECT_INTERACTION_BY_CONTACT, contact_id, self._tenant)
        return None if row is None else _interaction_row(row)

    async def get_interaction_by_id(self, interaction_id: str) -> InteractionRow | None:
        """The interaction with this id, in any state."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_SELECT_INTERACTION_BY_ID, interaction_id, self._tenant)
        return None if row is None else _interaction_row(row)

    async def claim_interaction(
        self, contact_id: str, agent: str, now: datetime
    ) -> InteractionRow | None:
        """Bind a waiting interaction to ``agent`` (or confirm it holds it); None if refused."""
        return await self._step(
            _CLAIM_INTERACTION, (contact_id, agent, now), "CLAIM", agent, now, {"agent": agent}
        )

    async def transfer_interaction(
        self, contact_id: str, holder: str | None, to_agent: str, actor: str, now: datetime
    ) -> InteractionRow | None:
        """Hand an active interaction held by ``holder`` (None: whoever) to ``to_agent``."""
        return await self._step(
            _TRANSFER_INTERACTION,
            (contact_id, holder, to_agent, now),
            "TRANSFER",
            actor,
            now,
            {"to_agent": to_agent},
        )

    async def end_interaction(
        self, contact_id: str, holder: str | None, actor: str, now: datetime
    ) -> InteractionRow | None:
        """End an open interaction held by ``holder`` (None: whoever); None if refused."""
        return await self._step(_END_INTERACTION, (contact_id, holder, now), "END", actor, now, {})

    async def record_kba_attempt(
        self,
        contact_id: str,
        agent: str,
        now: datetime,
        *,
        passed: bool,
        level: int,
        max_attempts: int,
    ) -> InteractionRow | None:
        """Count one knowledge check by the holding agent; if it passed, raise the level.

        None when the agent does not hold the open interaction or no attempt is left.
        """
        return await self._step(
            _RECORD_KBA_ATTEMPT,
            (contact_id, agent, now, passed, level, max_attempts),
            "VERIFY",
            agent,
            now,
            {"outcome": "passed" if passed else "failed"},
        )

    async def interaction_history(self, interaction_id: str) -> list[InteractionEvent]:
        """Every step of an interaction, oldest first."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SELECT_INTERACTION_EVENTS, interaction_id, self._tenant)
        return [
            InteractionEvent(
                kind=row["kind"], actor=row["actor"], detail=json.loads(row["detail"]), at=row["at"]
            )
            for row in rows
        ]

    async def _step(
        self,
        update_sql: str,
        args: Sequence[object],
        kind: InteractionStep,
        actor: str,
        now: datetime,
        detail: Mapping[str, Any],
    ) -> InteractionRow | None:
        """One conditional update and its history row, in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            # Each step's statement takes the tenant last.
            row = await conn.fetchrow(update_sql, *args, self._tenant)
            if row is None:
                return None
            await conn.execute(
                _INSERT_INTERACTION_EVENT,
                row["id"],
                kind,
                actor,
                json.dumps(dict(detail)),
                now,
                self._tenant,
            )
            return _interaction_row(row)
