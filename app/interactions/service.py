"""The interaction service: opens an interaction from a verified IVR handoff and moves it
through claim, transfer, knowledge check and end (``kernel.interactions``).

Every rule that two requests could race on (one claim wins, a jti is used once, attempts
are bounded) is enforced by one conditional statement in the store, not by reading first
and writing after; reads here only explain a refusal. Each step is also written to the
interaction's history (same transaction) and, when an ``AuditSink`` is given, to the audit
trail. The audit entry of a step is written after the step: the history row is the durable
record, so an audit outage is logged, never a reason to undo a call already handed over.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from adapters.crm.client import CrmAdapter
from adapters.ivr.client import IvrAdapter
from app.interactions.handoff import HandoffClaims, HandoffVerifier, refused, verification_level
from app.interactions.knowledge_check import answers_match
from app.interactions.metrics import InteractionMetrics
from app.interactions.tokens import InteractionClaims, InteractionTokenError, InteractionTokens
from app.settings import InteractionSettings, LevelRule
from app.store.customers import InteractionRow, NewInteraction, Store
from kernel.access import ActiveInteraction, AuditEntry, AuditSink, VerificationLevel
from kernel.errors import UpstreamError, UpstreamNotFound
from kernel.identity import CustomerId
from kernel.interactions import (
    Actor,
    GrantView,
    InteractionRefused,
    InteractionState,
    InteractionView,
    KnowledgeAnswers,
)
from kernel.linking import LiveAnswer, LiveLinker
from kernel.models import IvrContact, IvrContactId, Source
from kernel.normalize import normalize_email, normalize_phone
from resolvers.context import Principal, Sources

logger = logging.getLogger(__name__)

#: ``verified_by`` of a verification the IVR did.
IVR_VERIFIER = "IVR"
#: Agent ids are the identity provider's subjects: bounded, printable.
MAX_AGENT_ID = 200


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
    live_linker: LiveLinker | None = None
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
    ) -> None:
        self._deps = deps
        self._store = deps.store
        self._settings = settings
        self._level_rules = level_rules
        self._default_region = default_region
        self._audit = audit
        self._metrics = metrics
        self._clock = clock

    # -- the IVR's side ----------------------------------------------------------------------

    async def submit_handoff(self, actor: Actor, handoff: str) -> InteractionView:
        """Verify the handoff completely, then use its jti and open its interaction at once."""
        try:
            row = await self._open(actor, handoff)
        except InteractionRefused as exc:
            self._observe("handoff", exc.code)
            await self._record(actor, "HANDOFF", "refused", detail=exc.code)
            raise
        self._observe("handoff", "ok")
        await self._record(actor, "HANDOFF", "accepted", row=row)
        return self._view(row)

    async def _open(self, actor: Actor, handoff: str) -> InteractionRow:
        if actor.principal.role != "ivr":
            raise refused("FORBIDDEN", "only the IVR hands calls over", 403)
        verified = await self._deps.handoffs.verify(handoff)
        claims = verified.claims
        issuer = self._deps.handoffs.issuer
        # Cheap and early, so a replay costs no IVR call; the insert below is the real check.
        if await self._store.handoff_seen(issuer, claims.jti):
            raise refused("HANDOFF_REPLAYED", "this handoff was already used", 409)
        customer_id = await self._resolve_customer(claims)
        await self._confirm_with_ivr(claims)
        now = self._clock()
        score = float(claims.auth_score) if claims.auth_score is not None else None
        opened = await self._store.open_interaction(
            NewInteraction(
                id=uuid.uuid4().hex,
                contact_id=claims.contact_id,
                customer_id=customer_id,
                level=int(verified.level),
                method=claims.auth_method,
                result=claims.auth_result,
                score=score,
                verified_at=datetime.fromtimestamp(claims.auth_time, UTC),
                verified_by=IVR_VERIFIER,
                created_at=now,
                expires_at=now + timedelta(seconds=self._settings.expiry_seconds),
                issuer=issuer,
                jti=claims.jti,
            ),
            detail={
                "level": verified.level.name,
                "method": claims.auth_method,
                "result": claims.auth_result,
                "ivr_client": actor.principal.subject,
            },
        )
        if opened == "replayed":
            raise refused("HANDOFF_REPLAYED", "this handoff was already used", 409)
        if opened == "contact_taken":
            raise refused(
                "CONTACT_ALREADY_HANDED_OFF", "this contact already has an interaction", 409
            )
        return opened

    async def _resolve_customer(self, claims: HandoffClaims) -> CustomerId:
        ref = claims.customer_ref
        store = self._store
        found: list[CustomerId]
        if ref.type == "PHONE":
            e164 = normalize_phone(ref.value, self._default_region)
            found = await store.find_by_phone(e164) if e164 else []
        elif ref.type == "EMAIL":
            email = normalize_email(ref.value)
            found = await store.find_by_email(email) if email else []
        elif ref.type == "ACCOUNT":
            account = await store.find_by_source_id(Source.BILLING, ref.value)
            found = [account] if account is not None else []
        else:
            known = await store.get_customers([CustomerId(ref.value)])
            found = list(known)
        if not found:
            found = await self._resolve_live(claims)
        if not found:
            raise refused(
                "HANDOFF_CUSTOMER_UNKNOWN", f"no customer has this {ref.type} reference", 400
            )
        if len(found) > 1:
            # A shared number (a household) must not verify whichever customer is oldest.
            raise refused(
                "HANDOFF_CUSTOMER_AMBIGUOUS",
                f"several customers have this {ref.type} reference",
                400,
            )
        return found[0]

    async def _resolve_live(self, claims: HandoffClaims) -> list[CustomerId]:
        """The customers the systems know by the handoff's reference, linked now; [] if none.

        A caller who signed up a minute ago is in the CRM but not yet in the store. When a
        system failed and nothing was found, the IVR is told to try again (503), not that
        the customer is unknown: the failed system might hold them.
        """
        linker, sources = self._deps.live_linker, self._deps.sources
        if linker is None or sources is None:
            return []
        ref = claims.customer_ref
        answer: LiveAnswer
        if ref.type == "PHONE":
            e164 = normalize_phone(ref.value, self._default_region)
            if e164 is None:
                return []
            answer = await linker.by_phone(e164, sources)
        elif ref.type == "EMAIL":
            email = normalize_email(ref.value)
            if email is None:
                return []
            answer = await linker.by_email(email, sources)
        elif ref.type == "ACCOUNT":
            answer = await linker.by_source_id(Source.BILLING, ref.value, sources)
        else:
            return []
        if not answer.customer_ids and answer.failed_sources:
            raise refused(
                "UPSTREAM_UNAVAILABLE",
                "the customer could not be looked up in every system; try again",
                503,
            )
        return list(answer.customer_ids)

    async def _confirm_with_ivr(self, claims: HandoffClaims) -> None:
        try:
            contact = await self._deps.ivr.get_contact(IvrContactId(claims.contact_id))
        except UpstreamNotFound as exc:
            raise refused(
                "HANDOFF_CONTACT_UNKNOWN", "the IVR platform has no such contact", 403
            ) from exc
        except UpstreamError as exc:
            raise refused(
                "IVR_UNAVAILABLE", "the IVR platform could not confirm the contact", 503
            ) from exc
        disagreeing = self._disagreements(claims, contact)
        if disagreeing:
            raise refused(
                "HANDOFF_DISAGREES_WITH_IVR",
                f"the IVR platform records a different {', '.join(disagreeing)}",
                403,
            )

    def _disagreements(self, claims: HandoffClaims, contact: IvrContact) -> list[str]:
        ref = claims.customer_ref
        found: list[str] = []
        if contact.customer_ref_type != ref.type or not self._same_reference(
            ref.type, ref.value, contact.customer_ref_value
        ):
            found.append("customer reference")
        if contact.auth_result != claims.auth_result:
            found.append("auth result")
        if contact.auth_method != claims.auth_method:
            found.append("auth method")
        return found

    def _same_reference(self, kind: str, signed: str, recorded: str | None) -> bool:
        if recorded is None:
            return False
        if kind == "PHONE":
            signed_key = normalize_phone(signed, self._default_region)
            recorded_key = normalize_phone(recorded, self._default_region)
        elif kind == "EMAIL":
            signed_key, recorded_key = normalize_email(signed), normalize_email(recorded)
        else:
            signed_key, recorded_key = signed, recorded
        return signed_key is not None and signed_key == recorded_key

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
        return GrantView(interaction=self._view(row), token=token)

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
            contact_id, self._holder(actor.principal), target, actor.principal.subject, now
        )
        if row is None:
            await self._refuse(actor, "transfer", "TRANSFER", contact_id, now)
        assert row is not None
        self._observe("transfer", "ok")
        await self._record(actor, "TRANSFER", "transferred", row=row, detail=f"to {target}")
        return self._view(row)

    async def end(self, actor: Actor, contact_id: str) -> InteractionView:
        """End the actor's interaction (any, for a supervisor); its history stays."""
        now = self._clock()
        row = await self._store.end_interaction(
            contact_id, self._holder(actor.principal), actor.principal.subject, now
        )
        if row is None:
            await self._refuse(actor, "end", "END", contact_id, now)
        assert row is not None
        self._observe("end", "ok")
        await self._record(actor, "END", "ended", row=row)
        return self._view(row)

    async def verify_caller(
        self, actor: Actor, contact_id: str, answers: KnowledgeAnswers
    ) -> InteractionView:
        """Check the caller's answers; a pass raises the level, a miss spends an attempt."""
        agent = actor.principal.subject
        now = self._clock()
        current = await self._store.get_interaction(contact_id)
        if current is None or not self._held_open(current, agent, now) or self._exhausted(current):
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
        return self._view(row)

    async def get(self, actor: Actor, contact_id: str) -> InteractionView | None:
        """The interaction of an IVR contact, if there is one."""
        row = await self._store.get_interaction(contact_id)
        return self._view(row) if row is not None else None

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
        if not self._held_open(row, principal.subject, self._clock()):
            raise InteractionTokenError("interaction is no longer held by this agent")
        return ActiveInteraction(
            interaction_id=row.id,
            contact_id=row.contact_id,
            customer_id=row.customer_id,
            agent=principal.subject,
            # The stored level, not the token's: a knowledge check may have raised it since.
            level=VerificationLevel(row.level),
        )

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _holder(principal: Principal) -> str | None:
        """Whose interaction the principal may move: its own; a supervisor, anyone's."""
        return None if principal.role == "supervisor" else principal.subject

    @staticmethod
    def _expired(row: InteractionRow, now: datetime) -> bool:
        return row.state != "ENDED" and row.expires_at <= now

    def _held_open(self, row: InteractionRow, agent: str, now: datetime) -> bool:
        return row.state == "ACTIVE" and row.agent == agent and not self._expired(row, now)

    def _exhausted(self, row: InteractionRow) -> bool:
        return row.kba_attempts >= self._settings.kba_max_attempts

    async def _refuse(
        self, actor: Actor, step: str, kind: str, contact_id: str, now: datetime
    ) -> None:
        """Raise the refusal that explains why a step did not apply (read after the fact)."""
        row = await self._store.get_interaction(contact_id)
        error = self._explain(row, actor.principal, kind, now)
        self._observe(step, error.code)
        await self._record(actor, kind, "refused", row=row, detail=error.code)
        raise error

    def _explain(
        self, row: InteractionRow | None, principal: Principal, kind: str, now: datetime
    ) -> InteractionRefused:
        if row is None:
            return InteractionRefused(
                "INTERACTION_NOT_FOUND", "no interaction for this contact", status=404
            )
        if row.state == "ENDED":
            return InteractionRefused("INTERACTION_ENDED", "the interaction has ended")
        if self._expired(row, now):
            return InteractionRefused(
                "INTERACTION_EXPIRED", "the interaction has expired", status=410
            )
        may_act = row.agent == principal.subject or (
            principal.role == "supervisor" and kind in ("TRANSFER", "END")
        )
        if row.state == "ACTIVE" and not may_act:
            return InteractionRefused(
                "INTERACTION_HELD_BY_ANOTHER_AGENT",
                "the interaction is held by another agent",
                status=403,
            )
        if row.state == "WAITING" and kind != "CLAIM":
            return InteractionRefused(
                "INTERACTION_NOT_CLAIMED", "claim the interaction first", status=409
            )
        if kind == "VERIFY" and self._exhausted(row):
            return InteractionRefused(
                "VERIFICATION_ATTEMPTS_EXHAUSTED",
                "no knowledge-check attempts are left for this interaction",
                status=429,
            )
        return InteractionRefused("INTERACTION_CONFLICT", "the interaction changed; try again")

    def _view(self, row: InteractionRow) -> InteractionView:
        state = InteractionState(row.state)
        if self._expired(row, self._clock()):
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
        )

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
        )
        try:
            await sink.record([entry])
        except Exception as exc:
            # The step's history row is already durable (module docstring).
            logger.error(
                "could not audit an interaction step", extra={"error_type": type(exc).__name__}
            )
