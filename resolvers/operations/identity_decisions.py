"""Supervisors' decisions about links, as mutations: ``unlinkIdentity`` and ``linkIdentity``.

The rules live in the app's ``IdentityDecisions`` (``kernel/linking.py``, a Protocol);
these resolvers check the role, call it, and answer with the customer as it is now. Its
refusals are ``GatewayError``s (``BAD_USER_INPUT``), so their codes reach the client.
"""

from __future__ import annotations

import strawberry

from kernel.client_errors import Forbidden, GatewayError
from kernel.identity import CustomerId
from kernel.linking import Decider, IdentityDecisions
from resolvers.types.common import Info, Source
from resolvers.types.customer import Customer

#: Only supervisors decide who is who.
DECIDER_ROLES = frozenset({"supervisor"})


def _service(info: Info) -> tuple[IdentityDecisions, Decider]:
    context = info.context
    if context.principal.role not in DECIDER_ROLES:
        raise Forbidden(f"role {context.principal.role} may not change links")
    if context.identity_decisions is None:
        raise GatewayError("link decisions are not available")
    decider = Decider(
        principal=context.principal,
        request_id=context.request_id,
        client_address=context.client_address,
        audit=context.audit,
    )
    return context.identity_decisions, decider


async def _customer(info: Info, customer_id: CustomerId) -> Customer:
    # Read after the decision: a loader primed earlier in this request would hold the
    # customer as it was before.
    found = await info.context.store.get_customers([customer_id])
    record = found.get(customer_id)
    if record is None:
        raise GatewayError("the customer changed again meanwhile; read it anew")
    return Customer.from_record(record)


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(
        description="Not this person: take a record from a customer (supervisors). The record "
        "becomes a customer of its own, and no rule links it back. Returns the customer it "
        "was taken from."
    )
    async def unlink_identity(
        self,
        info: Info,
        customer_id: strawberry.ID,
        source: Source,
        external_id: strawberry.ID,
        reason: str,
    ) -> Customer:
        service, decider = _service(info)
        kept = await service.unlink(
            decider, CustomerId(str(customer_id)), source, str(external_id), reason
        )
        return await _customer(info, kept)

    @strawberry.mutation(
        description="The same person: link a record to a customer (supervisors). The record "
        "moves with its lookup keys; a customer left with no record is deleted; no sync "
        "moves it back. Returns the customer it is linked to."
    )
    async def link_identity(
        self,
        info: Info,
        customer_id: strawberry.ID,
        source: Source,
        external_id: strawberry.ID,
        reason: str,
    ) -> Customer:
        service, decider = _service(info)
        linked = await service.link(
            decider, CustomerId(str(customer_id)), source, str(external_id), reason
        )
        return await _customer(info, linked)
