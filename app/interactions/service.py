"""The interaction service: opens an interaction from a verified IVR handoff and moves it
through claim, transfer, knowledge check and end (``kernel.interactions``).

Every rule that two requests could race on (one claim wins, a jti is used once, attempts
are bounded) is enforced by one conditional statement in the store, not by reading first
and writing after; reads here only explain a refusal. Each step is also written to the
interaction's history (same transaction) and, when an ``AuditSink`` is given, to the audit
trail. The audit entry of a step is written after the step: the history row is the durable
record, so an audit outage is logged, never a reason to undo a call already handed over.

What a handoff must pass to open an interaction is ``app.interactions.opening``'s; what an
interaction's state allows, and why a step was refused, ``app.interactions.states``'.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from adapters.crm.port import CrmAdapter
from adapters.ivr.port import IvrAdapter
from app.interactions.handoff import HandoffVerifier, verification_level
from app.interactions.knowledge_check import answers_match
from app.interactions.metrics import InteractionMetrics
from app.interactions.opening import HandoffOpener
from app.interactions.settings import InteractionSettings, LevelRule
from app.interactions.states import exhausted, expired, explain, held_open, holder
from app.interactions.tokens import InteractionClaims, InteractionTokenError, InteractionTokens
from app.store.customers import Store
from app.store.interactions import InteractionRow, waiting_interactions
from kernel.access import ActiveInteraction, AuditEntry, AuditSink, Principal, VerificationLevel
from kernel.interactions import (
    Actor,
    GrantView,
    InteractionRefused,
    InteractionState,
    InteractionView,
    KnowledgeAnswers,
)
from kernel.linking import LiveLinker
from resolvers.context import Sources

logger = logging.getLogger(__name__)

#: Agent ids are the identity provider's subjects: bounded, printable.
MAX_AGENT_ID = 200
#: The longest queue one request reads: a desk polls it every few seconds.
MAX_WAITING = 100


#: Told of a step an interaction took (``HANDOFF``, ``CLAIM``, ...), with its state after it.
StepListener = Callable[[InteractionView, str], Awaitable[None]]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class InteractionDependencies:
    """What the service reaches: the store, the IVR and CRM adapters, and the verifier."""

    store: Store
    ivr: IvrAdapter
    crm: CrmAdapter
    handoffs: HandoffVerifier
    tokens: InteractionTokens
    #: Finds a caller the store does not know yet (signed up a minute ago) in the systems,
    #: with ``sources``; None: the store's answer is final.
    live_linker: LiveLinker[Sources] | None = None
    sources: Sources | None = None


class Interactions:
    """``InteractionService`` over PostgreSQL, the IVR platform and the CRM."""

    def __init__(
        self,
        deps: InteractionDependencies,
        settings: InteractionSettings,
        level_rules: tuple[LevelRule, ...],
        *,
        default_region: str,
        audit: AuditSink | None = None,
        metrics: InteractionMetrics | None = None,
        clock: Callable[[], datetime] = utc_now,
        on_step: StepListener | None = None,
    ) -> None:
        """``on_step`` is told of every step taken, after it is stored (live changes)."""
        self._deps = deps
        self._on_step = on_step
        self._store = deps.store
        self._settings = settings
        self._level_rules = level_rules
        self._default_region = default_region
        self._audit = audit
        self._metrics = metrics
        self._clock = clock
        self._opener = HandoffOpener(
            deps.store,
            deps.handoffs,
            deps.ivr,
            settings,
            default_region=default_region,
            live_linker=deps.live_linker,
            sources=deps.sources,
            clock=clock,
        )

    def for_store(
        self,
        store: Store,
        live_linker: LiveLinker[Sources] | None = None,
        *,
        sources: Sources | None = None,
        ivr: IvrAdapter | None = None,
        crm: CrmAdapter | None = None,
        handoffs: HandoffVerifier | None = None,
    ) -> Interactions:
        """The same service over ``store`` (and its live linking): another tenant's
        interactions (``Store.tenant``), with that tenant's ``sources``, IVR and CRM, and the
        verifier of its IVR's signed handoffs, when given (its own accounts)."""
        deps = replace(self._deps, store=store, live_linker=live_linker)
        if sources is not None:
            deps = replace(deps, sources=sources)
        if ivr is not None:
            deps = replace(deps, ivr=ivr)
        if crm is not None:
            deps = replace(deps, crm=crm)
        if handoffs is not None:
            deps = replace(deps, handoffs=handoffs)
        return Interactions(
            deps,
            self._settings,
            self._level_rules,
            default_region=self._default_region,
            audit=self._audit,
            metrics=self._metrics,
            clock=self._clock,
            on_step=self._on_step,
        )

    # -- the IVR's side ----------------------------------------------------------------------

    async def submit_handoff(self, actor: Actor, handoff: str) -> InteractionView:
        """Verify the handoff completely, then use its jti and open its interaction at once."""
        try:
            row = await self._opener.open(actor, handoff)
        except InteractionRefused as exc:
            self._observe("handoff", exc.code)
            await self._record(actor, "HANDOFF", "refused", detail=exc.code)
            raise
        self._observe("handoff", "ok")
        await self._record(actor, "HANDOFF", "accepted", row=row)
        return await self._announce(self._view(row), "HANDOFF")

    # -- the agent's side --------------------------------------------------------------------

    async def claim(self, actor: Actor, contact_id: str) -> GrantView:
        """Bind a waiting interaction to the actor, or renew the grant of the one it holds."""
        agent = actor.principal.subject
        now = self._clock()
        row = await self._store.claim_interaction(contact_id, agent, now)
        if row is None:
            await self._refuse(actor, "claim", "CLAIM", contact_id, now)
        assert row is not None
        token = self._deps.tokens.mint(
            InteractionClaims(
                interaction_id=row.id,
                contact_id=row.contact_id,
                customer_id=row.customer_id,
                agent=agent,
                level=VerificationLevel(row.level),
            )
        )
        self._observe("claim", "ok")
        await self._record(actor, "CLAIM", "claimed", row=row)
        return GrantView(interaction=await self._announce(self._view(row), "CLAIM"), token=token)

    async def transfer(self, actor: Actor, contact_id: str, to_agent: str) -> InteractionView:
        """Give the actor's interaction (any, for a supervisor) to ``to_agent``."""
        target = to_agent.strip()
        if not target or len(target) > MAX_AGENT_ID or not target.isprintable():
            raise InteractionRefused("BAD_USER_INPUT", "toAgent is not an agent id", status=400)
        if target == actor.principal.subject:
            raise InteractionRefused(
                "BAD_USER_INPUT", "an interaction cannot be transferred to its holder", status=400
            )
        now = self._clock()
        row = await self._store.transfer_interaction(
            contact_id, holder(actor.principal), target, actor.principal.subject, now
        )
        if row is None:
            await self._refuse(actor, "transfer", "TRANSFER", contact_id, now)
        assert row is not None
        self._observe("transfer", "ok")
        await self._record(actor, "TRANSFER", "transferred", row=row, detail=f"to {target}")
        return await self._announce(self._view(row), "TRANSFER")

    async def end(self, actor: Actor, contact_id: str) -> InteractionView:
        """End the actor's interaction (any, for a supervisor); its history stays."""
        now = self._clock()
        row = await self._store.end_interaction(
            contact_id, holder(actor.principal), actor.principal.subject, now
        )
        if row is None:
            await self._refuse(actor, "end", "END", contact_id, now)
        assert row is not None
        self._observe("end", "ok")
        await self._record(actor, "END", "ended", row=row)
        return await self._announce(self._view(row), "END")

    async def verify_caller(
        self, actor: Actor, contact_id: str, answers: KnowledgeAnswers
    ) -> InteractionView:
        """Check the caller's answers; a pass raises the level, a miss spends an attempt."""
        agent = actor.principal.subject
        now = self._clock()
        current = await self._store.get_interaction(contact_id)
        attempts = self._settings.kba_max_attempts
        if current is None or not held_open(current, agent, now) or exhausted(current, attempts):
            await self._refuse(actor, "verify", "VERIFY", contact_id, now)
        assert current is not None
        passed = await answers_match(self._store, self._deps.crm, current.customer_id, answers)
        level = verification_level(self._level_rules, "KBA", "AUTHENTICATED", None)
        row = await self._store.record_kba_attempt(
            contact_id,
            agent,
            now,
            passed=passed,
            level=int(level),
            max_attempts=self._settings.kba_max_attempts,
        )
        if row is None:
            # Lost a race (another attempt used the last one, a transfer, an end).
            await self._refuse(actor, "verify", "VERIFY", contact_id, now)
        assert row is not None
        outcome = "passed" if passed else "failed"
        self._observe("verify", outcome)
        await self._record(actor, "VERIFY", outcome, row=row)
        if not passed:
            left = max(self._settings.kba_max_attempts - row.kba_attempts, 0)
            raise InteractionRefused(
                "VERIFICATION_FAILED",
                f"the answers do not match the records; {left} attempt(s) left",
                status=400,
            )
        return await self._announce(self._view(row), "VERIFY")

    async def get(self, actor: Actor, contact_id: str) -> InteractionView | None:
        """The interaction of an IVR contact, if there is one."""
        row = await self._store.get_interaction(contact_id)
        return self._view(row) if row is not None else None

    async def waiting(self, actor: Actor, first: int) -> list[InteractionView]:
        """The calls the actor could claim now: unclaimed, or transferred to it; oldest first."""
        if not 1 <= first <= MAX_WAITING:
            raise InteractionRefused(
                "BAD_USER_INPUT", f"first must be 1..{MAX_WAITING}", status=400
            )
        rows = await waiting_interactions(
            self._store.pool, self._store.tenant, actor.principal.subject, self._clock(), first
        )
        return [self._view(row) for row in rows]

    async def authorise(self, token: str, principal: Principal) -> ActiveInteraction:
        """The interaction a request acts within: the token must be this agent's, for an
        interaction still open and held by them; ``InteractionTokenError`` otherwise."""
        try:
            active = await self._authorise(token, principal)
        except InteractionTokenError:
            self._observe("token", "refused")
            raise
        self._observe("token", "ok")
        return active

    async def _authorise(self, token: str, principal: Principal) -> ActiveInteraction:
        claims = self._deps.tokens.verify(token)
        if claims.agent != principal.subject:
            raise InteractionTokenError("interaction token was issued to another agent")
        row = await self._store.get_interaction_by_id(claims.interaction_id)
        if row is None or row.customer_id != claims.customer_id:
            raise InteractionTokenError("interaction token names no interaction")
        if not held_open(row, principal.subject, self._clock()):
            raise InteractionTokenError("interaction is no longer held by this agent")
        return ActiveInteraction(
            interaction_id=row.id,
            contact_id=row.contact_id,
            customer_id=row.customer_id,
            agent=principal.subject,
            # The stored level, not the token's: a knowledge check may have raised it since.
            level=VerificationLevel(row.level),
            expires_at=claims.expires_at,
        )

    # -- helpers -----------------------------------------------------------------------------

    async def _refuse(
        self, actor: Actor, step: str, kind: str, contact_id: str, now: datetime
    ) -> None:
        """Raise the refusal that explains why a step did not apply (read after the fact)."""
        row = await self._store.get_interaction(contact_id)
        error = explain(row, actor.principal, kind, now, self._settings.kba_max_attempts)
        self._observe(step, error.code)
        await self._record(actor, kind, "refused", row=row, detail=error.code)
        raise error

    def _view(self, row: InteractionRow) -> InteractionView:
        state = InteractionState(row.state)
        if expired(row, self._clock()):
            state = InteractionState.EXPIRED
        return InteractionView(
            interaction_id=row.id,
            contact_id=row.contact_id,
            customer_id=row.customer_id,
            state=state,
            agent=row.agent,
            level=VerificationLevel(row.level),
            method=row.method,
            result=row.result,
            verified_at=row.verified_at,
            verified_by=row.verified_by,
            tenant=row.tenant,
        )

    async def _announce(self, view: InteractionView, step: str) -> InteractionView:
        """Tell ``on_step`` (which never raises: live changes log their own failures)."""
        if self._on_step is not None:
            await self._on_step(view, step)
        return view

    def _observe(self, step: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.observe(step, outcome)

    async def _record(
        self,
        actor: Actor,
        kind: str,
        outcome: str,
        *,
        row: InteractionRow | None = None,
        detail: str | None = None,
    ) -> None:
        sink = actor.audit or self._audit
        if sink is None:
            return
        entry = AuditEntry(
            kind=kind,
            subject=actor.principal.subject,
            role=actor.principal.role,
            outcome=outcome,
            customer_id=row.customer_id if row is not None else None,
            interaction_id=row.id if row is not None else None,
            request_id=actor.request_id,
            client_address=actor.client_address,
            detail=detail,
            at=self._clock(),
            # The step's tenant is the store's: each tenant's steps are on its own trail.
            tenant=self._store.tenant,
        )
        try:
            await sink.record([entry])
        except Exception as exc:
            # The step's history row is already durable (module docstring).
            logger.error(
                "could not audit an interaction step", extra={"error_type": type(exc).__name__}
            )
