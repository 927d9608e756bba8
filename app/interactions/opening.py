"""Opening an interaction from an IVR handoff: the handoff verified, its jti unused, its
customer known, the IVR platform agreeing with what it signed, then one insert.

The insert is the real check of replay and of a contact handed over twice (one
conditional statement in the store); the reads before it only fail early and cheaply.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from adapters.ivr.port import IvrAdapter
from app.interactions.customer_resolution import resolve_customer
from app.interactions.handoff import HandoffClaims, HandoffVerifier, refused
from app.interactions.settings import InteractionSettings
from app.store.customers import Store
from app.store.interactions import InteractionRow, NewInteraction
from kernel.errors import UpstreamError, UpstreamNotFound
from kernel.interactions import Actor
from kernel.linking import LiveLinker
from kernel.models import IvrContact, IvrContactId
from kernel.normalize import normalize_email, normalize_phone
from resolvers.context import Sources

__all__ = ["IVR_VERIFIER", "HandoffOpener"]

#: ``verified_by`` of a verification the IVR did.
IVR_VERIFIER = "IVR"


class HandoffOpener:
    """Opens the interaction of a handoff, or raises the refusal that says why not."""

    def __init__(
        self,
        store: Store,
        handoffs: HandoffVerifier,
        ivr: IvrAdapter,
        settings: InteractionSettings,
        *,
        default_region: str,
        live_linker: LiveLinker[Sources] | None,
        sources: Sources | None,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._handoffs = handoffs
        self._ivr = ivr
        self._settings = settings
        self._default_region = default_region
        self._live_linker = live_linker
        self._sources = sources
        self._clock = clock

    async def open(self, actor: Actor, handoff: str) -> InteractionRow:
        """The interaction the handoff opened; ``InteractionRefused`` if none was."""
        if actor.principal.role != "ivr":
            raise refused("FORBIDDEN", "only the IVR hands calls over", 403)
        verified = await self._handoffs.verify(handoff)
        claims = verified.claims
        issuer = self._handoffs.issuer
        # Cheap and early, so a replay costs no IVR call; the insert below is the real check.
        if await self._store.handoff_seen(issuer, claims.jti):
            raise refused("HANDOFF_REPLAYED", "this handoff was already used", 409)
        customer_id = await resolve_customer(
            self._store,
            claims,
            default_region=self._default_region,
            live_linker=self._live_linker,
            sources=self._sources,
        )
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

    async def _confirm_with_ivr(self, claims: HandoffClaims) -> None:
        try:
            contact = await self._ivr.get_contact(IvrContactId(claims.contact_id))
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
