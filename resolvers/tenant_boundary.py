"""A lookup of another tenant's customer, call, export or write: answered as missing, and
audited on that tenant's trail (``kernel.tenancy.TenantBoundary``).

The reader's answer is the same as for a customer that does not exist: the entry goes to
the owning tenant's audit trail (its tenant is the customer's), never to the reader's, so
nothing of the other tenant reaches the reader, not even through ``auditTrail``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kernel.access import AuditEntry, AuditSink, AuditUnavailable, Principal
from kernel.tenancy import CrossingKind, TenantBoundary, TenantId
from resolvers.context import RequestContext

logger = logging.getLogger(__name__)


async def audit_crossing(
    context: RequestContext,
    kind: CrossingKind,
    value: str,
    source: str | None = None,
    *,
    step: str = "READ",
) -> None:
    """Record, for each other tenant's record ``value`` names, that this request asked
    (``step``: the entry's kind, ``READ`` for a lookup, or the refused step: ``CLAIM``,
    ``WRITE``...)."""
    await audit_crossing_of(
        Asker(context.principal, context.tenant, context.request_id, context.client_address),
        context.boundary,
        context.audit,
        kind,
        value,
        source,
        step=step,
    )


@dataclass(frozen=True, slots=True)
class Asker:
    """Who asked, as the entries name them: outside GraphQL too (an export's download)."""

    principal: Principal
    tenant: TenantId | None
    request_id: str | None
    client_address: str | None


async def audit_crossing_of(
    asker: Asker,
    boundary: TenantBoundary | None,
    audit: AuditSink | None,
    kind: CrossingKind,
    value: str,
    source: str | None = None,
    *,
    step: str = "READ",
) -> None:
    """``audit_crossing`` for any request: the entries on each owning tenant's trail."""
    if boundary is None or audit is None:
        return
    owners = await boundary.owners_elsewhere(kind, value, source)
    if not owners:
        return
    principal = asker.principal
    asked = "looked up" if step == "READ" else f"{step.lower()} asked"
    entries = [
        AuditEntry(
            kind=step,
            subject=principal.subject,
            role=principal.role,
            outcome="denied",
            customer_id=customer_id,
            request_id=asker.request_id,
            client_address=asker.client_address,
            detail=f"{asked} by {kind} from tenant {asker.tenant}: answered as missing",
            tenant=tenant,
        )
        for tenant, customer_id in owners
    ]
    try:
        await audit.record(entries)
    except AuditUnavailable:
        # The answer withholds everything already (null): only the trail's gap is logged.
        logger.warning("a lookup across tenants could not be audited")
