"""The customer a handoff names: found by its reference in the store, else in the systems.

The IVR names the caller by phone, email, billing account or customer id. Exactly one
customer must have that reference: none is an unknown caller, several (a household's
shared number) are refused rather than guessed between.
"""

from __future__ import annotations

from app.interactions.handoff import HandoffClaims, refused
from app.store.customers import Store
from kernel.identity import CustomerId
from kernel.linking import LiveAnswer, LiveLinker
from kernel.models import Source
from kernel.normalize import normalize_email, normalize_phone
from resolvers.context import Sources

__all__ = ["resolve_customer"]


async def resolve_customer(
    store: Store,
    claims: HandoffClaims,
    *,
    default_region: str,
    live_linker: LiveLinker[Sources] | None,
    sources: Sources | None,
) -> CustomerId:
    """The one customer the handoff's reference names; refused if none or several.

    With ``live_linker`` and ``sources``, a reference the store does not know is looked up
    in the systems before it is refused as unknown (``_resolve_live``).
    """
    ref = claims.customer_ref
    found: list[CustomerId]
    if ref.type == "PHONE":
        e164 = normalize_phone(ref.value, default_region)
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
        found = await _resolve_live(
            claims, default_region=default_region, linker=live_linker, sources=sources
        )
    if not found:
        raise refused("HANDOFF_CUSTOMER_UNKNOWN", f"no customer has this {ref.type} reference", 400)
    if len(found) > 1:
        # A shared number (a household) must not verify whichever customer is oldest.
        raise refused(
            "HANDOFF_CUSTOMER_AMBIGUOUS",
            f"several customers have this {ref.type} reference",
            400,
        )
    return found[0]


async def _resolve_live(
    claims: HandoffClaims,
    *,
    default_region: str,
    linker: LiveLinker[Sources] | None,
    sources: Sources | None,
) -> list[CustomerId]:
    """The customers the systems know by the handoff's reference, linked now; [] if none.

    A caller who signed up a minute ago is in the CRM but not yet in the store. When a
    system failed and nothing was found, the IVR is told to try again (503), not that
    the customer is unknown: the failed system might hold them.
    """
    if linker is None or sources is None:
        return []
    ref = claims.customer_ref
    answer: LiveAnswer
    if ref.type == "PHONE":
        e164 = normalize_phone(ref.value, default_region)
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
