"""A lookup of another tenant's customer: answered as missing, and audited on that
customer's trail (``kernel.tenancy.TenantBoundary``).

The reader's answer is the same as for a customer that does not exist: the entry goes to
the owning tenant's audit trail (its tenant is the customer's), never to the reader's, so
nothing of the other tenant reaches the reader, not even through ``auditTrail``.
"""

from __future__ import annotations

import logging

from kernel.access import AuditEntry, AuditUnavailable
from kernel.tenancy import CrossingKind
from resolvers.context import RequestContext

logger = logging.getLogger(__name__)


async def audit_crossing(
    context: RequestContext, kind: CrossingKind, value: str, source: str | None = None
) -> None:
    """Record, for each other tenant's customer ``value`` names, that this request asked."""
    boundary, audit = context.boundary, context.audit
    if boundary is None or audit is None:
        return
    owners = await boundary.owners_elsewhere(kind, value, source)
    if not owners:
        return
    principal = context.principal
    entries = [
        AuditEntry(
            kind="READ",
            subject=principal.subject,
            role=principal.role,
            outcome="denied",
            customer_id=customer_id,
            request_id=context.request_id,
            client_address=context.client_address,
            detail=f"looked up by {kind} from tenant {context.tenant}: answered as missing",
            tenant=tenant,
        )
        for tenant, customer_id in owners
    ]
    try:
        await audit.record(entries)
    except AuditUnavailable:
        # The answer withholds everything already (null): only the trail's gap is logged.
        logger.warning("a lookup across tenants could not be audited")
