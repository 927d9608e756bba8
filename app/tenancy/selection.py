"""Which tenant a request acts for: its principal's tenants claim, and the tenant header when
the principal may act for several.

The answer is decided once per request (or WebSocket connection), before GraphQL runs, and
every part of the request is scoped by it. A request that names no tenant while its token
allows several, or names one its token does not allow (or one that does not exist: the same
answer, so that nobody learns the platform's clients by asking), is refused as a whole.
"""

from __future__ import annotations

from app.tenancy.settings import TenancySettings
from kernel.access import Principal
from kernel.client_errors import GatewayError
from kernel.tenancy import OPERATOR_ROLE, TenantForbidden, TenantId, TenantRequired, tenant_id

#: The HTTP status of each refusal: a request to be sent again with a header, or never.
REFUSAL_STATUS: dict[str, int] = {TenantRequired.code: 400, TenantForbidden.code: 403}


def tenants_of(principal: Principal, settings: TenancySettings) -> frozenset[TenantId]:
    """The served tenants ``principal`` may act for: those its token names; a token naming
    none acts for the only tenant when a single one is served (a single-client deployment)."""
    served = frozenset(settings.tenants)
    if principal.tenants:
        return principal.tenants & served
    return served if len(served) == 1 else frozenset()


def choose_tenant(
    principal: Principal, requested: str | None, settings: TenancySettings
) -> TenantId | None:
    """The tenant a request of ``principal`` acts for, ``requested`` being its tenant header.

    None only for a platform operator that names no tenant and may act for more or fewer
    than one: what an operator sees (health, metrics, KPIs) belongs to no tenant.
    ``TenantRequired`` or ``TenantForbidden`` when the request cannot act for any.
    """
    allowed = tenants_of(principal, settings)
    if requested is not None and requested.strip():
        try:
            wanted = tenant_id(requested)
        except ValueError:
            wanted = None
        if wanted is None or wanted not in allowed:
            raise TenantForbidden(
                f"this token may not act for the tenant named in the {settings.header} header"
            )
        return wanted
    if len(allowed) == 1:
        return next(iter(allowed))
    if principal.role == OPERATOR_ROLE:
        return None
    if not allowed:
        raise TenantForbidden("this token may act for no tenant this gateway serves")
    raise TenantRequired(
        f"this token may act for several tenants: name one in the {settings.header} header"
    )


def refusal_status(refusal: GatewayError) -> int:
    """The HTTP status a tenant refusal is answered with."""
    return REFUSAL_STATUS.get(refusal.code, 403)
